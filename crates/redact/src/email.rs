//! E-mail addresses (ASCII): `local@domain.tld`.

use std::sync::LazyLock;

use regex::Regex;

use crate::scan::Candidate;
use crate::IdentifierKind;

/// The top-level domain must be letters, so a trailing full stop stays outside the match.
/// Nothing needs checking around a match: the local part already starts at the leftmost
/// character it can, and an address glued to Chinese text is still an address.
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
        .expect("e-mail regex is valid")
});

pub(crate) fn find(text: &str, out: &mut Vec<Candidate>) {
    for m in EMAIL.find_iter(text) {
        out.push(Candidate::new(
            IdentifierKind::Email,
            m.start(),
            m.end(),
            m.as_str().to_ascii_lowercase(),
        ));
    }
}
