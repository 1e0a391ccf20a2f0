//! The perimeter at its edges (issue 26), over real HTTP against the real engine: identifiers
//! in any form, classifications that fail closed, stored turns that follow their sources'
//! level, accounts and sessions, the anonymous door's bounds, and every refusal a JSON error.
//! Each test names the finding it holds.

mod common;

use std::path::Path;

use common::{assert_error, client, sign_in};
use reqwest::header::{HeaderValue, AUTHORIZATION, COOKIE, ORIGIN};
use serde_json::{json, Value};
use zhiku_core::{Channel, Classification};
use zhiku_engine::{Caller, IngestOptions, NewKey, Role};

/// A request's status and JSON body (`Null` when the body is not JSON).
async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn put(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// Digits of an identifier left anywhere in `text`, in any width, once placeholders are out.
fn identifier_digits_left(text: &str) -> bool {
    let placeholders = regex::Regex::new(r"\[[A-Z_]+_\d+\]").unwrap();
    placeholders
        .replace_all(text, "")
        .chars()
        .filter(|c| c.is_ascii_digit() || ('０'..='９').contains(c))
        .count()
        >= 6
}

/// Findings 1 and 2: identifiers in full width or grouped by dots are replaced in the question
/// that is stored (a culture question: medicine turns keep no text at all), and free text
/// stored beside it (titles, feedback comments) is redacted too.
#[tokio::test]
async fn identifiers_in_any_form_never_reach_the_store() {
    let root = tempfile::tempdir().unwrap();
    let corpus = root.path().join("corpus");
    common::write_corpus(&corpus);
    let running = common::start(common::config(root.path()), Some(&corpus)).await;
    let url = &running.url;
    running
        .engine
        .add_user("wang", Role::Teacher, Some("wang-password"))
        .await
        .unwrap();
    let cookie = sign_in(url, "wang", "wang-password").await;
    let http = client();
    let (st, answer) = send(
        http.post(format!("{url}/v1/ask"))
            .header(COOKIE, &cookie)
            .json(&json!({
                "question": "我的身份证号１１０１０５１９４９１２３１００２Ｘ，电话138.1234.5678，天坛是哪一年建成的？",
                "domain": "culture"
            })),
    )
    .await;
    assert_eq!(st, 200, "{answer}");
    let id = answer["conversation_id"].as_str().unwrap().to_string();

    let (st, _) = send(
        http.patch(format!("{url}/v1/conversations/{id}"))
            .header(COOKIE, &cookie)
            .json(&json!({"title": "王某 11010519491231002X 住院号：ＺＹ２０２４０００１"})),
    )
    .await;
    assert_eq!(st, 204);
    let (st, _) = send(
        http.post(format!("{url}/v1/conversations/{id}/feedback"))
            .header(COOKIE, &cookie)
            .json(&json!({"seq": 1, "rating": 1, "comment": "患者电话１３８１２３４５６７８，邮箱 wang.li@example.org"})),
    )
    .await;
    assert_eq!(st, 200);

    let (st, conversation) = send(
        http.get(format!("{url}/v1/conversations/{id}"))
            .header(COOKIE, &cookie),
    )
    .await;
    assert_eq!(st, 200, "{conversation}");
    let question = conversation["turns"][0]["question"].as_str().unwrap();
    assert!(
        !identifier_digits_left(question),
        "stored question: {question}"
    );
    let title = conversation["title"]
        .as_str()
        .unwrap_or_else(|| panic!("{conversation}"));
    assert!(title.contains("[RESIDENT_ID_1]"), "{title}");
    assert!(!identifier_digits_left(title), "stored title: {title}");
    let feedback = running.engine.store().feedback_since(0).await.unwrap();
    let comment = feedback[0].comment.as_deref().unwrap();
    assert!(
        !identifier_digits_left(comment) && !comment.contains('@'),
        "stored comment: {comment}"
    );
}

/// Finding 3: a classification key in another case, an empty or unknown value, or a broken
/// `_defaults.yaml` is a problem with file and line, and the document is not served to anyone
/// as public; the rest of the folder is ingested.
#[tokio::test]
async fn a_mistyped_classification_fails_closed() {
    let root = tempfile::tempdir().unwrap();
    let corpus = root.path().join("corpus");
    let doc = |id: &str, head: &str| {
        format!("---\nid: {id}\ntitle: 档案 {id}\n{head}\n---\n# 档案\n\n编号 QZX-{id} 的内部档案，只给有权限的人看。\n")
    };
    for (name, head) in [
        ("capital", "Classification: restricted"),
        ("empty", "classification:"),
        ("unknown", "classification: secret"),
        ("fine", "classification: public"),
    ] {
        put(&corpus, &format!("general/{name}.md"), &doc(name, head));
    }
    put(
        &corpus,
        "general/records.jsonl",
        &[
            r#"{"id": "rec-capital", "text": "编号 QZX-rec-capital 的记录", "Classification": "restricted"}"#,
            r#"{"id": "rec-null", "text": "编号 QZX-rec-null 的记录", "classification": null}"#,
            r#"{"id": "rec-list", "text": "编号 QZX-rec-list 的记录", "classification": []}"#,
            r#"{"id": "rec-fine", "text": "编号 QZX-rec-fine 的记录"}"#,
        ]
        .join("\n"),
    );
    put(
        &corpus,
        "general/locked/_defaults.yaml",
        "classification: Restrcted\n",
    );
    put(
        &corpus,
        "general/locked/note.md",
        "# 笔记\n\n编号 QZX-locked 的笔记。\n",
    );
    // A domain whose documents default to internal: one that says nothing takes it.
    put(
        &corpus,
        "education/plan.md",
        "---\nsubject: math\n---\n# 教案\n\n编号 QZX-plan 的教案。\n",
    );
    let mut config = common::config(root.path());
    config
        .ingest
        .default_classification
        .insert("education".into(), Classification::Internal);
    let running = common::start(config, None).await;
    let report = running
        .engine
        .ingest(
            &Caller::operator(Classification::Restricted),
            std::slice::from_ref(&corpus),
            &IngestOptions::default(),
        )
        .await
        .unwrap();
    let problems: Vec<String> = report.issues.iter().map(|i| i.to_string()).collect();
    for (file, line) in [
        ("capital.md", Some(4)),
        ("empty.md", Some(4)),
        ("unknown.md", Some(4)),
        ("records.jsonl", Some(1)),
        ("records.jsonl", Some(2)),
        ("records.jsonl", Some(3)),
        ("_defaults.yaml", Some(1)),
        ("note.md", None),
    ] {
        let wanted = match line {
            Some(n) => format!("{file}:{n}:"),
            None => file.to_string(),
        };
        assert!(
            problems.iter().any(|p| p.contains(&wanted)),
            "no problem reported at {wanted}: {problems:#?}"
        );
    }
    // Anonymous callers find only what said `public` or said nothing at all.
    let http = client();
    let mut found = Vec::new();
    for id in [
        "capital",
        "empty",
        "unknown",
        "fine",
        "rec-capital",
        "rec-null",
        "rec-list",
        "rec-fine",
        "locked",
        "plan",
    ] {
        let (st, hits) = send(
            http.post(format!("{}/v1/search", running.url))
                .json(&json!({"query": format!("QZX-{id}"), "k": 3, "mode": "bm25"})),
        )
        .await;
        assert_eq!(st, 200, "{hits}");
        if common::doc_ids(&hits).iter().any(|d| d.contains(id)) {
            found.push(id);
        }
    }
    assert_eq!(found, ["fine", "rec-fine"], "served to anonymous callers");
    // `zhiku stats`: the two documents that said nothing took their domain's default.
    let stats = running.engine.stats().await.unwrap();
    assert_eq!(stats.documents, 3, "{stats:?}");
    assert_eq!(stats.classification_defaulted, 2, "{stats:?}");
    assert_eq!(stats.classifications.get("internal"), Some(&1), "{stats:?}");
}

/// Finding 4: a stored answer is withheld once a document it cited is re-ingested above the
/// reader's clearance.
#[tokio::test]
async fn stored_turns_follow_their_sources_level() {
    let root = tempfile::tempdir().unwrap();
    let corpus = root.path().join("corpus");
    let note = |level: &str| {
        format!("---\nid: sundial-note\ntitle: 日晷观测记录\nclassification: {level}\n---\n# 日晷观测记录\n\n日晷观测记录：晷针影子在正午最短，记录编号 RGZ-17。\n")
    };
    put(&corpus, "general/sundial.md", &note("public"));
    let running = common::start(common::config(root.path()), Some(&corpus)).await;
    running
        .engine
        .add_user("xiaoming", Role::Student, Some("xiaoming-password"))
        .await
        .unwrap();
    let cookie = sign_in(&running.url, "xiaoming", "xiaoming-password").await;
    let http = client();
    let (st, answer) = send(
        http.post(format!("{}/v1/ask", running.url))
            .header(COOKIE, &cookie)
            .json(&json!({"question": "日晷观测记录的编号是什么？"})),
    )
    .await;
    assert_eq!(st, 200, "{answer}");
    let id = answer["conversation_id"].as_str().unwrap().to_string();
    let read = || async {
        send(
            client()
                .get(format!("{}/v1/conversations/{id}", running.url))
                .header(COOKIE, &cookie),
        )
        .await
        .1
    };
    let before = read().await;
    assert_eq!(before["turns"][0]["withheld"], false, "{before}");
    assert!(before["turns"][0]["answer"]
        .as_str()
        .unwrap()
        .contains("RGZ-17"));

    put(&corpus, "general/sundial.md", &note("restricted"));
    running
        .engine
        .ingest(
            &Caller::operator(Classification::Restricted),
            std::slice::from_ref(&corpus),
            &IngestOptions::default(),
        )
        .await
        .unwrap();
    let after = read().await;
    assert_eq!(after["turns"][0]["withheld"], true, "{after}");
    assert!(!after.to_string().contains("RGZ-17"), "{after}");
}

/// Findings 8 and 9: a new account with a removed account's name starts with nothing, and a
/// cookie-authenticated change from another origin is refused.
#[tokio::test]
async fn accounts_and_sessions_hold() {
    let root = tempfile::tempdir().unwrap();
    let corpus = root.path().join("corpus");
    common::write_corpus(&corpus);
    let running = common::start(common::config(root.path()), Some(&corpus)).await;
    let (url, engine) = (&running.url, &running.engine);
    engine
        .add_user("lin", Role::Student, Some("lin-password"))
        .await
        .unwrap();
    let cookie = sign_in(url, "lin", "lin-password").await;
    let http = client();
    let (st, answer) = send(
        http.post(format!("{url}/v1/ask"))
            .header(COOKIE, &cookie)
            .json(&json!({"question": "What is the Pythagorean theorem?"})),
    )
    .await;
    assert_eq!(st, 200, "{answer}");
    let id = answer["conversation_id"].as_str().unwrap().to_string();

    // Another site's page, or another port of this one, cannot act with the cookie.
    for (header, value) in [
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
        ("origin", "http://evil.example"),
        ("origin", "null"),
    ] {
        let (st, body) = send(
            http.patch(format!("{url}/v1/conversations/{id}"))
                .header(COOKIE, &cookie)
                .header(header, value)
                .json(&json!({"title": "renamed from elsewhere"})),
        )
        .await;
        assert_error(st, &body, 403, "cross_origin");
        let (st, body) = send(
            http.post(format!("{url}/auth/logout"))
                .header(COOKIE, &cookie)
                .header(header, value),
        )
        .await;
        assert_error(st, &body, 403, "cross_origin");
    }
    // The page itself may.
    let (st, _) = send(
        http.patch(format!("{url}/v1/conversations/{id}"))
            .header(COOKIE, &cookie)
            .header("sec-fetch-site", "same-origin")
            .json(&json!({"title": "mine"})),
    )
    .await;
    assert_eq!(st, 204);
    let own = HeaderValue::from_str(url).unwrap();
    let (st, _) = send(
        http.patch(format!("{url}/v1/conversations/{id}"))
            .header(COOKIE, &cookie)
            .header(ORIGIN, own)
            .json(&json!({"title": "still mine"})),
    )
    .await;
    assert_eq!(st, 204);

    // Removing the account takes its conversations: the next "lin" starts with none.
    assert!(engine.store().remove_user("lin").await.unwrap());
    engine
        .add_user("lin", Role::Student, Some("lin-password-2"))
        .await
        .unwrap();
    let cookie = sign_in(url, "lin", "lin-password-2").await;
    let (st, list) = send(
        http.get(format!("{url}/v1/conversations"))
            .header(COOKIE, &cookie),
    )
    .await;
    assert_eq!(st, 200, "{list}");
    assert_eq!(
        list["conversations"].as_array().map(Vec::len),
        Some(0),
        "{list}"
    );
    let (st, body) = send(
        http.get(format!("{url}/v1/conversations/{id}"))
            .header(COOKIE, &cookie),
    )
    .await;
    assert_error(st, &body, 404, "conversation_not_found");
}

/// Findings 10, 13, 15 and 16: a malformed bearer token, a path that is not text, a domain
/// in the wrong case, an overlong upload name, an upload while an ingest runs; and what the
/// counts tell an anonymous caller.
#[tokio::test]
async fn refusals_are_json_and_counts_stay_within_clearance() {
    let root = tempfile::tempdir().unwrap();
    let corpus = root.path().join("corpus");
    common::write_corpus(&corpus);
    let running = common::start(common::config(root.path()), Some(&corpus)).await;
    let (url, engine) = (&running.url, &running.engine);
    let (_, admin) = engine
        .store()
        .create_key(&NewKey {
            name: "ops".into(),
            admin: true,
            ..NewKey::default()
        })
        .await
        .unwrap();
    let http = client();

    // A header that is there and is not a key is a 401, never a guest.
    for value in [
        &b"Bearer zk_\xc3\xa9"[..],
        b"Basic YWxhZGRpbjpvcGVu",
        b"Bearer a b",
    ] {
        let (st, body) = send(
            http.post(format!("{url}/v1/search"))
                .header(AUTHORIZATION, HeaderValue::from_bytes(value).unwrap())
                .json(&json!({"query": "metformin"})),
        )
        .await;
        assert_error(st, &body, 401, "invalid_credentials");
    }

    let (st, body) = send(http.get(format!("{url}/v1/documents/%FF"))).await;
    assert_error(st, &body, 400, "invalid_path");
    let (st, body) = send(
        http.post(format!("{url}/admin/ingest"))
            .bearer_auth(&admin)
            .json(&json!({"paths": [corpus.join("medicine")], "domain": "Medicine"})),
    )
    .await;
    assert_error(st, &body, 400, "unknown_domain");
    let long = format!("{}.txt", "长".repeat(100));
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"text".to_vec()).file_name(long),
    );
    let (st, body) = send(
        http.post(format!("{url}/admin/ingest"))
            .bearer_auth(&admin)
            .multipart(form),
    )
    .await;
    assert_error(st, &body, 400, "invalid_file_name");

    // An upload refused because an ingest runs leaves the stored file as it was.
    let upload = |text: &'static str| {
        reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(text.as_bytes().to_vec()).file_name("keep.txt"),
        )
    };
    let (st, body) = send(
        http.post(format!("{url}/admin/ingest"))
            .bearer_auth(&admin)
            .multipart(upload("first version")),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let operator = Caller::operator(Classification::Restricted);
    let slot = engine
        .begin_ingest(&operator, "a test holding the slot")
        .await
        .unwrap();
    let (st, body) = send(
        http.post(format!("{url}/admin/ingest"))
            .bearer_auth(&admin)
            .multipart(upload("second version")),
    )
    .await;
    assert_error(st, &body, 409, "busy");
    let kept = engine.data_dir().join("uploads/general/keep.txt");
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "first version");
    drop(slot);

    // Counts: the anonymous caller's are the public documents'; /readyz counts nothing.
    let (st, anonymous) = send(http.get(format!("{url}/v1/stats"))).await;
    assert_eq!(st, 200, "{anonymous}");
    let (st, everything) = send(http.get(format!("{url}/v1/stats")).bearer_auth(&admin)).await;
    assert_eq!(st, 200, "{everything}");
    let all = everything["documents"].as_u64().unwrap();
    let public = anonymous["documents"].as_u64().unwrap();
    // The corpus holds one internal and one restricted document.
    assert_eq!(public + 2, all, "anonymous {anonymous}, admin {everything}");
    assert_eq!(anonymous["clearance"], "public");
    let (st, ready) = send(http.get(format!("{url}/readyz"))).await;
    assert_eq!(st, 200, "{ready}");
    assert!(
        !ready
            .to_string()
            .contains(&format!("{}", everything["vector_points"])),
        "{ready}"
    );
}

/// Finding 7: an ingest is recorded when it starts and when it ends, and one that was killed
/// in between is recorded as interrupted when the data directory is next opened.
#[tokio::test]
async fn ingests_leave_a_trace_even_when_killed() {
    let root = tempfile::tempdir().unwrap();
    let corpus = root.path().join("corpus");
    put(&corpus, "general/a.md", "# 甲\n\n甲文档的正文。\n");
    let config = common::config(root.path());
    let engine = zhiku_engine::Engine::open(config.clone()).await.unwrap();
    let operator = Caller::operator(Classification::Restricted);
    engine
        .ingest(
            &operator,
            std::slice::from_ref(&corpus),
            &IngestOptions::default(),
        )
        .await
        .unwrap();
    // A slot taken and never given back is what a process killed mid-ingest leaves.
    let slot = engine
        .begin_ingest(&operator, "corpus (killed)")
        .await
        .unwrap();
    std::mem::forget(slot);
    drop(engine);
    let engine = zhiku_engine::Engine::open(config).await.unwrap();
    let rows = engine.store().audit_rows(0, i64::MAX).await.unwrap();
    let ingests: Vec<String> = rows
        .iter()
        .map(|r| r.record.clone())
        .filter(|r| r.contains("\"ingest\""))
        .collect();
    let said = |what: &str| ingests.iter().filter(|r| r.contains(what)).count();
    assert_eq!(said("started: "), 2, "{ingests:#?}");
    assert_eq!(said("ended: files=1"), 1, "{ingests:#?}");
    assert_eq!(said("interrupted: "), 1, "{ingests:#?}");
    assert!(engine.store().verify_audit().await.unwrap().is_ok());
}

/// Finding 12: callers without credentials are limited per address, and their conversations
/// expire.
#[tokio::test]
async fn the_anonymous_door_is_bounded() {
    let root = tempfile::tempdir().unwrap();
    let corpus = root.path().join("corpus");
    common::write_corpus(&corpus);
    let mut config = common::config(root.path());
    config.server.anonymous_rate = "4/min".into();
    let running = common::start(config, Some(&corpus)).await;
    let http = client();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let (st, body) = send(
            http.post(format!("{}/v1/search", running.url))
                .json(&json!({"query": "Temple of Heaven"})),
        )
        .await;
        if st == 429 {
            assert_error(st, &body, 429, "rate_limited");
        }
        statuses.push(st);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429, 429]);
    // A key is not the anonymous bucket.
    let (_, key) = running
        .engine
        .store()
        .create_key(&NewKey {
            name: "school".into(),
            channel: Channel::Api,
            ..NewKey::default()
        })
        .await
        .unwrap();
    let (st, _) = send(
        http.post(format!("{}/v1/search", running.url))
            .bearer_auth(&key)
            .json(&json!({"query": "Temple of Heaven"})),
    )
    .await;
    assert_eq!(st, 200);

    // Anonymous conversations idle past their time are deleted.
    let store = running.engine.store();
    let old = store.create_conversation("anonymous", "api").await.unwrap();
    let later = old.updated_at_ms + 1;
    assert_eq!(
        store
            .delete_idle_conversations("anonymous", later)
            .await
            .unwrap(),
        1
    );
    assert!(store.conversation(&old.id).await.unwrap().is_none());
}

/// Finding 6: medicine read through any door is on the audit trail, and a clinical key
/// opens only the clinical door unless it was made for another.
#[tokio::test]
async fn medicine_is_audited_at_every_door() {
    let root = tempfile::tempdir().unwrap();
    let corpus = root.path().join("corpus");
    common::write_corpus(&corpus);
    let running = common::start(common::config(root.path()), Some(&corpus)).await;
    let (url, engine) = (&running.url, &running.engine);
    let clinical_key = |doors: Vec<String>| NewKey {
        name: "his".into(),
        channel: Channel::Clinical,
        clearance: Classification::Internal,
        domains: Some(vec!["medicine".into()]),
        doors,
        ..NewKey::default()
    };
    let (_, clinical_only) = engine
        .store()
        .create_key(&clinical_key(vec![]))
        .await
        .unwrap();
    let (_, also_api) = engine
        .store()
        .create_key(&clinical_key(vec!["api".into(), "openai".into()]))
        .await
        .unwrap();
    let http = client();
    let search = json!({"query": "metformin starting dose", "k": 3});
    let (st, body) = send(
        http.post(format!("{url}/v1/search"))
            .bearer_auth(&clinical_only)
            .json(&search),
    )
    .await;
    assert_error(st, &body, 403, "wrong_door");
    let (st, body) = send(
        http.post(format!("{url}/v1/chat/completions"))
            .bearer_auth(&clinical_only)
            .json(&json!({"model": "zhiku-medicine", "messages": [{"role": "user", "content": "metformin dose?"}]})),
    )
    .await;
    assert_error(st, &body, 403, "wrong_door");
    // On the clinical door it works as before.
    let (st, body) = send(
        http.post(format!("{url}/api/clinical/v1/search"))
            .bearer_auth(&clinical_only)
            .json(&search),
    )
    .await;
    assert_eq!(st, 200, "{body}");

    let records = || async {
        engine
            .store()
            .audit_rows(0, i64::MAX)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.record)
            .collect::<Vec<_>>()
    };
    let before = records().await.len();
    let (st, hits) = send(
        http.post(format!("{url}/v1/search"))
            .bearer_auth(&also_api)
            .json(&search),
    )
    .await;
    assert_eq!(st, 200, "{hits}");
    let doc = common::doc_ids(&hits)[0].clone();
    let (st, _) = send(http.post(format!("{url}/v1/search")).json(&search)).await;
    assert_eq!(st, 200);
    let (st, body) = send(http.get(format!("{url}/v1/documents/{doc}"))).await;
    assert_eq!(st, 200, "{body}");
    let (st, body) = send(
        http.post(format!("{url}/v1/chat/completions"))
            .bearer_auth(&also_api)
            .json(&json!({"model": "zhiku-medicine", "messages": [{"role": "user", "content": "What is the starting dose of metformin?"}]})),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    // Culture read by a guest is not medicine: no record.
    let (st, _) = send(
        http.post(format!("{url}/v1/search"))
            .json(&json!({"query": "Temple of Heaven", "domains": ["culture"]})),
    )
    .await;
    assert_eq!(st, 200);

    let all = records().await;
    let new: Vec<&String> = all[before..].iter().collect();
    let with = |subtype: &str, who: &str, doc: &str| {
        new.iter()
            .filter(|r| r.contains(&format!("\"{subtype}\"")) && r.contains(who) && r.contains(doc))
            .count()
    };
    assert_eq!(with("api-search", "key:", &doc), 1, "{new:#?}");
    assert_eq!(with("api-search", "anonymous", &doc), 1, "{new:#?}");
    assert_eq!(with("api-document", "anonymous", &doc), 1, "{new:#?}");
    assert_eq!(with("api-ask", "key:", ""), 1, "{new:#?}");
    assert_eq!(
        new.len(),
        4,
        "one record per response that carried medicine: {new:#?}"
    );
    // Nothing of the questions in clear: the trail keeps their hash.
    assert!(
        !new.iter().any(|r| r.contains("metformin starting dose")),
        "{new:#?}"
    );
    assert!(engine.store().verify_audit().await.unwrap().is_ok());
}

/// Finding 14: a client that trickles its headers or holds a connection idle loses it after
/// `server.header_timeout_ms`, and connections beyond `server.max_connections` are closed.
#[tokio::test]
async fn slow_and_surplus_connections_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    let root = tempfile::tempdir().unwrap();
    let mut config = common::config(root.path());
    config.server.header_timeout_ms = 1_000;
    config.server.max_connections = 2;
    let running = common::start(config, None).await;
    let addr = running.url.trim_start_matches("http://").to_string();
    // Whether the server closes the connection (rather than the generous bound running out).
    async fn closed_by_server(stream: &mut TcpStream) -> bool {
        let mut buf = [0u8; 1024];
        loop {
            match tokio::time::timeout(std::time::Duration::from_secs(30), stream.read(&mut buf))
                .await
            {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }

    // Headers that never end.
    let mut trickle = TcpStream::connect(&addr).await.unwrap();
    trickle
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    assert!(
        closed_by_server(&mut trickle).await,
        "a trickled request kept its connection"
    );
    // A keep-alive connection left idle after its response.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(
        closed_by_server(&mut idle).await,
        "an idle connection stayed open"
    );

    // Two connections held open; a third is closed at once; once one goes, a new one is served.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = TcpStream::connect(&addr).await.unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 256];
        let n = c.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        held.push(c);
    }
    let mut surplus = TcpStream::connect(&addr).await.unwrap();
    let _ = surplus
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let mut buf = [0u8; 256];
    let n = surplus.read(&mut buf).await.unwrap_or(0);
    assert!(
        !buf[..n].starts_with(b"HTTP/1.1 200"),
        "a connection beyond max_connections was served"
    );
    drop(held);
    let mut ok = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if let Ok(r) = client()
            .get(format!("{}/healthz", running.url))
            .send()
            .await
        {
            ok = r.status() == 200;
            break;
        }
    }
    assert!(ok, "a new connection is served once others have closed");
}
