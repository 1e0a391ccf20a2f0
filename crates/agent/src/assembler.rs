//! Turns a model's raw output, piece by piece, into what the user sees: the reply that
//! means "the passages do not answer" caught before any of it is shown, citation markers
//! checked, each sentence of a model's answer checked for support by the passages (markers
//! added, moved or the sentence removed: `support`), and, where the domain asks for it, each
//! sentence checked by the domain (e.g. doses) and the length kept to its limit. Sentences
//! are then released whole instead of token by token.

use std::sync::Arc;

use zhiku_core::{AnswerPolicy, Domain, Hit};
use zhiku_embed::Embedder;

use crate::answer::SupportReport;
use crate::citations::{markers_in, CitationStream};
use crate::support::{with_markers, SupportCheck, Verdict};

/// The exact reply the prompts ask for when the passages do not answer.
pub const NO_ANSWER: &str = "NO_ANSWER";

/// Who wrote the text.
pub enum Origin {
    /// Sentences of the passages themselves.
    Extractive,
    /// A model: the reply may be `NO_ANSWER`, and every sentence is checked for support by
    /// the passages (across languages too, with the embedder).
    Model { embedder: Option<Arc<Embedder>> },
}

/// Something to show, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Text(String),
    /// A passage number cited for the first time.
    Cited(usize),
}

pub struct Assembler<'a> {
    passages: &'a [Hit],
    domain: Option<&'a dyn Domain>,
    by_sentence: bool,
    max_width: Option<usize>,
    markers: CitationStream,
    /// Set for a model's answer: every sentence is checked against the passages.
    support: Option<SupportCheck>,
    pub report: SupportReport,
    /// The sentences removed for want of support, as written.
    pub unsupported: Vec<String>,
    /// While the start of the reply could still be `NO_ANSWER`.
    deciding: Option<String>,
    sentence: String,
    pub text: String,
    pub cited: Vec<usize>,
    /// Reasons of sentences the domain rejected.
    pub dropped: Vec<String>,
    pub shortened: bool,
    pub abstained: bool,
}

impl<'a> Assembler<'a> {
    /// `policy` is `domain`'s (or the default without one).
    pub fn new(
        passages: &'a [Hit],
        domain: Option<&'a dyn Domain>,
        policy: AnswerPolicy,
        origin: Origin,
    ) -> Self {
        let (from_model, embedder) = match origin {
            Origin::Model { embedder } => (true, embedder),
            Origin::Extractive => (false, None),
        };
        Self {
            passages,
            domain,
            by_sentence: from_model || policy.checks_sentences || policy.max_width.is_some(),
            max_width: policy.max_width,
            markers: CitationStream::new(passages.len()),
            support: from_model.then(|| SupportCheck::new(passages, embedder)),
            report: SupportReport::default(),
            unsupported: Vec::new(),
            deciding: from_model.then(String::new),
            sentence: String::new(),
            text: String::new(),
            cited: Vec::new(),
            dropped: Vec::new(),
            shortened: false,
            abstained: false,
        }
    }

    /// Markers removed because they pointed at no passage.
    pub fn removed(&self) -> usize {
        self.markers.removed
    }

    pub fn push(&mut self, piece: &str, out: &mut impl FnMut(Piece)) {
        if self.abstained {
            return;
        }
        let piece = match self.deciding.as_mut() {
            Some(buf) => {
                buf.push_str(piece);
                // Not yet past a reasoning model's <think> block: nothing to decide on.
                let Some(start) = answer_start(buf) else {
                    return;
                };
                let head = buf[start..].trim_start_matches('`');
                if head.starts_with(NO_ANSWER) {
                    self.abstained = true;
                    return;
                }
                if NO_ANSWER.starts_with(head) {
                    return; // could still be it
                }
                let answer = buf[start..].to_string();
                self.deciding = None;
                answer
            }
            None => piece.to_string(),
        };
        let clean = self.markers.push(&piece);
        self.release(clean, false, out);
    }

    pub fn finish(&mut self, out: &mut impl FnMut(Piece)) {
        if let Some(buf) = self.deciding.take() {
            // An unfinished <think> block is all thinking: nothing of it is the answer.
            if let Some(start) = answer_start(&buf).filter(|_| !self.abstained) {
                let clean = self.markers.push(&buf[start..]);
                self.release(clean, false, out);
            }
        }
        if self.abstained {
            return;
        }
        let rest = self.markers.finish();
        self.release(rest, true, out);
    }

    fn release(&mut self, clean: String, last: bool, out: &mut impl FnMut(Piece)) {
        if !self.by_sentence {
            self.emit(&clean, out);
            return;
        }
        self.sentence.push_str(&clean);
        while let Some(end) = sentence_end(&self.sentence, last) {
            let s: String = self.sentence.drain(..end).collect();
            self.consider(s, out);
        }
        if last && !self.sentence.trim().is_empty() {
            let s = std::mem::take(&mut self.sentence);
            self.consider(s, out);
        }
    }

    /// One whole sentence: checked for support, checked by the domain, kept within the
    /// length limit.
    fn consider(&mut self, mut s: String, out: &mut impl FnMut(Piece)) {
        if self.shortened {
            return;
        }
        if let Some(check) = &self.support {
            let mut written = markers_in(&s, self.passages.len());
            written.sort_unstable();
            written.dedup();
            match check.judge(&s) {
                Verdict::NotAClaim => {}
                Verdict::Supported {
                    markers,
                    added,
                    dropped,
                } => {
                    self.report.sentences += 1;
                    self.report.markers_written += written.len();
                    if !added {
                        self.report.markers_supported += markers.len();
                    }
                    self.report.markers_added += usize::from(added);
                    self.report.markers_moved += dropped;
                    if added || dropped > 0 {
                        s = with_markers(&s, &markers);
                    }
                }
                Verdict::Unchecked { markers, .. } => {
                    self.report.sentences += 1;
                    self.report.unchecked += 1;
                    self.report.markers_written += written.len();
                    s = with_markers(&s, &markers);
                }
                Verdict::Unsupported => {
                    self.report.sentences += 1;
                    self.report.markers_written += written.len();
                    self.report.removed += 1;
                    self.unsupported.push(s.trim().to_string());
                    return;
                }
            }
        }
        if let Some(domain) = self.domain {
            let mut allowed: Vec<usize> = markers_in(&s, self.passages.len());
            allowed.extend(&self.cited);
            let texts: Vec<&str> = allowed
                .iter()
                .map(|&n| self.passages[n - 1].chunk.text.as_str())
                .collect();
            if let Err(reason) = domain.check_sentence(&s, &texts) {
                self.dropped.push(reason);
                return;
            }
        }
        if let Some(max) = self.max_width {
            let used = width(&self.text);
            if used > 0 && used + width(s.trim_end()) > max {
                self.shortened = true;
                return;
            }
        }
        self.emit(&s, out);
    }

    fn emit(&mut self, s: &str, out: &mut impl FnMut(Piece)) {
        if s.is_empty() {
            return;
        }
        self.text.push_str(s);
        out(Piece::Text(s.to_string()));
        for n in markers_in(s, self.passages.len()) {
            if !self.cited.contains(&n) {
                self.cited.push(n);
                out(Piece::Cited(n));
            }
        }
    }
}

/// Where the answer proper starts in the model's first output: after whitespace, a BOM and
/// any `<think>…</think>` blocks (reasoning models served by vLLM or Ollama put them in the
/// content). `None` while that cannot be told yet.
fn answer_start(buf: &str) -> Option<usize> {
    let mut at = 0;
    loop {
        let rest = buf[at..].trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
        at = buf.len() - rest.len();
        if let Some(inner) = rest.strip_prefix("<think>") {
            let end = inner.find("</think>")?;
            at += "<think>".len() + end + "</think>".len();
            continue;
        }
        if !rest.is_empty() && "<think>".starts_with(rest) {
            return None;
        }
        return Some(at);
    }
}

/// Display columns: CJK characters take two.
pub fn width(s: &str) -> usize {
    // CJK punctuation (。，、「」) and full-width forms take two columns like the characters.
    let wide =
        |c: char| crate::lang::is_cjk(c) || matches!(c as u32, 0x3000..=0x303F | 0xFF01..=0xFF60);
    s.chars().map(|c| if wide(c) { 2 } else { 1 }).sum()
}

/// The byte end of the first complete sentence in `buf`, markers after its end mark
/// included; `None` while it may still go on (unless `last`).
fn sentence_end(buf: &str, last: bool) -> Option<usize> {
    for (i, c) in buf.char_indices() {
        let after = i + c.len_utf8();
        let mark = matches!(c, '。' | '！' | '？' | '；' | '\n')
            || (matches!(c, '.' | '!' | '?')
                && buf[after..].starts_with(|n: char| n.is_whitespace() || n == '['));
        if !mark {
            continue;
        }
        // Take the markers that follow the end mark ("…500 mg。[2]").
        let mut j = after;
        loop {
            let rest = &buf[j..];
            let trimmed = rest.trim_start_matches([' ', '\u{3000}']);
            if trimmed.starts_with('[') {
                match trimmed.find(']') {
                    Some(close) => j = buf.len() - trimmed.len() + close + 1,
                    None if last => return Some(buf.len()),
                    None => return None,
                }
            } else if trimmed.is_empty() && !last {
                return None; // a marker may still follow
            } else {
                return Some(j);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinking_and_no_answer_are_never_shown() {
        let passages: Vec<Hit> = Vec::new();
        let run = |pieces: &[&str]| {
            let mut asm = Assembler::new(
                &passages,
                None,
                AnswerPolicy::default(),
                Origin::Model { embedder: None },
            );
            let mut shown = String::new();
            let mut sink = |p: Piece| {
                if let Piece::Text(t) = p {
                    shown.push_str(&t)
                }
            };
            for p in pieces {
                asm.push(p, &mut sink);
            }
            asm.finish(&mut sink);
            (shown, asm.abstained)
        };
        assert_eq!(
            run(&["<thi", "nk>let me see", "</think>\n\n", "NO_ANS", "WER"]),
            (String::new(), true)
        );
        assert_eq!(
            run(&["<think>hm</think>", "It is 1406."]),
            ("It is 1406.".into(), false)
        );
        assert_eq!(run(&["\u{feff} `NO_ANSWER`"]), (String::new(), true));
        assert_eq!(run(&["NO"]), ("NO".into(), false));
        assert_eq!(run(&["<think>never closed"]), (String::new(), false));
    }

    #[test]
    fn display_width() {
        assert_eq!(width("故宫，1406。"), 2 + 2 + 2 + 4 + 2);
        assert_eq!(width("Hall (1420)"), 11);
    }

    #[test]
    fn sentence_ends_take_trailing_markers() {
        assert_eq!(sentence_end("甲。[2]乙", false), Some("甲。[2]".len()));
        assert_eq!(sentence_end("甲。", false), None);
        assert_eq!(sentence_end("甲。", true), Some("甲。".len()));
        assert_eq!(
            sentence_end("Dose 5 mg. [1] Next", false),
            Some("Dose 5 mg. [1]".len())
        );
        assert_eq!(sentence_end("v1.2 is", false), None);
        assert_eq!(
            sentence_end("Built 1406.[1] Next.", false),
            Some("Built 1406.[1]".len())
        );
    }
}
