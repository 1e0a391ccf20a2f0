//! One conformance suite for both vector backends: the embedded Qdrant Edge shard (always) and
//! a Qdrant server (when `ZHIKU_TEST_QDRANT_URL` is set, e.g. `http://localhost:6334`; an API
//! key is read from `ZHIKU_TEST_QDRANT_API_KEY` if set). Vectors are deterministic synthetic
//! unit vectors, so no embedding model is needed.
//!
//! Every check is written so that it fails if the backend ignores the feature it checks: the
//! filtered searches ask for more results than there are points and compare the exact set of
//! returned chunks with the set the filter must select.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use zhiku_core::{stable_chunk_id, Chunk, Classification, GeoRadius, SearchFilter, SourceRef};
use zhiku_index::{CollectionLayout, EdgeStore, ServerStore, VectorPoint, VectorStore};

const DIM: usize = zhiku_embed::DIMENSION;
/// More than the number of points: a filtered search then returns everything it selects.
const ALL: usize = 100;
const EF: usize = 128;

const FORBIDDEN_CITY: (f64, f64) = (39.9163, 116.3972);
const TEMPLE_OF_HEAVEN: (f64, f64) = (39.8822, 116.4066);
const BADALING: (f64, f64) = (40.3597, 116.0200);

/// A deterministic pseudo-random unit vector (splitmix64). Distinct seeds give nearly
/// orthogonal vectors in 384 dimensions.
fn unit_vector(seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut v: Vec<f32> = (0..DIM)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

struct DocSpec {
    doc_id: &'static str,
    domain: &'static str,
    classification: Classification,
    metadata: &'static [(&'static str, &'static str)],
    location: Option<(f64, f64)>,
    texts: &'static [&'static str],
}

fn docs() -> Vec<DocSpec> {
    use Classification::*;
    vec![
        DocSpec {
            doc_id: "edu/algebra",
            domain: "education",
            classification: Public,
            metadata: &[("subject", "math"), ("grade_band", "junior")],
            location: None,
            texts: &[
                "一元二次方程的求根公式。",
                "Completing the square, step by step.",
            ],
        },
        DocSpec {
            doc_id: "edu/mechanics",
            domain: "education",
            classification: Internal,
            metadata: &[("subject", "physics"), ("grade_band", "junior")],
            location: None,
            texts: &["牛顿第二定律 F = ma。", "Free fall and g = 9.8 m/s²."],
        },
        DocSpec {
            doc_id: "edu/relativity",
            domain: "education",
            classification: Public,
            metadata: &[("subject", "physics"), ("grade_band", "senior")],
            location: None,
            texts: &["狭义相对论的两个基本假设。"],
        },
        DocSpec {
            doc_id: "heritage/forbidden-city",
            domain: "heritage",
            classification: Public,
            metadata: &[("dynasty", "ming"), ("site", "Forbidden City")],
            location: Some(FORBIDDEN_CITY),
            texts: &[
                "故宫，明清两代的皇家宫殿。",
                "The Hall of Supreme Harmony is the largest hall.",
            ],
        },
        DocSpec {
            doc_id: "heritage/temple-of-heaven",
            domain: "heritage",
            classification: Public,
            metadata: &[("dynasty", "ming"), ("site", "Temple of Heaven")],
            location: Some(TEMPLE_OF_HEAVEN),
            texts: &["天坛，明清两代皇帝祭天的场所。"],
        },
        DocSpec {
            doc_id: "heritage/badaling",
            domain: "heritage",
            classification: Public,
            metadata: &[("dynasty", "ming"), ("site", "Badaling")],
            location: Some(BADALING),
            texts: &["八达岭长城，明长城的代表。"],
        },
        DocSpec {
            doc_id: "heritage/conservation-report",
            domain: "heritage",
            classification: Restricted,
            metadata: &[("dynasty", "qing")],
            location: Some(FORBIDDEN_CITY),
            texts: &["修缮报告（受限）：太和殿屋顶检测结果。"],
        },
    ]
}

/// The fixture: chunks with hand-set offsets, sources and metadata, and one vector each.
fn fixture() -> Vec<VectorPoint> {
    let mut points = Vec::new();
    for (d, spec) in docs().into_iter().enumerate() {
        let mut start = 0;
        for (ordinal, text) in spec.texts.iter().enumerate() {
            let chunk = Chunk {
                id: stable_chunk_id(spec.doc_id, ordinal, text),
                doc_id: spec.doc_id.to_string(),
                domain: spec.domain.to_string(),
                title: format!("Title of {}", spec.doc_id),
                text: text.to_string(),
                start,
                end: start + text.len(),
                ordinal,
                section: if ordinal == 0 {
                    String::new()
                } else {
                    format!("§{ordinal}")
                },
                lang: Some(if text.is_ascii() { "en" } else { "zh" }.to_string()),
                classification: spec.classification,
                metadata: spec
                    .metadata
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
                location: spec.location,
                source: SourceRef {
                    path: format!("corpus/{}.md", spec.doc_id),
                    line: if ordinal == 0 {
                        None
                    } else {
                        Some(10 * ordinal)
                    },
                    text_offset: if d % 2 == 0 { Some(42) } else { None },
                },
            };
            start = chunk.end + 1;
            points.push(VectorPoint {
                chunk,
                vector: unit_vector(1000 + points.len() as u64),
            });
        }
    }
    points
}

fn clearance(c: Classification) -> SearchFilter {
    SearchFilter {
        clearance: c,
        ..Default::default()
    }
}

fn with_fields(c: Classification, exprs: &[&str]) -> SearchFilter {
    let mut f = clearance(c);
    for e in exprs {
        f.add_field_expr(e).expect("valid field expression");
    }
    f
}

fn ids(hits: &[(Chunk, f32)]) -> BTreeSet<String> {
    hits.iter().map(|(c, _)| c.id.clone()).collect()
}

/// Ids of the fixture chunks `pick` selects.
fn expect(points: &[VectorPoint], pick: impl Fn(&Chunk) -> bool) -> BTreeSet<String> {
    points
        .iter()
        .filter(|p| pick(&p.chunk))
        .map(|p| p.chunk.id.clone())
        .collect()
}

fn point<'a>(points: &'a [VectorPoint], doc_id: &str) -> &'a VectorPoint {
    points
        .iter()
        .find(|p| p.chunk.doc_id == doc_id)
        .expect("fixture doc")
}

async fn search(store: &VectorStore, v: &[f32], f: &SearchFilter, k: usize) -> Vec<(Chunk, f32)> {
    let hits = store.search(v.to_vec(), f, k, EF).await.expect("search");
    assert!(
        hits.len() <= k,
        "{} returned {} hits for k = {k}",
        store.backend_name(),
        hits.len()
    );
    assert!(
        hits.windows(2).all(|w| w[0].1 >= w[1].1),
        "{}: hits are not best first: {:?}",
        store.backend_name(),
        hits.iter().map(|h| h.1).collect::<Vec<_>>()
    );
    hits
}

/// The shared suite. Leaves the store holding the fixture minus `edu/algebra`.
async fn conformance(store: &VectorStore) {
    let name = store.backend_name();
    let points = fixture();
    let n = points.len() as u64;
    let everything = clearance(Classification::Restricted);

    // 1. upsert, count, exact nearest neighbour, payload round trip.
    assert_eq!(
        store.count().await.expect("count"),
        0,
        "{name}: store must start empty"
    );
    store.upsert(points.clone()).await.expect("upsert");
    assert_eq!(
        store.count().await.expect("count"),
        n,
        "{name}: count after upsert"
    );
    for p in &points {
        let hits = search(store, &p.vector, &everything, 3).await;
        let (chunk, score) = hits
            .first()
            .unwrap_or_else(|| panic!("{name}: no hit for {}", p.chunk.id));
        assert_eq!(
            chunk.id, p.chunk.id,
            "{name}: the point itself must come first"
        );
        assert!(
            (score - 1.0).abs() < 1e-3,
            "{name}: self-similarity {score}, expected ~1.0"
        );
        assert_eq!(
            chunk, &p.chunk,
            "{name}: payload must round-trip to an equal chunk"
        );
        assert!(
            hits.len() == 3 && hits[1].1 < 0.5,
            "{name}: synthetic vectors should be far apart"
        );
    }
    // k is honoured.
    assert_eq!(
        search(store, &points[0].vector, &everything, 4).await.len(),
        4,
        "{name}: k = 4"
    );

    // 2. Upserting the same points again replaces them (ids are stable).
    store.upsert(points.clone()).await.expect("second upsert");
    assert_eq!(
        store.count().await.expect("count"),
        n,
        "{name}: re-upsert must not add points"
    );
    let all = search(store, &points[0].vector, &everything, ALL).await;
    assert_eq!(
        ids(&all),
        expect(&points, |_| true),
        "{name}: every point exactly once"
    );
    assert_eq!(all.len() as u64, n, "{name}: no duplicates after re-upsert");

    // 3. Classification: a restricted chunk is the nearest, but a public caller never sees it.
    let secret = point(&points, "heritage/conservation-report");
    let public = search(
        store,
        &secret.vector,
        &clearance(Classification::Public),
        ALL,
    )
    .await;
    assert_eq!(
        ids(&public),
        expect(&points, |c| c.classification == Classification::Public),
        "{name}: public clearance must see exactly the public chunks"
    );
    assert_ne!(public[0].0.id, secret.chunk.id);
    let internal = search(
        store,
        &secret.vector,
        &clearance(Classification::Internal),
        ALL,
    )
    .await;
    assert_eq!(
        ids(&internal),
        expect(&points, |c| c.classification <= Classification::Internal),
        "{name}: internal clearance must see public and internal chunks only"
    );
    let restricted = search(store, &secret.vector, &everything, 1).await;
    assert_eq!(
        restricted[0].0.id, secret.chunk.id,
        "{name}: restricted clearance sees it first"
    );
    let internal_doc = point(&points, "edu/mechanics");
    let hits = search(
        store,
        &internal_doc.vector,
        &clearance(Classification::Public),
        1,
    )
    .await;
    assert_ne!(
        hits[0].0.doc_id, "edu/mechanics",
        "{name}: internal chunk leaked to public"
    );

    // 4. Domain and metadata filters.
    let mut heritage = clearance(Classification::Restricted);
    heritage.domains = vec!["heritage".into()];
    let hits = search(store, &points[0].vector, &heritage, ALL).await;
    assert_eq!(
        ids(&hits),
        expect(&points, |c| c.domain == "heritage"),
        "{name}: domain filter"
    );
    heritage.domains.push("education".into());
    let hits = search(store, &points[0].vector, &heritage, ALL).await;
    assert_eq!(
        ids(&hits),
        expect(&points, |_| true),
        "{name}: domains are any-of"
    );

    let subject = |c: &Chunk, s: &str| c.metadata.get("subject").map(String::as_str) == Some(s);
    let f = with_fields(Classification::Restricted, &["subject=math"]);
    let hits = search(store, &internal_doc.vector, &f, ALL).await;
    assert_eq!(
        ids(&hits),
        expect(&points, |c| subject(c, "math")),
        "{name}: tag filter"
    );
    let f = with_fields(
        Classification::Restricted,
        &["subject=math", "subject=physics"],
    );
    let hits = search(store, &points[0].vector, &f, ALL).await;
    assert_eq!(
        ids(&hits),
        expect(&points, |c| subject(c, "math") || subject(c, "physics")),
        "{name}: values of one key are any-of"
    );
    let f = with_fields(
        Classification::Restricted,
        &["subject=physics", "grade_band=junior"],
    );
    let hits = search(store, &points[0].vector, &f, ALL).await;
    assert_eq!(
        ids(&hits),
        expect(&points, |c| c.doc_id == "edu/mechanics"),
        "{name}: keys are AND-ed"
    );
    // Tags with spaces are matched as whole keywords, not as full text.
    let f = with_fields(Classification::Restricted, &["site=Temple of Heaven"]);
    let hits = search(store, &points[0].vector, &f, ALL).await;
    assert_eq!(
        ids(&hits),
        expect(&points, |c| c.doc_id == "heritage/temple-of-heaven"),
        "{name}: tag with spaces"
    );
    // Tags, domain and clearance combine.
    let mut f = with_fields(Classification::Public, &["subject=physics"]);
    f.domains = vec!["education".into()];
    let hits = search(store, &internal_doc.vector, &f, ALL).await;
    assert_eq!(
        ids(&hits),
        expect(&points, |c| c.doc_id == "edu/relativity"),
        "{name}: combined filter"
    );
    let mut f = with_fields(Classification::Restricted, &["subject=math"]);
    f.domains = vec!["heritage".into()];
    assert!(
        search(store, &points[0].vector, &f, ALL).await.is_empty(),
        "{name}: disjoint filter"
    );

    // 5. Geo radius: the Temple of Heaven is ~4.3 km from the Forbidden City, Badaling ~55 km.
    let near = |radius_m: f64| {
        let mut f = clearance(Classification::Public);
        f.geo = Some(GeoRadius {
            lat: FORBIDDEN_CITY.0,
            lon: FORBIDDEN_CITY.1,
            radius_m,
        });
        f
    };
    let badaling = point(&points, "heritage/badaling");
    let hits = search(store, &badaling.vector, &near(5_000.0), ALL).await;
    assert_eq!(
        ids(&hits),
        expect(&points, |c| {
            c.classification == Classification::Public
                && ["heritage/forbidden-city", "heritage/temple-of-heaven"]
                    .contains(&c.doc_id.as_str())
        }),
        "{name}: 5 km around the Forbidden City"
    );
    let hits = search(store, &badaling.vector, &near(1_000.0), ALL).await;
    assert_eq!(
        ids(&hits),
        expect(&points, |c| c.doc_id == "heritage/forbidden-city"),
        "{name}: 1 km around the Forbidden City"
    );

    // 6. The keyword leg as sparse vectors: BM25 ranking, the same filters, a document's
    // chunks in reading order, and metadata values counted under the caller's clearance.
    assert!(
        store.has_sparse(),
        "{name}: a new store has keyword vectors"
    );
    let kw = |q: &'static str, f: SearchFilter| async move {
        store
            .keyword_search(q, &f, ALL)
            .await
            .expect("keyword search")
    };
    let hits = kw("牛顿第二定律", everything.clone()).await;
    assert_eq!(
        hits.first().map(|h| h.0.doc_id.as_str()),
        Some("edu/mechanics"),
        "{name}: the passage with the words comes first: {hits:?}"
    );
    assert!(
        kw("牛顿第二定律", clearance(Classification::Public))
            .await
            .iter()
            .all(|h| h.0.classification == Classification::Public),
        "{name}: keyword hits respect clearance"
    );
    let hall = kw("Supreme Harmony hall", everything.clone()).await;
    let supreme = points
        .iter()
        .find(|p| p.chunk.text.contains("Supreme Harmony"))
        .map(|p| p.chunk.id.as_str());
    assert_eq!(
        hall.first().map(|h| h.0.id.as_str()),
        supreme,
        "{name}: English words match, case and stem aside"
    );
    assert!(
        hall.windows(2).all(|w| w[0].1 >= w[1].1),
        "{name}: best first"
    );
    assert!(
        kw("量子纠缠 teleportation", everything.clone())
            .await
            .is_empty(),
        "{name}: no shared term, no hit"
    );
    let mut near_palace = clearance(Classification::Public);
    near_palace.geo = Some(GeoRadius {
        lat: FORBIDDEN_CITY.0,
        lon: FORBIDDEN_CITY.1,
        radius_m: 5_000.0,
    });
    let near: BTreeSet<String> = kw("明清", near_palace)
        .await
        .into_iter()
        .map(|h| h.0.doc_id)
        .collect();
    assert_eq!(
        near,
        BTreeSet::from([
            "heritage/forbidden-city".to_string(),
            "heritage/temple-of-heaven".to_string()
        ]),
        "{name}: geo filter on the keyword leg"
    );
    let palace = store
        .chunks_of(
            "heritage/forbidden-city",
            &clearance(Classification::Public),
        )
        .await
        .expect("chunks of");
    assert_eq!(
        palace.iter().map(|c| c.ordinal).collect::<Vec<_>>(),
        vec![0, 1],
        "{name}: a document's chunks in reading order"
    );
    assert!(
        store
            .chunks_of(
                "heritage/conservation-report",
                &clearance(Classification::Public)
            )
            .await
            .expect("chunks of")
            .is_empty(),
        "{name}: a restricted document has no chunks for a public caller"
    );
    let dynasty = |c| async move {
        store
            .tag_values("dynasty", &clearance(c))
            .await
            .expect("tag values")
    };
    assert_eq!(
        dynasty(Classification::Public).await,
        vec![("ming".to_string(), 4)],
        "{name}: values counted over what the caller may read"
    );
    assert_eq!(
        dynasty(Classification::Restricted).await,
        vec![("ming".to_string(), 4), ("qing".to_string(), 1)],
        "{name}: most common first"
    );

    // 7. delete_docs removes all chunks of a document and only those.
    let algebra = expect(&points, |c| c.doc_id == "edu/algebra");
    assert_eq!(algebra.len(), 2);
    store
        .delete_docs(&["edu/algebra".to_string(), "no/such-doc".to_string()])
        .await
        .expect("delete");
    assert_eq!(
        store.count().await.expect("count"),
        n - 2,
        "{name}: count after delete"
    );
    let hits = search(store, &points[0].vector, &everything, ALL).await;
    assert_eq!(
        ids(&hits),
        expect(&points, |c| c.doc_id != "edu/algebra"),
        "{name}: only edu/algebra is gone"
    );
    store
        .delete_docs(&["no/such-doc".to_string()])
        .await
        .expect("delete nothing");
    assert_eq!(
        store.count().await.expect("count"),
        n - 2,
        "{name}: deleting an unknown doc is a no-op"
    );
}

/// Searches whose results must survive a reopen.
async fn snapshot(store: &VectorStore) -> (u64, Vec<Vec<(Chunk, f32)>>) {
    let points = fixture();
    let mut geo = clearance(Classification::Restricted);
    geo.geo = Some(GeoRadius {
        lat: FORBIDDEN_CITY.0,
        lon: FORBIDDEN_CITY.1,
        radius_m: 5_000.0,
    });
    let filters = [
        clearance(Classification::Restricted),
        clearance(Classification::Public),
        with_fields(Classification::Internal, &["grade_band=junior"]),
        geo,
    ];
    let mut out = Vec::new();
    for p in points.iter().step_by(3) {
        for f in &filters {
            out.push(search(store, &p.vector, f, 5).await);
        }
    }
    (store.count().await.expect("count"), out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_conformance() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = VectorStore::Edge(EdgeStore::open(dir.path()).expect("open edge shard"));
    conformance(&store).await;

    // 8. flush, drop, reopen from the same folder: same count, same results.
    store.flush().await.expect("flush");
    let before = snapshot(&store).await;
    assert!(before.1.iter().all(|hits| !hits.is_empty()));
    drop(store);
    let store = VectorStore::Edge(EdgeStore::open(dir.path()).expect("reopen edge shard"));
    let after = snapshot(&store).await;
    assert_eq!(before.0, after.0, "count after reopen");
    assert_eq!(before.1.len(), after.1.len());
    for (b, a) in before.1.iter().zip(&after.1) {
        let b_ids: Vec<_> = b.iter().map(|h| &h.0).collect();
        let a_ids: Vec<_> = a.iter().map(|h| &h.0).collect();
        assert_eq!(b_ids, a_ids, "results after reopen");
        for (x, y) in b.iter().zip(a) {
            assert!((x.1 - y.1).abs() < 1e-6, "score {} became {}", x.1, y.1);
        }
    }
}

/// Points clustered around 40 centres (as real embeddings are), `n` of them, every third
/// `internal`.
fn clustered_points(n: usize) -> Vec<VectorPoint> {
    let base = fixture()[0].chunk.clone();
    let centres: Vec<Vec<f32>> = (0..40).map(|c| unit_vector(50_000 + c)).collect();
    (0..n)
        .map(|i| {
            let mut chunk = base.clone();
            chunk.doc_id = format!("doc-{i}");
            chunk.id = stable_chunk_id(&chunk.doc_id, 0, &chunk.text);
            chunk.classification = if i % 3 == 0 {
                Classification::Internal
            } else {
                Classification::Public
            };
            let noise = unit_vector(1_000_000 + i as u64);
            let mut v: Vec<f32> = centres[i % centres.len()]
                .iter()
                .zip(&noise)
                .map(|(c, e)| 0.8 * c + 0.6 * e)
                .collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|x| *x /= norm);
            VectorPoint { chunk, vector: v }
        })
        .collect()
}

/// The optimised shard (HNSW built) answers as the plain one, which scans every point.
/// Run above Qdrant Edge's indexing threshold (10,000 KB of vectors, about 6,700 of 384
/// floats): below it `optimize` builds no HNSW, and the comparison would prove nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_hnsw_index_answers_as_the_plain_scan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = VectorStore::Edge(EdgeStore::open(dir.path()).expect("open edge shard"));
    let indexed = |s: &VectorStore| match s {
        VectorStore::Edge(e) => e.indexed_vectors().expect("indexed vectors"),
        VectorStore::Server(_) => unreachable!("an edge store"),
    };
    let points = clustered_points(8_000);
    for batch in points.chunks(1_000) {
        store.upsert(batch.to_vec()).await.expect("upsert");
    }
    store.flush().await.expect("flush");
    assert_eq!(indexed(&store), 0, "no HNSW before optimize");

    let queries: Vec<Vec<f32>> = points
        .iter()
        .step_by(267)
        .map(|p| p.vector.clone())
        .collect();
    let filters = [
        clearance(Classification::Restricted),
        clearance(Classification::Public),
    ];
    let mut plain = Vec::new();
    for q in &queries {
        for f in &filters {
            plain.push(ids(&store
                .search(q.clone(), f, 10, 256)
                .await
                .expect("search")));
        }
    }
    store.optimize().await.expect("optimize");
    assert!(
        indexed(&store) >= 4_000,
        "optimize built HNSW over the points ({} indexed)",
        indexed(&store)
    );
    let mut found = 0;
    let mut i = 0;
    for q in &queries {
        for f in &filters {
            let hnsw = ids(&store.search(q.clone(), f, 10, 256).await.expect("search"));
            found += plain[i].intersection(&hnsw).count();
            i += 1;
        }
    }
    let recall = found as f64 / (10 * plain.len()) as f64;
    assert!(
        recall >= 0.95,
        "HNSW recall@10 against the plain scan: {recall:.3}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_conformance() {
    let Some(url) = common::qdrant_url("qdrant server conformance") else {
        return;
    };
    let key = std::env::var("ZHIKU_TEST_QDRANT_API_KEY")
        .ok()
        .filter(|k| !k.is_empty());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let collection = format!("zhiku_conformance_{}_{nanos}", std::process::id());
    let store = ServerStore::connect(&url, &collection, key.clone(), CollectionLayout::default())
        .await
        .expect("connect to qdrant server");
    let store = Arc::new(VectorStore::Server(store));

    // Run the suite in its own task so that the collection is dropped even if a check fails.
    let suite = Arc::clone(&store);
    let (url2, collection2, key2) = (url.clone(), collection.clone(), key.clone());
    let outcome = tokio::spawn(async move {
        conformance(&suite).await;
        // Connecting to the existing collection reuses it (and its points).
        let again = ServerStore::connect(
            &url2,
            &collection2,
            key2.clone(),
            CollectionLayout::default(),
        )
        .await
        .expect("reconnect");
        assert_eq!(
            again.count().await.expect("count"),
            fixture().len() as u64 - 2,
            "reconnect keeps points"
        );
        // A collection with another vector size is refused with a clear message.
        let wrong = format!("{collection2}_wrong_dim");
        let client = qdrant_client::Qdrant::from_url(&url2)
            .api_key(key2.clone())
            .skip_compatibility_check()
            .build()
            .expect("client");
        let mut vectors = qdrant_client::qdrant::VectorsConfigBuilder::default();
        vectors.add_named_vector_params(
            "dense",
            qdrant_client::qdrant::VectorParamsBuilder::new(
                8,
                qdrant_client::qdrant::Distance::Cosine,
            ),
        );
        client
            .create_collection(
                qdrant_client::qdrant::CreateCollectionBuilder::new(&wrong).vectors_config(vectors),
            )
            .await
            .expect("create 8-d collection");
        let refused = ServerStore::connect(&url2, &wrong, key2, CollectionLayout::default()).await;
        let _ = client.delete_collection(&wrong).await;
        match refused {
            Ok(_) => panic!("an 8-d collection must be refused"),
            Err(e) => assert!(e.to_string().contains("size 8"), "unclear error: {e}"),
        }
    })
    .await;
    if let VectorStore::Server(s) = store.as_ref() {
        if let Err(e) = s.drop_collection().await {
            eprintln!("could not drop test collection {collection}: {e}");
        }
    }
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
    println!("qdrant server conformance passed on {url} (collection {collection}, dropped)");
}
