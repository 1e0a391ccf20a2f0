//! CDS card wording over every recommendation in the sample guidelines: a card warns only
//! when its recommendation says to hold back, and its summary says one recommendation's
//! action within 140 characters, cut at a boundary.

use std::path::{Path, PathBuf};

use zhiku_medicine::cds::{indicator, summary, Indicator};
use zhiku_medicine::parse_head;

fn corpus() -> PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../../corpora/medicine")
}

/// Every recommendation line in the sample guidelines, with its file and number.
fn every_recommendation() -> Vec<(String, String, String)> {
    let mut files = Vec::new();
    let mut dirs = vec![corpus()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "md") {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        for line in std::fs::read_to_string(&f).unwrap().lines() {
            if let Some(head) = parse_head(line) {
                out.push((name.clone(), head.number, line.trim().to_string()));
            }
        }
    }
    out
}

fn find<'a>(all: &'a [(String, String, String)], file: &str, number: &str) -> &'a str {
    &all.iter()
        .find(|(f, n, _)| f == file && n == number)
        .unwrap_or_else(|| panic!("{file} {number} is not in the sample guidelines"))
        .2
}

#[test]
fn cards_warn_only_when_the_recommendation_says_to_hold_back() {
    let all = every_recommendation();
    assert!(all.len() > 300, "{} recommendations found", all.len());
    use Indicator::{Info, Warning};
    let expected = [
        // "unless contraindicated" is a condition, not the action.
        ("type2-diabetes-en.md", "4.2.1", Info),
        // "to reduce heart failure hospitalisation" is the benefit, not the action.
        ("type2-diabetes-en.md", "4.3.2", Info),
        ("type2-diabetes-en.md", "4.3.1", Info),
        ("type2-diabetes-en.md", "4.2.3", Warning),
        ("type2-diabetes-zh.md", "4.2.1", Info),
        ("type2-diabetes-zh.md", "4.2.2", Warning),
        ("type2-diabetes-zh.md", "4.3.2", Info),
        ("chronic-kidney-disease-en.md", "4.3.2", Warning),
        ("chronic-kidney-disease-en.md", "4.2.1", Info),
        ("chronic-kidney-disease-zh.md", "4.1.2", Warning),
        ("chronic-kidney-disease-zh.md", "4.2.1", Info),
        ("acute-kidney-injury-zh.md", "4.1.2", Warning),
        ("acute-kidney-injury-zh.md", "4.2.1", Warning),
        ("heart-failure-hfref-en.md", "4.1.1", Info),
        // "do not delay thrombolysis" urges; it does not warn.
        ("acute-ischaemic-stroke-en.md", "3.1.2", Info),
        ("acute-ischaemic-stroke-zh.md", "3.1.2", Info),
        ("acute-ischaemic-stroke-en.md", "4.1.3", Info),
        ("status-epilepticus-en.md", "5.1.2", Warning),
        ("status-epilepticus-en.md", "4.1.2", Warning),
    ];
    let mut wrong = Vec::new();
    for (file, number, want) in expected {
        let got = indicator(find(&all, file, number));
        if got != want {
            wrong.push(format!("{file} {number}: {got:?}, expected {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    // Over every recommendation: a warning names its reason among the words that hold back.
    let holds_back = [
        "do not",
        "don't",
        "never",
        "avoid",
        "stop",
        "withhold",
        "discontinue",
        "reduce",
        "halve",
        "should not",
        "must not",
        "contraindicated",
        "not recommended",
        "停用",
        "禁用",
        "慎用",
        "减量",
        "避免",
        "不推荐",
        "不建议",
        "暂停",
        "禁忌",
        "不宜",
        "勿",
    ];
    let mut warnings = 0;
    for (file, number, line) in &all {
        if std::env::var_os("ZHIKU_SHOW_CARDS").is_some() {
            eprintln!("{:7} {}", indicator(line).as_str(), summary("Drug", line));
        }
        if indicator(line) == Warning {
            warnings += 1;
            let l = line.to_lowercase();
            assert!(
                holds_back.iter().any(|w| l.contains(w)),
                "{file} {number} warns without saying to hold back: {line}"
            );
        }
    }
    eprintln!("{warnings} of {} recommendations warn", all.len());
}

#[test]
fn every_summary_says_one_recommendation_within_140_characters() {
    let all = every_recommendation();
    for (file, number, line) in &all {
        let s = summary("Metformin", line);
        let n = s.chars().count();
        assert!(n <= 140, "{file} {number}: {n} characters: {s}");
        let said = s
            .strip_prefix("Metformin")
            .and_then(|r| r.strip_prefix(": ").or_else(|| r.strip_prefix('：')))
            .unwrap_or_else(|| panic!("{file} {number}: {s}"));
        // Only this recommendation's words, in order (the first may be capitalised).
        let said = said.trim_end_matches('…');
        let mut cs = said.chars();
        let rest: String = cs.by_ref().skip(1).collect();
        assert!(
            line.contains(&rest),
            "{file} {number}: {s:?} is not from {line:?}"
        );
        // Cut at a boundary: the next character of the recommendation is not a letter.
        if s.ends_with('…') {
            let at = line.find(&rest).unwrap() + rest.len();
            let next = line[at..].chars().next();
            assert!(
                !next.is_some_and(|c| c.is_ascii_alphanumeric()),
                "{file} {number}: cut mid-word: {s:?}"
            );
        }
        // A header is never the summary.
        assert!(
            !said.contains("Strength") && !said.contains("推荐强度"),
            "{s}"
        );
    }
    // The action first: the GLP-1 recommendation is not read as "metformin: in adults with…".
    let glp1 = summary("Metformin", find(&all, "type2-diabetes-en.md", "4.3.1"));
    assert!(glp1.starts_with("Metformin: Include a GLP-1"), "{glp1}");
    let zh = summary("二甲双胍", find(&all, "type2-diabetes-zh.md", "4.3.2"));
    assert_eq!(zh, "二甲双胍：推荐使用 SGLT2i。");
}
