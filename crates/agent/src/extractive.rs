//! The extractive answerer: with no large model (or when it fails), answer with the
//! sentences of the top passages that share most with the question, each cited, and say so.

use zhiku_core::Hit;

use crate::citations::strip_markers;
use crate::lang::{content_terms, detect_language, terms, Language};
use crate::messages;

#[derive(Debug, Clone, Copy)]
pub struct ExtractiveOptions {
    /// Passages considered (the first ones, in retrieval order).
    pub passages: usize,
    /// Sentences in the answer.
    pub sentences: usize,
    /// Longest answer in display columns (see `AnswerPolicy::max_width`): the best sentences
    /// that fit, at least one.
    pub max_width: Option<usize>,
}

impl Default for ExtractiveOptions {
    fn default() -> Self {
        Self {
            passages: 3,
            sentences: 3,
            max_width: None,
        }
    }
}

/// Sentences of a passage, with their text trimmed; Chinese and English end marks.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        let end = i + c.len_utf8();
        let boundary = matches!(c, '。' | '！' | '？' | '\n')
            || (matches!(c, '.' | '!' | '?') && text[end..].starts_with(char::is_whitespace));
        if boundary {
            out.push(text[start..end].trim());
            start = end;
        }
    }
    out.push(text[start..].trim());
    out.retain(|s| s.chars().filter(|c| c.is_alphanumeric()).count() >= 4 && !s.starts_with('#'));
    out
}

/// Sentences quoted from the passages, each ending with its passage marker.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractiveAnswer {
    /// The answer; when `abstained`, the localized "nothing found" sentence.
    pub text: String,
    pub abstained: bool,
}

/// Builds the answer from `hits` (best first).
pub fn extractive_answer(
    question: &str,
    hits: &[Hit],
    opts: ExtractiveOptions,
) -> ExtractiveAnswer {
    let lang = detect_language(question);
    let q = content_terms(question);
    let candidates: Vec<(usize, usize, &str, Vec<String>)> = hits
        .iter()
        .take(opts.passages)
        .enumerate()
        .flat_map(|(p, hit)| {
            sentences(&hit.chunk.text)
                .into_iter()
                .enumerate()
                .map(move |(s, sentence)| (p, s, sentence, terms(sentence)))
        })
        .collect();
    // A question term found in few sentences says more than one found in all of them (the
    // name of the place every sentence is about).
    let rarity =
        |t: &String| 1.0 / candidates.iter().filter(|c| c.3.contains(t)).count().max(1) as f32;
    let mut scored: Vec<(f32, usize, usize, &str)> = Vec::new();
    for (p, s, sentence, st) in &candidates {
        let weight: f32 = q.iter().filter(|t| st.contains(t)).map(rarity).sum();
        if weight == 0.0 {
            continue;
        }
        // Prefer focused sentences and better-ranked passages.
        let score = weight / (st.len() as f32 + 4.0).sqrt() - 0.01 * *p as f32;
        scored.push((score, *p, *s, sentence));
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.truncate(opts.sentences);
    if let Some(max) = opts.max_width {
        let mut used = 0;
        let mut kept = 0;
        scored.retain(|(_, _, _, s)| {
            let w = crate::assembler::width(s) + 4; // room for the marker
            let keep = kept == 0 || used + w <= max;
            if keep {
                used += w;
                kept += 1;
            }
            keep
        });
    }
    // Read in passage order, as the sources tell it.
    scored.sort_by_key(|&(_, p, s, _)| (p, s));
    if scored.is_empty() {
        return ExtractiveAnswer {
            text: messages::no_answer(lang).into(),
            abstained: true,
        };
    }
    let sep = if lang == Language::Chinese { "" } else { " " };
    let body: Vec<String> = scored
        .iter()
        // A source's own footnote marks ("…in 1406.[2]") would read as our citations.
        .map(|(_, p, _, s)| format!("{}[{}]", strip_markers(s), p + 1))
        .collect();
    ExtractiveAnswer {
        text: body.join(sep),
        abstained: false,
    }
}
