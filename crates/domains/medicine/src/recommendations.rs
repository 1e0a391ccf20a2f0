//! Finding numbered recommendations in guideline text, in the two forms the corpora use:
//! `**Recommendation 4.2.1** (Strength: strong; Evidence: A) …` and
//! `**推荐意见 4.2.1**（推荐强度：强；证据等级：A）…` (the `**` are optional, for PDF text).

use std::collections::BTreeMap;

use zhiku_core::Section;
use zhiku_loaders::{heading_paths, headings, lines_with_offsets, partition, path_at};

/// A recommendation's header, parsed from the line that opens it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecommendationHead {
    pub number: String,
    pub strength: Option<String>,
    pub evidence: Option<String>,
}

/// `strong` / `weak` from either language.
pub fn normalise_strength(s: &str) -> Option<String> {
    let s = s
        .trim()
        .trim_end_matches(['；', ';', '）', ')'])
        .trim()
        .to_lowercase();
    let v = match s.as_str() {
        "strong" | "强" | "强推荐" => "strong",
        "weak" | "conditional" | "弱" | "弱推荐" => "weak",
        _ => return None,
    };
    Some(v.to_string())
}

/// Evidence level A/B/C (anything else is kept as written, upper-cased).
pub fn normalise_evidence(s: &str) -> Option<String> {
    let v: String = s
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    (!v.is_empty()).then(|| v.to_uppercase())
}

fn value_after<'a>(text: &'a str, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| {
        let at = text.find(k)? + k.len();
        let rest = text[at..].trim_start_matches([':', '：', ' ']);
        let end = rest
            .find([';', '；', ')', '）', ',', '，'])
            .unwrap_or(rest.len());
        Some(rest[..end].trim())
    })
}

/// Parses a line that opens a recommendation.
pub fn parse_head(line: &str) -> Option<RecommendationHead> {
    let t = line.trim_start().trim_start_matches("**");
    let rest = t
        .strip_prefix("Recommendation")
        .or_else(|| t.strip_prefix("推荐意见"))?;
    let rest = rest.trim_start();
    let number: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let number = number.trim_end_matches('.').to_string();
    if number.is_empty() {
        return None;
    }
    Some(RecommendationHead {
        number,
        strength: value_after(rest, &["Strength", "推荐强度"]).and_then(normalise_strength),
        evidence: value_after(rest, &["Evidence", "证据等级"]).and_then(normalise_evidence),
    })
}

/// Numbered plain-text headings ("4 Treatment", "4.2 一线药物"), for PDF text.
fn numbered_heading(line: &str) -> Option<usize> {
    let t = line.trim();
    let num: String = t
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let rest = t[num.len()..].trim_start();
    let ok = !num.is_empty()
        && num.chars().next().is_some_and(|c| c.is_ascii_digit())
        && t.len() > num.len()
        && t[num.len()..].starts_with(' ')
        && !rest.is_empty()
        && t.chars().count() <= 60
        && !rest.ends_with(['.', '。']);
    ok.then(|| num.trim_end_matches('.').matches('.').count() + 1)
}

/// One section per recommendation (never split; carries number, strength and evidence) and
/// plain sections for the text between them. `title` is left out of the section paths.
pub fn recommendation_sections(text: &str, title: &str) -> Vec<Section> {
    let md = headings(text);
    // Heading offsets and levels: Markdown headings, else numbered lines (PDF text).
    let marks: Vec<(usize, usize, String)> = if md.is_empty() {
        lines_with_offsets(text)
            .filter(|(_, l)| parse_head(l).is_none())
            .filter_map(|(o, l)| numbered_heading(l).map(|lvl| (o, lvl, l.trim().to_string())))
            .collect()
    } else {
        md.iter()
            .map(|h| (h.offset, h.level, h.title.clone()))
            .collect()
    };
    let as_headings: Vec<zhiku_loaders::Heading> = marks
        .iter()
        .filter(|(_, _, t)| t != title)
        .map(|(o, l, t)| zhiku_loaders::Heading {
            offset: *o,
            level: *l,
            title: t.clone(),
        })
        .collect();
    let paths = heading_paths(&as_headings);
    let heads: Vec<(usize, RecommendationHead)> = lines_with_offsets(text)
        .filter_map(|(o, l)| parse_head(l).map(|h| (o, h)))
        .collect();
    let mut spans = Vec::new();
    for (i, (start, head)) in heads.iter().enumerate() {
        let next_rec = heads.get(i + 1).map_or(text.len(), |(o, _)| *o);
        let next_heading = marks
            .iter()
            .map(|(o, _, _)| *o)
            .find(|o| o > start)
            .unwrap_or(text.len());
        let end = next_rec.min(next_heading);
        let mut metadata = BTreeMap::new();
        metadata.insert("recommendation".to_string(), head.number.clone());
        if let Some(s) = &head.strength {
            metadata.insert("strength".to_string(), s.clone());
        }
        if let Some(e) = &head.evidence {
            metadata.insert("evidence".to_string(), e.clone());
        }
        spans.push(Section {
            start: *start,
            end,
            path: path_at(&paths, *start),
            metadata,
        });
    }
    partition(text, spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_in_both_languages() {
        let en =
            parse_head("**Recommendation 4.2.1** (Strength: strong; Evidence: A) Start metformin.")
                .unwrap();
        assert_eq!(
            (
                en.number.as_str(),
                en.strength.as_deref(),
                en.evidence.as_deref()
            ),
            ("4.2.1", Some("strong"), Some("A"))
        );
        let zh = parse_head("**推荐意见 3.1**（推荐强度：弱；证据等级：C）建议……").unwrap();
        assert_eq!(
            (
                zh.number.as_str(),
                zh.strength.as_deref(),
                zh.evidence.as_deref()
            ),
            ("3.1", Some("weak"), Some("C"))
        );
        assert!(parse_head("Recommendations are graded as follows").is_none());
    }

    #[test]
    fn sections_follow_recommendations_and_headings() {
        let t = "# G\n## 4 Treatment\n### 4.2 First-line drugs\nIntro.\n**Recommendation 4.2.1** (Strength: strong; Evidence: A) Do X.\nRationale for X.\n**Recommendation 4.2.2** (Strength: weak; Evidence: B) Do Y.\n## 5 Follow-up\nText.\n";
        let s = recommendation_sections(t, "G");
        let recs: Vec<&Section> = s
            .iter()
            .filter(|s| s.metadata.contains_key("recommendation"))
            .collect();
        assert_eq!(recs.len(), 2);
        assert_eq!(
            &t[recs[0].start..recs[0].end],
            "**Recommendation 4.2.1** (Strength: strong; Evidence: A) Do X.\nRationale for X.\n"
        );
        assert_eq!(recs[0].path, "4 Treatment > 4.2 First-line drugs");
        assert!(
            t[recs[1].start..recs[1].end].ends_with("Do Y.\n"),
            "stops at the next heading"
        );
        assert_eq!(s.last().unwrap().end, t.len());
        let pdf = "4 Treatment\n4.2 First-line drugs\nRecommendation 4.2.1 (Strength: strong; Evidence: A) Do X.\n5 Follow-up\nText.";
        let s = recommendation_sections(pdf, "");
        let rec = s
            .iter()
            .find(|s| s.metadata.contains_key("recommendation"))
            .unwrap();
        assert_eq!(rec.path, "4 Treatment > 4.2 First-line drugs");
    }
}
