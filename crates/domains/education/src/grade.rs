//! The grade a question is asked for ("初二", "grade 8", "high school"), so that the answer
//! is written for that level and drawn from material of that band first.

/// The grade band a question names, if any.
pub fn grade_in_question(question: &str) -> Option<&'static str> {
    let q = question.to_lowercase();
    const ZH: &[(&str, &str)] = &[
        ("小学", "primary"),
        ("一年级", "primary"),
        ("二年级", "primary"),
        ("三年级", "primary"),
        ("四年级", "primary"),
        ("五年级", "primary"),
        ("六年级", "primary"),
        ("初中", "junior"),
        ("初一", "junior"),
        ("初二", "junior"),
        ("初三", "junior"),
        ("七年级", "junior"),
        ("八年级", "junior"),
        ("九年级", "junior"),
        ("中考", "junior"),
        ("高中", "senior"),
        ("高一", "senior"),
        ("高二", "senior"),
        ("高三", "senior"),
        ("高考", "senior"),
        ("大学", "university"),
        ("本科", "university"),
    ];
    // "高一年级" must not read as "一年级": the longest, earliest match wins.
    let zh = ZH
        .iter()
        .filter_map(|(w, band)| q.find(w).map(|at| (at, std::cmp::Reverse(w.len()), *band)))
        .min();
    if let Some((_, _, band)) = zh {
        return Some(band);
    }
    const EN: &[(&str, &str)] = &[
        ("primary school", "primary"),
        ("elementary", "primary"),
        ("middle school", "junior"),
        ("junior high", "junior"),
        ("high school", "senior"),
        ("senior high", "senior"),
        ("university", "university"),
        ("college", "university"),
        ("undergraduate", "university"),
    ];
    if let Some((_, band)) = EN.iter().find(|(w, _)| q.contains(w)) {
        return Some(band);
    }
    // "grade 8", "year 10", "8th grade"
    let words: Vec<&str> = q
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    for pair in words.windows(2) {
        let n = match pair {
            ["grade" | "year", n] => n.parse::<u32>().ok(),
            [n, "grade" | "graders"] => n.trim_end_matches(char::is_alphabetic).parse().ok(),
            _ => None,
        };
        // "year 2024 … grade 8": a number that is no school year is not the answer.
        match n {
            Some(1..=6) => return Some("primary"),
            Some(7..=9) => return Some("junior"),
            Some(10..=12) => return Some("senior"),
            _ => {}
        }
    }
    None
}

/// How the prompt names a band for the model, in `lang`.
pub fn describe(band: &str, lang: &str) -> &'static str {
    match (band, lang) {
        ("primary", "zh") => "小学生",
        ("junior", "zh") => "初中生（七至九年级）",
        ("senior", "zh") => "高中生（十至十二年级）",
        ("university", "zh") => "大学生",
        ("primary", _) => "primary-school student",
        ("junior", _) => "junior-high student (grades 7–9)",
        ("senior", _) => "senior-high student (grades 10–12)",
        _ => "university student",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades_named_in_questions() {
        assert_eq!(grade_in_question("给初二学生讲勾股定理"), Some("junior"));
        assert_eq!(grade_in_question("高一年级的函数单调性"), Some("senior"));
        assert_eq!(
            grade_in_question("Explain photosynthesis for grade 8"),
            Some("junior")
        );
        assert_eq!(
            grade_in_question("a 10th grade lesson on vectors"),
            Some("senior")
        );
        assert_eq!(
            grade_in_question("high school chemistry: moles"),
            Some("senior")
        );
        assert_eq!(grade_in_question("什么是勾股定理"), None);
        assert_eq!(grade_in_question("What year was it?"), None);
        assert_eq!(
            grade_in_question("year 2024 curriculum for grade 8"),
            Some("junior")
        );
    }
}
