/// The language to answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Chinese,
    English,
}

impl Language {
    /// `zh` or `en`: the suffix of prompt templates and of domain notes.
    pub fn code(self) -> &'static str {
        match self {
            Language::Chinese => "zh",
            Language::English => "en",
        }
    }
}

pub(crate) fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// Chinese if the question has any Chinese characters (a Chinese question with an English
/// term is still a Chinese question), English otherwise.
pub fn detect_language(text: &str) -> Language {
    if text.chars().any(is_cjk) {
        Language::Chinese
    } else {
        Language::English
    }
}

/// English function words that say nothing about where an answer is.
const STOPWORDS: &[&str] = &[
    "the", "of", "and", "or", "to", "in", "on", "at", "for", "is", "are", "was", "were", "be",
    "by", "with", "what", "which", "who", "whom", "when", "where", "why", "how", "does", "do",
    "did", "it", "its", "an", "as", "from", "that", "this", "there", "can", "should", "about",
];

/// Chinese bigrams that only say "this is a question" (什么, 哪些, 如何…).
const ZH_FUNCTION_BIGRAMS: &[&str] = &[
    "什么", "么是", "是什", "为什", "哪些", "哪个", "哪里", "哪一", "是哪", "有哪", "怎么", "怎样",
    "如何", "是否", "可以", "多少", "请问", "介绍", "一下", "我们", "你们", "他们", "这个", "那个",
    "以及", "还是", "或者", "有什", "么样", "样的", "一个", "哪位", "是谁", "谁是", "几年", "哪年",
];

/// Characters that make a bigram a function bigram wherever they appear.
const ZH_FUNCTION_CHARS: &[char] = &['的', '吗', '呢', '了', '么', '吧', '呀', '？', '。'];

/// The terms of a question that can locate its answer: [`terms`] without function words.
pub(crate) fn content_terms(text: &str) -> Vec<String> {
    terms(text)
        .into_iter()
        .filter(|t| !STOPWORDS.contains(&t.as_str()))
        .filter(|t| !ZH_FUNCTION_BIGRAMS.contains(&t.as_str()))
        .filter(|t| !t.contains(ZH_FUNCTION_CHARS))
        .collect()
}

/// Lower-cased words (ASCII letters/digits, 2+ chars) and CJK character bigrams.
pub(crate) fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut prev_cjk: Option<char> = None;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c.to_ascii_lowercase());
        } else if word.len() >= 2 {
            out.push(std::mem::take(&mut word));
        } else {
            word.clear();
        }
        if is_cjk(c) {
            if let Some(p) = prev_cjk {
                out.push(format!("{p}{c}"));
            }
            prev_cjk = Some(c);
        } else {
            prev_cjk = None;
        }
    }
    if word.len() >= 2 {
        out.push(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_and_terms() {
        assert_eq!(detect_language("故宫 opening hours?"), Language::Chinese);
        assert_eq!(detect_language("When was it built?"), Language::English);
        assert_eq!(
            terms("故宫始建 in 1406, a"),
            vec!["故宫", "宫始", "始建", "in", "1406"]
        );
    }
}
