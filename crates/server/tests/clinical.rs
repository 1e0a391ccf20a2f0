//! The clinicians' API over real HTTP, on the sample guidelines: keys (scope, revocation,
//! expiry, narrowing never widening), per-key rate limits, sources that carry the guideline's
//! standing and the exact cited bytes, patient identifiers that never reach the model or the
//! audit trail, and the audit trail itself as FHIR (validated against HL7's R4 JSON schema).

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{json, Value};
use zhiku_engine::{Engine, NewKey};
use zhiku_testkit::{FakeLlm, Reply};

use common::{assert_error, client, config, for_the_binary, start};

struct Clinical {
    url: String,
    engine: Arc<Engine>,
    corpus: PathBuf,
    llm: Arc<FakeLlm>,
    /// medicine, internal
    his: String,
    /// medicine, public
    public_his: String,
    /// education only
    school: String,
    /// every domain, public, admin
    auditor: String,
}

const GUIDELINES: &[&str] = &[
    "medicine/endocrinology/type2-diabetes-en.md",
    "medicine/endocrinology/type2-diabetes-zh.md",
    "medicine/nephrology/chronic-kidney-disease-en.md",
    "medicine/cardiology/chest-pain-centre-targets-internal-en.md",
    "education/math/probability-handout.md",
];

fn corpora() -> PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../corpora")
}

async fn key(engine: &Engine, name: &str, clearance: &str, domains: Option<&[&str]>) -> String {
    new_key(
        engine,
        NewKey {
            name: name.into(),
            channel: zhiku_core::Channel::Clinical,
            clearance: clearance.parse().expect("a level name"),
            domains: domains.map(|d| d.iter().map(|s| s.to_string()).collect()),
            ..NewKey::default()
        },
    )
    .await
}

async fn new_key(engine: &Engine, new: NewKey) -> String {
    engine.store().create_key(&new).await.unwrap().1
}

/// One server for the file, on its own thread (each test has its own runtime).
fn clinical() -> &'static Clinical {
    static SHARED: OnceLock<Clinical> = OnceLock::new();
    SHARED.get_or_init(|| {
        for_the_binary(|_| async move {
            let root = tempfile::tempdir().unwrap().keep();
            let corpus = root.join("corpus");
            // Each file with the `_defaults.yaml` of every folder above it.
            for rel in GUIDELINES {
                let mut rel = Path::new(rel).to_path_buf();
                let mut file = rel.clone();
                loop {
                    let to = corpus.join(&file);
                    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                    if corpora().join(&file).exists() {
                        std::fs::copy(corpora().join(&file), &to).unwrap();
                    }
                    if !rel.pop() || rel.as_os_str().is_empty() {
                        break;
                    }
                    file = rel.join("_defaults.yaml");
                }
            }
            let llm = Arc::new(FakeLlm::start(Vec::new()).await);
            let mut cfg = config(&root);
            cfg.llm.base_url = llm.base_url();
            cfg.llm.model = "fake".into();
            cfg.clinical.instance = "zhiku-test".into();
            let running = start(cfg, Some(&corpus)).await;
            let engine = Arc::clone(&running.engine);
            let shared = Clinical {
                url: running.url.clone(),
                his: key(&engine, "his-prod", "internal", Some(&["medicine"])).await,
                public_his: key(&engine, "his-public", "public", Some(&["medicine"])).await,
                school: key(&engine, "school", "internal", Some(&["education"])).await,
                auditor: new_key(
                    &engine,
                    NewKey {
                        name: "auditor".into(),
                        channel: zhiku_core::Channel::Api,
                        clearance: zhiku_core::Classification::Public,
                        admin: true,
                        ..NewKey::default()
                    },
                )
                .await,
                engine,
                corpus,
                llm,
            };
            (shared, running)
        })
    })
}

async fn post(path: &str, key: Option<&str>, body: Value) -> (u16, Value) {
    let mut req = client()
        .post(format!("{}{path}", clinical().url))
        .json(&body);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn search(key: Option<&str>, body: Value) -> (u16, Value) {
    post("/api/clinical/v1/search", key, body).await
}

fn results(body: &Value) -> Vec<Value> {
    body["results"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn keys_are_scoped_narrowed_revoked_and_expire() {
    let c = clinical();
    let q = json!({"query": "chest pain ECG within 10 minutes door-to-wire time", "k": 10});
    let (st, body) = search(Some(&c.his), q.clone()).await;
    assert_eq!(st, 200, "{body}");
    let docs: Vec<String> = results(&body)
        .iter()
        .map(|r| r["source"]["doc_id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        docs.contains(&"med-cpc-targets-internal-en".into()),
        "{docs:?}"
    );
    // The same question with a public key: the internal guideline is not there, and a body
    // cannot ask for more.
    let (st, body) = search(Some(&c.public_his), q.clone()).await;
    assert_eq!(st, 200, "{body}");
    assert!(results(&body)
        .iter()
        .all(|r| r["source"]["doc_id"] != "med-cpc-targets-internal-en"));
    let (st, body) = search(
        Some(&c.public_his),
        json!({"query": "ECG", "clearance": "internal"}),
    )
    .await;
    assert_error(st, &body, 422, "invalid_body");
    // No key, a key for another domain, a web user: refused.
    let (st, body) = search(None, q.clone()).await;
    assert_error(st, &body, 401, "api_key_required");
    let (st, body) = search(Some(&c.school), q.clone()).await;
    assert_error(st, &body, 403, "forbidden_domain");
    let (st, body) = search(Some("zk_not-a-key"), q.clone()).await;
    assert_error(st, &body, 401, "invalid_credentials");
    // Revoked: refused at once.
    let doomed = key(&c.engine, "doomed", "internal", Some(&["medicine"])).await;
    assert_eq!(search(Some(&doomed), q.clone()).await.0, 200);
    let id = c
        .engine
        .store()
        .keys()
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.name == "doomed")
        .unwrap()
        .id;
    assert!(c.engine.store().revoke_key(&id).await.unwrap());
    let (st, body) = search(Some(&doomed), q.clone()).await;
    assert_error(st, &body, 401, "invalid_credentials");
    // Expired: refused, and told so.
    let now = jiff_now_ms();
    let expiring = new_key(
        &c.engine,
        NewKey {
            name: "expiring".into(),
            channel: zhiku_core::Channel::Clinical,
            clearance: zhiku_core::Classification::Internal,
            domains: Some(vec!["medicine".into()]),
            expires_at_ms: Some(now + 1_500),
            ..NewKey::default()
        },
    )
    .await;
    assert_eq!(search(Some(&expiring), q.clone()).await.0, 200);
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    let (st, body) = search(Some(&expiring), q).await;
    assert_error(st, &body, 401, "key_expired");
}

fn jiff_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn each_key_has_its_own_rate_and_is_told_when_to_retry() {
    let c = clinical();
    let limited = new_key(
        &c.engine,
        NewKey {
            name: "limited".into(),
            channel: zhiku_core::Channel::Clinical,
            clearance: zhiku_core::Classification::Internal,
            domains: Some(vec!["medicine".into()]),
            rate: Some((2, 60_000)),
            ..NewKey::default()
        },
    )
    .await;
    let q = json!({"query": "metformin"});
    assert_eq!(search(Some(&limited), q.clone()).await.0, 200);
    assert_eq!(search(Some(&limited), q.clone()).await.0, 200);
    let r = client()
        .post(format!("{}/api/clinical/v1/search", c.url))
        .bearer_auth(&limited)
        .json(&q)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=30).contains(&wait),
        "one request comes back every 30 s: {wait}"
    );
    let body: Value = r.json().await.unwrap();
    assert_error(429, &body, 429, "rate_limited");
    // Another key is not slowed by it.
    assert_eq!(search(Some(&c.his), q).await.0, 200);
}

#[tokio::test]
async fn sources_carry_the_guideline_standing_and_the_exact_cited_bytes() {
    let c = clinical();
    let (st, body) = search(
        Some(&c.his),
        json!({"query": "Should metformin be started when eGFR is 35?", "k": 5}),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let top = &results(&body)[0]["source"];
    assert_eq!(top["doc_id"], "med-t2dm-en-2024", "{body}");
    assert_eq!(top["recommendation"], "4.2.3", "{top}");
    assert_eq!(top["strength"], "strong");
    assert_eq!(top["evidence"], "B");
    assert_eq!(top["guideline"], "Type 2 Diabetes in Adults");
    assert_eq!(top["issuer"], "Zhiku Demonstration Panel on Diabetes");
    assert_eq!(top["version"], "2024 demo v1");
    assert_eq!(top["year"], "2024");
    assert_eq!(top["department"], "endocrinology");
    assert!(top["section"].as_str().unwrap().contains("4.2"), "{top}");
    // The cited text is the file's own bytes at the given span.
    assert_eq!(top["span_in_file"], true);
    // Paths are relative to ingest.corpus_root, the corpus folder's parent here.
    let file = std::fs::read(
        c.corpus
            .parent()
            .unwrap()
            .join(top["path"].as_str().unwrap()),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", top["path"]));
    let (s, e) = (
        top["start"].as_u64().unwrap() as usize,
        top["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(
        std::str::from_utf8(&file[s..e]).unwrap(),
        top["text"].as_str().unwrap()
    );
    // Filters narrow to what they name.
    for (filters, field, want) in [
        (json!({"strength": "weak"}), "strength", "weak"),
        (json!({"evidence": ["C"]}), "evidence", "C"),
        (
            json!({"department": "nephrology"}),
            "department",
            "nephrology",
        ),
    ] {
        let (st, body) = search(
            Some(&c.his),
            json!({"query": "二甲双胍 eGFR 肾功能", "filters": filters, "k": 10}),
        )
        .await;
        assert_eq!(st, 200, "{body}");
        let rs = results(&body);
        assert!(!rs.is_empty(), "{filters}: {body}");
        assert!(
            rs.iter().all(|r| r["source"][field] == want),
            "{filters}: {body}"
        );
    }
    let (st, body) = search(
        Some(&c.his),
        json!({"query": "metformin", "filters": {"ward": "5B"}}),
    )
    .await;
    assert_error(st, &body, 422, "invalid_body");
}

/// Realistic questions with identifiers, Chinese and English: none reaches the model, the
/// answer says a redaction happened, the audit records how many and never what.
#[tokio::test]
async fn patient_identifiers_never_reach_the_model_or_the_audit_trail() {
    let c = clinical();
    let cases = [
        (
            "患者王某，身份证号11010519491231002X，住院号ZY20240311，联系电话138 1234 5678，\
             2 型糖尿病，eGFR 35，二甲双胍还能继续用吗？",
            vec![
                "11010519491231002X",
                "ZY20240311",
                "138 1234 5678",
                "1234 5678",
            ],
            3,
        ),
        (
            "Patient DOB 03/08/1956, MRN 00423871, e-mail j.smith@example.org: type 2 diabetes \
             with eGFR 38 on metformin 1,000 mg twice daily. Should the dose be reduced?",
            vec!["03/08/1956", "00423871", "j.smith@example.org"],
            3,
        ),
    ];
    for (i, (question, identifiers, n)) in cases.iter().enumerate() {
        c.llm.push(Reply::Text(
            "Metformin should not be started at this eGFR and the dose should be reviewed [1]."
                .into(),
        ));
        let streamed = i == 1;
        let mut req = client()
            .post(format!("{}/api/clinical/v1/ask", c.url))
            .bearer_auth(&c.his)
            .json(&json!({"question": question}));
        if streamed {
            req = req.header("accept", "text/event-stream");
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let answer: Value = if streamed {
            let text = r.text().await.unwrap();
            assert!(text.contains("event: started"), "{text}");
            let done = text
                .split("\n\n")
                .find(|e| e.starts_with("event: done"))
                .unwrap_or_else(|| panic!("no done event: {text}"));
            serde_json::from_str(done.split_once("data: ").unwrap().1).unwrap()
        } else {
            r.json().await.unwrap()
        };
        assert_eq!(answer["redacted_identifiers"], *n, "{answer}");
        let notices = answer["notices"].to_string();
        assert!(
            notices.contains("占位符") || notices.contains("placeholder"),
            "{answer}"
        );
        assert_eq!(answer["mode"], "model", "{answer}");
        let sources = answer["sources"].as_array().unwrap();
        assert!(!sources.is_empty(), "{answer}");
        assert!(sources[0]["guideline"].is_string(), "{answer}");
        let sent = c.llm.received().last().unwrap().body.to_string();
        for id in identifiers {
            assert!(!sent.contains(id), "{id} reached the model: {sent}");
            assert!(!answer.to_string().contains(id), "{id} is in the answer");
        }
        assert!(
            sent.contains("[PHONE_1]") || sent.contains("[EMAIL_1]"),
            "{sent}"
        );
    }
    // The trail: counts, a salted hash, no identifier anywhere.
    let trail = audit_bundle(&c.auditor, "").await;
    let text = trail.to_string();
    for (_, identifiers, _) in &cases {
        for id in identifiers {
            assert!(!text.contains(id), "{id} is in the audit trail");
        }
    }
    let asks: Vec<&Value> = entries(&trail)
        .into_iter()
        .filter(|e| e["subtype"][0]["code"] == "clinical-ask" && e["outcome"] == "0")
        .collect();
    assert!(asks.len() >= 2, "{trail}");
    let question = asks
        .iter()
        .flat_map(|e| e["entity"].as_array().unwrap())
        .find(|x| x["what"]["display"] == "question")
        .unwrap();
    let details = question["detail"].to_string();
    assert!(details.contains("identifiers-redacted"), "{details}");
    assert!(
        question.get("query").is_none(),
        "text is kept only if configured"
    );
}

async fn audit_bundle(key: &str, query: &str) -> Value {
    let r = client()
        .get(format!("{}/api/clinical/v1/audit{query}", clinical().url))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "application/fhir+json");
    r.json().await.unwrap()
}

fn entries(bundle: &Value) -> Vec<&Value> {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .collect()
}

fn fhir_schema() -> Value {
    serde_json::from_str(include_str!(
        "fixtures/fhir/r4-auditevent-bundle.schema.json"
    ))
    .unwrap()
}

/// What HL7's JSON schema does not require but FHIR R4 does (it marks only some 1..1
/// elements `required`): checked by hand.
fn assert_fhir_cardinalities(bundle: &Value) {
    assert_eq!(bundle["type"], "searchset");
    for e in entries(bundle) {
        assert!(e.is_object(), "{e}");
        assert!(e["recorded"].is_string(), "{e}");
        for a in e["agent"].as_array().unwrap() {
            assert!(a["requestor"].is_boolean(), "{a}");
        }
    }
}

#[tokio::test]
async fn every_clinical_request_is_audited_as_fhir_and_the_trail_is_chained() {
    let c = clinical();
    let before = jiff_now_ms() - 1;
    let (st, _) = search(Some(&c.his), json!({"query": "eGFR metformin"})).await;
    assert_eq!(st, 200);
    let (st, _) = search(Some(&c.school), json!({"query": "eGFR"})).await;
    assert_eq!(st, 403);
    let (st, _) = search(None, json!({"query": "eGFR"})).await;
    assert_eq!(st, 401);
    // Reading the trail needs an admin key; a clinical key is refused (and that is recorded).
    let r = client()
        .get(format!("{}/api/clinical/v1/audit", c.url))
        .bearer_auth(&c.his)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let since = jiff::Timestamp::from_millisecond(before).unwrap();
    let bundle = audit_bundle(&c.auditor, &format!("?since={since}")).await;

    // HL7's schema for R4, then what it leaves out.
    let validator = jsonschema::draft6::options()
        .offline()
        .build(&fhir_schema())
        .unwrap();
    let problems: Vec<String> = validator
        .iter_errors(&bundle)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(problems.is_empty(), "{problems:#?}\n{bundle:#}");
    assert_fhir_cardinalities(&bundle);
    // The validator does catch what it should (so the pass above means something).
    let mut broken = bundle.clone();
    broken["entry"][0]["resource"]["action"] = json!("X");
    broken["entry"][0]["resource"]["outcome"] = json!("5");
    assert!(!validator.is_valid(&broken));

    let events = entries(&bundle);
    let by = |subtype: &str, outcome: &str| {
        events
            .iter()
            .filter(|e| e["subtype"][0]["code"] == subtype && e["outcome"] == outcome)
            .count()
    };
    assert!(by("clinical-search", "0") >= 1, "{bundle:#}");
    assert!(
        by("clinical-search", "4") >= 2,
        "refusals are recorded: {bundle:#}"
    );
    assert!(by("audit-read", "4") >= 1, "{bundle:#}");
    // Other tests search the same server meanwhile: pick this test's key's record.
    let ok = events
        .iter()
        .find(|e| {
            e["subtype"][0]["code"] == "clinical-search"
                && e["outcome"] == "0"
                && e["agent"][0]["who"]["display"] == "his-prod"
        })
        .unwrap_or_else(|| panic!("the allowed search is recorded: {bundle:#}"));
    assert_eq!(ok["action"], "E");
    assert_eq!(ok["agent"][0]["who"]["display"], "his-prod");
    assert_eq!(ok["agent"][0]["network"]["address"], "127.0.0.1");
    assert_eq!(ok["source"]["observer"]["display"], "zhiku-test");
    let documents: Vec<&Value> = ok["entity"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["what"]["identifier"]["system"] == "urn:zhiku:document")
        .collect();
    assert!(!documents.is_empty(), "{ok}");
    let refused = events
        .iter()
        .find(|e| e["outcome"] == "4" && e["agent"][0]["who"]["display"] == "school")
        .expect("the refused key is named");
    assert!(refused["outcomeDesc"]
        .as_str()
        .unwrap()
        .contains("403 forbidden_domain"));
    // Chained: each record names the hash of the one before it.
    let ids: Vec<i64> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[1] > w[0]), "{ids:?}");
    assert!(c.engine.store().verify_audit().await.unwrap().is_ok());
}
