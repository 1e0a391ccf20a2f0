//! Medicine loaders on real files: recommendations become whole, labelled sections.

use std::path::{Path, PathBuf};

use zhiku_core::{Domain, LoadDefaults};
use zhiku_medicine::MedicineDomain;

fn root() -> PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../..")
}

fn load(rel: &str) -> zhiku_core::LoadedFile {
    MedicineDomain.load(&root().join(rel), rel, &LoadDefaults::default())
}

#[test]
fn markdown_guideline_recommendations() {
    let f = load("tests/fixtures/domains/medicine/endocrinology/diabetes-zh.md");
    assert!(f.issues.is_empty(), "{:?}", f.issues);
    let d = &f.documents[0];
    assert_eq!(d.metadata["department"], "endocrinology");
    let recs: Vec<_> = d
        .sections
        .iter()
        .filter(|s| s.metadata.contains_key("recommendation"))
        .collect();
    assert_eq!(recs.len(), 2);
    let r = recs[0];
    assert_eq!(r.metadata["recommendation"], "4.2.1");
    assert_eq!(r.metadata["strength"], "strong");
    assert_eq!(r.metadata["evidence"], "A");
    assert_eq!(r.path, "4 治疗 > 4.2 一线药物");
    let text = &d.text[r.start..r.end];
    assert!(
        text.starts_with("**推荐意见 4.2.1**") && text.contains("低血糖风险低"),
        "{text}"
    );
    assert!(
        !text.contains("4.2.2"),
        "stops before the next recommendation"
    );
}

#[test]
fn records_need_their_fields() {
    let f = load("tests/fixtures/domains/medicine/records.jsonl");
    assert_eq!(f.documents.len(), 1);
    let d = &f.documents[0];
    assert_eq!(
        d.sections[0].path,
        "5 Long-term management > 5.1 Urate-lowering therapy"
    );
    assert_eq!(d.sections[0].metadata["strength"], "strong");
    let issue = f.issues[0].to_string();
    assert!(
        issue.contains("records.jsonl:2") && issue.contains("strength, evidence"),
        "{issue}"
    );
}

#[test]
fn pdf_guideline_recommendations() {
    let f = load("tests/fixtures/documents/guideline-en.pdf");
    assert!(f.issues.is_empty(), "{:?}", f.issues);
    let d = &f.documents[0];
    assert!(
        d.sections
            .iter()
            .any(|s| s.metadata.contains_key("strength")),
        "{:?}",
        d.sections
    );
    for bad in ["encrypted.pdf", "scanned.pdf"] {
        let f = load(&format!("tests/fixtures/documents/{bad}"));
        assert!(f.documents.is_empty(), "{bad}");
        assert!(!f.issues.is_empty(), "{bad}");
    }
}

#[test]
fn the_sample_corpus_loads_cleanly() {
    let dir = root().join("corpora/medicine");
    let (mut docs, mut recs) = (0, 0);
    let (files, problems) = zhiku_ingest::files_under(&dir);
    assert!(problems.is_empty(), "{problems:?}");
    for file in files {
        let f = MedicineDomain.load(&file, &file.display().to_string(), &LoadDefaults::default());
        assert!(f.issues.is_empty(), "{:?}", f.issues);
        for d in &f.documents {
            assert!(d.metadata.contains_key("department"), "{}", d.id);
            recs += d
                .sections
                .iter()
                .filter(|s| s.metadata.contains_key("strength"))
                .count();
        }
        docs += f.documents.len();
    }
    assert!(docs >= 40, "{docs}");
    assert!(recs >= 300, "every recommendation found: {recs}");
}
