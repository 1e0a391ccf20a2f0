//! Finds patient identifiers in a piece of text (a clinician's question, in Chinese or
//! English) and replaces them with placeholders, before the text is sent to an external
//! large-language model or written to a log. It reports how many it replaced of each kind,
//! never what, and decides nothing else.
//!
//! Kinds: Chinese resident ID numbers (checksum and birth date verified), phone numbers,
//! medical record numbers (after a label, plus a hospital's configured formats), e-mail
//! addresses and dates of birth (only when the text says it is one). Placeholders are ASCII
//! (`[PHONE_1]`, `[RECORD_NUMBER_2]`, …) so they survive any model and any tokenizer, and
//! numbered per kind in order of first appearance, so a value repeated in the question keeps
//! one placeholder and the model can still tell that two mentions are the same.
//!
//! Each detector also runs on the text folded to ASCII (NFKC) and with the separators
//! between digits removed, so `１３８１２３４５６７８` and `138.1234.5678` are found too; matches
//! map back onto the characters as typed.
//!
//! Every form is anchored on something clinical numbers lack (a checksum, a label, a `+`, a
//! trunk `0`), so doses, lab values, years, guideline sections, blood pressures and
//! admission dates stay: a question stripped of them cannot be answered. Each module says
//! what it looks for and why.

mod birth_date;
mod email;
mod phone;
mod record;
mod resident_id;
mod scan;
mod views;

use std::collections::{BTreeMap, HashMap};

use regex::Regex;
use serde::Serialize;

use scan::Candidate;
use views::View;

/// A kind of patient identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    /// Chinese resident identity card number (居民身份证号码).
    ResidentId,
    /// Mobile, landline or international telephone number.
    Phone,
    /// Medical record, admission or outpatient number.
    RecordNumber,
    /// E-mail address.
    Email,
    /// Date of birth.
    BirthDate,
}

impl IdentifierKind {
    /// The kind's name in counts, logs and metrics: `resident_id`, `phone`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ResidentId => "resident_id",
            Self::Phone => "phone",
            Self::RecordNumber => "record_number",
            Self::Email => "email",
            Self::BirthDate => "birth_date",
        }
    }

    /// The placeholder stem: `RESIDENT_ID` in `[RESIDENT_ID_1]`.
    fn tag(self) -> &'static str {
        match self {
            Self::ResidentId => "RESIDENT_ID",
            Self::Phone => "PHONE",
            Self::RecordNumber => "RECORD_NUMBER",
            Self::Email => "EMAIL",
            Self::BirthDate => "BIRTH_DATE",
        }
    }

    /// Which kind wins when two candidates cover exactly the same span (lower wins): a
    /// checksummed ID number is the surest, then what a label announced, then the rest.
    fn precedence(self) -> u8 {
        match self {
            Self::ResidentId => 0,
            Self::RecordNumber => 1,
            Self::BirthDate => 2,
            Self::Email => 3,
            Self::Phone => 4,
        }
    }
}

/// A configured record-number pattern could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum RedactError {
    #[error("invalid record-number pattern `{pattern}`: {source}")]
    Pattern {
        pattern: String,
        source: regex::Error,
    },
}

/// The redacted text and how many identifiers of each kind were replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    /// The text with every identifier replaced by its placeholder.
    pub text: String,
    /// Replacements made per kind (each occurrence counts, including repeats of one value);
    /// kinds with none are absent.
    pub counts: BTreeMap<IdentifierKind, usize>,
}

impl Redacted {
    /// Replacements made, all kinds together.
    pub fn total(&self) -> usize {
        self.counts.values().sum()
    }

    /// Whether nothing was replaced (the text is the input, byte for byte).
    pub fn is_clean(&self) -> bool {
        self.total() == 0
    }
}

/// Finds and replaces patient identifiers. The built-in patterns are compiled once per
/// process; a `Redactor` only adds the configured ones, and is `Send + Sync`, so build it
/// once and share it (e.g. in an `Arc`).
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// A hospital's own record-number formats.
    record_patterns: Vec<Regex>,
}

impl Redactor {
    /// A redactor that also treats matches of `record_patterns` as record numbers: the part
    /// matched by a group named `id` if the pattern has one, else the whole match.
    pub fn new(record_patterns: &[String]) -> Result<Self, RedactError> {
        Ok(Self {
            record_patterns: record::compile(record_patterns)?,
        })
    }

    /// Replaces every identifier found in `text`, in whatever width or grouping it is
    /// written (see the `views` module).
    pub fn redact(&self, text: &str) -> Redacted {
        let mut candidates = self.find(text, false);
        let folded = View::folded(text);
        let joined = folded.joined();
        for (view, is_joined) in [(folded, false), (joined, true)] {
            if view.same_as(text) {
                continue;
            }
            let found = self.find(&view.text, is_joined);
            candidates.extend(found.into_iter().filter_map(|c| view.to_original(c)));
        }
        replace(text, select(candidates))
    }

    /// Every detector's candidates in one view of the text. In a view whose digit groups were
    /// joined, phones are looked for only as Chinese mobiles (see `phone::find_mobile`).
    fn find(&self, text: &str, joined: bool) -> Vec<Candidate> {
        let mut candidates = Vec::new();
        resident_id::find(text, &mut candidates);
        if joined {
            phone::find_mobile(text, &mut candidates);
        } else {
            phone::find(text, &mut candidates);
        }
        record::find(text, &mut candidates);
        record::find_configured(&self.record_patterns, text, &mut candidates);
        email::find(text, &mut candidates);
        birth_date::find(text, &mut candidates);
        candidates
    }
}

/// Keeps non-overlapping candidates: the earliest-starting wins, then the longest, then the
/// surest kind. Nothing nested or overlapping survives, so replacement is a single pass.
fn select(mut candidates: Vec<Candidate>) -> Vec<Candidate> {
    candidates.sort_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then(b.end.cmp(&a.end))
            .then(a.kind.precedence().cmp(&b.kind.precedence()))
    });
    let mut kept: Vec<Candidate> = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        if kept.last().is_none_or(|last| candidate.start >= last.end) {
            kept.push(candidate);
        }
    }
    kept
}

/// Writes `text` with each selected span replaced by its placeholder, numbering each kind's
/// distinct values in order of first appearance.
fn replace(text: &str, selected: Vec<Candidate>) -> Redacted {
    let mut out = String::with_capacity(text.len());
    let mut counts: BTreeMap<IdentifierKind, usize> = BTreeMap::new();
    let mut numbers: HashMap<(IdentifierKind, String), usize> = HashMap::new();
    let mut distinct: HashMap<IdentifierKind, usize> = HashMap::new();
    let mut copied = 0;
    for candidate in selected {
        // Spans come from matches on `text`, so they lie on character boundaries; `get`
        // keeps a bug here from ever becoming a panic.
        let Some(before) = text.get(copied..candidate.start) else {
            continue;
        };
        if !text.is_char_boundary(candidate.end) {
            continue;
        }
        out.push_str(before);
        let kind = candidate.kind;
        let next = distinct.entry(kind).or_insert(0);
        let number = *numbers.entry((kind, candidate.key)).or_insert_with(|| {
            *next += 1;
            *next
        });
        out.push_str(&format!("[{}_{number}]", kind.tag()));
        *counts.entry(kind).or_insert(0) += 1;
        copied = candidate.end;
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    Redacted { text: out, counts }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn redactor_is_shareable() {
        assert_send_sync::<Redactor>();
    }

    #[test]
    fn kind_names() {
        let all = [
            IdentifierKind::ResidentId,
            IdentifierKind::Phone,
            IdentifierKind::RecordNumber,
            IdentifierKind::Email,
            IdentifierKind::BirthDate,
        ];
        for kind in all {
            assert_eq!(kind.tag().to_ascii_lowercase(), kind.as_str());
        }
    }

    #[test]
    fn overlaps_keep_earliest_then_longest() {
        let c = |kind, start, end| Candidate::new(kind, start, end, String::new());
        let kept = select(vec![
            c(IdentifierKind::Phone, 5, 16),
            c(IdentifierKind::RecordNumber, 5, 16),
            c(IdentifierKind::Email, 3, 8),
            c(IdentifierKind::BirthDate, 3, 6),
            c(IdentifierKind::Phone, 20, 30),
        ]);
        assert_eq!(
            kept,
            vec![
                c(IdentifierKind::Email, 3, 8),
                c(IdentifierKind::Phone, 20, 30)
            ]
        );
    }
}
