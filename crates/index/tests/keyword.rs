//! The Tantivy keyword index on hand-made chunks: Chinese without spaces, English stemming,
//! filters, deletes and persistence.

use std::collections::BTreeMap;

use zhiku_core::{Chunk, Classification, SearchFilter};
use zhiku_index::KeywordIndex;

fn chunk(
    doc: &str,
    domain: &str,
    title: &str,
    text: &str,
    level: Classification,
    meta: &[(&str, &str)],
) -> Chunk {
    Chunk {
        classification: level,
        metadata: meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        ..zhiku_testkit::sample_chunk(doc, domain, title, text)
    }
}

fn corpus() -> Vec<Chunk> {
    use Classification::*;
    vec![
        chunk(
            "gugong",
            "culture",
            "北京故宫",
            "故宫始建于明永乐四年，是明清两代的皇家宫殿，建筑宏伟。",
            Public,
            &[("dynasty", "明")],
        ),
        chunk(
            "tiantan",
            "culture",
            "天坛",
            "天坛是皇帝祭天祈谷的场所，以祈年殿最为著名。",
            Public,
            &[("dynasty", "明")],
        ),
        chunk(
            "teach",
            "education",
            "Teaching methods",
            "Experienced teachers are teaching inquiry lessons with worked examples.",
            Public,
            &[("subject", "pedagogy"), ("grade_band", "junior")],
        ),
        chunk(
            "rota",
            "education",
            "Staff rota",
            "The teacher rota for invigilation is kept by the deputy head.",
            Internal,
            &[("subject", "admin")],
        ),
        chunk(
            "physics",
            "education",
            "Forces",
            "Newton's laws describe how forces change motion; teachers use trolleys.",
            Public,
            &[("subject", "physics"), ("grade_band", "senior")],
        ),
    ]
}

fn open_with_corpus(dir: &std::path::Path) -> KeywordIndex {
    let index = KeywordIndex::open(dir).unwrap();
    index.add(&corpus()).unwrap();
    index.commit().unwrap();
    index
}

fn ids(hits: &[(Chunk, f32)]) -> Vec<&str> {
    hits.iter().map(|(c, _)| c.doc_id.as_str()).collect()
}

#[test]
fn unspaced_chinese_question_is_not_a_phrase_query() {
    let dir = tempfile::tempdir().unwrap();
    let index = open_with_corpus(dir.path());
    let hits = index
        .search("故宫的建筑年代", &SearchFilter::default(), 5)
        .unwrap();
    assert_eq!(ids(&hits).first(), Some(&"gugong"), "{:?}", ids(&hits));
    let hits = index
        .search("皇帝在哪里祭天？", &SearchFilter::default(), 5)
        .unwrap();
    assert_eq!(ids(&hits).first(), Some(&"tiantan"));
}

#[test]
fn english_is_stemmed_and_punctuation_only_queries_find_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let index = open_with_corpus(dir.path());
    // "teach" only occurs inflected ("teachers", "teaching").
    let hits = index.search("teach", &SearchFilter::default(), 5).unwrap();
    assert!(ids(&hits).contains(&"teach"), "{:?}", ids(&hits));
    assert!(index
        .search("，。？！", &SearchFilter::default(), 5)
        .unwrap()
        .is_empty());
}

#[test]
fn filters_apply_to_the_keyword_leg() {
    let dir = tempfile::tempdir().unwrap();
    let index = open_with_corpus(dir.path());
    let public = SearchFilter::default();
    assert!(!ids(&index.search("teacher rota", &public, 10).unwrap()).contains(&"rota"));
    let staff = SearchFilter {
        clearance: Classification::Internal,
        ..Default::default()
    };
    assert_eq!(
        ids(&index.search("teacher rota", &staff, 10).unwrap()).first(),
        Some(&"rota")
    );

    let mut f = SearchFilter {
        domains: vec!["culture".into()],
        ..Default::default()
    };
    assert!(index.search("teachers", &f, 10).unwrap().is_empty());
    f.domains = vec!["education".into()];
    f.add_field_expr("subject=physics").unwrap();
    assert_eq!(
        ids(&index.search("teachers", &f, 10).unwrap()),
        vec!["physics"]
    );
    f.add_field_expr("subject=pedagogy").unwrap();
    let hits = index.search("teachers", &f, 10).unwrap();
    let mut got = ids(&hits);
    got.sort();
    assert_eq!(got, vec!["physics", "teach"]);
    f.add_field_expr("grade_band=junior").unwrap();
    assert_eq!(
        ids(&index.search("teachers", &f, 10).unwrap()),
        vec!["teach"]
    );
}

#[test]
fn delete_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let index = open_with_corpus(dir.path());
        assert_eq!(index.num_chunks(), 5);
        index.delete_doc("gugong").unwrap();
        index.commit().unwrap();
        assert_eq!(index.num_chunks(), 4);
    }
    let index = KeywordIndex::open(dir.path()).unwrap();
    assert_eq!(index.num_chunks(), 4);
    let hits = index.search("故宫", &SearchFilter::default(), 5).unwrap();
    assert!(!ids(&hits).contains(&"gugong"));
    let (c, _) = &index.search("祈年殿", &SearchFilter::default(), 1).unwrap()[0];
    assert_eq!(c, &corpus()[1], "the stored chunk round-trips");
}

/// The keyword leg as sparse vectors in Qdrant Edge (what a cluster uses) finds exactly the
/// chunks Tantivy finds for each query, under the same filter, with the same best hit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sparse_vectors_find_what_tantivy_finds() {
    let dir = tempfile::tempdir().unwrap();
    let index = open_with_corpus(&dir.path().join("keyword"));
    let store = zhiku_index::VectorStore::Edge(
        zhiku_index::EdgeStore::open(&dir.path().join("vectors")).unwrap(),
    );
    let unit = vec![1.0 / (zhiku_embed::DIMENSION as f32).sqrt(); zhiku_embed::DIMENSION];
    let points = corpus()
        .into_iter()
        .map(|chunk| zhiku_index::VectorPoint {
            chunk,
            vector: unit.clone(),
        })
        .collect();
    store.upsert(points).await.unwrap();
    let internal = SearchFilter {
        clearance: Classification::Internal,
        ..SearchFilter::default()
    };
    for query in [
        "故宫的建筑年代",
        "皇帝在哪里祭天？",
        "teach",
        "Newton forces teachers",
        "teacher rota",
        "明清宫殿 inquiry",
    ] {
        for filter in [SearchFilter::default(), internal.clone()] {
            let tantivy = index.search(query, &filter, 10).unwrap();
            let sparse = store.keyword_search(query, &filter, 10).await.unwrap();
            let set = |hits: &[(Chunk, f32)]| {
                let mut v = ids(hits)
                    .into_iter()
                    .map(str::to_string)
                    .collect::<Vec<_>>();
                v.sort();
                v
            };
            assert!(!tantivy.is_empty(), "{query}: the fixture matches");
            assert_eq!(
                set(&sparse),
                set(&tantivy),
                "{query}: the same chunks match"
            );
            assert_eq!(
                ids(&sparse).first(),
                ids(&tantivy).first(),
                "{query}: the same best hit ({:?} against {:?})",
                sparse
                    .iter()
                    .map(|(c, s)| (&c.doc_id, *s))
                    .collect::<Vec<_>>(),
                tantivy
                    .iter()
                    .map(|(c, s)| (&c.doc_id, *s))
                    .collect::<Vec<_>>()
            );
        }
    }
}
