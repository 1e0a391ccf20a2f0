//! What kind of thing a question asks for — a year, a time of day, a price, a dose, a
//! number, a formula, a place — read from its wording in Chinese and English, and whether a
//! piece of text holds one. The extractive answer puts a sentence holding the asked kind
//! first: "天坛是哪一年建成的？" wants the sentence with 1420, not the one with the most words
//! in common.

use std::sync::LazyLock;

use regex::Regex;

/// A kind of answer a question asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expected {
    /// A year, a dynasty or a date.
    When,
    /// A time of day or opening hours.
    Hours,
    Price,
    /// An amount with a unit of dose.
    Dose,
    /// Any number.
    Number,
    /// An equation or formula.
    Formula,
    /// An address or location.
    Place,
    /// Another name: 又名, also known as.
    Alias,
    /// A cause or purpose: 因为, because.
    Reason,
    /// What a thing is used for: 用于, used for.
    Use,
}

impl Expected {
    /// How much holding this kind says a unit answers: a year, an hour, a price or a dose is
    /// strong evidence; a wording such as "because" or any number is weak.
    pub(crate) fn strength(self) -> f32 {
        match self {
            Expected::Number => 0.15,
            Expected::Alias | Expected::Reason | Expected::Use => 0.3,
            _ => 0.6,
        }
    }
}

struct Cue {
    kind: Expected,
    /// Lower-cased words or phrases in the question that ask for this kind.
    asks: &'static [&'static str],
    /// Text holding this kind of answer.
    holds: &'static LazyLock<Regex>,
}

static WHEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b1\d{3}\b|\b20\d{2}\b|\d{3,4}\s*年|公元|世纪|century|[唐宋元明清汉秦隋晋周]代|[唐宋元明清汉秦隋]朝|明清|永乐|康熙|乾隆|dynasty|\b(?:ming|qing|tang|song|yuan|han)\b")
        .expect("static regex")
});
static HOURS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\d{1,2}\s*[:：]\s*\d{2}|\d{1,2}\s*点|\b\d{1,2}\s*(?:am|pm|a\.m\.|p\.m\.)")
        .expect("static regex")
});
static PRICE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\d+(?:\.\d+)?\s*(?:元|块|cny|rmb|yuan)\b?|[¥￥]\s*\d|免费|\bfree\b")
        .expect("static regex")
});
static DOSE: LazyLock<Regex> = LazyLock::new(|| {
    // A rate ("30 mL/min") is not a dose.
    Regex::new(r"(?i)\d+(?:[.,]\d+)?\s*(?:mg|g|mcg|µg|μg|ml|iu|units?|毫克|微克|克|毫升|单位|片|粒)(?:$|[^/\w])")
        .expect("static regex")
});
static NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\d|[一二三四五六七八九十百千万两]+\s*[个座位名种条年米]").expect("static regex")
});
static FORMULA: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[=＝∝]").expect("static regex"));
static PLACE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)位于|地址|坐落|[省市区县路街]\d*号?|located|address|\bin the (?:north|south|east|west|centre|center)")
        .expect("static regex")
});

static ALIAS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)又名|别名|又称|别称|亦称|俗称|也称|简称|也叫|又叫|人称|通称|又译|译名|旧称|原名|全称|also (?:known as|called)|known as|nicknamed|a\.k\.a")
        .expect("static regex")
});
static REASON: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)因为|由于|因此|所以|原因|导致|为了|以便|\b(?:because|due to|owing to|as a result|caused by|in order to|so that|since|reason)\b")
        .expect("static regex")
});
static USE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)用于|用来|用作|用以|可用|用途|作用|应用于|目的|目标|旨在|\b(?:used (?:for|to|in|as)|uses? (?:include|is|are)|purpose|serves? (?:as|to))\b")
        .expect("static regex")
});

/// Checked in order: the first kind whose cue the question holds wins, so "几点开门" is
/// opening hours rather than any number, and "剂量是多少" a dose rather than a number.
static CUES: &[Cue] = &[
    Cue {
        kind: Expected::Hours,
        asks: &[
            "几点",
            "开放时间",
            "营业时间",
            "开门",
            "关门",
            "闭馆",
            "开馆",
            "what time",
            "opening hours",
            "open hours",
            "when does",
            "when is it open",
            "hours",
            "open",
            "opens",
            "close",
            "closes",
        ],
        holds: &HOURS,
    },
    Cue {
        kind: Expected::Price,
        asks: &[
            "多少钱",
            "门票",
            "票价",
            "价格",
            "费用",
            "收费",
            "how much does",
            "how much is",
            "price",
            "ticket",
            "cost",
            "fee",
            "admission",
        ],
        holds: &PRICE,
    },
    Cue {
        kind: Expected::Dose,
        asks: &[
            "剂量",
            "用量",
            "多少毫克",
            "怎么吃",
            "服用多少",
            "dose",
            "dosage",
            "how much should",
        ],
        holds: &DOSE,
    },
    Cue {
        kind: Expected::Formula,
        asks: &[
            "公式",
            "表达式",
            "方程",
            "formula",
            "equation",
            "expression for",
        ],
        holds: &FORMULA,
    },
    Cue {
        kind: Expected::Alias,
        asks: &[
            "别名",
            "别称",
            "又名",
            "又称",
            "又叫",
            "也叫",
            "还叫",
            "可以叫",
            "叫什么",
            "俗称",
            "简称",
            "also known as",
            "also called",
            "other name",
            "another name",
            "nickname",
            "known as",
        ],
        holds: &ALIAS,
    },
    Cue {
        kind: Expected::Reason,
        asks: &[
            "为什么",
            "为何",
            "原因",
            "何故",
            "缘何",
            "why",
            "what caused",
            "reason",
            "how come",
        ],
        holds: &REASON,
    },
    Cue {
        kind: Expected::Use,
        asks: &[
            "用途",
            "用处",
            "有什么用",
            "干什么用",
            "作用",
            "用来",
            "用于",
            "used for",
            "use of",
            "uses of",
            "purpose",
        ],
        holds: &USE,
    },
    Cue {
        kind: Expected::When,
        asks: &[
            "哪一年",
            "哪年",
            "何时",
            "什么时候",
            "哪个朝代",
            "什么朝代",
            "朝代",
            "年代",
            "始建",
            "建于",
            "建成",
            "when",
            "what year",
            "which year",
            "dynasty",
            "what century",
        ],
        holds: &WHEN,
    },
    Cue {
        kind: Expected::Place,
        asks: &[
            "在哪",
            "哪里",
            "什么地方",
            "地址",
            "位于",
            "where",
            "address",
            "location",
        ],
        holds: &PLACE,
    },
    Cue {
        kind: Expected::Number,
        asks: &[
            "多少", "几个", "几座", "几位", "几种", "几次", "多长", "多高", "多大", "多远", "多久",
            "how many", "how much", "how long", "how far", "how tall", "how big", "how old",
        ],
        holds: &NUMBER,
    },
];

/// The kind of answer `question` asks for, if its wording says.
pub(crate) fn expected(question: &str) -> Option<Expected> {
    let q = question.to_lowercase();
    let words = format!(" {} ", q.replace(|c: char| !c.is_alphanumeric(), " "));
    CUES.iter()
        .find(|cue| {
            cue.asks.iter().any(|a| {
                if a.is_ascii() {
                    words.contains(&format!(" {a} "))
                } else {
                    q.contains(a)
                }
            })
        })
        .map(|cue| cue.kind)
}

/// Whether `text` holds an answer of `kind`.
pub(crate) fn holds(kind: Expected, text: &str) -> bool {
    CUES.iter()
        .find(|c| c.kind == kind)
        .is_some_and(|c| c.holds.is_match(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_say_what_they_want() {
        let cases = [
            ("天坛是哪一年建成的？", Some(Expected::When)),
            ("故宫是哪个朝代开始修建的？", Some(Expected::When)),
            ("故宫几点开门", Some(Expected::Hours)),
            ("门票多少钱", Some(Expected::Price)),
            ("starting dose of metformin?", Some(Expected::Dose)),
            ("等差数列前 n 项和公式是什么？", Some(Expected::Formula)),
            ("How many halls are there?", Some(Expected::Number)),
            ("What does Ohm's law say?", None),
            ("Where is the Drum Tower?", Some(Expected::Place)),
            ("猴面包树的别名是什么？", Some(Expected::Alias)),
            (
                "Why aren't the examples visible today?",
                Some(Expected::Reason),
            ),
            ("环氧氯丙烷有什么用途？", Some(Expected::Use)),
        ];
        for (q, want) in cases {
            assert_eq!(expected(q), want, "{q}");
        }
        assert!(holds(Expected::When, "始建于明永乐十八年（1420 年）"));
        assert!(!holds(Expected::When, "是感受北京日常生活的好去处"));
        assert!(holds(Expected::Hours, "开放时间：Typically 8:30–17:00"));
        assert!(holds(Expected::Price, "about 60 CNY in the peak season"));
        assert!(holds(Expected::Dose, "500 mg once or twice daily"));
        assert!(!holds(Expected::Dose, "if eGFR is 30–44 mL/min/1.73 m²"));
        assert!(holds(Expected::Formula, "Sₙ = n(a₁+aₙ)/2"));
        assert!(holds(Expected::Alias, "松鸦，又名㭴鸟、橿鸟"));
        assert!(holds(
            Expected::Reason,
            "这是因为一些史前的鹦形目化石揭示了…"
        ));
        assert!(holds(Expected::Use, "被用于制造甘油、塑料和人造橡胶"));
        assert!(!holds(Expected::Use, "环氧氯丙烷有刺激性，毒性较强"));
    }
}
