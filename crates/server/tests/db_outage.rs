//! The database going away under a running server, over real HTTP, with a PostgreSQL cluster
//! of the test's own (`zhiku_testkit::PostgresServer`; `make test` provides PostgreSQL, else
//! the test says SKIPPED): requests that need it get a clear JSON 503, `/readyz` says so,
//! searches that need no database go on, and the server recovers by itself when it returns.
//! Clinical requests run all along, and every one answered 200 has its audit record: an
//! access that could not be recorded was refused, not served.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use zhiku_engine::NewKey;
use zhiku_testkit::{postgres_bin, PostgresServer};

use common::{client, config, start, write_corpus};

/// A word for the `n`th question, found in its audit record (letters only: no identifier
/// pattern would redact it).
fn tag(n: usize) -> String {
    let letters = |i: usize| char::from(b'a' + u8::try_from(i % 26).unwrap_or(0));
    format!("zq{}{}{}", letters(n / 676), letters(n / 26), letters(n))
}

fn question(n: usize) -> String {
    format!("metformin starting dose {}", tag(n))
}

async fn clinical_search(url: &str, key: &str, n: usize) -> (u16, Value) {
    let r = client()
        .post(format!("{url}/api/clinical/v1/search"))
        .bearer_auth(key)
        .json(&json!({"query": question(n), "k": 2}))
        .send()
        .await
        .expect("an answer, not a hang");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn ready(url: &str) -> (u16, Value) {
    let r = client().get(format!("{url}/readyz")).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_going_away_gives_clear_503s_and_loses_no_audit_record() {
    let Some(bin) =
        postgres_bin("the_database_going_away_gives_clear_503s_and_loses_no_audit_record")
    else {
        return;
    };
    let pg = PostgresServer::start(&bin).expect("a PostgreSQL cluster");
    let root = tempfile::tempdir().unwrap();
    let corpus = root.path().join("corpus");
    write_corpus(&corpus);
    let mut cfg = config(root.path());
    cfg.database.url = pg.url();
    // So that each record can be matched to its request (the default keeps a salted hash).
    cfg.clinical.audit_question_text = true;
    let running = start(cfg, Some(&corpus)).await;
    let (_, key) = running
        .engine
        .store()
        .create_key(&NewKey {
            name: "his".into(),
            channel: zhiku_core::Channel::Clinical,
            clearance: zhiku_core::Classification::Internal,
            domains: Some(vec!["medicine".into()]),
            ..Default::default()
        })
        .await
        .unwrap();
    let url = running.url.clone();
    assert_eq!(ready(&url).await.0, 200);

    // Clinical questions, one after another, for the whole outage.
    let stop = Arc::new(AtomicBool::new(false));
    let asking = {
        let (url, key, stop) = (url.clone(), key.clone(), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut outcomes = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let (status, body) = clinical_search(&url, &key, n).await;
                outcomes.push((n, status, body));
                n += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            outcomes
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    pg.stop().expect("PostgreSQL stops");

    // Down: a JSON 503 naming the cause; readiness says so; a search needing no database (no
    // medicine, whose every reading is recorded) goes on.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) = clinical_search(&url, &key, 10_000).await;
    assert_eq!(status, 503, "{body}");
    let code = body["error"]["code"].as_str().unwrap_or_default();
    assert!(
        ["database_unavailable", "audit_unavailable"].contains(&code),
        "{body}"
    );
    let (status, body) = ready(&url).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["database"]["ok"], false, "{body}");
    let r = client()
        .post(format!("{url}/v1/search"))
        .json(&json!({"query": "Temple of Heaven", "domains": ["culture"], "k": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "anonymous search needs no database");
    // Medicine is audited at every door: with no audit trail to write to, it is not given.
    let r = client()
        .post(format!("{url}/v1/search"))
        .json(&json!({"query": "metformin", "domains": ["medicine"], "k": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        503,
        "an unrecorded medicine reading does not happen"
    );

    // Back: ready again by itself, and clinical questions are answered.
    pg.resume().expect("PostgreSQL starts again");
    let mut waited = 0;
    while ready(&url).await.0 != 200 {
        waited += 1;
        assert!(waited < 300, "not ready again: {:?}", ready(&url).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut answered_after = 0;
    while answered_after < 3 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        answered_after = {
            let (status, _) = clinical_search(&url, &key, 20_000 + answered_after).await;
            usize::from(status == 200) + answered_after
        };
    }
    stop.store(true, Ordering::Relaxed);
    let outcomes = asking.await.unwrap();

    // Every answer was a 200 or a clear 503; some of each.
    for (n, status, body) in &outcomes {
        assert!(
            *status == 200 || (*status == 503 && body["error"]["code"].is_string()),
            "request {n}: {status} {body}"
        );
    }
    let served: Vec<usize> = outcomes
        .iter()
        .filter(|o| o.1 == 200)
        .map(|o| o.0)
        .collect();
    assert!(
        !served.is_empty() && served.len() < outcomes.len(),
        "{outcomes:?}"
    );

    // Each access served has its record, once; the trail holds together.
    let store = running.engine.store();
    let trail: Vec<String> = store
        .audit_rows(0, i64::MAX)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.record)
        .collect();
    for n in served.iter().copied().chain(20_000..20_003) {
        let query = base64::engine::general_purpose::STANDARD.encode(question(n));
        let records = trail.iter().filter(|r| r.contains(&query)).count();
        assert_eq!(records, 1, "request {n} was served: {records} records");
    }
    assert!(store.verify_audit().await.unwrap().is_ok());
    running.stop().await;
}
