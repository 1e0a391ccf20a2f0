//! Telephone numbers: Chinese mobiles and landlines, North American numbers, and
//! international numbers written with a leading `+`.
//!
//! Clinical questions are full of numbers (doses, lab values, years, guideline sections), so
//! each form is anchored on what no measurement has: the `1[3-9]` prefix and exactly 11
//! digits of a mobile, the `0` trunk prefix of a landline area code, the `+` of an
//! international number. A candidate glued to further digits is rejected.

use std::sync::LazyLock;

use regex::{Match, Regex};

use crate::scan::{char_before, digit_bounded, digits_key, for_each_match, Candidate};
use crate::IdentifierKind;

/// `13812345678`, `138 1234 5678`, `+86 138-1234-5678`, `008613812345678`.
static MOBILE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:(?:\+|00)?86[ \-]?)?1[3-9]\d[ \-]?\d{4}[ \-]?\d{4}")
        .expect("mobile regex is valid")
});

/// `010-65123456`, `(010) 6512 3456`, `（0755）2345678`, `0571 8765 4321 转 802`.
/// Area codes are `0` + 2–3 digits (never `00`, the international prefix) and must be set
/// off by a hyphen, a space or parentheses: a bare `0…` digit run is as likely a lot or
/// product code. Subscriber numbers are 7–8 digits and never start with 0.
static LANDLINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?xi)
        (?: \(0[1-9]\d{1,2}\)\ ? | （0[1-9]\d{1,2}）\ ? | 0[1-9]\d{1,2}[\ \-] )
        [1-9]\d{2,3} [\ \-]? \d{4}
        (?: \s* (?:转|分机|ext\.?|extension) \s* \d{1,6} )?",
    )
    .expect("landline regex is valid")
});

/// North American numbers written without `+1`: `(415) 555-0132`, `415-555-0132`,
/// `415.555.0132`. Area code and exchange start with 2–9; only punctuation separators, so
/// lists of numbers separated by spaces never match.
static NORTH_AMERICAN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\([2-9]\d{2}\)\s?|[2-9]\d{2}[\-.])[2-9]\d{2}[\-.]\d{4}")
        .expect("North American phone regex is valid")
});

/// `+1 415-555-0132`, `+44 20 7946 0958`, `+33 (0)1 23 45 67 89`. Deliberately generous;
/// [`international_len`] then cuts off groups that belong to the following text.
static INTERNATIONAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\+[1-9]\d{0,2}(?:[ .\-]?\(?\d{1,4}\)?){2,6}")
        .expect("international phone regex is valid")
});

pub(crate) fn find(text: &str, out: &mut Vec<Candidate>) {
    find_mobile(text, out);
    for_each_match(&LANDLINE, text, |caps| {
        caps.get(0).is_some_and(|m| {
            // A zero after `.` or `,` belongs to a larger number (`1.05 2345 6789`).
            let after_number = char_before(text, m.start()).is_some_and(|c| c == '.' || c == ',');
            !after_number && accept(text, m.start(), m.end(), out)
        })
    });
    for_each_match(&NORTH_AMERICAN, text, |caps| {
        caps.get(0)
            .is_some_and(|m| word_start(text, m) && accept(text, m.start(), m.end(), out))
    });
    for_each_match(&INTERNATIONAL, text, |caps| {
        caps.get(0).is_some_and(|m| {
            word_start(text, m)
                && known_country_code(m.as_str())
                && international_len(m.as_str())
                    .is_some_and(|len| accept(text, m.start(), m.start() + len, out))
        })
    });
}

/// Chinese mobiles alone: the one form anchored well enough (`1[3-9]`, exactly 11 digits) to
/// be looked for in text whose digit groups were joined, where the looser international forms
/// would take a list of doses (`+5 10 20 30 40`) for a number.
pub(crate) fn find_mobile(text: &str, out: &mut Vec<Candidate>) {
    for_each_match(&MOBILE, text, |caps| {
        caps.get(0)
            .is_some_and(|m| accept(text, m.start(), m.end(), out))
    });
}

/// Records `text[start..end]` as a phone number unless it is part of a longer number.
fn accept(text: &str, start: usize, end: usize, out: &mut Vec<Candidate>) -> bool {
    let Some(number) = text.get(start..end) else {
        return false;
    };
    if !digit_bounded(text, start, end) {
        return false;
    }
    out.push(Candidate::new(
        IdentifierKind::Phone,
        start,
        end,
        national(digits_key(number)),
    ));
    true
}

/// Whether the match does not continue a word or code on its left (`A+1 415…`, `x415-…`).
fn word_start(text: &str, m: Match<'_>) -> bool {
    !char_before(text, m.start()).is_some_and(|c| c.is_ascii_alphanumeric())
}

/// The length of the longest prefix of an international match that reads as one number:
/// at most 15 digits (E.164; 11 for `+1`), at least 8 (fewer is a signed quantity such as
/// `+15`), ending at the end of a digit group, and not resuming with spaces once the number
/// has used hyphens or dots (`+1 415-555-0132 2024`: the year is not part of it).
fn international_len(number: &str) -> Option<usize> {
    let max_digits = if number.starts_with("+1") { 11 } else { 15 };
    let mut digits = 0;
    let mut punctuated = false;
    let mut best = None;
    let mut chars = number.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '0'..='9' => {
                digits += 1;
                if digits > max_digits {
                    break;
                }
                let group_ends = !chars.peek().is_some_and(|(_, next)| next.is_ascii_digit());
                if group_ends && digits >= 8 {
                    best = Some(i + 1);
                }
            }
            '-' | '.' => punctuated = true,
            ' ' if punctuated => break,
            _ => {}
        }
    }
    best
}

/// Two-digit ITU country codes; every other code starting 2–9 has three digits.
const TWO_DIGIT_CODES: [&str; 44] = [
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47",
    "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65",
    "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
];

/// When the country code is set off by a separator (`+5 10 20 30 40` vs `+44 20 …`), it must
/// be a real one: `1`, `7`, a two-digit code above, or any three digits. Written solid
/// (`+8613812345678`) the code's length is unknown, so the number is taken.
fn known_country_code(number: &str) -> bool {
    let code: String = number
        .trim_start_matches('+')
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    match code.len() {
        1 => code == "1" || code == "7",
        2 => TWO_DIGIT_CODES.contains(&code.as_str()),
        _ => true,
    }
}

/// Drops China's country code so `+86 138…` and `138…` share a placeholder.
fn national(digits: String) -> String {
    for prefix in ["0086", "86"] {
        if let Some(rest) = digits.strip_prefix(prefix) {
            if rest.len() == 11 && rest.starts_with('1') {
                return rest.to_owned();
            }
        }
    }
    digits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn international_prefix_stops_at_the_number() {
        fn len(s: &str) -> Option<&str> {
            international_len(s).and_then(|n| s.get(..n))
        }
        assert_eq!(len("+1 415-555-0132 2024"), Some("+1 415-555-0132"));
        assert_eq!(len("+44 20 7946 0958 2024"), Some("+44 20 7946 0958"));
        assert_eq!(len("+33 (0)1 23 45 67 89"), Some("+33 (0)1 23 45 67 89"));
        assert_eq!(len("+15 20 30"), None);
    }

    #[test]
    fn country_codes() {
        assert!(known_country_code("+44 20 7946 0958"));
        assert!(known_country_code("+7 495 123-45-67"));
        assert!(!known_country_code("+5 10 20 30 40"));
        assert!(!known_country_code("+42 10 20 30 40"));
        assert!(known_country_code("+8613812345678"));
    }
}
