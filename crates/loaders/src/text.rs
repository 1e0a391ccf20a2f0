use std::path::Path;

use zhiku_core::{LoadDefaults, LoadedFile};

use super::markdown::file_stem;
use super::{file_document, issue, read_utf8};

/// A plain text file → one document; a short first line is taken as the title.
pub fn load_text(path: &Path, display: &str, domain: &str, defaults: &LoadDefaults) -> LoadedFile {
    let mut out = LoadedFile::default();
    let text = match read_utf8(path, display) {
        Ok(x) => x,
        Err(e) => return LoadedFile::failed(e),
    };
    if text.trim().is_empty() {
        out.issues
            .push(issue(display, None, "document has no text"));
        return out;
    }
    let first = text.lines().next().unwrap_or("").trim();
    let title = if !first.is_empty() && first.chars().count() <= 80 {
        first.to_string()
    } else {
        file_stem(path)
    };
    out.documents.push(file_document(
        display,
        domain,
        title,
        text,
        defaults,
        Some(0),
    ));
    out
}
