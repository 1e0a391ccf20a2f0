//! One matrix for the promise that no text above a caller's clearance leaves the server: a
//! document at every classification in every domain, asked for by callers of every clearance
//! through every door that serves text — the JSON API (search, ask whole and streamed, a
//! document), the OpenAI-compatible endpoint (whole and streamed), the web chat (a guest, a
//! signed-in student and teacher), the clinical API (search, ask), the CDS Hooks service (an
//! EMR client at each clearance, its patient's condition naming the document) and the
//! mini-program — with
//! a model that repeats everything it is shown. A marker above the caller's clearance must be
//! in no response and in no request the model received; a marker at or below it, in a domain
//! the door serves, must come back, so the matrix cannot pass by answering nothing.
//!
//! The same run's logs, at the level `zhiku serve` logs by default, are then searched for
//! every question, key, session cookie and mini-program token used: none may appear. (The
//! terminal door is in `crates/cli/tests/cli.rs`.)

mod common;

use std::sync::Arc;

use serde_json::{json, Value};
use zhiku_engine::{Classification, NewKey, Role};
use zhiku_testkit::clearance::{doc_id, handle, marker, write_corpus, DOMAINS};
use zhiku_testkit::{FakeLlm, FakeWeChat, LogBuffer, Reply};

use common::{answer_with, client, config, start};

const SECRET_VAR: &str = "ZHIKU_TEST_MATRIX_MP_SECRET";

/// Who asks, through which door, and what it may see.
struct Asker {
    door: &'static str,
    clearance: Classification,
    /// The domains this door answers about.
    domains: &'static [&'static str],
    credential: Credential,
}

#[derive(Clone)]
enum Credential {
    Anonymous,
    Key(String),
    Cookie(String),
    Tourist(String),
    /// A CDS client: its issuer and its private key (PEM), which signs a fresh token for
    /// each call (a token's `jti` is good once).
    Cds {
        iss: String,
        private_pem: String,
    },
}

/// A CDS client's signed token for one call to `audience`.
fn cds_token(iss: &str, private_pem: &str, audience: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = json!({"iss": iss, "aud": audience, "exp": now + 300, "iat": now,
                        "jti": uuid::Uuid::new_v4().to_string()});
    let key = jsonwebtoken::EncodingKey::from_ec_pem(private_pem.as_bytes()).unwrap();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES384),
        &claims,
        &key,
    )
    .unwrap()
}

impl Credential {
    fn apply(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Self::Anonymous => req,
            Self::Key(k) | Self::Tourist(k) => req.bearer_auth(k),
            Self::Cookie(c) => req.header(reqwest::header::COOKIE, c),
            Self::Cds { .. } => req,
        }
    }

    fn secret(&self) -> Option<&str> {
        match self {
            Self::Anonymous | Self::Cds { .. } => None,
            Self::Key(s) | Self::Cookie(s) | Self::Tourist(s) => Some(s),
        }
    }
}

/// One request's full response text (every byte of a stream), after a 200.
async fn send(req: reqwest::RequestBuilder, what: &str) -> String {
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    assert_eq!(status, 200, "{what}: {body}");
    body
}

/// Every request a door serves text through, for a question about `code` in `domain`.
fn requests(
    url: &str,
    asker: &Asker,
    domain: &str,
    code: &str,
) -> Vec<(String, reqwest::RequestBuilder, String)> {
    let http = client();
    let question = format!("核对代号 {code} 的记录说了什么？");
    let with = |path: &str, body: Value| {
        asker
            .credential
            .apply(http.post(format!("{url}{path}")))
            .json(&body)
    };
    let mut out = Vec::new();
    let mut add = |name: &str, req: reqwest::RequestBuilder, q: &str| {
        out.push((name.to_string(), req, q.to_string()))
    };
    match asker.door {
        "api" | "web" => {
            add(
                "search",
                with("/v1/search", json!({"query": code, "k": 3})),
                code,
            );
            for stream in [false, true] {
                add(
                    if stream { "ask streamed" } else { "ask" },
                    with(
                        "/v1/ask",
                        json!({"question": question, "domain": domain, "remember": false, "stream": stream}),
                    ),
                    &question,
                );
            }
        }
        "openai" => {
            for stream in [false, true] {
                add(
                    if stream {
                        "chat completion streamed"
                    } else {
                        "chat completion"
                    },
                    with(
                        "/v1/chat/completions",
                        json!({"model": format!("zhiku-{domain}"), "stream": stream,
                               "messages": [{"role": "user", "content": question}]}),
                    ),
                    &question,
                );
            }
        }
        "clinical" => {
            add(
                "clinical search",
                with("/api/clinical/v1/search", json!({"query": code, "k": 3})),
                code,
            );
            add(
                "clinical ask",
                with("/api/clinical/v1/ask", json!({"question": question})),
                &question,
            );
        }
        "mini-program" => add(
            "mini-program ask",
            with("/api/mp/v1/ask", json!({"question": question})),
            &question,
        ),
        "cds" => {
            let Credential::Cds { iss, private_pem } = &asker.credential else {
                panic!("the CDS door needs a CDS client");
            };
            let service = format!("{url}/cds-services/zhiku-patient-view");
            // The patient's condition names the document: the card search is for it.
            let condition = json!({"resource": {
                "resourceType": "Condition", "id": "c1",
                "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
                "code": {"text": code, "coding": [{"system": "urn:zhiku:test", "code": code, "display": code}]},
                "subject": {"reference": "Patient/1"},
            }});
            let body = json!({
                "hookInstance": uuid::Uuid::new_v4().to_string(),
                "hook": "patient-view",
                "context": {"userId": "Practitioner/example", "patientId": "1"},
                "prefetch": {"conditions": {"resourceType": "Bundle", "type": "searchset", "entry": [condition]}},
            });
            add(
                "cds patient-view",
                http.post(&service)
                    .bearer_auth(cds_token(iss, private_pem, &service))
                    .json(&body),
                code,
            );
        }
        other => panic!("no door {other}"),
    }
    out
}

#[tokio::test]
async fn no_door_returns_quotes_or_sends_the_model_anything_above_the_callers_clearance() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    // The level and filters `zhiku serve` logs with by default.
    let _ = tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "info,ort=warn,tantivy=warn,qdrant_edge=error",
            ))
            .with_writer(move || writer.clone())
            .finish(),
    );
    // SAFETY: set once, before the engine reads it, in a test binary of its own.
    unsafe { std::env::set_var(SECRET_VAR, "matrix-app-secret") };
    let wechat = FakeWeChat::start("wx-matrix", "matrix-app-secret").await;
    let llm = FakeLlm::start(Vec::new()).await;
    llm.otherwise(Reply::Echo);

    let root = tempfile::tempdir().unwrap();
    let corpus = root.path().join("corpus");
    write_corpus(&corpus);
    let mut cfg = config(root.path());
    answer_with(&mut cfg, &llm);
    cfg.mini_program.appid = "wx-matrix".into();
    cfg.mini_program.secret_env = SECRET_VAR.into();
    cfg.mini_program.api_base = wechat.base_url();
    // An EMR at each clearance, calling the CDS Hooks service with its own signing key.
    let mut cds_clients = Vec::new();
    for level in Classification::ALL {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let public = root.path().join(format!("emr-{}.pem", level.as_str()));
        std::fs::write(&public, key.public_key_pem()).unwrap();
        let iss = format!("https://emr-{}.test", level.as_str());
        cfg.clinical.cds_clients.push(zhiku_core::CdsClient {
            iss: iss.clone(),
            public_key: public.display().to_string(),
            clearance: level,
            ..Default::default()
        });
        cds_clients.push((level, iss, key.serialize_pem()));
    }
    let running = start(cfg, Some(&corpus)).await;
    let url = running.url.clone();
    let engine = Arc::clone(&running.engine);

    let mut askers = vec![Asker {
        door: "web",
        clearance: Classification::Public,
        domains: &DOMAINS,
        credential: Credential::Anonymous,
    }];
    for level in Classification::ALL {
        for (door, channel, domains) in [
            ("api", "api", &DOMAINS[..]),
            ("openai", "api", &DOMAINS[..]),
            ("clinical", "clinical", &["medicine"][..]),
        ] {
            let (_, key) = engine
                .store()
                .create_key(&NewKey {
                    name: format!("{door}-{}", level.as_str()),
                    channel: channel.parse().expect("a channel name"),
                    clearance: level,
                    domains: (door == "clinical").then(|| vec!["medicine".to_string()]),
                    admin: false,
                    ..Default::default()
                })
                .await
                .unwrap();
            askers.push(Asker {
                door,
                clearance: level,
                domains,
                credential: Credential::Key(key),
            });
        }
    }
    for (name, role) in [("stu", Role::Student), ("tea", Role::Teacher)] {
        let password = format!("{name}-matrix-password");
        engine.add_user(name, role, Some(&password)).await.unwrap();
        let cookie = common::sign_in(&url, name, &password).await;
        askers.push(Asker {
            door: "web",
            clearance: role.clearance(),
            domains: &DOMAINS,
            credential: Credential::Cookie(cookie),
        });
    }
    for (level, iss, private_pem) in cds_clients {
        askers.push(Asker {
            door: "cds",
            clearance: level,
            domains: &["medicine"],
            credential: Credential::Cds { iss, private_pem },
        });
    }
    let r = client()
        .post(format!("{url}/api/mp/v1/login"))
        .json(&json!({"code": "ok-matrix-tourist"}))
        .send()
        .await
        .unwrap();
    let login: Value = r.json().await.unwrap();
    askers.push(Asker {
        door: "mini-program",
        clearance: Classification::Public,
        domains: &["culture"],
        credential: Credential::Tourist(login["token"].as_str().unwrap().to_string()),
    });

    let mut questions = Vec::new();
    let mut checked = 0;
    for asker in &askers {
        for (d, domain) in DOMAINS.iter().enumerate() {
            for level in Classification::ALL {
                let code = handle(d, level);
                let secret = marker(d, level);
                let readable = level <= asker.clearance && asker.domains.contains(domain);
                for (what, req, question) in requests(&url, asker, domain, &code) {
                    let what = format!(
                        "{} ({}) {what} for {domain}/{}",
                        asker.door,
                        asker.clearance.as_str(),
                        level.as_str()
                    );
                    let seen = llm.received().len();
                    let body = send(req, &what).await;
                    let to_model: String = llm.received()[seen..]
                        .iter()
                        .flat_map(|r| r.messages())
                        .map(|(_, text)| text)
                        .collect();
                    for (dd, other_domain) in DOMAINS.iter().enumerate() {
                        for other in Classification::ALL {
                            if other <= asker.clearance {
                                continue;
                            }
                            let (m, id) = (marker(dd, other), doc_id(other_domain, other));
                            assert!(!body.contains(&m), "{what}: {m} leaked: {body}");
                            assert!(!body.contains(&id), "{what}: {id} cited: {body}");
                            assert!(!to_model.contains(&m), "{what}: {m} sent to the model");
                        }
                    }
                    // Its text or, where the answer was cut short, a citation of it.
                    if readable {
                        let id = doc_id(domain, level);
                        assert!(
                            body.contains(&secret) || body.contains(&id),
                            "{what}: neither {secret} nor {id}: {body}"
                        );
                    }
                    questions.push(question);
                    checked += 1;
                }
                // The document itself, by id.
                if matches!(asker.door, "api" | "web") {
                    let id = doc_id(domain, level);
                    let r = asker
                        .credential
                        .apply(client().get(format!("{url}/v1/documents/{id}")))
                        .send()
                        .await
                        .unwrap();
                    let status = r.status().as_u16();
                    let body = r.text().await.unwrap();
                    if level <= asker.clearance {
                        assert_eq!(status, 200, "{id}: {body}");
                        assert!(body.contains(&secret), "{id}: {body}");
                    } else {
                        assert_eq!(status, 404, "{id} above clearance: {body}");
                        assert!(!body.contains(&secret), "{id}: {body}");
                    }
                    checked += 1;
                }
            }
        }
    }
    // 16 callers: anonymous web 3 + api 3×3 + openai 3×2 + clinical 3×2 + web users 2×3 +
    // CDS clients 3×1 + mini-program 1, for each of 9 documents, plus the documents by id.
    assert!(checked > 300, "{checked} checks");

    // The run's logs: the requests were logged, but no question, key, cookie or token.
    let text = logs.text();
    assert!(
        text.contains("/v1/ask") && text.contains("/api/clinical/v1/ask"),
        "the logs were captured: {text}"
    );
    for q in &questions {
        assert!(!text.contains(q.as_str()), "a question is in the logs: {q}");
    }
    for a in &askers {
        if let Some(s) = a.credential.secret() {
            let value = s.split_once('=').map_or(s, |(_, v)| v);
            assert!(!text.contains(value), "a credential is in the logs");
        }
    }
    assert!(
        !text.contains("ok-matrix-tourist"),
        "a login code is in the logs"
    );
    assert!(!text.contains("matrix-app-secret"));
    running.stop().await;
}
