//! Chinese resident identity card numbers (GB 11643): 17 digits and a check character,
//! optionally grouped 6-8-4 by spaces or hyphens.
//!
//! A run of 18 digits is common in clinical text only as an ID number, but to keep order
//! numbers and the like out, a candidate must carry a valid ISO 7064 MOD 11-2 check
//! character and a real birth date in positions 7–14.
//!
//! First-generation cards (issued until 2004, some still on record) carry 15 digits: the
//! same area code, a two-digit-year birth date and a sequence number, with no check
//! character. With nothing to verify, a 15-digit number is taken only when an ID label
//! (`身份证`, `证件号`, `ID card`, …) comes shortly before it and its date is real.

use std::sync::LazyLock;

use regex::Regex;

use crate::scan::{digit_bounded, digits_key, for_each_match, Candidate};
use crate::IdentifierKind;

static RESIDENT_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[1-9]\d{5}[ \-]?\d{8}[ \-]?\d{3}[0-9Xx]").expect("resident ID regex is valid")
});

/// Weights of the 17 body digits in the MOD 11-2 checksum.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// The check character for each value of the weighted sum modulo 11.
const CHECK: [u8; 11] = *b"10X98765432";

/// The first-generation form: area code, `YYMMDD`, three digits.
static RESIDENT_ID_15: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[1-9]\d{5}[ \-]?\d{6}[ \-]?\d{3}").expect("15-digit ID regex is valid")
});

/// The labels that announce an ID number, looked for in the few characters before it.
static ID_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)身份证|证件号|身份号|(?:^|[^a-z])ID\s*(?:card|no\.?|number|#)|identity\s+(?:card|number)")
        .expect("ID label regex is valid")
});

/// How far before a 15-digit number its label may stand, in bytes (about 8 CJK characters).
const LABEL_REACH: usize = 24;

pub(crate) fn find(text: &str, out: &mut Vec<Candidate>) {
    for_each_match(&RESIDENT_ID_15, text, |caps| {
        let Some(m) = caps.get(0) else {
            return false;
        };
        let key = digits_key(m.as_str());
        let mut from = m.start().saturating_sub(LABEL_REACH);
        while !text.is_char_boundary(from) {
            from -= 1;
        }
        let labelled = text
            .get(from..m.start())
            .is_some_and(|before| ID_LABEL.is_match(before));
        let ok = labelled && digit_bounded(text, m.start(), m.end()) && is_valid_15(&key);
        ok && take(m, key, out)
    });
    for_each_match(&RESIDENT_ID, text, |caps| {
        let Some(m) = caps.get(0) else {
            return false;
        };
        let key = digits_key(m.as_str());
        digit_bounded(text, m.start(), m.end()) && is_valid(&key) && take(m, key, out)
    });
}

/// Records the match as an ID number; always true, so a detector can end on it.
fn take(m: regex::Match<'_>, key: String, out: &mut Vec<Candidate>) -> bool {
    out.push(Candidate::new(
        IdentifierKind::ResidentId,
        m.start(),
        m.end(),
        key,
    ));
    true
}

/// Whether `id` (18 characters, digits and a final `X`) has a valid check character and a
/// plausible birth date.
pub(crate) fn is_valid(id: &str) -> bool {
    let bytes = id.as_bytes();
    if bytes.len() != 18 || !bytes[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = bytes[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    // `sum % 11` is below 11, so the index is always in range.
    let expected = CHECK[(sum % 11) as usize];
    if bytes[17].to_ascii_uppercase() != expected {
        return false;
    }
    let number = |range: std::ops::Range<usize>| {
        bytes[range]
            .iter()
            .fold(0u32, |n, b| n * 10 + u32::from(b - b'0'))
    };
    let (year, month, day) = (number(6..10), number(10..12), number(12..14));
    (1900..=2100).contains(&year) && is_real_date(year, month, day)
}

/// Whether a 15-digit first-generation number has a real birth date (`19YYMMDD`).
fn is_valid_15(id: &str) -> bool {
    let bytes = id.as_bytes();
    if bytes.len() != 15 || !bytes.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let number = |range: std::ops::Range<usize>| {
        bytes[range]
            .iter()
            .fold(0u32, |n, b| n * 10 + u32::from(b - b'0'))
    };
    is_real_date(1900 + number(6..8), number(8..10), number(10..12))
}

/// Whether `year-month-day` exists in the Gregorian calendar.
pub(crate) fn is_real_date(year: u32, month: u32, day: u32) -> bool {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_character() {
        // The worked example of GB 11643-1999.
        assert!(is_valid("11010519491231002X"));
        assert!(is_valid("440304198512257310"));
        assert!(!is_valid("110105194912310021"));
        assert!(!is_valid("440304198512257311"));
    }

    #[test]
    fn birth_date_must_exist() {
        // Valid checksums (computed for these bodies) but impossible dates.
        for body in [
            "11010518991231002",
            "11010519490230002",
            "11010519491301002",
        ] {
            let sum: u32 = body
                .bytes()
                .zip(WEIGHTS)
                .map(|(b, w)| u32::from(b - b'0') * w)
                .sum();
            let id = format!("{body}{}", CHECK[(sum % 11) as usize] as char);
            assert!(!is_valid(&id), "{id}");
        }
    }

    #[test]
    fn leap_years() {
        assert!(is_real_date(2000, 2, 29));
        assert!(!is_real_date(1900, 2, 29));
        assert!(is_real_date(1956, 2, 29));
        assert!(!is_real_date(1957, 2, 29));
        assert!(!is_real_date(1957, 4, 31));
    }
}
