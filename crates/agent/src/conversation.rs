//! Conversations as the agent sees them: the earlier turns a request brings along, and the
//! rule that makes a follow-up stand alone when no model is there to do it. Where turns are
//! kept, and who may read them, is the caller's business (the engine's store, the terminal's
//! memory, an OpenAI client's message list).
//!
//! The rule first decides whether the question depends on the conversation at all (a
//! pronoun, "那…呢" / "what about…", or too short to stand alone); a question that stands on
//! its own is searched as asked. A dependent one gets the referent — the topic of the last
//! stand-alone query (its subject before the predicate in Chinese, its proper name or
//! content words in English) — put where the pronoun was, never the whole earlier question.

use crate::lang::{detect_language, Language};

/// One answered question.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub question: String,
    /// The query retrieval actually ran.
    pub standalone: String,
    pub answer: String,
}

/// Words that point back at something said before. Chinese ones are whole words, since
/// single characters such as 该, 其 and 此 also sit inside ordinary words (应该, 其他, 因此);
/// longest first, so that 它的 is replaced before 它.
const ZH_ANAPHORA: &[&str] = &[
    "它们的",
    "他们的",
    "它的",
    "他的",
    "她的",
    "它们",
    "他们",
    "这个",
    "那个",
    "这些",
    "那些",
    "这座",
    "那座",
    "这位",
    "那位",
    "这里",
    "那里",
    "这种",
    "那种",
    "这本",
    "这首",
    "这篇",
    "该病",
    "该药",
    "此药",
    "此病",
    "上述",
    "它",
    "她",
    "其",
];
const EN_ANAPHORA: &[&str] = &[
    "it", "its", "they", "them", "their", "this", "these", "those", "he", "she", "his", "her",
    "him",
];

/// Where a Chinese question's subject ends and what it asks begins.
const ZH_PREDICATE: &[&str] = &[
    "是",
    "的",
    "有",
    "在",
    "哪",
    "什么",
    "几",
    "多少",
    "怎么",
    "如何",
    "为什么",
    "为何",
    "能",
    "可以",
    "需要",
    "要",
    "建于",
    "始建",
    "位于",
    "属于",
    "叫",
    "和",
    "与",
    "开",
    "吗",
    "呢",
];

/// The rule used without a model (or when it fails): the question as asked when it stands
/// on its own, else with the last turn's topic as its referent; within `max_chars`.
pub fn rule_rewrite(history: &[Turn], question: &str, max_chars: usize) -> String {
    let q = question.trim();
    let Some(last) = history.last() else {
        return q.to_string();
    };
    let rewritten = match detect_language(q) {
        Language::Chinese => zh_rewrite(&last.standalone, q),
        Language::English => en_rewrite(&last.standalone, q),
    };
    match rewritten {
        Some(r) if r.chars().count() <= max_chars => r,
        _ => q.to_string(),
    }
}

fn zh_rewrite(previous: &str, q: &str) -> Option<String> {
    let topic = zh_referent(previous)?;
    let body = q.trim_end_matches(['？', '?', '。', '！', ' ']);
    // "那颐和园呢？": the same question about something else.
    if let Some(other) = body.strip_suffix('呢') {
        let other = other
            .trim_start_matches(['那', '么', '还', '有', '，', ' '])
            .trim();
        // Only a name: "颐和园的门票多少钱呢" is a question of its own.
        let asks = ["多少", "什么", "几", "怎么", "如何", "哪", "吗", "是", "有"];
        let name_only = other.chars().count() <= 12 && !asks.iter().any(|w| other.contains(w));
        if name_only && !other.is_empty() && !ZH_ANAPHORA.iter().any(|w| other.contains(w)) {
            return Some(if previous.contains(&topic) {
                previous.replacen(&topic, other, 1)
            } else {
                format!("{other} {previous}")
            });
        }
    }
    if let Some(w) = ZH_ANAPHORA.iter().find(|w| q.contains(*w)) {
        return Some(q.replacen(w, &topic, 1));
    }
    let short = q
        .chars()
        .filter(|c| !c.is_ascii_punctuation() && !"？。！，".contains(*c))
        .count()
        <= 6;
    (short && !q.contains(&topic)).then(|| format!("{topic}{q}"))
}

/// What a Chinese question is about: the name it gives (卢沟桥 in 卢沟桥一共有多少个石狮子),
/// else its subject.
fn zh_referent(query: &str) -> Option<String> {
    crate::entity::zh_name(query).or_else(|| zh_topic(query))
}

/// A follow-up that is refused as asked, though nothing in it pointed back ("多久调一次？",
/// "What's the main peak called?"): the same question with the last turn's referent
/// before it. `None` without history or when the referent is already in it.
pub fn with_referent(history: &[Turn], question: &str) -> Option<String> {
    let last = history.last()?;
    let previous = if last.standalone.is_empty() {
        &last.question
    } else {
        &last.standalone
    };
    let q = question.trim();
    let (topic, joined) = match detect_language(q) {
        Language::Chinese => {
            let t = zh_referent(previous)?;
            let j = format!("{t}{q}");
            (t, j)
        }
        Language::English => {
            let t = en_topic(previous)?;
            let j = format!("{t}: {q}");
            (t, j)
        }
    };
    (!q.contains(&topic)).then_some(joined)
}

/// The subject of a Chinese question: what comes before its predicate, fillers removed.
pub(crate) fn zh_topic(query: &str) -> Option<String> {
    let mut s = query.trim();
    for filler in ["请问", "那么", "那", "我想知道", "想问一下"] {
        s = s.strip_prefix(filler).unwrap_or(s).trim_start();
    }
    let cut = ZH_PREDICATE
        .iter()
        .filter_map(|p| s.find(p))
        .filter(|&i| s[..i].chars().count() >= 2)
        .min()
        .unwrap_or(s.len());
    let topic = s[..cut].trim_end_matches([' ', '，', '？', '?']).trim();
    (topic.chars().count() >= 2).then(|| topic.to_string())
}

fn en_rewrite(previous: &str, q: &str) -> Option<String> {
    let topic = en_topic(previous)?;
    let lower = q.to_lowercase();
    let words: Vec<&str> = q.split_whitespace().collect();
    // "What about the Summer Palace?": the same question about something else.
    for lead in ["what about ", "how about ", "and what about ", "and "] {
        if let Some(rest) = lower.strip_prefix(lead) {
            let other = q
                .get(lead.len()..)
                .unwrap_or_default()
                .trim_end_matches(['?', '.', '!', ' '])
                .trim();
            let other = other.strip_prefix("the ").unwrap_or(other);
            let points_back = rest
                .split(|c: char| !c.is_alphanumeric())
                .any(|w| EN_ANAPHORA.contains(&w));
            if !other.is_empty() && !points_back && other.chars().any(char::is_uppercase) {
                return Some(if previous.contains(&topic) {
                    previous.replacen(&topic, other, 1)
                } else {
                    format!("{other} {previous}")
                });
            }
        }
    }
    let mut replaced = false;
    let out: Vec<String> = words
        .iter()
        .map(|w| {
            let bare = w
                .trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase();
            if !replaced && EN_ANAPHORA.contains(&bare.as_str()) {
                replaced = true;
                let tail: String = w
                    .chars()
                    .rev()
                    .take_while(|c| !c.is_alphanumeric())
                    .collect();
                let possessive = matches!(bare.as_str(), "its" | "their" | "his" | "her");
                let t = if possessive {
                    format!("{topic}'s")
                } else {
                    topic.clone()
                };
                format!("{t}{}", tail.chars().rev().collect::<String>())
            } else {
                w.to_string()
            }
        })
        .collect();
    if replaced {
        return Some(out.join(" "));
    }
    let short =
        words.len() <= 3 || lower.starts_with("what about") || lower.starts_with("how about");
    (short && !lower.contains(&topic.to_lowercase())).then(|| format!("{topic} {q}"))
}

/// Words that ask rather than name: not a topic.
const EN_QUESTION_WORDS: &[&str] = &[
    "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "is", "are", "was",
    "were", "do", "does", "did", "can", "could", "should", "would", "will", "the", "a", "an", "of",
    "to", "in", "on", "at", "for", "and", "or", "it", "its", "say", "says", "mean", "means",
    "built", "made", "used", "use", "tell", "me", "about", "explain", "describe", "there", "this",
    "that", "you", "i", "we", "much", "many", "long", "first", "give",
];

/// The subject of an English question: its proper name ("the Temple of Heaven"), else its
/// content words.
fn en_topic(query: &str) -> Option<String> {
    if let Some(name) = crate::entity::en_name(query, true) {
        return Some(name);
    }
    let content: Vec<&str> = query
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '-'))
        .filter(|w| !w.is_empty() && !EN_QUESTION_WORDS.contains(&w.to_lowercase().as_str()))
        .take(4)
        .collect();
    (!content.is_empty()).then(|| content.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(q: &str) -> Turn {
        Turn {
            question: q.into(),
            standalone: q.into(),
            answer: "…".into(),
        }
    }

    #[test]
    fn follow_ups_get_the_referent_not_the_whole_question() {
        let r = |h: &[Turn], q: &str| rule_rewrite(h, q, 2000);
        let h = vec![turn("天坛是哪一年建成的？")];
        assert_eq!(r(&h, "它有什么特点？"), "天坛有什么特点？");
        assert_eq!(r(&h, "那颐和园呢？"), "颐和园是哪一年建成的？");
        assert_eq!(r(&h, "门票多少钱？"), "天坛门票多少钱？");
        assert_eq!(
            r(&h, "天坛祈年殿的建筑特点是什么"),
            "天坛祈年殿的建筑特点是什么"
        );
        assert_eq!(
            r(&h, "应该什么时候去参观天坛比较好"),
            "应该什么时候去参观天坛比较好"
        );
        assert_eq!(r(&h, "颐和园的门票多少钱呢？"), "颐和园的门票多少钱呢？");
        let h = vec![turn("故宫几点开门")];
        assert_eq!(r(&h, "门票多少钱？"), "故宫门票多少钱？");
        let h = vec![turn("等差数列前 n 项和公式是什么？")];
        let ohm = "What does Ohm's law say, and how do you find the total resistance of resistors in series?";
        assert_eq!(r(&h, ohm), ohm);
        let h = vec![turn("When was the Temple of Heaven built?")];
        assert_eq!(
            r(&h, "What about its opening hours?"),
            "What about Temple of Heaven's opening hours?"
        );
        assert_eq!(
            r(&h, "Is it open on Mondays?"),
            "Is Temple of Heaven open on Mondays?"
        );
        assert_eq!(
            r(&h, "What about the Summer Palace?"),
            "When was the Summer Palace built?"
        );
        assert_eq!(
            r(&h, "Hepatitis B vaccine schedule for adults"),
            "Hepatitis B vaccine schedule for adults"
        );
        assert_eq!(
            r(&h, "Explain the Pythagorean theorem for grade 8 students"),
            "Explain the Pythagorean theorem for grade 8 students"
        );
        let h = vec![turn("starting dose of metformin?")];
        assert_eq!(
            r(&h, "And the maximum?"),
            "starting dose metformin And the maximum?"
        );
        assert_eq!(r(&[], "它呢"), "它呢");
        // Never longer than the limit: the question as asked instead.
        let long = vec![turn(&format!("{}是什么", "长".repeat(2000)))];
        assert_eq!(rule_rewrite(&long, "它呢", 2000), "它呢");
    }
}
