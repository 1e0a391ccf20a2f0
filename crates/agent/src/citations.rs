//! Citation markers `[1]`, `[2]`, `[1, 3]` in an answer, checked against the numbered
//! passages it was given: a marker pointing at no passage is removed and counted, and the
//! answer carries exactly the sources it cites, each traceable to a byte span.

use serde::Serialize;
use zhiku_core::Hit;

/// One cited source: the passage number and where its text lives.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Citation {
    pub marker: usize,
    pub chunk_id: String,
    pub doc_id: String,
    pub title: String,
    pub section: String,
    pub path: String,
    pub line: Option<usize>,
    /// Byte span in the file when the text is a verbatim slice of it, else in the document text.
    pub start: usize,
    pub end: usize,
    pub span_in_file: bool,
}

impl Citation {
    pub fn from_hit(marker: usize, hit: &Hit) -> Self {
        let c = &hit.chunk;
        let base = c.source.text_offset;
        Self {
            marker,
            chunk_id: c.id.clone(),
            doc_id: c.doc_id.clone(),
            title: c.title.clone(),
            section: c.section.clone(),
            path: c.source.path.clone(),
            line: c.source.line,
            start: base.unwrap_or(0) + c.start,
            end: base.unwrap_or(0) + c.end,
            span_in_file: base.is_some(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CheckedAnswer {
    /// The answer with invalid markers removed.
    pub text: String,
    /// Cited passages, in order of first citation.
    pub citations: Vec<Citation>,
    /// Markers that pointed at no passage.
    pub removed: usize,
}

/// Parses `[n]` / `[n, m]` / `[n，m]` markers; keeps those within `1..=passages.len()`.
pub fn check_citations(answer: &str, passages: &[Hit]) -> CheckedAnswer {
    let mut text = String::with_capacity(answer.len());
    let mut cited: Vec<usize> = Vec::new();
    let mut removed = 0;
    let mut rest = answer;
    while let Some(open) = rest.find('[') {
        text.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else {
            text.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let inner = &after[..close];
        let numbers: Option<Vec<usize>> = inner
            .split([',', '，', ';'])
            .map(|p| p.trim().parse::<usize>().ok())
            .collect();
        match numbers {
            Some(ns) if !ns.is_empty() => {
                let valid: Vec<usize> = ns
                    .iter()
                    .copied()
                    .filter(|n| (1..=passages.len()).contains(n))
                    .collect();
                removed += ns.len() - valid.len();
                if !valid.is_empty() {
                    let list: Vec<String> = valid.iter().map(|n| n.to_string()).collect();
                    text.push_str(&format!("[{}]", list.join(", ")));
                }
                for n in valid {
                    if !cited.contains(&n) {
                        cited.push(n);
                    }
                }
            }
            _ => text.push_str(&rest[open..open + 1 + close + 1]),
        }
        rest = &after[close + 1..];
    }
    text.push_str(rest);
    let citations = cited
        .iter()
        .map(|&n| Citation::from_hit(n, &passages[n - 1]))
        .collect();
    CheckedAnswer {
        text,
        citations,
        removed,
    }
}
