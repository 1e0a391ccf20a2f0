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
use zhiku_embed::Embedder;

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
    /// Whether the unit says what its passage's subject is ("羊水栓塞是一种…").
    defines: bool,
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
    // Snowball's English stemmer, so that "juvenile" and "juveniles", "live" and "living"
    // meet; CJK terms pass as they are.
    static ENGLISH: std::sync::LazyLock<rust_stemmers::Stemmer> = std::sync::LazyLock::new(|| {
        rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English)
    });
    if !t.is_ascii() {
        return t.to_string();
    }
    ENGLISH.stem(t).into_owned()
}

/// How much a question term naming the passages' subject counts beside the others.
const TOPIC_WEIGHT: f32 = 0.4;

/// How much saying what the subject is counts when the question names nothing else.
const DEFINITION_BOOST: f32 = 0.4;

/// Whether `unit` names `title` near its start and goes on to say what it is: "X是…",
/// "X（…）意为…", "X is …", "X, also …, refers to …".
fn defines(unit: &str, title: &str) -> bool {
    let (unit, title) = (unit.to_lowercase(), title.trim().to_lowercase());
    if title.is_empty() {
        return false;
    }
    let Some(at) = unit.find(&title) else {
        return false;
    };
    if unit[..at].chars().count() > 12 {
        return false;
    }
    let mut rest = unit[at + title.len()..].trim_start();
    // A gloss in brackets between the name and the verb: "原冈瓦那大陆（Proto-Gondwana）意为…".
    for (open, close) in [('（', '）'), ('(', ')')] {
        if let Some(after) = rest.strip_prefix(open) {
            if let Some(end) = after.find(close) {
                rest = after[end + close.len_utf8()..].trim_start();
            }
        }
    }
    let rest = rest.trim_start_matches([',', '，']).trim_start();
    const COPULAS: &[&str] = &[
        "是", "为", "指", "意为", "即", "乃", "is ", "are ", "was ", "were ", "refers", "means",
    ];
    COPULAS.iter().any(|c| rest.starts_with(c))
}

/// The name a title gives its subject, without what the title says about it:
/// "等差数列的通项与前 n 项和（练习）" is about 等差数列; its 前 n 项和 is what may be asked.
fn subject_of(title: &str) -> &str {
    let cut = title
        .find(['的', '（', '(', '：', ':', '§', '—', '|', '，', ','])
        .unwrap_or(title.len());
    let subject = title[..cut].trim();
    if subject.is_empty() {
        title
    } else {
        subject
    }
}

/// Whether a unit opens with a pronoun standing for the subject of its passage.
fn refers_back(unit: &str) -> bool {
    const ZH: &[&str] = &["它", "其", "该", "牠", "此", "这是", "这座", "这种"];
    const EN: &[&str] = &["it ", "its ", "they ", "their ", "this ", "these "];
    let lower = unit.trim_start().to_lowercase();
    ZH.iter().chain(EN).any(|p| lower.starts_with(p))
}

/// How much closeness in meaning (0 for the farthest unit, 1 for the closest) adds.
const MEANING_WEIGHT: f32 = 0.3;

/// How close each of `units` is in meaning to `question` under the embedding model, scaled
/// so that the farthest is 0 and the closest 1; `None` when the model fails (the answer is
/// then ranked on words alone).
fn closeness(embedder: &Embedder, question: &str, units: &[&str]) -> Option<Vec<f32>> {
    if units.len() < 2 {
        return None;
    }
    let embedded = embedder
        .embed_query(question)
        .and_then(|q| Ok((q, embedder.embed_passages(units)?)));
    let (q, vectors) = match embedded {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "extractive answer: units not embedded; ranked on words");
            return None;
        }
    };
    let cosines: Vec<f32> = vectors
        .iter()
        .map(|v| q.iter().zip(v).map(|(a, b)| a * b).sum())
        .collect();
    let (lo, hi) = cosines
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &c| (lo.min(c), hi.max(c)));
    (hi - lo > f32::EPSILON).then(|| cosines.iter().map(|c| (c - lo) / (hi - lo)).collect())
}

/// Builds the answer from `hits` (best first), ranking units on words alone.
pub fn extractive_answer(
    question: &str,
    hits: &[Hit],
    opts: ExtractiveOptions,
) -> ExtractiveAnswer {
    extractive_answer_with(question, hits, opts, None)
}

/// Builds the answer from `hits` (best first); with `embedder`, a unit's closeness in meaning
/// to the question counts beside its words ("distinguished from" answers "different from").
pub fn extractive_answer_with(
    question: &str,
    hits: &[Hit],
    opts: ExtractiveOptions,
    embedder: Option<&Embedder>,
) -> ExtractiveAnswer {
    let lang = detect_language(question);
    let chinese = lang == Language::Chinese;
    let mut q: Vec<String> = content_terms(question).iter().map(|t| stem(t)).collect();
    q.sort();
    q.dedup();
    let wanted = expected(question);
    // The subject every passage is about (a term of the question in a passage's title) says
    // little about which unit answers: "龙山国小最先是什么时候创校的？" is answered by the unit
    // with 创校, not by the one naming 龙山国小 most. A long Chinese name is many bigrams,
    // so unweighted it outvotes the asked attribute.
    let titles: HashSet<String> = hits
        .iter()
        .take(opts.passages)
        .flat_map(|h| stemmed(subject_of(&h.chunk.title)).collect::<Vec<_>>())
        .collect();
    let asks_more = q.iter().any(|t| !titles.contains(t));
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
            let mut terms: HashSet<String> = stemmed(&unit.text).collect();
            // "它是分布于热带美洲的…" is about the passage's subject although it does not name it.
            if asks_more && refers_back(&unit.text) {
                terms.extend(stemmed(subject_of(&hit.chunk.title)));
            }
            candidates.push(Candidate {
                passage: p,
                defines: defines(&unit.text, subject_of(&hit.chunk.title)),
                position,
                terms,
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
    let weights: Vec<f32> = q
        .iter()
        .map(|t| {
            let topic = if asks_more && titles.contains(t) {
                TOPIC_WEIGHT
            } else {
                1.0
            };
            rarity(t) * topic
        })
        .collect();
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
            let boost = wanted.map_or(0.0, Expected::strength);
            score += boost * about[c.passage].max(0.3);
        }
        if !asks_more && c.defines {
            // The question names only the subject ("什么是羊水栓塞？", "What is a teacher?"):
            // the sentence saying what it is answers it.
            score += DEFINITION_BOOST * about[c.passage].max(0.3);
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
    if let Some(embedder) = embedder {
        let texts: Vec<&str> = scored.iter().map(|(_, c)| c.text.as_str()).collect();
        if let Some(close) = closeness(embedder, question, &texts) {
            // A question wanting a year, an hour, a price or a dose is answered by a unit
            // holding one: a unit merely about opening hours ("开放时间请以官方信息为准") is
            // close in meaning to "几点开门" but does not answer it.
            let strong = wanted.filter(|k| k.strength() >= 0.6);
            let typed_exists =
                strong.is_some_and(|k| scored.iter().any(|(_, c)| holds(k, &c.text)));
            for ((score, c), z) in scored.iter_mut().zip(close) {
                let untyped = typed_exists && strong.is_some_and(|k| !holds(k, &c.text));
                let weight = if untyped {
                    MEANING_WEIGHT / 2.0
                } else {
                    MEANING_WEIGHT
                };
                *score += weight * z;
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_saying_what_the_subject_is_defines_it() {
        assert!(defines("羊水栓塞是一种罕见的产科紧急症候。", "羊水栓塞"));
        assert!(defines(
            "原冈瓦那大陆（Proto-Gondwana）意为「最初的冈瓦那大陆」",
            "原冈瓦那大陆"
        ));
        assert!(defines(
            "在数学中，约化群是幂单根为平凡群的代数群。",
            "约化群"
        ));
        assert!(defines(
            "A teacher is a person who helps students.",
            "Teacher"
        ));
        assert!(!defines("此病最早在1941年被描述说明。", "羊水栓塞"));
        assert!(!defines(
            "在母体致死率的列表中羊水栓塞排列第五位。",
            "羊水栓塞"
        ));
    }

    #[test]
    fn a_title_names_its_subject_first() {
        assert_eq!(
            subject_of("等差数列的通项与前 n 项和（分层练习与解答）"),
            "等差数列"
        );
        assert_eq!(subject_of("龙山国小"), "龙山国小");
        assert_eq!(
            subject_of("Temple of Heaven § Visiting"),
            "Temple of Heaven"
        );
    }

    #[test]
    fn pronouns_stand_for_the_subject() {
        assert!(refers_back("它是分布于热带美洲的一种多年生植物"));
        assert!(refers_back("They live among the plankton."));
        assert!(!refers_back("大果西番莲有时候会在温室中种植。"));
    }
}
