//! Medical record, admission and outpatient numbers.
//!
//! Hospitals number records in every imaginable format, so a bare token cannot be told
//! from a dose or a lab value; the built-in rule only takes a token right after a label
//! (`住院号`, `MRN`, …) and replaces the token alone, so the model still knows a record
//! number was mentioned. A hospital's own formats come in as configured patterns.

use std::sync::LazyLock;

use regex::Regex;

use crate::scan::{char_after, char_before, for_each_match, word_start, Candidate};
use crate::{IdentifierKind, RedactError};

/// Label, separator, token. `床号` (bed number) is deliberately absent: it names a bed, not
/// a patient. The token is checked in code: at least 4 characters and one digit, so
/// `patient number unknown` or `MRN N/A` stay.
static LABELLED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?xi)
        (?P<label>
            (?:住院|病案|病历|门诊|就诊|登记)号(?:码)?
          | (?:患者|病人)\s*ID
          | MRN
          | medical\s+record\s+(?:number|no\.?|\#)
          | (?:admission|hospital|patient)\s+(?:number|no\.?|\#)
          | patient\s+ID
        )
        [\s:：\#＃\-]*
        (?:(?:是|为|is|=)[\s:：]*)?
        (?P<id>[A-Za-z0-9][A-Za-z0-9\-]*)",
    )
    .expect("record label regex is valid")
});

pub(crate) fn find(text: &str, out: &mut Vec<Candidate>) {
    for_each_match(&LABELLED, text, |caps| {
        let (Some(label), Some(id)) = (caps.name("label"), caps.name("id")) else {
            return false;
        };
        if label.as_str().is_ascii() && !word_start(text, label.start()) {
            return false;
        }
        // `patient identification`: an English label must not run straight into a word.
        let runs_on = label.end() == id.start()
            && char_before(text, label.end()).is_some_and(|c| c.is_ascii_alphabetic())
            && char_after(text, id.start()).is_some_and(|c| c.is_ascii_alphabetic());
        let token = id.as_str().trim_end_matches('-');
        if runs_on || token.len() < 4 || !token.bytes().any(|b| b.is_ascii_digit()) {
            return false;
        }
        let end = id.start() + token.len();
        out.push(Candidate::new(
            IdentifierKind::RecordNumber,
            id.start(),
            end,
            token.to_ascii_uppercase(),
        ));
        true
    });
}

/// Compiles the configured record-number patterns; the first invalid one is an error.
pub(crate) fn compile(patterns: &[String]) -> Result<Vec<Regex>, RedactError> {
    patterns
        .iter()
        .map(|pattern| {
            Regex::new(pattern).map_err(|source| RedactError::Pattern {
                pattern: pattern.clone(),
                source,
            })
        })
        .collect()
}

/// Every match of a configured pattern: the `id` group if the pattern has one, else the
/// whole match. A match whose `id` group did not take part replaces nothing.
pub(crate) fn find_configured(patterns: &[Regex], text: &str, out: &mut Vec<Candidate>) {
    for re in patterns {
        let has_id = re.capture_names().any(|name| name == Some("id"));
        for caps in re.captures_iter(text) {
            let part = if has_id { caps.name("id") } else { caps.get(0) };
            if let Some(m) = part.filter(|m| !m.is_empty()) {
                out.push(Candidate::new(
                    IdentifierKind::RecordNumber,
                    m.start(),
                    m.end(),
                    m.as_str().to_uppercase(),
                ));
            }
        }
    }
}
