//! The extractive answerer: with no large model (or when it fails), answer with the pieces of
//! the top passages that answer *this* question best, each cited, and say so.
//!
//! A passage is read as units (sentences, list items, table rows as "column: value"; see
//! `units`). A unit scores by the question's terms it holds (a term found in few units
//! counts more than one found in all of them: the name of the place every sentence is
//! about), by whether it holds the kind of answer the question asks for (a year for 哪一年,
//! a price for 多少钱, a dose for "dose"; see `answer_type`), and by being in the reader's
//! language. The best unit comes first; the others follow in the sources' order. Markers are
//! numbered 1..n in order of first use, and [`ExtractiveAnswer::passages`] says which
//! passage each number is.

use std::collections::HashSet;

use zhiku_core::Hit;

use crate::answer_type::{expected, holds, Expected};
use crate::lang::{content_terms, detect_language, is_cjk, terms, Language};
use crate::messages;
use crate::units::units;

#[derive(Debug, Clone, Copy)]
pub struct ExtractiveOptions {
    /// Passages considered (the first ones, in retrieval order).
    pub passages: usize,
    /// Units in the answer.
    pub sentences: usize,
    /// Longest answer in display columns, markers not counted (see `AnswerPolicy::max_width`):
    /// the best units that fit, at least one.
    pub max_width: Option<usize>,
    /// Number markers 1..n in order of first use (else `[n]` is the n-th given passage, as
    /// when the answer continues a model's that already cited by those numbers).
    pub renumber: bool,
}

impl Default for ExtractiveOptions {
    fn default() -> Self {
        Self {
            passages: 3,
            sentences: 3,
            max_width: None,
            renumber: true,
        }
    }
}

/// Units quoted from the passages, each ending with its passage marker.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractiveAnswer {
    /// The answer; when `abstained`, the localized "nothing found" sentence.
    pub text: String,
    pub abstained: bool,
    /// Which of the given passages (indexes into `hits`) each marker is: marker `[n]` is
    /// `hits[passages[n - 1]]`.
    pub passages: Vec<usize>,
}

impl ExtractiveAnswer {
    /// The passages in marker order, as citations must be resolved against.
    pub fn cited_hits(&self, hits: &[Hit]) -> Vec<Hit> {
        self.passages
            .iter()
            .filter_map(|&i| hits.get(i).cloned())
            .collect()
    }
}

struct Candidate {
    passage: usize,
    position: usize,
    text: String,
    terms: HashSet<String>,
}

/// English words reduced to a rough stem, so that "monitoring" finds "monitor" and "doses"
/// finds "dose"; CJK bigrams as they are.
fn stemmed(text: &str) -> impl Iterator<Item = String> {
    terms(text).into_iter().map(|t| stem(&t))
}

pub(crate) fn stem(t: &str) -> String {
    if !t.is_ascii() || t.len() <= 4 {
        return t.to_string();
    }
    for suffix in ["ing", "ed", "es", "s"] {
        if let Some(s) = t.strip_suffix(suffix) {
            if s.len() >= 3 {
                return s.to_string();
            }
        }
    }
    t.to_string()
}

/// Builds the answer from `hits` (best first).
pub fn extractive_answer(
    question: &str,
    hits: &[Hit],
    opts: ExtractiveOptions,
) -> ExtractiveAnswer {
    let lang = detect_language(question);
    let chinese = lang == Language::Chinese;
    let mut q: Vec<String> = content_terms(question).iter().map(|t| stem(t)).collect();
    q.sort();
    q.dedup();
    let wanted = expected(question);
    let mut candidates: Vec<Candidate> = Vec::new();
    // How much of the question each passage (with its title) holds: a unit holding the asked
    // kind of answer may share no word with the question ("开放时间：8:30–17:00") when its
    // passage is about what was asked.
    let mut about: Vec<f32> = Vec::new();
    for (p, hit) in hits.iter().take(opts.passages).enumerate() {
        let whole: HashSet<String> = stemmed(&hit.chunk.text)
            .chain(stemmed(&hit.chunk.title))
            .collect();
        let share = q.iter().filter(|t| whole.contains(*t)).count() as f32 / q.len().max(1) as f32;
        about.push(share);
        for (position, unit) in units(&hit.chunk.text, &hit.chunk.title, chinese)
            .into_iter()
            .enumerate()
        {
            candidates.push(Candidate {
                passage: p,
                position,
                terms: stemmed(&unit.text).collect(),
                text: unit.text,
            });
        }
    }
    let rarity = |t: &String| {
        1.0 / candidates
            .iter()
            .filter(|c| c.terms.contains(t))
            .count()
            .max(1) as f32
    };
    let weights: Vec<f32> = q.iter().map(rarity).collect();
    let mut scored: Vec<(f32, &Candidate)> = Vec::new();
    for c in &candidates {
        let overlap: f32 = q
            .iter()
            .zip(&weights)
            .filter(|(t, _)| c.terms.contains(*t))
            .map(|(_, w)| w)
            .sum();
        let typed = wanted.is_some_and(|k| holds(k, &c.text));
        let on_topic = about[c.passage] > 0.0;
        if overlap == 0.0 && !(typed && on_topic) {
            continue;
        }
        // Prefer focused units, but only mildly: the answering sentence is often long.
        let mut score = overlap / (c.terms.len() as f32 + 4.0).powf(0.35);
        if typed {
            // Any number is weak evidence; a year, an hour, a price or a dose is strong.
            let boost = if wanted == Some(Expected::Number) {
                0.15
            } else {
                0.6
            };
            score += boost * about[c.passage].max(0.3);
        }
        if is_prompt(&c.text) {
            score *= 0.3;
        }
        if in_other_language(&c.text, lang) {
            score *= 0.6;
        }
        score *= 1.0 - 0.05 * c.passage as f32;
        scored.push((score, c));
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    // Never the same unit twice (a row quoted by two overlapping chunks).
    let mut seen: Vec<String> = Vec::new();
    scored.retain(|(_, c)| {
        let key: String = c.text.chars().filter(|ch| ch.is_alphanumeric()).collect();
        let dup = seen
            .iter()
            .any(|s| s.contains(key.as_str()) || key.contains(s.as_str()));
        if !dup {
            seen.push(key);
        }
        !dup
    });
    scored.truncate(opts.sentences);
    // What follows the best unit must be worth reading beside it, not padding.
    if let Some(&(best, _)) = scored.first() {
        scored.retain(|(score, _)| *score >= 0.35 * best);
    }
    // (passage, position in it, text), best first.
    let mut picked: Vec<(usize, usize, String)> = scored
        .iter()
        .map(|(_, c)| (c.passage, c.position, c.text.clone()))
        .collect();
    if let Some(max) = opts.max_width {
        if let Some(first) = picked.first_mut() {
            first.2 = shortened(&first.2, max);
        }
        let mut used = 0;
        let mut kept = 0;
        picked.retain(|(_, _, text)| {
            let w = crate::assembler::width(text);
            let keep = kept == 0 || used + w <= max;
            if keep {
                used += w;
                kept += 1;
            }
            keep
        });
    }
    if picked.is_empty() {
        return ExtractiveAnswer {
            text: messages::no_answer(lang).into(),
            abstained: true,
            passages: Vec::new(),
        };
    }
    // The best first, then the rest as the sources tell it.
    let mut rest = picked.split_off(1);
    rest.sort_by_key(|(passage, position, _)| (*passage, *position));
    picked.extend(rest);
    let mut order: Vec<usize> = if opts.renumber {
        Vec::new()
    } else {
        (0..hits.len()).collect()
    };
    let body: Vec<String> = picked
        .iter()
        .map(|(passage, _, text)| {
            let n = match order.iter().position(|p| p == passage) {
                Some(i) => i + 1,
                None => {
                    order.push(*passage);
                    order.len()
                }
            };
            format!("{text}[{n}]")
        })
        .collect();
    let sep = if chinese { "" } else { " " };
    ExtractiveAnswer {
        text: body.join(sep),
        abstained: false,
        passages: order,
    }
}

/// `text` within `max` display columns: cut after the last clause that fits (a sentence end,
/// else a semicolon, else a comma), else at the width, and marked with "…".
fn shortened(text: &str, max: usize) -> String {
    if crate::assembler::width(text) <= max {
        return text.to_string();
    }
    let mut fits = 0; // byte end of the longest prefix within max - 1 columns
    let mut used = 0;
    for (i, c) in text.char_indices() {
        used += crate::assembler::width(c.encode_utf8(&mut [0; 4]));
        if used > max.saturating_sub(1) {
            break;
        }
        fits = i + c.len_utf8();
    }
    let head = &text[..fits];
    for marks in [
        &['。', '！', '？', '.', '!', '?'][..],
        &['；', ';'],
        &['，', ',', '、'],
    ] {
        if let Some(i) = head.rfind(marks) {
            let cut = head[..i].trim_end();
            if crate::assembler::width(cut) >= max / 3 {
                let end = if head[i..].starts_with(['。', '.', '！', '!', '？', '?']) {
                    &head[..i + head[i..].chars().next().map_or(1, char::len_utf8)]
                } else {
                    cut
                };
                return if end.ends_with(['。', '.', '！', '!', '？', '?']) {
                    end.to_string()
                } else {
                    format!("{end}…")
                };
            }
        }
    }
    format!("{}…", head.trim_end())
}

/// A question or an exercise's prompt ("已知…，求通项公式。", "Find the…"): it asks, it does
/// not answer.
fn is_prompt(text: &str) -> bool {
    let t = text.trim_end_matches(|c: char| !c.is_alphanumeric() && c != '?' && c != '？');
    let lower = text.to_ascii_lowercase();
    t.ends_with(['?', '？'])
        || ["，求", "，证明", "，求证", "，试"]
            .iter()
            .any(|w| text.contains(w))
        || ["求", "证明", "求证", "试求"]
            .iter()
            .any(|w| text.starts_with(w))
        || [
            "find ",
            "calculate ",
            "solve ",
            "show that ",
            "prove ",
            "explain why ",
        ]
        .iter()
        .any(|w| lower.starts_with(w))
}

/// A unit with no Chinese in a Chinese answer, or mostly Chinese in an English one.
fn in_other_language(text: &str, lang: Language) -> bool {
    let cjk = text.chars().filter(|&c| is_cjk(c)).count();
    let letters = text.chars().filter(|c| c.is_alphabetic()).count().max(1);
    match lang {
        Language::Chinese => cjk == 0,
        Language::English => cjk * 2 > letters,
    }
}
