//! Turns one file into documents: Markdown with YAML front matter, plain text, JSON Lines
//! records, DOCX and PDF, each failure a `LoadIssue` with file and line instead of a panic.
//! Domain crates build on these and add their own formats; chunking, embedding and indexes
//! are `zhiku-ingest`'s job, so this crate (and the fuzz targets in `fuzz/`) needs none of them.

mod check;
mod docx;
mod extracted;
mod jsonl;
mod markdown;
mod pdf;
mod text;

pub use check::loaded_file_faults;
pub use docx::{docx_text, load_docx};
pub use extracted::{ExtractError, ExtractedText};
pub use jsonl::{load_jsonl, read_records, JsonRecord};
pub use markdown::{
    file_stem, heading_paths, headings, load_markdown, path_at, split_front_matter, FrontMatter,
    Heading,
};
pub use pdf::{load_pdf, pdf_text};
pub use text::load_text;

use std::path::Path;

use zhiku_core::LoadIssue;

/// Reads a file as UTF-8, or says why it cannot (unreadable, or not UTF-8 at which line).
pub fn read_utf8(path: &Path, display: &str) -> Result<String, LoadIssue> {
    let bytes = std::fs::read(path).map_err(|e| LoadIssue {
        path: display.to_string(),
        line: None,
        message: format!("cannot read file: {e}"),
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1;
        LoadIssue {
            path: display.to_string(),
            line: Some(line),
            message: format!("not valid UTF-8 (byte {at}); convert the file to UTF-8"),
        }
    })
}

pub fn issue(display: &str, line: Option<usize>, message: impl Into<String>) -> LoadIssue {
    LoadIssue {
        path: display.to_string(),
        line,
        message: message.into(),
    }
}

/// A whole file as one document under the folder defaults. `text_offset` is where the text
/// starts in the file when it is a verbatim slice of it, `None` when it was decoded.
pub fn file_document(
    display: &str,
    domain: &str,
    title: String,
    text: String,
    defaults: &zhiku_core::LoadDefaults,
    text_offset: Option<usize>,
) -> zhiku_core::Document {
    zhiku_core::Document {
        id: display.to_string(),
        domain: domain.to_string(),
        title,
        text,
        lang: None,
        classification: defaults.classification,
        classification_stated: false,
        metadata: defaults.metadata.clone(),
        location: None,
        sections: Vec::new(),
        source: zhiku_core::SourceRef {
            path: display.to_string(),
            line: None,
            text_offset,
        },
    }
}

/// Lower-case file extension.
pub fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Whether a field name is `classification` in any case: such a key is never metadata.
pub fn is_classification_key(key: &str) -> bool {
    key.trim().eq_ignore_ascii_case("classification")
}

/// The classification a record or front matter states, read so that a mistake fails closed:
/// the key must be `classification` exactly (`Classification:` is an error, not metadata),
/// and its value one level name
/// (`public`, `internal`, `restricted`, or 公开, 内部, 受限). `Ok(None)`: no such key, so the
/// folder's default applies. `Err`: a key whose value is empty, null, a list, a number or not
/// a level; the caller reports it and leaves the document out rather than guess a level.
pub fn stated_classification(
    fields: &serde_json::Map<String, serde_json::Value>,
) -> Result<Option<zhiku_core::Classification>, String> {
    let mut stated = None;
    for (key, value) in fields.iter().filter(|(k, _)| is_classification_key(k)) {
        if key != "classification" {
            return Err(format!(
                "{key:?} is not a key this file may use for the level: write `classification` \
                 (lower case); the document is not indexed until it does"
            ));
        }
        let level = match value {
            serde_json::Value::String(s) if !s.trim().is_empty() => s.parse()?,
            other => {
                let shown = match other {
                    serde_json::Value::Null => "empty".to_string(),
                    serde_json::Value::String(_) => "empty".to_string(),
                    v => format!("{v}"),
                };
                return Err(format!(
                    "{key:?} is {shown}: write one of public, internal or restricted \
                     (the document is not indexed until it says which)"
                ));
            }
        };
        if stated.is_some_and(|earlier| earlier != level) {
            return Err(format!(
                "two classification keys disagree ({key:?} says {level}); keep one"
            ));
        }
        stated = Some(level);
    }
    Ok(stated)
}

/// A YAML/JSON scalar as metadata text; lists become comma-separated text.
pub fn scalar_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.trim().to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Array(a) => {
            let parts: Vec<String> = a.iter().filter_map(scalar_text).collect();
            (!parts.is_empty()).then(|| parts.join(","))
        }
        _ => None,
    }
}

/// Turns spans that chunking must keep whole (a worked example, a recommendation) into
/// sections covering the whole text: the gaps between them become plain sections, except a
/// gap of nothing but headings, which joins the span after it (a heading alone is no chunk).
pub fn partition(text: &str, mut spans: Vec<zhiku_core::Section>) -> Vec<zhiku_core::Section> {
    let plain = |start, end| zhiku_core::Section {
        start,
        end,
        path: String::new(),
        metadata: Default::default(),
    };
    let only_headings = |gap: &str| {
        gap.lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    };
    spans.sort_by_key(|s| s.start);
    let mut out = Vec::with_capacity(spans.len() * 2 + 1);
    let mut at = 0;
    for mut s in spans {
        if s.start < at || s.end <= s.start || s.end > text.len() {
            continue; // overlapping or empty: the earlier span wins
        }
        if s.start > at {
            if only_headings(&text[at..s.start]) {
                s.start = at;
            } else {
                out.push(plain(at, s.start));
            }
        }
        at = s.end;
        out.push(s);
    }
    if at < text.len() {
        out.push(plain(at, text.len()));
    }
    out
}

/// Byte offset of every line start in `text`, with the line (newline trimmed).
pub fn lines_with_offsets(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut pos = 0;
    text.split_inclusive('\n').map(move |line| {
        let at = pos;
        pos += line.len();
        (at, line.trim_end_matches(['\n', '\r']))
    })
}
