//! What the index tests share.

/// The Qdrant server to test against (`ZHIKU_TEST_QDRANT_URL`), or `None` after printing that
/// `what` was skipped — past libtest's capture, so that CI logs show the skip.
pub fn qdrant_url(what: &str) -> Option<String> {
    let url = std::env::var("ZHIKU_TEST_QDRANT_URL")
        .ok()
        .filter(|u| !u.trim().is_empty());
    if url.is_none() {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: {what} (set ZHIKU_TEST_QDRANT_URL to run it)"
        );
    }
    url
}
