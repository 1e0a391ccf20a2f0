//! The medicine behind clinical decision support cards: the drug in an ordered product's
//! name, which recommendations concern a drug or a condition and in what order for this
//! patient, whether a recommendation warns, and its one-line summary. The CDS Hooks door
//! parses hooks and renders cards; it decides none of this.

use zhiku_core::Chunk;

/// What a card is about.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// A drug being ordered: the recommendation itself must name it.
    Drug(&'a str),
    /// A condition: named (mostly) in the recommendation or its guideline's title.
    Condition(&'a str),
}

/// The patient's side of an order: a recommendation that speaks of a finding (an eGFR
/// threshold) is more specific to this patient than one that names the condition.
#[derive(Debug, Default, Clone, Copy)]
pub struct PatientContext<'a> {
    pub conditions: &'a [String],
    /// Names only ("eGFR").
    pub findings: &'a [String],
}

/// The ingredient in a product name: the words before the strength, without the salt or the
/// form ("metformin" from "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet";
/// 二甲双胍 from 二甲双胍缓释片).
pub fn ingredient(product: &str) -> String {
    const NOT_THE_DRUG: &[&str] = &[
        "hydrochloride",
        "hcl",
        "sodium",
        "potassium",
        "calcium",
        "maleate",
        "besylate",
        "besilate",
        "succinate",
        "tartrate",
        "mesylate",
        "sulfate",
        "sulphate",
        "acetate",
        "phosphate",
        "oral",
        "tablet",
        "tablets",
        "capsule",
        "injection",
        "hr",
        "h",
    ];
    let words: Vec<String> = product
        .split_whitespace()
        .skip_while(|w| w.chars().all(|c| c.is_ascii_digit()) || w.eq_ignore_ascii_case("hr"))
        .take_while(|w| !w.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_lowercase)
        .filter(|w| !NOT_THE_DRUG.contains(&w.as_str()))
        .collect();
    let name = words.join(" ");
    match name.find(['片', '胶', '缓', '注', '颗']) {
        Some(i) if i > 0 => name[..i].to_string(),
        _ => name,
    }
}

/// How much of `term` appears in `text`: the share of its words (CJK: character pairs).
fn coverage(term: &str, text: &str) -> f32 {
    let text = text.to_lowercase();
    let term = term.to_lowercase();
    let units: Vec<String> = if term.chars().any(is_cjk) {
        let cs: Vec<char> = term.chars().filter(|c| !c.is_whitespace()).collect();
        cs.windows(2).map(|w| w.iter().collect()).collect()
    } else {
        term.split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.len() >= 3 || w.chars().all(|c| c.is_ascii_digit()) && !w.is_empty())
            .filter(|w| {
                ![
                    "and", "the", "with", "without", "disorder", "mellitus", "finding",
                ]
                .contains(w)
            })
            .map(str::to_string)
            .collect()
    };
    if units.is_empty() {
        return 0.0;
    }
    units.iter().filter(|u| text.contains(u.as_str())).count() as f32 / units.len() as f32
}

/// Of `found` (search hits, best first), the recommendations on `subject`, at most `max`:
/// those touching the patient's findings, then conditions, first, then the strong ones; each
/// once, equal ones in the search's order.
pub fn rank(
    found: impl IntoIterator<Item = Chunk>,
    subject: Subject<'_>,
    patient: PatientContext<'_>,
    max: usize,
) -> Vec<Chunk> {
    let mut weighed: Vec<(f32, Chunk)> = found
        .into_iter()
        .filter(|c| c.metadata.contains_key("recommendation"))
        .filter(|c| match subject {
            Subject::Drug(drug) => coverage(drug, &c.text) >= 1.0,
            Subject::Condition(condition) => {
                let guideline = c.metadata.get("guideline").map_or("", String::as_str);
                coverage(condition, &format!("{} {guideline} {}", c.title, c.text)) >= 0.6
            }
        })
        .map(|c| {
            let best = |terms: &[String]| {
                terms
                    .iter()
                    .map(|t| coverage(t, &c.text))
                    .fold(0.0, f32::max)
            };
            let touches = 1.5 * best(patient.findings) + best(patient.conditions);
            let strong = if c.metadata.get("strength").map(String::as_str) == Some("strong") {
                0.2
            } else {
                0.0
            };
            (touches + strong, c)
        })
        .collect();
    // Stable: equal weights keep the search's order.
    weighed.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut out: Vec<Chunk> = Vec::new();
    for (_, c) in weighed {
        if out.len() < max && !out.iter().any(|o| o.id == c.id) {
            out.push(c);
        }
    }
    out
}

/// A recommendation's own words, without its header (`**Recommendation 4.2.1** (Strength:
/// strong; Evidence: A)` or `**推荐意见 4.2.1**（推荐强度：强；证据等级：A）`).
pub fn recommendation_text(text: &str) -> &str {
    let text = text.trim();
    // The header's bracket closes first: the body's own brackets ("mL/(min·1.73 m²)") come
    // after it.
    let Some(close) = text.find([')', '）']) else {
        return text;
    };
    let head = &text[..close];
    let is_header = (head.contains("Recommendation") || head.contains("推荐意见"))
        && head.contains(['(', '（']);
    if !is_header {
        return text;
    }
    let width = text[close..].chars().next().map_or(1, char::len_utf8);
    text[close + width..].trim()
}

/// Whether a card warns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Indicator {
    Info,
    Warning,
}

impl Indicator {
    /// The CDS Hooks name.
    pub fn as_str(self) -> &'static str {
        match self {
            Indicator::Info => "info",
            Indicator::Warning => "warning",
        }
    }
}

/// `warning` when the recommendation's action is to stop, avoid, reduce, not start, or
/// names a contraindication (停用, 禁用, 慎用, 减量, 避免, 不推荐…); `info` for the rest.
/// Read by meaning, not by word: "unless contraindicated" and "to reduce hospitalisation" do
/// not warn, "do not delay thrombolysis" urges rather than warns.
pub fn indicator(recommendation: &str) -> Indicator {
    if actions(recommendation_text(recommendation))
        .iter()
        .any(|a| warns(a))
    {
        Indicator::Warning
    } else {
        Indicator::Info
    }
}

/// The clauses of a recommendation, each without a leading condition ("In adults with …,",
/// "If …,", "…的患者，", "…时，"), lower-cased. A full stop ends a sentence only before a
/// space ("1.73 m²" is one number).
fn actions(body: &str) -> Vec<String> {
    let sentences = body.replace(". ", "\u{2029}");
    sentences
        .split(['\u{2029}', ';', ':', '。', '；', '：'])
        .flat_map(split_english_and)
        .map(|clause| without_condition(clause).trim().to_lowercase())
        .filter(|c| !c.is_empty())
        .collect()
}

/// "Do not start X, and stop it if …" → both halves: each may carry its own action.
fn split_english_and(sentence: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = sentence;
    while let Some(i) = rest.find(", and ") {
        out.push(&rest[..i]);
        rest = &rest[i + 6..];
    }
    out.push(rest);
    out
}

const CONDITION_OPENERS: &[&str] = &[
    "in ", "if ", "when ", "for ", "unless ", "once ", "after ", "before ", "during ", "where ",
    "among ", "while ", "at ",
];

/// A clause without the condition it opens with: English "In adults with …, give …" → "give
/// …"; Chinese "合并慢性肾脏病的患者，推荐使用 SGLT2i" → "推荐使用 SGLT2i".
fn without_condition(clause: &str) -> &str {
    let mut t = clause.trim();
    let lower = t.to_lowercase();
    if CONDITION_OPENERS.iter().any(|o| lower.starts_with(o)) {
        if let Some(i) = outside_brackets(t, ", ") {
            return &t[i + 2..];
        }
    }
    // Chinese conditions may run over several clauses ("合并…的患者，以及…的患者，推荐…").
    while let Some(i) = outside_brackets(t, "，") {
        let head = &t[..i];
        let condition = ["患者", "者", "时", "后", "前", "期间", "情况下"]
            .iter()
            .any(|end| head.ends_with(end));
        if !condition {
            break;
        }
        t = &t[i + "，".len()..];
    }
    t
}

/// Where `pattern` first occurs outside brackets ("In patients with iron deficiency (ferritin
/// <100, or …), consider …": the comma after the bracket).
fn outside_brackets(text: &str, pattern: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '(' | '（' | '[' => depth += 1,
            ')' | '）' | ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 && text[i..].starts_with(pattern) => return Some(i),
            _ => {}
        }
    }
    None
}

/// Whether an action clause (lower-cased, its condition removed) tells the reader to hold
/// back.
fn warns(action: &str) -> bool {
    // Urging not to wait is not a warning.
    const URGES: &[&str] = &[
        "do not delay",
        "don't delay",
        "never delay",
        "不应延误",
        "不应因此延误",
        "不得延误",
    ];
    if URGES.iter().any(|u| action.contains(u)) {
        return false;
    }
    // An English action is its opening verb (an adverb such as "temporarily" may come first).
    const HOLD_BACK: &[&str] = &[
        "do not",
        "don't",
        "never",
        "avoid",
        "stop",
        "withhold",
        "discontinue",
        "reduce the dose",
        "reduce dose",
        "halve",
        "should not",
        "must not",
    ];
    let verb = action
        .trim_start_matches(|c: char| !c.is_alphanumeric())
        .trim_start_matches("temporarily ")
        .trim_start_matches("also ")
        .trim_start_matches("usually ");
    if HOLD_BACK.iter().any(|h| verb.starts_with(h)) {
        return true;
    }
    // Anywhere in the clause: a contraindication stated, a dose to reduce, "not recommended".
    const STATED: &[&str] = &[
        "is contraindicated",
        "are contraindicated",
        "not recommended",
        "should not be",
        "reduce the dose",
        "dose reduction",
        "do not start",
        "do not use",
        "do not give",
        "停用",
        "禁用",
        "慎用",
        "减量",
        "避免",
        "不推荐",
        "不建议",
        "暂停",
        "禁忌使用",
        "不宜",
        "勿用",
    ];
    STATED.iter().any(|s| action.contains(s))
}

/// `about` and the recommendation's action — its first sentence without a leading condition
/// — at most 140 characters, cut at a clause or word boundary with "…".
pub fn summary(about: &str, recommendation: &str) -> String {
    let body = recommendation_text(recommendation);
    let first = first_sentence(body);
    let action = without_condition(first).trim();
    let chinese = action.chars().any(is_cjk);
    let sep = if chinese { "：" } else { ": " };
    let whole = format!("{}{sep}{}", capitalise(about), capitalise(action));
    cut(&whole, SUMMARY_CHARS)
}

/// CDS Hooks: a card's summary "SHOULD be less than 140 characters".
const SUMMARY_CHARS: usize = 140;

/// Chinese characters (CJK unified ideographs and their extensions), as the keyword index
/// and the agent count them.
fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// At most `max` characters: cut at the last clause mark (，,；;) or, failing one in the
/// second half, the last space — or between Chinese characters — and ending in "…".
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    // Room for the "…".
    let limit = s.char_indices().nth(max - 1).map_or(s.len(), |(i, _)| i);
    let head = &s[..limit];
    let half = head.len() / 2;
    let at_clause = head
        .char_indices()
        .rev()
        .find(|(i, c)| *i >= half && matches!(c, '，' | ',' | '；' | ';' | '、'))
        .map(|(i, _)| i);
    let end = at_clause.unwrap_or_else(|| {
        let next_is_boundary = |i: usize| {
            let after = s[i..].chars().next();
            let before = s[..i].chars().next_back();
            after.is_none_or(|c| c.is_whitespace())
                || before.is_some_and(is_cjk) && after.is_some_and(is_cjk)
        };
        (1..=head.len())
            .rev()
            .filter(|i| head.is_char_boundary(*i))
            .find(|i| next_is_boundary(*i))
            .unwrap_or(head.len())
    });
    let mut out = s[..end].trim_end().to_string();
    out.push('…');
    out
}

fn first_sentence(text: &str) -> &str {
    let end = text
        .char_indices()
        .find(|(i, ch)| matches!(ch, '。' | '；') || (*ch == '.' && text[i + 1..].starts_with(' ')))
        .map_or(text.len(), |(i, ch)| i + ch.len_utf8());
    &text[..end]
}

fn capitalise(s: &str) -> String {
    let mut cs = s.chars();
    cs.next()
        .map(|f| f.to_uppercase().chain(cs).collect())
        .unwrap_or_default()
}
