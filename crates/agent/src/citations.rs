//! Citation markers `[1]`, `[2]`, `[1, 3]` in an answer, checked against the numbered
//! passages it was given: a marker pointing at no passage is removed and counted, and the
//! answer carries exactly the sources it cites, each traceable to a byte span. Works on a
//! stream: a marker cut across two pieces of a streamed answer is held back until complete.

use serde::{Deserialize, Serialize};
use zhiku_core::Hit;

/// One cited source: the passage number and where its text lives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Citation {
    pub marker: usize,
    pub chunk_id: String,
    pub doc_id: String,
    /// The source's domain (stored turns from before it was kept read as empty).
    #[serde(default)]
    pub domain: String,
    pub title: String,
    pub section: String,
    pub path: String,
    pub line: Option<usize>,
    /// Byte span in the file when the text is a verbatim slice of it, else in the document text.
    pub start: usize,
    pub end: usize,
    pub span_in_file: bool,
    /// The domain's note on the source's standing (e.g. strength, evidence, version).
    pub note: Option<String>,
}

impl Citation {
    pub fn from_hit(marker: usize, hit: &Hit) -> Self {
        let c = &hit.chunk;
        let span = c.source_span();
        Self {
            marker,
            chunk_id: c.id.clone(),
            doc_id: c.doc_id.clone(),
            domain: c.domain.clone(),
            title: c.title.clone(),
            section: c.section.clone(),
            path: c.source.path.clone(),
            line: c.source.line,
            start: span.start,
            end: span.end,
            span_in_file: span.in_file,
            note: None,
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

/// Checks a whole answer (the batch form of [`CitationStream`]).
pub fn check_citations(answer: &str, passages: &[Hit]) -> CheckedAnswer {
    let mut stream = CitationStream::new(passages.len());
    let mut text = stream.push(answer);
    text.push_str(&stream.finish());
    let mut cited = Vec::new();
    for n in markers_in(&text, passages.len()) {
        if !cited.contains(&n) {
            cited.push(n);
        }
    }
    CheckedAnswer {
        citations: cited
            .iter()
            .map(|&n| Citation::from_hit(n, &passages[n - 1]))
            .collect(),
        text,
        removed: stream.removed,
    }
}

/// The passage numbers (within `1..=passages`) of the markers in checked text, in order,
/// repeats included.
pub fn markers_in(text: &str, passages: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else { break };
        if let Some(ns) = parse_marker(&after[..close]) {
            out.extend(ns.into_iter().filter(|n| (1..=passages).contains(n)));
        }
        rest = &after[close + 1..];
    }
    out
}

/// `text` without anything that reads as a citation marker (`[2]`, `【1】`, `[1, 3]`).
pub fn strip_markers(text: &str) -> String {
    let mut stream = CitationStream::new(0);
    let mut out = stream.push(text);
    out.push_str(&stream.finish());
    out
}

/// Separators models put between numbers of one marker.
const SEPARATORS: [char; 5] = [',', '，', ';', '；', '、'];

/// `1`, `1, 3`, `1，3`, `1、3` → numbers (a number too large to read is `usize::MAX`, which
/// no passage has); anything else is not a marker.
fn parse_marker(inner: &str) -> Option<Vec<usize>> {
    let ns: Option<Vec<usize>> = inner
        .split(SEPARATORS)
        .map(|p| {
            let p = p.trim();
            (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse::<usize>().unwrap_or(usize::MAX))
        })
        .collect();
    ns.filter(|v| !v.is_empty())
}

/// Could `tail` (what follows an unclosed `[`) still become a marker?
fn may_become_marker(tail: &str) -> bool {
    tail.chars()
        .all(|c| c.is_ascii_digit() || c.is_whitespace() || SEPARATORS.contains(&c))
}

/// Cleans markers out of a streamed answer piece by piece.
pub struct CitationStream {
    passages: usize,
    pending: String,
    /// Markers that pointed at no passage so far.
    pub removed: usize,
}

/// A `[` followed by at most this much marker-like text may still become a marker; a longer
/// run is released as text (and, if it still closes as a marker, is then not shown as one:
/// see [`CitationStream::push`]).
const MAX_MARKER: usize = 96;

impl CitationStream {
    pub fn new(passages: usize) -> Self {
        Self {
            passages,
            pending: String::new(),
            removed: 0,
        }
    }

    /// Takes the next piece; returns the text that is now safe to show.
    pub fn push(&mut self, piece: &str) -> String {
        self.pending.push_str(piece);
        // Hold back an unclosed `[` (or `【`) that could still turn into a marker.
        let hold = self.pending.rfind(['[', '【']).filter(|&i| {
            let tail = self.pending[i..].trim_start_matches(['[', '【']);
            !tail.contains([']', '】']) && tail.len() <= MAX_MARKER && may_become_marker(tail)
        });
        let cut = hold.unwrap_or(self.pending.len());
        let ready: String = self.pending.drain(..cut).collect();
        self.clean(&ready)
    }

    /// The end of the answer: whatever was held back.
    pub fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.pending);
        self.clean(&rest)
    }

    /// Checks the markers of `text`. Chinese models often write `【1】`: it counts as `[1]`
    /// (and comes out as `[1]`); other brackets are left as they are.
    fn clean(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find(['[', '【']) {
            out.push_str(&rest[..open]);
            let opener = if rest[open..].starts_with('[') {
                '['
            } else {
                '【'
            };
            let closer = if opener == '[' { ']' } else { '】' };
            let after = &rest[open + opener.len_utf8()..];
            let Some(close) = after.find(closer) else {
                out.push_str(&rest[open..]);
                return out;
            };
            match parse_marker(&after[..close]) {
                Some(ns) => {
                    let valid: Vec<String> = ns
                        .iter()
                        .filter(|n| (1..=self.passages).contains(*n))
                        .map(|n| n.to_string())
                        .collect();
                    self.removed += ns.len() - valid.len();
                    if !valid.is_empty() {
                        out.push_str(&format!("[{}]", valid.join(", ")));
                    }
                }
                None => {
                    out.push(opener);
                    out.push_str(&after[..close]);
                    out.push(closer);
                }
            }
            rest = &after[close + closer.len_utf8()..];
        }
        out.push_str(rest);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_split_across_pieces() {
        let mut s = CitationStream::new(3);
        let mut out = String::new();
        for piece in ["建于1406年[", "1", "][7", "]。又见[2, ", "9]与[注]。["] {
            out.push_str(&s.push(piece));
        }
        out.push_str(&s.finish());
        assert_eq!(out, "建于1406年[1]。又见[2]与[注]。[");
        assert_eq!(s.removed, 2);
        assert_eq!(markers_in(&out, 3), vec![1, 2]);
    }

    #[test]
    fn odd_markers_never_reach_a_passage_that_is_not_there() {
        let mut s = CitationStream::new(5);
        let mut out = String::new();
        for piece in [
            "剂量5 mg",
            "[",
            "1",
            "，2",
            "，3",
            "，4",
            "，5",
            "，6",
            "，7",
            "]",
            "。",
        ] {
            out.push_str(&s.push(piece));
        }
        out.push_str(&s.finish());
        assert_eq!(out, "剂量5 mg[1, 2, 3, 4, 5]。");
        assert_eq!(s.removed, 2);
        let mut s = CitationStream::new(2);
        let out = s.push("a[0] b[99999999999999999999] c[\t2] d[1、2] e[x]");
        assert_eq!(out + &s.finish(), "a b c[2] d[1, 2] e[x]");
        assert_eq!(s.removed, 2);
        let mut s = CitationStream::new(2);
        let mut out = s.push("故宫建于1406年【");
        out += &s.push("1】。【注意】门票另购【3】。");
        assert_eq!(out + &s.finish(), "故宫建于1406年[1]。【注意】门票另购。");
        assert_eq!(s.removed, 1);
        assert_eq!(
            strip_markers("建于1406年。[2] See [note] 【3】."),
            "建于1406年。 See [note] ."
        );
        // Whatever the text, markers_in only names passages that exist.
        assert_eq!(markers_in("[0][3][1, 9]", 2), vec![1]);
    }
}
