//! A Qdrant server going away and coming back, under a serving Zhiku: a real Qdrant process
//! (`ZHIKU_TEST_QDRANT_BIN`) killed with SIGKILL mid-run and restarted on the same storage.
//! With the keyword leg in Tantivy, searches and answers go on from it with a notice and
//! `/readyz` says the vectors are gone; with everything in Qdrant (a stateless replica), a
//! search is a clear 503. Both recover by themselves when the server returns.

mod common;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use zhiku_core::KeywordBackend;
use zhiku_testkit::{qdrant_bin, QdrantServer};

use common::{client, config, start, write_corpus};

async fn call(method: &str, url: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = match method {
        "POST" => client().post(url),
        _ => client().get(url),
    };
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("the server answers");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn search(url: &str, query: &str) -> (u16, Value) {
    call(
        "POST",
        &format!("{url}/v1/search"),
        Some(json!({"query": query, "k": 5})),
    )
    .await
}

fn notices(v: &Value) -> Vec<String> {
    v["notices"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n.as_str())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn doc_ids(v: &Value) -> Vec<String> {
    v["hits"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|h| h["chunk"]["doc_id"].as_str())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Polls `/readyz` until it reports `ready` (bounded: a hang is a failure, not a wait).
async fn wait_ready(url: &str, ready: bool) -> Value {
    let started = Instant::now();
    loop {
        let (st, body) = call("GET", &format!("{url}/readyz"), None).await;
        if (st == 200) == ready {
            return body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "/readyz never became {ready}: {st} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qdrant_going_away_degrades_visibly_and_recovers() {
    let Some(bin) = qdrant_bin("Qdrant going away under a serving zhiku") else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let mut qdrant = QdrantServer::start(&bin, &root.path().join("qdrant")).expect("qdrant starts");
    let corpus = root.path().join("corpus");
    write_corpus(&corpus);

    // The writer: vectors (and keyword vectors) on the server, the keyword leg in Tantivy.
    let mut cfg = config(root.path());
    cfg.qdrant.url = qdrant.grpc_url();
    cfg.qdrant.collection = "faults".into();
    cfg.retrieval.keyword = KeywordBackend::Tantivy;
    let writer = start(cfg.clone(), Some(&corpus)).await;

    // A replica on an empty data directory of its own, everything in Qdrant.
    let mut replica_cfg = config(&root.path().join("replica"));
    replica_cfg.qdrant = cfg.qdrant.clone();
    replica_cfg.qdrant.replica = true;
    replica_cfg.retrieval.keyword = KeywordBackend::Auto;
    let replica = start(replica_cfg, None).await;

    let query = "勾股定理 直角三角形";
    let (st, normal) = search(&writer.url, query).await;
    assert_eq!(st, 200, "{normal}");
    assert!(notices(&normal).is_empty(), "{normal}");
    let first = doc_ids(&normal);
    assert!(!first.is_empty(), "{normal}");
    let (st, served) = search(&replica.url, query).await;
    assert_eq!(st, 200, "{served}");
    assert_eq!(
        doc_ids(&served).first(),
        first.first(),
        "the replica finds what the writer finds, from the collection alone"
    );
    let refused = replica
        .engine
        .ingest(
            &zhiku_engine::Caller::operator(zhiku_core::Classification::Restricted),
            std::slice::from_ref(&corpus),
            &zhiku_engine::IngestOptions::default(),
        )
        .await
        .expect_err("a replica takes no documents");
    assert!(refused.to_string().contains("replica"), "{refused}");

    qdrant.kill();

    // Writer: keyword-only results with a notice, in the question's language.
    let (st, degraded) = search(&writer.url, query).await;
    assert_eq!(st, 200, "{degraded}");
    assert!(
        notices(&degraded).iter().any(|n| n.contains("仅按关键词")),
        "{degraded}"
    );
    assert_eq!(doc_ids(&degraded).first(), first.first(), "{degraded}");
    for hit in degraded["hits"].as_array().unwrap() {
        assert!(hit["dense"].is_null() && !hit["bm25"].is_null(), "{hit}");
    }
    let (st, english) = search(&writer.url, "Pythagorean theorem right triangle").await;
    assert_eq!(st, 200, "{english}");
    assert!(
        notices(&english)
            .iter()
            .any(|n| n.contains("keyword search alone")),
        "{english}"
    );
    let (st, answer) = call(
        "POST",
        &format!("{}/v1/ask", writer.url),
        Some(json!({"question": "勾股定理的内容是什么？", "domain": "education"})),
    )
    .await;
    assert_eq!(st, 200, "{answer}");
    assert!(
        !answer["citations"].as_array().unwrap().is_empty(),
        "{answer}"
    );
    assert!(
        notices(&answer).iter().any(|n| n.contains("仅按关键词")),
        "an answer says its search went without vectors: {answer}"
    );
    let ready = wait_ready(&writer.url, false).await;
    assert_eq!(ready["indexes"]["ok"], false, "{ready}");

    // Replica: nothing to search with, so a clear 503 with a JSON error.
    let (st, err) = search(&replica.url, query).await;
    assert_eq!(st, 503, "{err}");
    assert!(err["error"]["code"].is_string(), "{err}");
    wait_ready(&replica.url, false).await;

    // Back: both recover without a restart of their own.
    qdrant.restart().expect("qdrant restarts");
    wait_ready(&writer.url, true).await;
    wait_ready(&replica.url, true).await;
    let (st, again) = search(&writer.url, query).await;
    assert_eq!(st, 200, "{again}");
    assert!(notices(&again).is_empty(), "{again}");
    assert_eq!(doc_ids(&again), first, "the same results as before");
    let (st, again) = search(&replica.url, query).await;
    assert_eq!(st, 200, "{again}");
    assert_eq!(doc_ids(&again).first(), first.first(), "{again}");

    replica.stop().await;
    writer.stop().await;
}
