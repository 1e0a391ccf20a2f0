//! What every detector shares: the candidate it reports and a search loop that can reject a
//! match on its surroundings without losing a valid match that starts inside it.

use regex::{Captures, Regex};

use crate::IdentifierKind;

/// One identifier found in the text: the byte span to replace and a normalised key, so that
/// the same value written twice (`138 1234 5678`, `13812345678`) gets the same placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub start: usize,
    pub end: usize,
    pub kind: IdentifierKind,
    pub key: String,
}

impl Candidate {
    pub fn new(kind: IdentifierKind, start: usize, end: usize, key: String) -> Self {
        Self {
            start,
            end,
            kind,
            key,
        }
    }
}

/// Calls `visit` on every match of `re`, including matches that overlap a rejected one.
///
/// The `regex` crate has no look-around, so detectors check their boundaries (no digit
/// before an ID number, no letter before `MRN`, …) after matching. Plain `captures_iter`
/// would resume after a rejected match and miss a valid one starting inside it (e.g. the
/// ID number in `123456 11010519491231002X`), so on rejection the search resumes one
/// character after the rejected match's start instead.
pub(crate) fn for_each_match(re: &Regex, text: &str, mut visit: impl FnMut(&Captures<'_>) -> bool) {
    let mut pos = 0;
    while pos <= text.len() {
        let Some(caps) = re.captures_at(text, pos) else {
            break;
        };
        let Some(whole) = caps.get(0) else {
            break;
        };
        let accepted = !whole.is_empty() && visit(&caps);
        pos = if accepted {
            whole.end()
        } else {
            next_char_start(text, whole.start())
        };
    }
}

/// The byte offset of the character after the one starting at `at` (or past the end).
fn next_char_start(text: &str, at: usize) -> usize {
    text.get(at..)
        .and_then(|rest| rest.chars().next())
        .map_or(text.len() + 1, |c| at + c.len_utf8())
}

pub(crate) fn char_before(text: &str, at: usize) -> Option<char> {
    text.get(..at).and_then(|head| head.chars().next_back())
}

pub(crate) fn char_after(text: &str, at: usize) -> Option<char> {
    text.get(at..).and_then(|tail| tail.chars().next())
}

/// ASCII or full-width digit: a number touching one of these is part of a longer number.
pub(crate) fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || ('０'..='９').contains(&c)
}

/// Whether the span is not glued to digits on either side (`…1 13812345678` is not a phone).
pub(crate) fn digit_bounded(text: &str, start: usize, end: usize) -> bool {
    !char_before(text, start).is_some_and(is_digit) && !char_after(text, end).is_some_and(is_digit)
}

/// Whether an English label starts a word (`MRN`, not `inpatient ID` or `newborn`).
pub(crate) fn word_start(text: &str, at: usize) -> bool {
    !char_before(text, at).is_some_and(|c| c.is_ascii_alphanumeric())
}

/// A CJK unified ideograph (the common blocks): used to tell `生，` from `生化`.
pub(crate) fn is_han(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}')
}

/// Only the ASCII digits of `s`, with `X` upper-cased: the key for numbers written with
/// spaces or hyphens in different places.
pub(crate) fn digits_key(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_digit() || *c == 'X' || *c == 'x')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}
