//! The ingest pipeline end to end with the real model, Tantivy and Qdrant Edge, on the small
//! fixtures in tests/fixtures.

mod common;

use common::{copy_dir, fixtures, Env};
use zhiku_core::{Classification, RetrievalMode, SearchFilter};
use zhiku_index::HybridRetriever;
use zhiku_ingest::Manifest;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reingest_is_free_changes_replace_and_prune_removes() {
    let work = tempfile::tempdir().unwrap();
    let corpus = work.path().join("mini");
    copy_dir(&fixtures().join("mini"), &corpus);
    let env = Env::new(&work.path().join("data")).await;

    let first = env.ingest(std::slice::from_ref(&corpus), false).await;
    assert!(first.issues.is_empty(), "{:?}", first.issues);
    assert_eq!(first.documents, 6);
    assert!(first.chunks_written >= 6);
    assert_eq!(first.embedded as usize, first.chunks_written);
    let (m, k, v) = env.counts().await;
    assert_eq!(
        (m as u64, m as u64),
        (k, v),
        "manifest, keyword and vector counts agree"
    );

    let again = env.ingest(std::slice::from_ref(&corpus), false).await;
    assert_eq!((again.embedded, again.written, again.unchanged), (0, 0, 6));

    // Change one document: only it is re-embedded, and its old chunks are gone.
    let path = corpus.join("photosynthesis.md");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("pondweed", "Elodea pondweed")).unwrap();
    let changed = env.ingest(std::slice::from_ref(&corpus), false).await;
    assert_eq!(changed.written, 1);
    assert_eq!(changed.embedded as usize, changed.chunks_written);
    let (m2, k2, v2) = env.counts().await;
    assert_eq!((m2 as u64, m2 as u64), (k2, v2));
    assert_eq!(m2, m, "same number of chunks, none duplicated");

    // Remove a file: kept without --prune, removed with it.
    std::fs::remove_file(corpus.join("forbidden-city.md")).unwrap();
    assert_eq!(
        env.ingest(std::slice::from_ref(&corpus), false)
            .await
            .removed,
        0
    );
    let pruned = env.ingest(std::slice::from_ref(&corpus), true).await;
    assert_eq!(pruned.removed, 1);
    let (m3, k3, v3) = env.counts().await;
    assert!(m3 < m2);
    assert_eq!((m3 as u64, m3 as u64), (k3, v3));
    let retriever = HybridRetriever::new(
        env.indexes.clone(),
        env.embedder.clone(),
        env.config.retrieval.clone(),
    );
    let hits = retriever
        .search("故宫", &SearchFilter::default(), 10, RetrievalMode::Hybrid)
        .await
        .unwrap();
    assert!(hits
        .hits
        .iter()
        .all(|h| h.chunk.doc_id != "mini-forbidden-city"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hits_trace_back_to_exact_source_bytes_and_respect_clearance() {
    let work = tempfile::tempdir().unwrap();
    let env = Env::new(&work.path().join("data")).await;
    let corpus = fixtures().join("mini");
    env.ingest(std::slice::from_ref(&corpus), false).await;
    let retriever = HybridRetriever::new(
        env.indexes.clone(),
        env.embedder.clone(),
        env.config.retrieval.clone(),
    );

    for (query, doc) in [
        ("故宫是哪一年开始修建的？", "mini-forbidden-city"),
        (
            "What limits the rate of photosynthesis?",
            "mini-photosynthesis",
        ),
        ("举头望明月", "mini-poem-jingyesi"),
    ] {
        for mode in RetrievalMode::ALL {
            let res = retriever
                .search(query, &SearchFilter::default(), 3, mode)
                .await
                .unwrap();
            let top = &res.hits[0];
            assert_eq!(top.chunk.doc_id, doc, "{query} ({mode})");
            match mode {
                RetrievalMode::Bm25 => assert!(top.bm25.is_some() && top.dense.is_none()),
                RetrievalMode::Dense => assert!(top.dense.is_some() && top.bm25.is_none()),
                RetrievalMode::Hybrid => assert!(top.bm25.is_some() || top.dense.is_some()),
            }
            let c = &top.chunk;
            match c.source.text_offset {
                Some(base) => {
                    let file = std::fs::read(
                        fixtures().join(c.source.path.rsplit("fixtures/").next().unwrap()),
                    )
                    .unwrap();
                    assert_eq!(
                        &file[base + c.start..base + c.end],
                        c.text.as_bytes(),
                        "exact span in the file"
                    );
                }
                None => assert!(c.source.line.is_some(), "records carry their line"),
            }
        }
    }

    // The internal staff rota is invisible to a public caller, on both legs.
    for mode in RetrievalMode::ALL {
        let public = retriever
            .search("invigilation rota", &SearchFilter::default(), 10, mode)
            .await
            .unwrap();
        assert!(
            public
                .hits
                .iter()
                .all(|h| h.chunk.classification == Classification::Public),
            "{mode}"
        );
        let staff = SearchFilter {
            clearance: Classification::Internal,
            ..Default::default()
        };
        let inside = retriever
            .search("invigilation rota", &staff, 3, mode)
            .await
            .unwrap();
        assert_eq!(inside.hits[0].chunk.doc_id, "mini-staff-rota", "{mode}");
    }
    // The per-folder default applied to the text file that states no level.
    let staff = SearchFilter {
        clearance: Classification::Internal,
        ..Default::default()
    };
    let res = retriever
        .search("salt intake blood pressure", &staff, 1, RetrievalMode::Bm25)
        .await
        .unwrap();
    assert_eq!(res.hits[0].chunk.classification, Classification::Internal);
    let mut subject = SearchFilter::default();
    subject.add_field_expr("subject=biology").unwrap();
    let res = retriever
        .search("故宫", &subject, 5, RetrievalMode::Hybrid)
        .await
        .unwrap();
    assert!(res
        .hits
        .iter()
        .all(|h| h.chunk.doc_id == "mini-photosynthesis"));
    assert!(retriever
        .search("   ", &SearchFilter::default(), 5, RetrievalMode::Hybrid)
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_reported_with_file_and_line_and_the_rest_is_ingested() {
    let work = tempfile::tempdir().unwrap();
    let env = Env::new(&work.path().join("data")).await;
    let report = env.ingest(&[fixtures().join("broken")], false).await;
    let issues: Vec<String> = report.issues.iter().map(|i| i.to_string()).collect();
    let has = |needle: &str| issues.iter().any(|i| i.contains(needle));
    assert!(has("records.jsonl:2: malformed JSON"), "{issues:?}");
    assert!(
        has("records.jsonl:3: record has no \"text\" field"),
        "{issues:?}"
    );
    assert!(has("latin1.md:4: not valid UTF-8"), "{issues:?}");
    assert!(has("bad-front-matter.md"), "{issues:?}");
    assert_eq!(issues.len(), 4, "{issues:?}");
    // ok-1, ok-2 and fine.md made it in.
    assert_eq!(report.documents, 3);
    let m = Manifest::load(&work.path().join("data")).unwrap();
    assert!(m.documents.contains_key("ok-1") && m.documents.contains_key("ok-2"));
}
