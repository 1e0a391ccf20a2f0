//! "Is it really about this?": the specific thing a question names — a work in 《》 or
//! quotes, a proper name, the subject of a Chinese question, what an English question asks
//! "of" or "about" — and whether any retrieved passage mentions it. Relevance thresholds
//! pass a question about a disease the corpus does not cover when passages on other diseases
//! share its wording ("What are the symptoms of…"); the missing name is what gives it away.

use std::collections::HashSet;

use zhiku_core::Hit;

use crate::conversation::zh_topic;
use crate::lang::{detect_language, is_cjk, terms, Language};

/// Words that name a kind of thing rather than a particular one.
const GENERIC: &[&str] = &[
    "disease",
    "diseases",
    "syndrome",
    "disorder",
    "symptom",
    "symptoms",
    "treatment",
    "treatments",
    "cause",
    "causes",
    "people",
    "patient",
    "patients",
    "child",
    "children",
    "adult",
    "adults",
    "type",
    "types",
    "test",
    "tests",
    "information",
    "risk",
    "risks",
    "sign",
    "signs",
    "effect",
    "effects",
    "side",
    "outlook",
    "prognosis",
    "diagnosis",
    "prevention",
    "condition",
    "conditions",
    "the",
    "a",
    "an",
    "this",
    "that",
    "these",
    "those",
    "my",
    "your",
    "their",
    "its",
    "his",
    "her",
    "and",
    "or",
    "in",
    "on",
    "to",
    "of",
    "for",
    "with",
    "is",
    "are",
    "what",
    "how",
    "do",
    "does",
    "can",
    "it",
    "they",
    "used",
    "use",
    "work",
    "works",
    "mean",
    "means",
    "many",
    "much",
    "long",
    "known",
    "called",
];

/// Lower-case words inside a name: "Hall of Prayer for Good Harvests", "Temple of Heaven".
const JOINERS: [&str; 6] = ["of", "the", "and", "de", "for", "in"];

/// Endings that make a Chinese phrase the name of a particular kind of thing: a disease, a
/// drug, a building or site, a theorem. A subject without one (胃疼吃了就吐, 校徽里象征着纯洁)
/// is a description, not a name, and is never checked.
const ZH_KINDS: &[&str] = &[
    "综合征",
    "病",
    "症",
    "炎",
    "瘤",
    "癌",
    "热",
    "疹",
    "疮",
    "韦",
    "胺",
    "酮",
    "胍",
    "唑",
    "霉素",
    "西林",
    "沙星",
    "他汀",
    "宫",
    "寺",
    "庙",
    "园",
    "陵",
    "塔",
    "楼",
    "阁",
    "殿",
    "石窟",
    "窟",
    "堰",
    "桥",
    "遗址",
    "书院",
    "猜想",
    "定理",
    "定律",
    "效应",
    "方程",
    "编钟",
    "碑",
];

/// Words after which a capitalised English name is of a kind worth checking.
const EN_KINDS: &[&str] = &[
    "disease",
    "syndrome",
    "fever",
    "ulcer",
    "virus",
    "cancer",
    "palsy",
    "anemia",
    "anaemia",
    "disorder",
    "dystrophy",
    "temple",
    "palace",
    "castle",
    "cathedral",
    "church",
    "mosque",
    "tower",
    "bridge",
    "wall",
    "museum",
    "stone",
    "gate",
    "tomb",
    "theorem",
    "conjecture",
    "law",
    "effect",
    "cycle",
    "equation",
    "principle",
    "paradox",
    "coding",
    "scholarship",
];

/// Words that open a question and are capitalised for that reason only.
const EN_OPENERS: &[&str] = &[
    "what",
    "which",
    "who",
    "whom",
    "whose",
    "when",
    "where",
    "why",
    "how",
    "is",
    "are",
    "was",
    "were",
    "do",
    "does",
    "did",
    "can",
    "could",
    "should",
    "would",
    "will",
    "may",
    "might",
    "besides",
    "other",
    "in",
    "on",
    "at",
    "after",
    "before",
    "during",
    "according",
    "the",
    "a",
    "an",
    "i",
    "my",
    "please",
    "hi",
    "hello",
    "dear",
    "thank",
    "thanks",
];

/// The name the question is about, if it names one clearly enough to check: a title in 《》
/// or quotes; a Chinese subject ending in a kind (…综合征, …寺, …定理); an English name of two
/// or more capitalised words inside the question, or one or more followed by a kind
/// ("Fabry disease", "POEMS syndrome"). Anything vaguer is left to the relevance thresholds,
/// which keeps false refusals of answerable questions rare.
pub(crate) fn named_entity(question: &str) -> Option<String> {
    if let Some(title) = quoted(question) {
        return Some(title);
    }
    match detect_language(question) {
        Language::Chinese => zh_name(question),
        Language::English => en_name(question, false),
    }
}

pub(crate) fn zh_name(question: &str) -> Option<String> {
    question
        .split(['，', '。', '？', '！', '；', ',', '?', '!', ';', ' '])
        .find_map(zh_clause_name)
}

/// Characters a Chinese name does not run across (做糖尿病筛查 → 糖尿病).
const ZH_BOUNDARIES: &str =
    "是得了患有做吃用治查和与及把被对在从给让去到我你他她这那种个说家该见觉";

/// Names of kinds, not of particular things.
const ZH_GENERIC: &[&str] = &[
    "疾病", "肿瘤", "炎症", "病症", "癌症", "发热", "毛病", "大病", "小病",
];

fn zh_clause_name(clause: &str) -> Option<String> {
    let topic = zh_topic(clause)?;
    // The name ends where its kind does (布达拉宫最初 → 布达拉宫) and starts after the last
    // boundary before it.
    let (at, kind) = ZH_KINDS
        .iter()
        .filter_map(|k| topic.rfind(k).map(|i| (i, *k)))
        .max_by_key(|&(i, k)| i + k.len())?;
    let before: Vec<char> = topic[..at].chars().collect();
    let from = before
        .iter()
        .rposition(|c| ZH_BOUNDARIES.contains(*c))
        .map_or(0, |i| i + 1);
    let head: String = before[from..].iter().collect();
    let name = format!("{head}{kind}");
    let n = head.chars().count();
    let clean = (1..=6).contains(&n)
        && name.chars().all(is_cjk)
        && !ZH_GENERIC.iter().any(|g| name.ends_with(g))
        && !["什么", "哪", "怎", "为什么", "如何", "谁", "多少", "几"]
            .iter()
            .any(|w| name.contains(w));
    clean.then_some(name)
}

/// An English name; with `single_words`, one capitalised word inside a clause counts too
/// (a conversation's referent, "Tiananmen"), which is too loose for refusing on.
pub(crate) fn en_name(question: &str, single_words: bool) -> Option<String> {
    let mut best: Option<String> = None;
    // Clauses: a name never runs across punctuation, and a clause's first word is
    // capitalised for being first.
    for clause in question.split(['.', ':', ';', '?', '!', ',', '(', ')']) {
        let words: Vec<&str> = clause.split_whitespace().collect();
        let mut run: Vec<&str> = Vec::new();
        // A run opening its clause may be a heading ("Customer Service Request:"): a name
        // only with its kind.
        let mut opens_clause = false;
        let mut flush = |run: &mut Vec<&str>, opens_clause: bool, next: Option<&str>| {
            while run.last().is_some_and(|w| JOINERS.contains(w)) {
                run.pop();
            }
            let kind = next
                .map(|n| {
                    n.trim_matches(|c: char| !c.is_alphanumeric())
                        .to_lowercase()
                })
                .filter(|n| EN_KINDS.contains(&n.as_str()));
            let ends_in_kind = run
                .last()
                .is_some_and(|w| EN_KINDS.contains(&w.to_lowercase().as_str()));
            let name = match (&kind, run.len()) {
                (_, 0) => None,
                (Some(k), _) => Some(format!("{} {k}", run.join(" "))),
                (None, _) if ends_in_kind => Some(run.join(" ")),
                (None, n) if (n >= 2 || (single_words && run[0].len() >= 3)) && !opens_clause => {
                    Some(run.join(" "))
                }
                _ => None,
            };
            if let Some(name) = name {
                if best.as_ref().is_none_or(|b| name.len() > b.len()) {
                    best = Some(name);
                }
            }
            run.clear();
        };
        for (i, raw) in words.iter().enumerate() {
            if raw.starts_with('[') {
                // A redaction placeholder ("[LOCATION]") is no name.
                flush(&mut run, opens_clause, None);
                continue;
            }
            let w = raw.trim_matches(|c: char| !c.is_alphanumeric() && c != '-' && c != '\'');
            let bare = w.to_lowercase();
            let bare = bare.trim_end_matches("'s").trim_end_matches("’s");
            let opener = EN_OPENERS.contains(&bare) && (i == 0 || bare != w.to_lowercase());
            let capital = w.chars().next().is_some_and(char::is_uppercase) && !opener;
            let joiner = !run.is_empty() && JOINERS.contains(&w);
            if capital {
                // A clause's first word counts only when the next one is capitalised too.
                let next_capital = words
                    .get(i + 1)
                    .is_some_and(|n| n.chars().next().is_some_and(char::is_uppercase));
                if i == 0 && !next_capital {
                    continue;
                }
                if run.is_empty() {
                    opens_clause = i == 0;
                }
                run.push(w);
            } else if joiner {
                run.push(w);
            } else {
                flush(&mut run, opens_clause, Some(w));
            }
        }
        flush(&mut run, opens_clause, None);
    }
    best
}

/// A title in 《》 or a phrase in quotes.
fn quoted(question: &str) -> Option<String> {
    for (open, close) in [('《', '》'), ('“', '”'), ('"', '"'), ('「', '」')] {
        if let Some(start) = question.find(open) {
            let rest = &question[start + open.len_utf8()..];
            if let Some(end) = rest.find(close) {
                let inner = rest[..end].trim();
                if inner.chars().count() >= 2 {
                    return Some(inner.to_string());
                }
            }
        }
    }
    None
}

/// The parts of a name that must be found: CJK bigrams and English words that are not
/// generic, lower-cased.
fn name_terms(name: &str) -> Vec<String> {
    let mut t: Vec<String> = terms(name)
        .into_iter()
        .filter(|t| !GENERIC.contains(&t.as_str()))
        .collect();
    if t.is_empty() && name.chars().count() >= 2 && name.chars().all(is_cjk) {
        t.push(name.to_string());
    }
    t
}

/// `Some(name)` when the question names something that none of `passages` mentions: at least
/// half of the name's terms missing from every passage's text and title.
pub(crate) fn unmentioned(question: &str, passages: &[Hit]) -> Option<String> {
    let name = named_entity(question)?;
    let wanted = name_terms(&name);
    if wanted.is_empty() {
        return None;
    }
    // A name can only be looked for in passages written in its script. When the best passage
    // is in the other language (a Chinese question over an English record may well be about
    // the very thing it names), the question is left to the relevance thresholds.
    let cjk_name = name.chars().any(is_cjk);
    let same_script = |h: &&Hit| mostly_chinese(&h.chunk.text) == cjk_name;
    if !passages.first().is_some_and(|h| same_script(&h)) {
        return None;
    }
    let mut seen: HashSet<String> = HashSet::new();
    for h in passages.iter().filter(same_script) {
        seen.extend(terms(&h.chunk.text).into_iter().map(|t| stem(&t)));
        seen.extend(terms(&h.chunk.title).into_iter().map(|t| stem(&t)));
    }
    let found = wanted.iter().filter(|t| seen.contains(&stem(t))).count();
    (found * 2 < wanted.len()).then_some(name)
}

/// Whether `title` names the question's subject: its name, else (Chinese) the subject before
/// its predicate, at least two characters.
pub(crate) fn subject_in_title(question: &str, title: &str) -> bool {
    let subject = match detect_language(question) {
        Language::Chinese => zh_name(question).or_else(|| zh_topic(question)),
        Language::English => en_name(question, true),
    };
    subject
        .is_some_and(|s| s.chars().count() >= 2 && title.to_lowercase().contains(&s.to_lowercase()))
}

/// Whether a passage is written in Chinese: a line of Chinese in an English guideline (its
/// disclaimer) does not make it Chinese, as it does a question. A Chinese character says
/// about as much as an English word of four or five letters.
fn mostly_chinese(text: &str) -> bool {
    let cjk = text.chars().filter(|&c| is_cjk(c)).count();
    let letters = text.chars().filter(char::is_ascii_alphabetic).count();
    cjk * 4 >= letters
}

fn stem(t: &str) -> String {
    crate::extractive::stem(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_in_questions() {
        assert_eq!(
            named_entity("川崎病的主要症状有哪些？").as_deref(),
            Some("川崎病")
        );
        assert_eq!(
            named_entity("《红楼梦》的作者是谁？").as_deref(),
            Some("红楼梦")
        );
        assert_eq!(
            named_entity("What are the symptoms of Kawasaki disease?").as_deref(),
            Some("Kawasaki disease")
        );
        assert_eq!(
            named_entity("How is POEMS syndrome diagnosed?").as_deref(),
            Some("POEMS syndrome")
        );
        assert_eq!(
            named_entity("When was the Hagia Sophia converted into a mosque?").as_deref(),
            Some("Hagia Sophia")
        );
        assert_eq!(
            named_entity("孩子得了手足口病，多久才能好？").as_deref(),
            Some("手足口病")
        );
        assert_eq!(
            named_entity("布达拉宫最初是由谁修建的？").as_deref(),
            Some("布达拉宫")
        );
        // Descriptions, openers and single capitalised words are not names to check.
        for q in [
            "医生您好，我最近总是头疼怎么办",
            "胃疼吃了就吐怎么办? 胃特别的疼吃了就吐",
            "什么是羊水栓塞？",
            "校徽里象征着纯洁的是什么？",
            "Besides public key cryptography, what is another application for prime numbers?",
            "Why are chloroplasts of interest in GMO crops?",
            "Customer Service Request: How much urine does an average human bladder hold?",
            "May mean platelet volume levels be a predictor?",
        ] {
            assert_eq!(named_entity(q), None, "{q}");
        }
        assert_eq!(name_terms("kawasaki disease"), vec!["kawasaki"]);
    }
}
