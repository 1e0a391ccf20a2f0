//! Culture loaders on real files: places with coordinates, CSV poems, Markdown articles.

use std::path::{Path, PathBuf};

use zhiku_core::{Domain, LoadDefaults};
use zhiku_culture::CultureDomain;

fn root() -> PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../..")
}

fn load(rel: &str) -> zhiku_core::LoadedFile {
    CultureDomain.load(&root().join(rel), rel, &LoadDefaults::default())
}

#[test]
fn places_get_location_and_bilingual_text() {
    let f = load("tests/fixtures/domains/culture/sites.jsonl");
    assert_eq!(f.documents.len(), 4);
    let gugong = &f.documents[0];
    assert_eq!(gugong.location, Some((39.9163, 116.3972)));
    assert_eq!(gugong.metadata["dynasty"], "明");
    assert_eq!(gugong.metadata["era"], "Ming");
    assert!(
        gugong.text.contains("故宫 / Forbidden City") && gugong.text.contains("imperial palace")
    );
    let issue = f.issues[0].to_string();
    assert!(
        issue.contains("sites.jsonl:5") && issue.contains("coordinates out of range"),
        "{issue}"
    );
}

#[test]
fn csv_poems_with_a_bad_row() {
    let f = load("tests/fixtures/domains/culture/poems.csv");
    assert_eq!(f.documents.len(), 2);
    assert_eq!(f.documents[0].metadata["author"], "李白");
    assert!(f.documents[0].text.contains("举头望明月"));
    let issue = f.issues[0].to_string();
    assert!(
        issue.contains("poems.csv:3") && issue.contains("columns"),
        "{issue}"
    );
}

#[test]
fn articles_take_coordinates_from_front_matter() {
    let f = load("tests/fixtures/domains/culture/articles/hutong.md");
    assert!(f.issues.is_empty(), "{:?}", f.issues);
    assert_eq!(f.documents[0].location, Some((39.937, 116.403)));
}

#[test]
fn the_sample_corpus_loads_cleanly() {
    let dir = root().join("corpora/culture");
    let mut docs = 0;
    let mut placed = 0;
    let (files, problems) = zhiku_ingest::files_under(&dir);
    assert!(problems.is_empty(), "{problems:?}");
    for file in files {
        let f = CultureDomain.load(&file, &file.display().to_string(), &LoadDefaults::default());
        assert!(f.issues.is_empty(), "{:?}", f.issues);
        placed += f.documents.iter().filter(|d| d.location.is_some()).count();
        docs += f.documents.len();
    }
    assert!(docs >= 40, "{docs}");
    assert!(placed >= 30, "{placed}");
}
