//! Whether the passages support a sentence a model wrote. Small models cite nothing, cite
//! the wrong passage or add what no passage says; every sentence of a model's answer is
//! therefore judged against the passages before it is shown: a supported sentence without a
//! marker gets the marker of the passage that supports it, a marker whose passage shares
//! nothing with its sentence is dropped, and a sentence no passage supports is removed.
//!
//! The signal is lexical: the share of the sentence's content terms (CJK bigrams, English
//! words cut to a common stem) found in one passage, and every number of the sentence found
//! there too. A model that answers from the passages mostly reuses their words; a sentence
//! made of other words, or with a number no passage has, is not checkable by the reader
//! either, which is the promise the markers make.
//!
//! Words cannot meet across languages (an English answer from Chinese guidelines), and the
//! e5 model's similarity does not separate support there either: measured on the 4-bit e5
//! model, an English sentence scored 0.815 against the Chinese passage it translates and
//! 0.797 against one it contradicts, while Chinese sentences score higher against any Chinese
//! passage than against the English one they translate. So a sentence whose words no passage
//! shares, but that cites a passage in the other language, is kept and *flagged* as not
//! checked word for word, provided its numbers are in that passage; an uncited one gets the
//! marker of the most similar passage only when every passage is in the other language (with
//! passages in its own language that do not hold it, it is the model's own claim).

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use zhiku_core::Hit;
use zhiku_embed::Embedder;

use crate::citations::{markers_in, strip_markers};
use crate::lang::content_terms;

/// Share of a sentence's content that one passage must hold for the sentence to get that
/// passage's marker when the model gave none.
pub const SUPPORTED: f32 = 0.5;
/// Share a passage the model cited must hold for its marker to stand: it must share real
/// content with the sentence, not one word.
pub const CITED_SHARES: f32 = 0.25;
/// Sentences with fewer content terms than this say too little to check ("Yes.", "综上：").
const MIN_TERMS: usize = 3;

/// What to do with one sentence.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Not a claim (too short, or an introduction ending in a colon): shown as written.
    NotAClaim,
    /// Shown, citing `markers` (1-based passage numbers). `added` when the model cited none
    /// of them; `dropped` markers the model wrote pointed at passages that share nothing.
    Supported {
        markers: Vec<usize>,
        added: bool,
        dropped: usize,
    },
    /// In the other language than the passages it could rest on: shown, citing `markers`
    /// (the model's, or the most similar passage's when `added`), and flagged.
    Unchecked { markers: Vec<usize>, added: bool },
    /// No passage holds it.
    Unsupported,
}

/// The passages' terms, computed once per answer.
pub struct SupportCheck {
    passages: Vec<PassageTerms>,
    /// For sentences and passages in different languages; `None` judges lexically only.
    embedder: Option<Arc<Embedder>>,
    /// The passages' vectors, made on the first cross-language sentence.
    vectors: OnceLock<Vec<Option<Vec<f32>>>>,
}

struct PassageTerms {
    text: String,
    cjk: bool,
    terms: HashSet<String>,
    numbers: HashSet<String>,
}

impl SupportCheck {
    pub fn new(passages: &[Hit], embedder: Option<Arc<Embedder>>) -> Self {
        Self {
            embedder,
            vectors: OnceLock::new(),
            passages: passages
                .iter()
                .map(|h| {
                    // What the prompt shows of a passage: its title, section, fields, text.
                    let c = &h.chunk;
                    let fields: Vec<&str> = c.metadata.values().map(String::as_str).collect();
                    let text = format!("{} {} {} {}", c.title, c.section, fields.join(" "), c.text);
                    PassageTerms {
                        cjk: mostly_cjk(&c.text),
                        terms: stems(&text).into_iter().collect(),
                        numbers: numbers(&text).into_iter().collect(),
                        text,
                    }
                })
                .collect(),
        }
    }

    /// Share of a sentence's content terms in passage `n` (1-based), 0 when a number of the
    /// sentence is missing from it.
    fn share_of(&self, terms: &[String], numbers: &[String], n: usize) -> f32 {
        let Some(p) = n.checked_sub(1).and_then(|i| self.passages.get(i)) else {
            return 0.0;
        };
        if terms.is_empty() || numbers.iter().any(|x| !p.numbers.contains(x)) {
            return 0.0;
        }
        terms.iter().filter(|t| p.terms.contains(*t)).count() as f32 / terms.len() as f32
    }

    /// Passages in the other language than `sentence` holding all its numbers.
    fn other_language(&self, sentence: &str, numbers: &[String]) -> Vec<usize> {
        let cjk = mostly_cjk(sentence);
        (1..=self.passages.len())
            .filter(|&n| self.passages[n - 1].cjk != cjk)
            .filter(|&n| {
                numbers
                    .iter()
                    .all(|x| self.passages[n - 1].numbers.contains(x))
            })
            .collect()
    }

    /// Of `candidates`, the passage most similar to `sentence` under the e5 model.
    fn most_similar(&self, sentence: &str, candidates: &[usize]) -> Option<usize> {
        let embedder = self.embedder.as_ref()?;
        let vectors = self.vectors.get_or_init(|| {
            let texts: Vec<&str> = self.passages.iter().map(|p| p.text.as_str()).collect();
            match embedder.embed_passages(&texts) {
                Ok(v) => v.into_iter().map(Some).collect(),
                Err(e) => {
                    tracing::warn!(error = %e, "support check: passages not embedded");
                    vec![None; texts.len()]
                }
            }
        });
        let q = embedder.embed_query(sentence).ok()?;
        candidates
            .iter()
            .filter_map(|&n| {
                let v = vectors.get(n - 1)?.as_ref()?;
                Some((n, q.iter().zip(v).map(|(a, b)| a * b).sum::<f32>()))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(n, _)| n)
    }

    pub fn judge(&self, sentence: &str) -> Verdict {
        let plain = strip_markers(sentence);
        let terms = stems(&plain);
        let trimmed = plain.trim_end();
        if terms.len() < MIN_TERMS || trimmed.ends_with([':', '：']) || is_structure(&plain) {
            return Verdict::NotAClaim;
        }
        let nums = numbers(&plain);
        let written = markers_in(sentence, self.passages.len());
        let mut kept: Vec<usize> = Vec::new();
        for &n in &written {
            if !kept.contains(&n) && self.share_of(&terms, &nums, n) >= CITED_SHARES {
                kept.push(n);
            }
        }
        let dropped = written.iter().filter(|n| !kept.contains(n)).count();
        if !kept.is_empty() {
            return Verdict::Supported {
                markers: kept,
                added: false,
                dropped,
            };
        }
        // The best passage, the earliest (best ranked) on a tie.
        let best = (1..=self.passages.len())
            .map(|n| (n, self.share_of(&terms, &nums, n)))
            .fold(None, |best: Option<(usize, f32)>, (n, s)| match best {
                Some((_, b)) if b >= s => best,
                _ => Some((n, s)),
            });
        match best {
            Some((n, s)) if s >= SUPPORTED => Verdict::Supported {
                markers: vec![n],
                added: true,
                dropped,
            },
            _ => {
                let other = self.other_language(&plain, &nums);
                let cited: Vec<usize> = written
                    .iter()
                    .copied()
                    .filter(|n| other.contains(n))
                    .collect();
                if !cited.is_empty() {
                    return Verdict::Unchecked {
                        markers: cited,
                        added: false,
                    };
                }
                // Uncited, with passages in its own language that do not hold it: a claim of
                // the model's own. Only when every passage is in the other language is the
                // nearest one taken.
                let cjk = mostly_cjk(&plain);
                if self.passages.iter().any(|p| p.cjk == cjk) {
                    return Verdict::Unsupported;
                }
                match self.most_similar(&plain, &other) {
                    Some(n) => Verdict::Unchecked {
                        markers: vec![n],
                        added: true,
                    },
                    None => Verdict::Unsupported,
                }
            }
        }
    }
}

/// `sentence` citing exactly `markers`: the markers it had are replaced by one marker placed
/// before the sentence's end mark ("…1406年[1]。"), or at its end when it has none.
pub fn with_markers(sentence: &str, markers: &[usize]) -> String {
    let plain = strip_markers(sentence);
    let body = plain.trim_end();
    // Keep the line break after the sentence, not the space a removed marker left before it.
    let tail = &plain[body.len()..];
    let tail = if tail.contains('\n') {
        tail.trim_start_matches([' ', '\u{3000}'])
    } else {
        tail
    };
    let marker = format!(
        "[{}]",
        markers
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let end = body
        .char_indices()
        .last()
        .filter(|(_, c)| matches!(c, '。' | '！' | '？' | '；' | '.' | '!' | '?' | ';'))
        .map_or(body.len(), |(i, _)| i);
    // strip_markers leaves the space that stood before a marker ("mg. [1]" → "mg. ").
    let head = body[..end].trim_end();
    // English puts a space before the marker ("1889 [1]."), Chinese none ("1406年[1]。").
    let gap = if head.ends_with(|c: char| c.is_ascii_alphanumeric() || c == ')') {
        " "
    } else {
        ""
    };
    format!("{head}{gap}{marker}{}{tail}", &body[end..])
}

/// A table row, display formula, heading or code fence: a marker cannot be placed in it
/// without breaking the Markdown, so it is shown as written (the sentences around it are
/// checked).
fn is_structure(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with(['|', '#']) || line.starts_with("$$") || line.starts_with("```")
}

/// Mostly Chinese (or other CJK) text, as opposed to mostly Latin script.
fn mostly_cjk(text: &str) -> bool {
    let (mut cjk, mut latin) = (0usize, 0usize);
    for c in text.chars() {
        if crate::lang::is_cjk(c) {
            cjk += 1;
        } else if c.is_ascii_alphabetic() {
            latin += 1;
        }
    }
    // A Chinese character says about as much as a short English word.
    cjk * 3 >= latin
}

/// Content terms with English words cut to six letters, so that "photosynthesis" and
/// "photosynthetic", "converts" and "converted" meet.
fn stems(text: &str) -> Vec<String> {
    content_terms(text)
        .into_iter()
        .filter(|t| !EXTRA_STOPWORDS.contains(&t.as_str()))
        .map(|t| {
            if t.is_ascii() && !t.bytes().all(|b| b.is_ascii_digit()) {
                t.chars().take(6).collect()
            } else {
                t
            }
        })
        .collect()
}

/// Words common in answers that carry no claim of their own.
const EXTRA_STOPWORDS: &[&str] = &[
    "also",
    "has",
    "have",
    "had",
    "not",
    "but",
    "into",
    "than",
    "then",
    "they",
    "them",
    "their",
    "these",
    "those",
    "such",
    "may",
    "will",
    "been",
    "being",
    "more",
    "most",
    "other",
    "some",
    "any",
    "each",
    "all",
    "one",
    "you",
    "your",
    "we",
    "our",
    "according",
    "sources",
    "source",
    "passage",
    "passages",
];

/// Chinese numerals, as they follow 第 in an ordinal (第三定律, 第十二条).
const ZH_NUMERALS: &[char] = &[
    '一', '二', '三', '四', '五', '六', '七', '八', '九', '十', '百', '两', '零',
];

/// The numbers written in `text` ("1406", "2.5", "500") and its Chinese ordinals ("第三"), as
/// written: a claim about the third law is not one about the second.
fn numbers(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '第' && chars.peek().is_some_and(|n| ZH_NUMERALS.contains(n)) {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            let mut ordinal = String::from(c);
            while let Some(&n) = chars.peek().filter(|n| ZH_NUMERALS.contains(n)) {
                ordinal.push(n);
                chars.next();
            }
            out.push(ordinal);
            continue;
        }
        // A decimal point counts only between digits ("2.5", not "1406.").
        let decimal_point =
            c == '.' && !cur.is_empty() && chars.peek().is_some_and(|n| n.is_ascii_digit());
        if c.is_ascii_digit() || decimal_point {
            cur.push(c);
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use zhiku_core::{Chunk, Hit, SourceRef};

    fn hit(text: &str) -> Hit {
        zhiku_testkit::sample_hit(Chunk {
            id: "c".into(),
            source: SourceRef {
                text_offset: None,
                ..zhiku_testkit::sample_chunk("d", "culture", "", text).source
            },
            ..zhiku_testkit::sample_chunk("d", "culture", "", text)
        })
    }

    #[test]
    fn sentences_are_judged_against_the_passages() {
        let passages = [
            hit("故宫始建于明永乐四年（1406年），1420年建成，是明清两代的皇家宫殿。"),
            hit("Photosynthesis is the process by which green plants convert light energy into chemical energy stored in glucose."),
        ];
        let check = SupportCheck::new(&passages, None);
        // Unmarked but supported: the passage's marker is added.
        assert_eq!(
            check.judge("故宫始建于1406年，是明清两代的皇家宫殿。"),
            Verdict::Supported {
                markers: vec![1],
                added: true,
                dropped: 0
            }
        );
        assert_eq!(
            check.judge("Photosynthesis converts light energy into chemical energy."),
            Verdict::Supported {
                markers: vec![2],
                added: true,
                dropped: 0
            }
        );
        // Cited at the wrong passage: the marker moves to the right one.
        assert_eq!(
            check.judge("Green plants convert light energy into chemical energy [1]."),
            Verdict::Supported {
                markers: vec![2],
                added: true,
                dropped: 1
            }
        );
        // A number no passage has, and a claim no passage makes.
        assert_eq!(
            check.judge("故宫始建于1407年，是明清两代的皇家宫殿。[1]"),
            Verdict::Unsupported
        );
        assert_eq!(
            check.judge("Newton's third law says every action has an equal and opposite reaction."),
            Verdict::Unsupported
        );
        // Across languages: kept and flagged when the cited passage holds its numbers.
        let chinese = [hit(
            "天坛始建于明永乐十八年（1420年），是明清两代皇帝祭天的场所。",
        )];
        let check = SupportCheck::new(&chinese, None);
        assert_eq!(
            check.judge("The Temple of Heaven was built in 1420 for the emperors [1]."),
            Verdict::Unchecked {
                markers: vec![1],
                added: false
            }
        );
        assert_eq!(
            check.judge("The Temple of Heaven was built in 1407 for the emperors [1]."),
            Verdict::Unsupported,
            "a number the passage does not have"
        );
        assert_eq!(
            check.judge("The Temple of Heaven was built for the emperors."),
            Verdict::Unsupported,
            "uncited, and no model to find the nearest passage"
        );
        // An ordinal is a number: the third law is not the second.
        let laws = [hit(
            "牛顿第二定律：物体加速度的大小跟作用力成正比，跟物体的质量成反比。",
        )];
        let check = SupportCheck::new(&laws, None);
        assert_eq!(
            check.judge("牛顿第三定律描述物体加速度跟作用力成正比。"),
            Verdict::Unsupported
        );
        assert!(matches!(
            check.judge("牛顿第二定律描述物体加速度跟作用力成正比。"),
            Verdict::Supported { .. }
        ));
        assert_eq!(
            numbers("第十二条 in 2025, 第三"),
            ["第十二", "2025", "第三"]
        );
        // Markdown structure is shown as written.
        assert_eq!(
            check.judge("| 牛顿第三定律 | 作用力与反作用力 |\n"),
            Verdict::NotAClaim
        );
        // Not claims.
        assert_eq!(check.judge("以下是要点："), Verdict::NotAClaim);
        assert_eq!(check.judge("Yes."), Verdict::NotAClaim);
    }

    #[test]
    fn markers_go_before_the_end_mark() {
        assert_eq!(with_markers("建于1406年。", &[1]), "建于1406年[1]。");
        assert_eq!(
            with_markers("Built in 1406. [3]\n", &[1]),
            "Built in 1406 [1].\n"
        );
        assert_eq!(with_markers("- 建于1406年", &[1, 2]), "- 建于1406年[1, 2]");
    }
}
