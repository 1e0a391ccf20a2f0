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
    let units: Vec<String> = if term.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)) {
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
    let body = text
        .split_once(')')
        .filter(|(head, _)| head.contains("Recommendation") || head.contains("推荐"))
        .map_or(text, |(_, rest)| rest.trim());
    body.split_once('）')
        .filter(|_| text.contains("推荐"))
        .map_or(body, |(_, r)| r.trim())
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
/// names a contraindication; `info` for the rest.
pub fn indicator(recommendation: &str) -> Indicator {
    let t = recommendation_text(recommendation).to_lowercase();
    let warns = [
        "do not",
        "don't",
        "avoid",
        "stop",
        "contraindicat",
        "not recommended",
        "withh",
        "reduce",
        "禁用",
        "不建议",
        "停用",
        "避免",
        "慎用",
        "减量",
    ]
    .iter()
    .any(|w| t.contains(w));
    if warns {
        Indicator::Warning
    } else {
        Indicator::Info
    }
}

/// `about` (capitalised) and the recommendation's first sentence, at most 140 characters,
/// ending in "…" when cut.
pub fn summary(about: &str, recommendation: &str) -> String {
    let body = recommendation_text(recommendation);
    truncate(
        &format!("{}: {}", capitalise(about), first_sentence(body)),
        140,
    )
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

/// At most `max` characters, ending in "…" when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}
