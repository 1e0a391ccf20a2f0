//! What the agent itself says to the user, in the user's language.

use crate::lang::Language;

pub fn no_answer(lang: Language) -> &'static str {
    match lang {
        Language::Chinese => "资料中没有找到能回答这个问题的内容。",
        Language::English => "The sources do not contain an answer to this question.",
    }
}

/// The refusal when the question names something no passage mentions.
pub fn not_mentioned(lang: Language, name: &str) -> String {
    match lang {
        Language::Chinese => format!("资料中没有关于“{name}”的内容，无法回答这个问题。"),
        Language::English => {
            format!("The sources say nothing about “{name}”, so this question cannot be answered from them.")
        }
    }
}

pub fn extractive_no_model(lang: Language) -> &'static str {
    match lang {
        Language::Chinese => "抽取式回答：未配置大模型，以下句子摘自检索到的资料。",
        Language::English => "Extractive answer: no language model is configured; these sentences are quoted from the retrieved sources.",
    }
}

pub fn extractive_after_failure(lang: Language, reason: &str) -> String {
    match lang {
        Language::Chinese => format!("大模型暂不可用（{reason}），以下为抽取式回答：句子摘自检索到的资料。"),
        Language::English => format!("The language model is unavailable ({reason}); this is an extractive answer: sentences quoted from the retrieved sources."),
    }
}

pub fn interrupted(lang: Language, reason: &str) -> String {
    match lang {
        Language::Chinese => format!("大模型的回答中断了（{reason}）；下面补充摘自资料的句子。"),
        Language::English => format!(
            "The model's answer was cut off ({reason}); sentences quoted from the sources follow."
        ),
    }
}

pub fn removed_markers(lang: Language, n: usize) -> String {
    match lang {
        Language::Chinese => format!("已删除 {n} 个指向不存在资料的引用标记。"),
        Language::English => format!("{n} citation marker(s) pointing at no source were removed."),
    }
}

pub fn dropped_sentence(lang: Language, reason: &str) -> String {
    match lang {
        Language::Chinese => format!("已删除一句不受引用资料支持的内容：{reason}"),
        Language::English => {
            format!("A sentence the cited sources do not support was removed: {reason}")
        }
    }
}

pub fn model_answer_rejected(lang: Language) -> &'static str {
    match lang {
        Language::Chinese => "大模型给出了回答，但其中没有一句能在检索到的资料中找到依据，因此未采用；以下为抽取式回答：句子摘自资料。",
        Language::English => "The model answered, but none of its sentences is supported by the retrieved sources, so its answer was not used; this is an extractive answer: sentences quoted from the sources.",
    }
}

pub fn markers_added(lang: Language, n: usize) -> String {
    match lang {
        Language::Chinese => format!("大模型有 {n} 句话未标注出处，已按支持它的资料补上引用标记。"),
        Language::English => format!(
            "{n} sentence(s) the model left uncited now cite the source that supports them."
        ),
    }
}

pub fn unchecked_language(lang: Language, n: usize) -> String {
    match lang {
        Language::Chinese => format!("有 {n} 句回答与所引资料语言不同，无法逐词核对，请对照引用的原文。"),
        Language::English => format!("{n} sentence(s) are in another language than the sources they cite and could not be checked word for word; compare them with the cited text."),
    }
}

pub fn markers_moved(lang: Language, n: usize) -> String {
    match lang {
        Language::Chinese => format!("已删除 {n} 个指向与句子内容无关资料的引用标记。"),
        Language::English => format!("{n} citation marker(s) pointing at a source that does not support the sentence were removed."),
    }
}

/// Quotes the removed sentences (each cut to 60 characters, at most three).
pub fn unsupported_removed(lang: Language, sentences: &[String]) -> String {
    let quoted: Vec<String> = sentences
        .iter()
        .take(3)
        .map(|s| {
            let s = crate::citations::strip_markers(s);
            let cut: String = s.chars().take(60).collect();
            if cut.len() < s.len() {
                format!("“{cut}…”")
            } else {
                format!("“{cut}”")
            }
        })
        .collect();
    let more = sentences.len().saturating_sub(quoted.len());
    let n = sentences.len();
    match lang {
        Language::Chinese => {
            let more = if more > 0 { "等" } else { "" };
            format!(
                "已删除大模型回答中 {n} 句资料不支持的内容：{}{more}。",
                quoted.join("、")
            )
        }
        Language::English => {
            let more = if more > 0 { " and more" } else { "" };
            format!(
                "{n} sentence(s) of the model's answer that no source supports were removed: {}{more}.",
                quoted.join(", ")
            )
        }
    }
}

pub fn shortened(lang: Language) -> &'static str {
    match lang {
        Language::Chinese => "回答已截短以适合手机屏幕。",
        Language::English => "The answer was shortened to fit a phone screen.",
    }
}

pub fn malformed_events(lang: Language, n: usize) -> String {
    match lang {
        Language::Chinese => format!("大模型的流式输出中有 {n} 条无法解析的数据，已跳过，回答可能不完整。"),
        Language::English => format!("{n} unreadable event(s) in the model's stream were skipped; the answer may be incomplete."),
    }
}

/// A hybrid search that answered from one leg because the other's store was unreachable.
pub fn search_degraded(lang: Language, failed_leg: &str) -> &'static str {
    match (lang, failed_leg) {
        (Language::Chinese, "dense") => {
            "向量检索暂时不可用，本次仅按关键词检索，结果可能不全。"
        }
        (Language::Chinese, _) => "关键词检索暂时不可用，本次仅按语义检索，结果可能不全。",
        (Language::English, "dense") => {
            "Vector search is unavailable just now; these results come from keyword search alone and may be incomplete."
        }
        (Language::English, _) => {
            "Keyword search is unavailable just now; these results come from vector search alone and may be incomplete."
        }
    }
}

pub fn broadened(lang: Language) -> &'static str {
    match lang {
        Language::Chinese => "没有符合所问学段等条件的资料，已放宽条件检索。",
        Language::English => {
            "Nothing matched the level the question asks for; the search was broadened."
        }
    }
}

pub fn truncated(lang: Language) -> &'static str {
    match lang {
        Language::Chinese => "大模型的回答达到长度上限，可能不完整。",
        Language::English => "The model's answer reached its length limit and may be incomplete.",
    }
}

pub fn redacted(lang: Language, n: usize, kinds: &str) -> String {
    match lang {
        Language::Chinese => format!(
            "问题中的 {n} 处患者标识（{kinds}）已替换为占位符，检索、大模型和日志都看不到原文。"
        ),
        Language::English => format!(
            "{n} patient identifier(s) ({kinds}) in the question were replaced by placeholders; neither search, the model nor the logs saw them."
        ),
    }
}
