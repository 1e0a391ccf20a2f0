//! How medicine answers for clinicians: every dose a model states must be stated by a passage
//! the answer cites, and every cited recommendation shows its strength, evidence level and
//! guideline version.

use zhiku_core::Chunk;

/// Units a dose is given in, longest first so that `mg` is not read as `g`; with the form
/// two doses are compared in.
const UNITS: &[(&str, &str)] = &[
    ("国际单位", "iu"),
    ("毫克", "mg"),
    ("微克", "ug"),
    ("毫升", "ml"),
    ("单位", "u"),
    ("mmol", "mmol"),
    ("units", "u"),
    ("unit", "u"),
    ("mcg", "ug"),
    ("µg", "ug"),
    ("μg", "ug"),
    ("meq", "meq"),
    ("mg", "mg"),
    ("ug", "ug"),
    ("ng", "ng"),
    ("ml", "ml"),
    ("iu", "iu"),
    ("克", "g"),
    ("片", "tablet"),
    ("粒", "capsule"),
    ("滴", "drop"),
    ("g", "g"),
    ("u", "u"),
];

/// What a dose may be given per.
const PER: &[(&str, &str)] = &[
    ("/kg", "/kg"),
    ("/公斤", "/kg"),
    ("/千克", "/kg"),
    ("/d", "/d"),
    ("/day", "/d"),
    ("/日", "/d"),
    ("/天", "/d"),
    ("/h", "/h"),
    ("/min", "/min"),
];

/// The doses in a text, each as `number+unit[/per]` in one canonical form (`0.1mg/kg`).
pub fn doses(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let b = lower.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lower.len() {
        let starts_number = b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_alphanumeric());
        if !starts_number {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.' || b[j] == b',') {
            j += 1;
        }
        let number = lower[i..j].trim_end_matches(['.', ',']).replace(',', "");
        let mut k = j;
        while k < b.len() && b[k] == b' ' {
            k += 1;
        }
        let rest = &lower[k..];
        let unit = UNITS.iter().find(|(u, _)| {
            rest.starts_with(u)
                && !(u.is_ascii()
                    && rest[u.len()..]
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphabetic()))
        });
        if let Some((u, canon)) = unit {
            let after = rest[u.len()..].trim_start();
            let per = PER
                .iter()
                .find(|(p, _)| {
                    after.starts_with(p)
                        && !(p.is_ascii()
                            && after[p.len()..]
                                .chars()
                                .next()
                                .is_some_and(|c| c.is_ascii_alphabetic()))
                })
                .map(|(_, c)| *c)
                .unwrap_or("");
            out.push(format!("{number}{canon}{per}"));
            i = k + u.len();
        } else {
            i = j.max(i + 1);
        }
        while i < lower.len() && !lower.is_char_boundary(i) {
            i += 1;
        }
    }
    out
}

/// `Err` naming the first dose in `sentence` that none of the `cited` passages states.
pub fn check_doses(sentence: &str, cited: &[&str]) -> Result<(), String> {
    let stated = doses(sentence);
    if stated.is_empty() {
        return Ok(());
    }
    let supported: Vec<String> = cited.iter().flat_map(|t| doses(t)).collect();
    match stated.iter().find(|d| !supported.contains(d)) {
        Some(d) => Err(format!("dose {d} is not stated in any cited passage")),
        None => Ok(()),
    }
}

/// Strength, evidence level and guideline version of a cited chunk, when it has them.
pub fn note(chunk: &Chunk, lang: &str) -> Option<String> {
    let m = &chunk.metadata;
    let get = |k: &str| m.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let (strength, evidence) = (get("strength"), get("evidence"));
    let guideline = get("guideline");
    let version = get("version").or(get("year"));
    if strength.is_none() && evidence.is_none() && version.is_none() {
        return None;
    }
    let zh = lang == "zh";
    let mut parts = Vec::new();
    if let Some(s) = strength {
        parts.push(match (zh, s) {
            (true, "strong") => "推荐强度：强".to_string(),
            (true, "weak") => "推荐强度：弱".to_string(),
            (true, other) => format!("推荐强度：{other}"),
            (false, other) => format!("strength: {other}"),
        });
    }
    if let Some(e) = evidence {
        parts.push(if zh {
            format!("证据等级：{e}")
        } else {
            format!("evidence: {e}")
        });
    }
    match (guideline, version, zh) {
        (Some(g), Some(v), true) => parts.push(format!("指南：{g}（{v}）")),
        (Some(g), Some(v), false) => parts.push(format!("guideline: {g}, version {v}")),
        (None, Some(v), true) => parts.push(format!("版本：{v}")),
        (None, Some(v), false) => parts.push(format!("version {v}")),
        _ => {}
    }
    Some(parts.join(if zh { "；" } else { "; " }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doses_in_both_languages() {
        assert_eq!(
            doses("Give 0.1 mg/kg IV, max 10 mg."),
            vec!["0.1mg/kg", "10mg"]
        );
        assert_eq!(doses("二甲双胍500毫克，每日2次"), vec!["500mg"]);
        assert_eq!(doses("1,000 IU daily; 5 g"), vec!["1000iu", "5g"]);
        assert!(doses("HbA1c below 7% in 2024, grade 2 evidence").is_empty());
        assert!(doses("type 2 diabetes, 3 months").is_empty());
    }

    #[test]
    fn a_dose_must_be_in_a_cited_passage() {
        let cited = ["Metformin 500 mg once daily, titrated to 2000 mg/d."];
        assert!(check_doses("Start metformin 500 mg daily [1].", &cited).is_ok());
        assert!(check_doses("起始剂量 500 毫克 [1]。", &cited).is_ok());
        let err = check_doses("Start at 850 mg [1].", &cited).unwrap_err();
        assert!(err.contains("850mg"), "{err}");
        assert!(check_doses("Metformin is first-line [1].", &[]).is_ok());
    }
}
