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

/// A number in a text: its canonical digits and the byte range it covers.
struct Number {
    digits: String,
    start: usize,
    end: usize,
}

/// The numbers of `text`: ASCII digits with a decimal point, commas only as thousands
/// separators (`1,000`), not glued to letters before them (`HbA1c`, `T2DM`).
fn numbers(text: &str) -> Vec<Number> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() || (i > 0 && b[i - 1].is_ascii_alphanumeric()) {
            i += 1;
            continue;
        }
        let start = i;
        let mut digits = String::new();
        while i < b.len() {
            let c = b[i];
            let thousands = c == b','
                && b.len() >= i + 4
                && b[i + 1..i + 4].iter().all(u8::is_ascii_digit)
                && !b.get(i + 4).is_some_and(u8::is_ascii_digit);
            let decimal = c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit);
            if c.is_ascii_digit() || decimal {
                digits.push(c as char);
            } else if !thousands {
                break;
            }
            i += 1;
        }
        out.push(Number {
            digits,
            start,
            end: i,
        });
    }
    out
}

/// `text` after `at` if it starts with an entry of `table` (an ASCII entry must not run on
/// into more letters): the canonical form and the bytes it takes.
fn lookup(text: &str, table: &[(&str, &'static str)]) -> Option<(&'static str, usize)> {
    table.iter().find_map(|(u, canon)| {
        let rest = text.strip_prefix(u)?;
        let runs_on = u.is_ascii() && rest.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
        (!runs_on).then_some((*canon, u.len()))
    })
}

/// `五百毫克` → `500毫克`, `零点五克` → `0.5克`: Chinese numerals are rewritten as digits when a
/// dose unit follows them (elsewhere, as in 两次, they are left alone).
fn chinese_numerals_before_units(text: &str) -> String {
    let is_numeral = |c: char| "零〇一二两三四五六七八九十百千万点".contains(c);
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !is_numeral(chars[i]) {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && is_numeral(chars[i]) {
            i += 1;
        }
        let run: String = chars[start..i].iter().collect();
        let rest: String = chars[i..].iter().collect();
        let unit_follows = lookup(rest.trim_start(), UNITS).is_some();
        match chinese_number(&run).filter(|_| unit_follows) {
            Some(n) => out.push_str(&n),
            None => out.push_str(&run),
        }
    }
    out
}

/// The value of a Chinese numeral (`二十五`, `一千二百`, `零点五`) as digits.
fn chinese_number(run: &str) -> Option<String> {
    let digit = |c: char| {
        "零一二三四五六七八九"
            .find(c)
            .map(|b| (b / 3) as u64)
            .or(match c {
                '〇' => Some(0),
                '两' => Some(2),
                _ => None,
            })
    };
    let (int, frac) = match run.split_once('点') {
        Some((i, f)) => (i, Some(f)),
        None => (run, None),
    };
    let (mut total, mut section, mut number) = (0u64, 0u64, 0u64);
    for c in int.chars() {
        match c {
            '十' => {
                section += number.max(1) * 10;
                number = 0;
            }
            '百' | '千' => {
                section += number * if c == '百' { 100 } else { 1000 };
                number = 0;
            }
            '万' => {
                total += (section + number) * 10_000;
                section = 0;
                number = 0;
            }
            c => number = digit(c)?,
        }
    }
    let mut out = (total + section + number).to_string();
    if let Some(f) = frac {
        let digits: Option<String> = f.chars().map(|c| digit(c).map(|d| d.to_string())).collect();
        out = format!("{out}.{}", digits.filter(|d| !d.is_empty())?);
    }
    Some(out)
}

/// What joins the two ends of a range: `10–20 mg`, `10 to 20 mg`, `10至20毫克`.
const RANGE: &[&str] = &["–", "—", "-", "~", "～", "至", "到", "to"];

/// The doses in a text, each as `number+unit[/per]` in one canonical form (`0.1mg/kg`); the
/// low end of a range gets the unit of the high end.
pub fn doses(text: &str) -> Vec<String> {
    // Full-width digits and spaces as their ASCII forms, so that `５００ｍｇ` is 500mg.
    let lower: String = text
        .to_lowercase()
        .chars()
        .map(|c| match c {
            '０'..='９' | 'ａ'..='ｚ' | '．' | '／' => {
                char::from_u32(c as u32 - 0xFEE0).unwrap_or(c)
            }
            _ => c,
        })
        .collect();
    let lower = chinese_numerals_before_units(&lower);
    let nums = numbers(&lower);
    let unit_after = |n: &Number| {
        let rest = lower[n.end..].trim_start();
        let (canon, len) = lookup(rest, UNITS)?;
        let after = rest[len..].trim_start();
        let per = lookup(after, PER).map(|(p, _)| p).unwrap_or("");
        Some(format!("{canon}{per}"))
    };
    let mut out = Vec::new();
    for (idx, n) in nums.iter().enumerate() {
        if let Some(unit) = unit_after(n) {
            out.push(format!("{}{unit}", n.digits));
            continue;
        }
        // `500–1000 mg`: the next number, right after a range word, lends its unit.
        let Some(next) = nums.get(idx + 1) else {
            continue;
        };
        let between = lower[n.end..next.start].trim();
        if RANGE.contains(&between) {
            if let Some(unit) = unit_after(next) {
                out.push(format!("{}{unit}", n.digits));
            }
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
        assert_eq!(doses("500–1000 mg daily"), vec!["500mg", "1000mg"]);
        assert_eq!(
            doses("每次５００ｍｇ，10至20毫克"),
            vec!["500mg", "10mg", "20mg"]
        );
        assert_eq!(doses("0.5\u{a0}mg/kg"), vec!["0.5mg/kg"]);
        assert_eq!(
            doses("每次五百毫克，每日两次；零点五克；二十五微克"),
            vec!["500mg", "0.5g", "25ug"]
        );
        assert_eq!(doses("一千二百毫升"), vec!["1200ml"]);
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
        // The low end of a range is a dose too.
        assert!(check_doses("Give 250–2000 mg/d [1].", &cited).is_err());
    }
}
