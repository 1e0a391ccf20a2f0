//! Dates of birth written out in the text.
//!
//! A question carries many dates (admission, onset, the year of a guideline) that the model
//! needs and that identify no one, so a date is only taken when the text says it is a birth
//! date: after a label (`出生日期`, `DOB`, `born on`, …) or right before `出生` / `生`
//! (`1956年3月8日出生`). Only the date is replaced; the label stays.

use std::sync::LazyLock;

use regex::Regex;

use crate::resident_id::is_real_date;
use crate::scan::{
    char_after, char_before, digit_bounded, for_each_match, is_han, word_start, Candidate,
};
use crate::IdentifierKind;

/// The date forms, longest alternatives first (the regex takes the first that matches).
const DATE: &str = r"(?:
    \d{4}\s*年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*[日号])?
  | \d{4}[\-/.]\d{1,2}[\-/.]\d{1,2}
  | \d{1,2}[\-/.]\d{1,2}[\-/.]\d{4}
  | \d{1,2}(?:st|nd|rd|th)?\s+MONTH\.?,?\s+\d{4}
  | MONTH\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}
  | MONTH\.?,?\s+\d{4}
)";

const MONTH: &str = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)";

/// A birth label, a separator, the date.
static AFTER_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    let pattern = format!(
        r"(?xi)
        (?P<label>
            出生日期 | 出生年月日? | 出生于 | 出生在 | 诞生于 | 生于 | 生日
          | D\.?O\.?B\.? | date\s+of\s+birth | birth\s*date | born(?:\s+on)?
        )
        [\s:：,，\-–]*
        (?:(?:是|为|在|于|on|in)[\s:：]*)?
        (?P<date>{DATE})",
    );
    Regex::new(&pattern.replace("MONTH", MONTH)).expect("birth label regex is valid")
});

/// A date, then `出生` or `生`.
static BEFORE_SUFFIX: LazyLock<Regex> = LazyLock::new(|| {
    let pattern = format!(r"(?xi) (?P<date>{DATE}) \s* (?P<suffix>出生|生)");
    Regex::new(&pattern.replace("MONTH", MONTH)).expect("birth suffix regex is valid")
});

/// Characters that turn `生于` / `生日` into another word: 发生于 (occurred on), 先生于
/// (Mr … on), 学生, 医生, 卫生, 产生, 新生 …
const NOT_BIRTH_BEFORE_SHENG: &str = "发产卫医学先新再派衍寄原滋陌人终民众";

/// Characters allowed right after a bare `生` suffix that is still "born": 生人, 生于.
const BIRTH_AFTER_SHENG: &str = "人于在";

pub(crate) fn find(text: &str, out: &mut Vec<Candidate>) {
    for_each_match(&AFTER_LABEL, text, |caps| {
        let (Some(label), Some(date)) = (caps.name("label"), caps.name("date")) else {
            return false;
        };
        let label_ok = if label.as_str().is_ascii() {
            word_start(text, label.start())
        } else if label.as_str().starts_with('生') {
            !char_before(text, label.start()).is_some_and(|c| NOT_BIRTH_BEFORE_SHENG.contains(c))
        } else {
            true
        };
        label_ok && accept(text, date, out)
    });
    for_each_match(&BEFORE_SUFFIX, text, |caps| {
        let (Some(date), Some(suffix)) = (caps.name("date"), caps.name("suffix")) else {
            return false;
        };
        // `2024年3月5日生化` is a biochemistry panel, `…日生命体征` vital signs.
        let suffix_ok = suffix.as_str() == "出生"
            || !char_after(text, suffix.end())
                .is_some_and(|c| is_han(c) && !BIRTH_AFTER_SHENG.contains(c));
        suffix_ok && accept(text, date, out)
    });
}

fn accept(text: &str, date: regex::Match<'_>, out: &mut Vec<Candidate>) -> bool {
    if !digit_bounded(text, date.start(), date.end()) || !plausible(date.as_str()) {
        return false;
    }
    let key: String = date.as_str().split_whitespace().collect();
    out.push(Candidate::new(
        IdentifierKind::BirthDate,
        date.start(),
        date.end(),
        key.to_lowercase(),
    ));
    true
}

/// Whether a matched date names a real day (or month) between 1880 and 2100. Numeric
/// `a/b/yyyy` is accepted if either the day-month or the month-day reading is real.
fn plausible(date: &str) -> bool {
    let numbers: Vec<u32> = date
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect();
    let ok = |year: u32, month: u32, day: Option<u32>| {
        (1880..=2100).contains(&year)
            && match day {
                Some(day) => is_real_date(year, month, day),
                None => (1..=12).contains(&month),
            }
    };
    if let Some(month) = month_from_name(date) {
        // `8 March 1956`, `March 8, 1956`, `March 1956`: the year is the last number.
        return match numbers.as_slice() {
            [day, year] => ok(*year, month, Some(*day)),
            [year] => ok(*year, month, None),
            _ => false,
        };
    }
    let year_first = date
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .count()
        == 4;
    match numbers.as_slice() {
        [year, month] if year_first => ok(*year, *month, None),
        [year, month, day] if year_first => ok(*year, *month, Some(*day)),
        [a, b, year] => ok(*year, *b, Some(*a)) || ok(*year, *a, Some(*b)),
        _ => false,
    }
}

fn month_from_name(date: &str) -> Option<u32> {
    let lower = date.to_ascii_lowercase();
    const NAMES: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    NAMES
        .iter()
        .position(|name| lower.contains(name))
        .and_then(|i| u32::try_from(i + 1).ok())
}

#[cfg(test)]
mod tests {
    use super::plausible;

    #[test]
    fn plausible_dates() {
        for good in [
            "1956年3月8日",
            "1956年3月",
            "1956-03-08",
            "1956/3/8",
            "1956.03.08",
            "08/03/1956",
            "03/28/1956",
            "8 March 1956",
            "March 8, 1956",
            "8 Mar 1956",
            "March 1956",
        ] {
            assert!(plausible(good), "{good}");
        }
        for bad in [
            "1956-13-08",
            "1956年2月30日",
            "32/13/1956",
            "1756-03-08",
            "Mar 40, 1956",
        ] {
            assert!(!plausible(bad), "{bad}");
        }
    }
}
