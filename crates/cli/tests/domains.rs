//! The three domains through the binary: ingest the small domain fixtures, then check that
//! each domain's filters change what comes back (each check fails if the filter is ignored).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn fixtures() -> PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../tests/fixtures")
}

fn zhiku(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_zhiku"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("ZHIKU_LOG", "warn")
        .output()
        .expect("zhiku runs")
}

/// One ingest shared by every test in this file.
fn data() -> &'static (tempfile::TempDir, String) {
    static DATA: OnceLock<(tempfile::TempDir, String)> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = zhiku(
            dir.path(),
            &["ingest", fixtures().join("domains").to_str().unwrap()],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (dir, String::from_utf8_lossy(&out.stderr).into_owned())
    })
}

/// Qdrant Edge allows one process per data directory: the tests take turns.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn search(args: &[&str]) -> Vec<serde_json::Value> {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut all = vec!["search", "--json", "-k", "10", "--clearance", "restricted"];
    all.extend_from_slice(args);
    let out = zhiku(data().0.path(), &all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).unwrap()
}

fn docs(hits: &[serde_json::Value]) -> Vec<String> {
    let mut v: Vec<String> = hits
        .iter()
        .map(|h| h["chunk"]["doc_id"].as_str().unwrap().to_string())
        .collect();
    v.dedup();
    v
}

#[test]
fn bad_records_are_reported_and_the_rest_ingested() {
    let log = &data().1;
    for needle in [
        "bad-grade.md: unknown grade_band",
        "records.jsonl:2: record is missing strength, evidence",
        "sites.jsonl:5: coordinates out of range",
        "poems.csv:3: row has 3 columns",
    ] {
        assert!(log.contains(needle), "{needle} not in:\n{log}");
    }
    let hits = search(&["胡同", "--domain", "culture"]);
    assert_eq!(docs(&hits)[0], "fx-article-hutong");
}

#[test]
fn grade_band_filter() {
    let all = docs(&search(&[
        "objectives teaching 教学",
        "--domain",
        "education",
    ]));
    assert!(
        all.contains(&"fx-edu-quadratic".to_string()) && all.contains(&"fx-edu-forces".to_string()),
        "{all:?}"
    );
    let senior = docs(&search(&[
        "objectives teaching 教学",
        "--domain",
        "education",
        "-f",
        "grade_band=senior",
    ]));
    assert_eq!(senior, vec!["fx-edu-forces"]);
}

#[test]
fn department_filter_and_whole_recommendations() {
    let all = docs(&search(&[
        "recommendation 推荐 first-line 一线",
        "--domain",
        "medicine",
    ]));
    assert!(
        all.iter().any(|d| d == "fx-med-htn") && all.iter().any(|d| d == "fx-med-t2dm"),
        "{all:?}"
    );
    let endo = search(&[
        "recommendation 推荐 first-line 一线",
        "-f",
        "department=endocrinology",
    ]);
    assert_eq!(docs(&endo), vec!["fx-med-t2dm"]);
    let top = &endo[0]["chunk"];
    assert!(
        top["text"]
            .as_str()
            .unwrap()
            .starts_with("**推荐意见 4.2.1**"),
        "{top}"
    );
    assert_eq!(top["section"], "4 治疗 > 4.2 一线药物");
    assert_eq!(top["metadata"]["strength"], "strong");
    let weak = docs(&search(&[
        "recommendation 推荐",
        "--domain",
        "medicine",
        "-f",
        "strength=weak",
    ]));
    assert_eq!(weak, vec!["fx-med-t2dm"]);
}

#[test]
fn dynasty_filter() {
    let all = docs(&search(&["皇家 imperial", "--domain", "culture"]));
    assert!(all.contains(&"fx-summer-palace".to_string()), "{all:?}");
    let ming = docs(&search(&[
        "皇家 imperial",
        "--domain",
        "culture",
        "-f",
        "dynasty=明",
    ]));
    assert!(
        !ming.is_empty() && !ming.contains(&"fx-summer-palace".to_string()),
        "{ming:?}"
    );
    let qing = docs(&search(&["皇家 imperial", "-f", "dynasty=清"]));
    assert_eq!(qing, vec!["fx-summer-palace"]);
}

#[test]
fn distance_filter() {
    let all = docs(&search(&["Great Wall 长城 Ming 明", "--domain", "culture"]));
    assert_eq!(all[0], "fx-badaling");
    for mode in ["bm25", "dense", "hybrid"] {
        let near = docs(&search(&[
            "Great Wall 长城 Ming 明",
            "--mode",
            mode,
            "--near",
            "39.9163,116.3972",
            "--radius-m",
            "5000",
        ]));
        assert!(
            !near.contains(&"fx-badaling".to_string()),
            "{mode}: {near:?}"
        );
        assert!(
            near.contains(&"fx-forbidden-city".to_string())
                || near.contains(&"fx-temple-of-heaven".to_string()),
            "{mode}: {near:?}"
        );
        for d in &near {
            assert!(
                [
                    "fx-forbidden-city",
                    "fx-temple-of-heaven",
                    "fx-article-hutong"
                ]
                .contains(&d.as_str()),
                "{mode}: {d}"
            );
        }
    }
}
