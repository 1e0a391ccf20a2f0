//! Chinese resident identity card numbers (GB 11643): 17 digits and a check character,
//! optionally grouped 6-8-4 by spaces or hyphens.
//!
//! A run of 18 digits is common in clinical text only as an ID number, but to keep order
//! numbers and the like out, a candidate must carry a valid ISO 7064 MOD 11-2 check
//! character and a real birth date in positions 7–14.

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

pub(crate) fn find(text: &str, out: &mut Vec<Candidate>) {
    for_each_match(&RESIDENT_ID, text, |caps| {
        let Some(m) = caps.get(0) else {
            return false;
        };
        let key = digits_key(m.as_str());
        if !digit_bounded(text, m.start(), m.end()) || !is_valid(&key) {
            return false;
        }
        out.push(Candidate::new(
            IdentifierKind::ResidentId,
            m.start(),
            m.end(),
            key,
        ));
        true
    });
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
