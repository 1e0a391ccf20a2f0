//! Conversations as the agent sees them: the earlier turns a request brings along, and the
//! rule that rewrites a follow-up into a stand-alone query when no model is there to do it.
//! Where turns are kept, and who may read them, is the caller's business (the engine's store,
//! the terminal's memory, an OpenAI client's message list).

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
/// single characters such as 该, 其 and 此 also sit inside ordinary words (应该, 其他, 因此).
const ZH_ANAPHORA: &[&str] = &[
    "它", "他们", "他的", "她", "这个", "那个", "这些", "那些", "这座", "那座", "这位", "那位",
    "这里", "那里", "这种", "那种", "这本", "该病", "该药", "此药", "此病", "上述", "还有",
];
const EN_ANAPHORA: &[&str] = &[
    "it",
    "its",
    "they",
    "them",
    "their",
    "this",
    "that",
    "these",
    "those",
    "there",
    "he",
    "she",
    "his",
    "her",
    "what about",
    "how about",
    "and",
    "also",
];

/// The rule used without a model: a follow-up that points back (a pronoun, "what about…",
/// or too short to stand alone) is searched together with the previous stand-alone query,
/// shortened so that the two stay within `max_chars`.
pub fn rule_rewrite(history: &[Turn], question: &str, max_chars: usize) -> String {
    let Some(last) = history.last() else {
        return question.to_string();
    };
    let q = question.trim();
    let dependent = match detect_language(q) {
        Language::Chinese => {
            q.chars().filter(|c| !c.is_ascii_punctuation()).count() <= 6
                || ZH_ANAPHORA.iter().any(|w| q.contains(w))
        }
        Language::English => {
            // Words between spaces, punctuation gone: " what about its hours "
            let words: String = q
                .to_lowercase()
                .chars()
                .map(|c| if c.is_alphanumeric() { c } else { ' ' })
                .collect();
            let words = format!(
                " {} ",
                words.split_whitespace().collect::<Vec<_>>().join(" ")
            );
            q.split_whitespace().count() <= 3
                || EN_ANAPHORA
                    .iter()
                    .any(|w| words.contains(&format!(" {w} ")))
        }
    };
    if !dependent {
        return q.to_string();
    }
    let room = max_chars.saturating_sub(q.chars().count() + 1);
    let before: String = last.standalone.chars().take(room).collect();
    if before.is_empty() {
        q.to_string()
    } else {
        format!("{before} {q}")
    }
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
    fn follow_ups_borrow_the_previous_query() {
        let r = |h: &[Turn], q: &str| rule_rewrite(h, q, 2000);
        let h = vec![turn("故宫是哪一年建成的？")];
        assert_eq!(
            r(&h, "它有多少间房？"),
            "故宫是哪一年建成的？ 它有多少间房？"
        );
        assert_eq!(r(&h, "那天坛呢？"), "故宫是哪一年建成的？ 那天坛呢？");
        assert_eq!(
            r(&h, "天坛祈年殿的建筑特点是什么"),
            "天坛祈年殿的建筑特点是什么"
        );
        assert_eq!(
            r(&h, "应该什么时候去参观天坛比较好"),
            "应该什么时候去参观天坛比较好"
        );
        assert_eq!(r(&h, "颐和园的门票多少钱呢？"), "颐和园的门票多少钱呢？");
        let h = vec![turn("When was the Temple of Heaven built?")];
        assert!(r(&h, "What about its opening hours?").starts_with("When was"));
        assert!(r(&h, "Is it open on Mondays?").starts_with("When was"));
        assert_eq!(
            r(&h, "Hepatitis B vaccine schedule for adults"),
            "Hepatitis B vaccine schedule for adults"
        );
        assert_eq!(
            r(&h, "Explain the Pythagorean theorem for grade 8 students"),
            "Explain the Pythagorean theorem for grade 8 students"
        );
        assert_eq!(r(&[], "它呢"), "它呢");
        // Never longer than the limit, however long the chain.
        let long = vec![turn(&"长".repeat(1999))];
        assert_eq!(rule_rewrite(&long, "它呢", 2000).chars().count(), 2000);
    }
}
