//! Failures under concurrent requests, over real HTTP: a model answering 500, 429, stalling
//! or dropping its stream while many questions are in flight at once (every one answered, in
//! time, with a notice; the server well afterwards), and rates that hold when the requests
//! arrive together (a key's rate, sign-in attempts per address).

mod common;

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{json, Value};
use zhiku_engine::{NewKey, Role};
use zhiku_testkit::{FakeLlm, Reply};

use common::{answer_with, config, start, write_corpus};

/// In flight at once, in each round.
const AT_ONCE: usize = 12;
const QUESTION: &str = "What is the starting dose of metformin?";
const PARTIAL: &str = "Start metformin at 500 mg once daily [1].";

/// Longer than any answer may take here (the model's timeouts below are about a second): a
/// request still open after it has hung.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// How one answer came out.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
enum Outcome {
    /// The model failed before any text: an extractive answer with citations and a notice.
    Fallback,
    /// The model's text up to where it was cut, then quotes, with a notice.
    CutShort,
    /// The model's whole answer.
    Answered,
}

/// Asks once (streamed or whole) and classifies the answer; panics on anything else.
async fn ask(url: &str, key: &str, stream: bool) -> Outcome {
    let r = client()
        .post(format!("{url}/v1/ask"))
        .bearer_auth(key)
        .json(&json!({"question": QUESTION, "domain": "medicine", "remember": false, "stream": stream}))
        .send()
        .await
        .expect("answered before the client's timeout: nothing hangs");
    assert_eq!(r.status(), 200);
    let body = r.text().await.expect("the whole body");
    let (mode, text, notices, citations) = if stream {
        let events: Vec<&str> = body
            .lines()
            .filter_map(|l| l.strip_prefix("event: "))
            .collect();
        assert_eq!(events.last(), Some(&"done"), "{body}");
        let done: Value = body
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("data: "))
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_else(|| panic!("a done event with the answer: {body}"));
        (
            done["mode"].as_str().unwrap_or_default().to_string(),
            done["text"].as_str().unwrap_or_default().to_string(),
            done["notices"].as_array().map_or(0, Vec::len),
            done["citations"].as_array().map_or(0, Vec::len),
        )
    } else {
        let a: Value = serde_json::from_str(&body).unwrap();
        (
            a["mode"].as_str().unwrap_or_default().to_string(),
            a["text"].as_str().unwrap_or_default().to_string(),
            a["notices"].as_array().map_or(0, Vec::len),
            a["citations"].as_array().map_or(0, Vec::len),
        )
    };
    assert!(citations > 0, "every answer cites: {body}");
    // What the model had said stays (what was shown is never taken back), the rest is quoted.
    if text.starts_with(PARTIAL) && notices > 0 {
        return Outcome::CutShort;
    }
    match mode.as_str() {
        "extractive" => {
            assert!(notices > 0, "a fallback says so: {body}");
            Outcome::Fallback
        }
        "model" => Outcome::Answered,
        other => panic!("mode {other}: {body}"),
    }
}

async fn metric(url: &str, name: &str) -> u64 {
    let text = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_model_under_concurrent_questions_answers_every_one_in_time() {
    let llm = FakeLlm::start(Vec::new()).await;
    let root = tempfile::tempdir().unwrap();
    let corpus = root.path().join("corpus");
    write_corpus(&corpus);
    let mut cfg = config(root.path());
    answer_with(&mut cfg, &llm);
    cfg.llm.first_token_timeout_ms = 1_000;
    cfg.llm.total_timeout_ms = 5_000;
    cfg.server.max_concurrent_answers = AT_ONCE;
    let running = start(cfg, Some(&corpus)).await;
    let (_, key) = running
        .engine
        .store()
        .create_key(&NewKey {
            name: "load".into(),
            channel: zhiku_core::Channel::Api,
            clearance: zhiku_core::Classification::Public,
            ..Default::default()
        })
        .await
        .unwrap();
    let url = running.url.as_str();

    let failures = [
        Reply::Status {
            code: 500,
            retry_after: None,
        },
        Reply::Status {
            code: 429,
            retry_after: Some("1".into()),
        },
        // Silent past the first-token timeout, and past the client's patience.
        Reply::Stall(Duration::from_secs(90)),
        Reply::DropAfter(vec![PARTIAL.into()]),
        // Goes silent mid-answer.
        Reply::StallAfter(vec![PARTIAL.into()], Duration::from_secs(90)),
    ];
    let mut sent = 0;
    // One kind of failure at a time, then all of them mixed, half the questions streamed.
    let mut rounds: Vec<Vec<Reply>> = failures.iter().map(|f| vec![f.clone(); AT_ONCE]).collect();
    rounds.push(
        (0..AT_ONCE)
            .map(|i| failures[i % failures.len()].clone())
            .collect(),
    );
    for round in rounds {
        let fallbacks = round
            .iter()
            .filter(|r| matches!(r, Reply::Status { .. } | Reply::Stall(_)))
            .count();
        let cut = round.len() - fallbacks;
        for r in &round {
            llm.push(r.clone());
        }
        let outcomes = join_all((0..round.len()).map(|i| ask(url, &key, i % 2 == 1))).await;
        let got = |o| outcomes.iter().filter(|x| **x == o).count();
        assert_eq!(
            (got(Outcome::Fallback), got(Outcome::CutShort)),
            (fallbacks, cut),
            "{round:?}: {outcomes:?}"
        );
        sent += round.len();
        // Each question went to the model once: no retries were allowed, none were made.
        assert_eq!(llm.received().len(), sent);
    }
    // Every one of them was an answer the model did not finish, and is counted so.
    assert_eq!(
        metric(url, "zhiku_model_fallbacks_total").await,
        sent as u64
    );

    // The model is well again: so is every answer.
    for _ in 0..AT_ONCE {
        llm.push(Reply::Text(PARTIAL.into()));
    }
    let outcomes = join_all((0..AT_ONCE).map(|i| ask(url, &key, i % 2 == 0))).await;
    assert!(
        outcomes.iter().all(|o| *o == Outcome::Answered),
        "{outcomes:?}"
    );
    let ready = reqwest::get(format!("{url}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rates_hold_when_the_requests_arrive_together() {
    let root = tempfile::tempdir().unwrap();
    let corpus = root.path().join("corpus");
    write_corpus(&corpus);
    let mut cfg = config(root.path());
    cfg.web.login_rate = "5/hour".into();
    let running = start(cfg, Some(&corpus)).await;
    let url = running.url.clone();
    let store = running.engine.store();
    let limited = |name: &str| NewKey {
        name: name.into(),
        channel: zhiku_core::Channel::Api,
        clearance: zhiku_core::Classification::Public,
        // 5 an hour: none comes back during the test.
        rate: Some((5, 3_600_000)),
        ..Default::default()
    };
    let (_, first) = store.create_key(&limited("first")).await.unwrap();
    let (_, second) = store.create_key(&limited("second")).await.unwrap();

    // 40 at once from two keys: each key gets exactly its 5, the rest a 429 saying when.
    let search = |key: String| {
        let url = url.clone();
        async move {
            let r = client()
                .post(format!("{url}/v1/search"))
                .bearer_auth(&key)
                .json(&json!({"query": "metformin", "k": 1}))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let retry = r.headers().get("retry-after").is_some();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (key, status, retry, body)
        }
    };
    let results =
        join_all((0..40).map(|i| search(if i % 2 == 0 { &first } else { &second }.clone()))).await;
    for key in [&first, &second] {
        let mine: Vec<_> = results.iter().filter(|r| &r.0 == key).collect();
        let ok = mine.iter().filter(|r| r.1 == 200).count();
        let limited: Vec<_> = mine.iter().filter(|r| r.1 == 429).collect();
        assert_eq!((ok, limited.len()), (5, 15), "{mine:?}");
        assert!(limited
            .iter()
            .all(|r| r.2 && r.3["error"]["code"] == "rate_limited"));
    }

    // Sign-in attempts from one address: 5, however many arrive together.
    running
        .engine
        .add_user("dora", Role::Student, Some("dora-password"))
        .await
        .unwrap();
    let attempts = join_all((0..12).map(|_| {
        let url = url.clone();
        async move {
            client()
                .post(format!("{url}/auth/login"))
                .json(&json!({"name": "dora", "password": "not-her-password"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    }))
    .await;
    let count = |s| attempts.iter().filter(|a| **a == s).count();
    assert_eq!((count(401), count(429)), (5, 7), "{attempts:?}");
    running.stop().await;
}
