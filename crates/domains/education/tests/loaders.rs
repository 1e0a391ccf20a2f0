//! Education loaders on real files: the sample corpus and the fixtures (good and broken).

use std::path::{Path, PathBuf};

use zhiku_core::{Domain, LoadDefaults};
use zhiku_education::EducationDomain;

fn root() -> PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../..")
}

fn load(rel: &str) -> zhiku_core::LoadedFile {
    EducationDomain.load(&root().join(rel), rel, &LoadDefaults::default())
}

#[test]
fn markdown_front_matter_grade_bands_and_worked_examples() {
    let f = load("tests/fixtures/domains/education/quadratic-junior.md");
    assert!(f.issues.is_empty(), "{:?}", f.issues);
    let d = &f.documents[0];
    assert_eq!(d.metadata["grade_band"], "junior", "初中 is normalised");
    assert_eq!(d.metadata["subject"], "math");
    assert_eq!(d.metadata["lang"], "zh");
    let examples: Vec<&str> = d
        .sections
        .iter()
        .map(|s| &d.text[s.start..s.end])
        .filter(|t| t.starts_with("### 例题"))
        .collect();
    assert_eq!(examples.len(), 2);
    assert!(
        examples[0].contains("求抛物线") && examples[0].contains("**解答**"),
        "{}",
        examples[0]
    );
}

#[test]
fn unknown_grade_band_is_reported_and_skipped() {
    let f = load("tests/fixtures/domains/education/bad-grade.md");
    assert!(f.documents.is_empty());
    assert!(
        f.issues[0]
            .to_string()
            .contains("unknown grade_band \"grade13\""),
        "{:?}",
        f.issues
    );
}

#[test]
fn docx_and_pdf_handouts_load() {
    let f = load("tests/fixtures/documents/handout-en.docx");
    assert!(f.issues.is_empty(), "{:?}", f.issues);
    assert!(
        f.documents[0].text.contains('|'),
        "tables survive as Markdown tables"
    );
    let f = load("tests/fixtures/documents/not-a-zip.docx");
    assert!(f.documents.is_empty() && !f.issues.is_empty());
}

#[test]
fn the_sample_corpus_loads_cleanly() {
    let dir = root().join("corpora/education");
    let mut docs = 0;
    let (files, problems) = zhiku_ingest::files_under(&dir);
    assert!(problems.is_empty(), "{problems:?}");
    for file in files {
        let f = EducationDomain.load(&file, &file.display().to_string(), &LoadDefaults::default());
        assert!(f.issues.is_empty(), "{:?}", f.issues);
        for d in &f.documents {
            assert!(
                zhiku_education::GRADE_BANDS.contains(&d.metadata["grade_band"].as_str()),
                "{}",
                d.id
            );
            assert!(d.metadata.contains_key("subject"), "{}", d.id);
        }
        docs += f.documents.len();
    }
    assert!(docs >= 40, "{docs}");
}
