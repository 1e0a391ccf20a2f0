//! The CDS Hooks service over real HTTP, called as an EMR would (request bodies shaped like
//! those of the public CDS Hooks sandbox): discovery, `order-select` for metformin ordered for
//! a patient with type 2 diabetes and a reduced eGFR, `patient-view`, no card when nothing is
//! relevant, and the client's signed JWT (a PEM key, a JWK Set served over HTTP, wrong
//! audience, expiry, replay, an unknown issuer, a forged signature).

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rcgen::{KeyPair, PKCS_ECDSA_P384_SHA384};
use serde_json::{json, Value};
use zhiku_engine::NewKey;

use common::{config, start};

const GUIDELINES: &[&str] = &[
    "endocrinology/type2-diabetes-en.md",
    "endocrinology/type2-diabetes-zh.md",
    "nephrology/chronic-kidney-disease-en.md",
    "cardiology/hypertension-adults-en.md",
];

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A signed CDS client token.
fn token(key: &KeyPair, kid: Option<&str>, iss: &str, aud: &str, exp: i64) -> String {
    token_with(key, kid, iss, aud, exp, |_| {})
}

/// A signed CDS client token whose claims `edit` changes first.
fn token_with(
    key: &KeyPair,
    kid: Option<&str>,
    iss: &str,
    aud: &str,
    exp: i64,
    edit: impl FnOnce(&mut Value),
) -> String {
    let mut header = Header::new(Algorithm::ES384);
    header.kid = kid.map(str::to_string);
    header.jku = None;
    let mut claims = json!({
        "iss": iss, "aud": aud, "exp": exp, "iat": now(),
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    edit(&mut claims);
    let signing = EncodingKey::from_ec_pem(key.serialize_pem().as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &signing).unwrap()
}

/// A JWK Set with the key's public half, served by a real HTTP server on loopback.
async fn serve_jwks(key: &KeyPair) -> String {
    let raw = key.public_key_raw();
    assert_eq!(raw.len(), 97, "an uncompressed P-384 point");
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let jwks = json!({"keys": [{
        "kty": "EC", "crv": "P-384", "kid": "emr-2026", "use": "sig", "alg": "ES384",
        "x": b64(&raw[1..49]), "y": b64(&raw[49..]),
    }]});
    let app = axum::Router::new().route(
        "/.well-known/jwks.json",
        axum::routing::get(move || {
            let jwks = jwks.clone();
            async move { axum::Json(jwks) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn condition(display: &str, code: &str) -> Value {
    json!({"resource": {
        "resourceType": "Condition", "id": code,
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
        "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": code, "display": display}], "text": display},
        "subject": {"reference": "Patient/1288992"},
    }})
}

fn order_select(drug: &str, conditions: Vec<Value>) -> Value {
    json!({
        "hookInstance": uuid::Uuid::new_v4().to_string(),
        "fhirServer": "https://fhir.sandbox.test/r4",
        "hook": "order-select",
        "context": {
            "userId": "Practitioner/example",
            "patientId": "1288992",
            "encounterId": "89284",
            "selections": ["MedicationRequest/request-123"],
            "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": {
                "resourceType": "MedicationRequest", "id": "request-123",
                "status": "draft", "intent": "order",
                "medicationCodeableConcept": {"coding": [{
                    "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                    "code": "860975", "display": drug,
                }], "text": drug},
                "subject": {"reference": "Patient/1288992"},
                "dosageInstruction": [{"text": "500 mg once daily with the evening meal"}],
            }}]},
        },
        "prefetch": {
            "patient": {"resourceType": "Patient", "id": "1288992", "gender": "female", "birthDate": "1956-03-08"},
            "conditions": {"resourceType": "Bundle", "type": "searchset", "entry": conditions},
            "egfr": {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {
                "resourceType": "Observation", "id": "egfr-1", "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "33914-3",
                    "display": "Glomerular filtration rate/1.73 sq M.predicted"}]},
                "valueQuantity": {"value": 38, "unit": "mL/min/{1.73_m2}"},
            }}]},
        },
    })
}

fn repo() -> std::path::PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../..")
}

/// The sample guidelines a CDS call draws on, under `dir/corpus`.
fn guideline_corpus(dir: &Path) {
    let corpora = repo().join("corpora/medicine");
    let corpus = dir.join("corpus/medicine");
    for rel in GUIDELINES {
        let to = corpus.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(corpora.join(rel), &to).unwrap();
        let defaults = Path::new(rel).parent().unwrap().join("_defaults.yaml");
        std::fs::copy(corpora.join(&defaults), corpus.join(&defaults)).unwrap();
    }
    std::fs::copy(
        corpora.join("_defaults.yaml"),
        corpus.join("_defaults.yaml"),
    )
    .unwrap();
}

fn patient_view(conditions: Vec<Value>) -> Value {
    json!({
        "hookInstance": uuid::Uuid::new_v4().to_string(),
        "hook": "patient-view",
        "context": {"userId": "Practitioner/example", "patientId": "1288992"},
        "prefetch": {"conditions": {"resourceType": "Bundle", "type": "searchset", "entry": conditions}},
    })
}

async fn call(url: &str, service: &str, jwt: Option<&str>, body: &Value) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{url}/cds-services/{service}"))
        .timeout(Duration::from_secs(60))
        .json(body);
    if let Some(t) = jwt {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn cards(body: &Value) -> Vec<Value> {
    body["cards"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn an_emr_gets_guideline_cards_for_an_order_and_a_patient_and_none_when_nothing_fits() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    guideline_corpus(dir);

    let emr_key = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).unwrap();
    let pem_path = dir.join("emr-public.pem");
    std::fs::write(&pem_path, emr_key.public_key_pem()).unwrap();
    let cloud_key = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).unwrap();
    let jwks_url = serve_jwks(&cloud_key).await;

    let mut cfg = config(dir);
    cfg.clinical.cds_clients = vec![
        zhiku_core::CdsClient {
            iss: "https://emr.hospital.test".into(),
            public_key: pem_path.display().to_string(),
            ..Default::default()
        },
        zhiku_core::CdsClient {
            iss: "https://cloud-emr.test".into(),
            jwks_url,
            ..Default::default()
        },
    ];
    let running = start(cfg, Some(&dir.join("corpus"))).await;
    let url = running.url.clone();
    let emr = "https://emr.hospital.test";
    let aud_order = format!("{url}/cds-services/zhiku-order-select");
    let aud_view = format!("{url}/cds-services/zhiku-patient-view");
    let sign = |aud: &str| token(&emr_key, None, emr, aud, now() + 300);

    // Discovery.
    let discovery: Value = reqwest::get(format!("{url}/cds-services"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hooks: Vec<&str> = discovery["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["hook"].as_str().unwrap())
        .collect();
    assert_eq!(hooks, ["order-select", "patient-view"]);
    assert!(discovery["services"][0]["prefetch"]["conditions"]
        .as_str()
        .unwrap()
        .contains("{{context.patientId}}"));

    // Metformin for type 2 diabetes with eGFR 38: the eGFR recommendation, as a warning.
    let t2dm = || condition("Type 2 diabetes mellitus", "44054006");
    let order = order_select(
        "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet",
        vec![t2dm()],
    );
    let (st, body) = call(&url, "zhiku-order-select", Some(&sign(&aud_order)), &order).await;
    assert_eq!(st, 200, "{body}");
    let got = cards(&body);
    assert!(!got.is_empty(), "{body:#}");
    for c in &got {
        assert!(c["summary"].as_str().unwrap().chars().count() <= 140, "{c}");
        assert!(
            c["summary"].as_str().unwrap().starts_with("Metformin"),
            "{c}"
        );
        let detail = c["detail"].as_str().unwrap();
        assert!(
            detail.contains("**Strength:**") && detail.contains("**Evidence:**"),
            "{detail}"
        );
        assert!(detail.to_lowercase().contains("metformin") || detail.contains("二甲双胍"));
        assert!(["info", "warning", "critical"].contains(&c["indicator"].as_str().unwrap()));
        assert!(c["source"]["label"].as_str().unwrap().contains("("), "{c}");
        assert_eq!(c["links"][0]["type"], "absolute");
        assert!(uuid::Uuid::parse_str(c["uuid"].as_str().unwrap()).is_ok());
    }
    let top = &got[0];
    assert!(
        top["detail"].as_str().unwrap().contains("eGFR"),
        "the eGFR finding ranks first: {body:#}"
    );
    assert_eq!(top["indicator"], "warning", "{top}");
    // The link opens the cited passage (with a key that may read it: a clinical key opened to
    // the API door, where the reading is audited).
    let reader = running
        .engine
        .store()
        .create_key(&NewKey {
            name: "reader".into(),
            channel: zhiku_core::Channel::Clinical,
            clearance: zhiku_core::Classification::Internal,
            domains: Some(vec!["medicine".into()]),
            doors: vec!["api".into()],
            ..NewKey::default()
        })
        .await
        .unwrap()
        .1;
    let passage: Value = reqwest::Client::new()
        .get(top["links"][0]["url"].as_str().unwrap())
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        passage["cited"].as_str().unwrap().contains("eGFR"),
        "{passage}"
    );

    // A drug no guideline here speaks of: no card, never an invented one.
    let other = order_select("Oseltamivir 75 MG Oral Capsule", vec![t2dm()]);
    let (st, body) = call(&url, "zhiku-order-select", Some(&sign(&aud_order)), &other).await;
    assert_eq!((st, cards(&body).len()), (200, 0), "{body}");

    // patient-view: key recommendations per active condition, Chinese conditions too.
    let view = patient_view(vec![
        t2dm(),
        condition("Chronic kidney disease stage 3", "433144002"),
    ]);
    let (st, body) = call(&url, "zhiku-patient-view", Some(&sign(&aud_view)), &view).await;
    assert_eq!(st, 200, "{body}");
    let labels: Vec<String> = cards(&body)
        .iter()
        .map(|c| c["source"]["label"].as_str().unwrap().to_string())
        .collect();
    assert!(labels.iter().any(|l| l.contains("Diabetes")), "{labels:?}");
    assert!(labels.iter().any(|l| l.contains("Kidney")), "{labels:?}");
    let zh = patient_view(vec![condition("2型糖尿病", "44054006")]);
    let (st, body) = call(&url, "zhiku-patient-view", Some(&sign(&aud_view)), &zh).await;
    assert_eq!(st, 200, "{body}");
    assert!(!cards(&body).is_empty(), "{body}");
    let nothing = patient_view(vec![condition("Closed fracture of ankle", "16114001")]);
    let (st, body) = call(&url, "zhiku-patient-view", Some(&sign(&aud_view)), &nothing).await;
    assert_eq!((st, cards(&body).len()), (200, 0), "{body}");

    // The client's token, as the specification requires.
    let (st, _) = call(&url, "zhiku-order-select", None, &order).await;
    assert_eq!(st, 401, "no token");
    let (st, _) = call(&url, "zhiku-order-select", Some(&sign(&aud_view)), &order).await;
    assert_eq!(st, 401, "another service's audience");
    let expired = token(&emr_key, None, emr, &aud_order, now() - 600);
    let (st, _) = call(&url, "zhiku-order-select", Some(&expired), &order).await;
    assert_eq!(st, 401, "expired");
    let once = sign(&aud_order);
    assert_eq!(
        call(&url, "zhiku-order-select", Some(&once), &order)
            .await
            .0,
        200
    );
    let (st, body) = call(&url, "zhiku-order-select", Some(&once), &order).await;
    assert_eq!(st, 401, "replayed jti: {body}");
    // Not yet valid, an empty jti, a life longer than the 5 minutes CDS Hooks allows.
    let early = token_with(&emr_key, None, emr, &aud_order, now() + 300, |c| {
        c["nbf"] = json!(now() + 600);
    });
    let (st, body) = call(&url, "zhiku-order-select", Some(&early), &order).await;
    assert_eq!(st, 401, "nbf in the future: {body}");
    let nameless = token_with(&emr_key, None, emr, &aud_order, now() + 300, |c| {
        c["jti"] = json!("");
    });
    let (st, body) = call(&url, "zhiku-order-select", Some(&nameless), &order).await;
    assert_eq!(st, 401, "empty jti: {body}");
    let long_lived = token(&emr_key, None, emr, &aud_order, now() + 3600);
    let (st, body) = call(&url, "zhiku-order-select", Some(&long_lived), &order).await;
    assert_eq!(st, 401, "an hour-long token: {body}");
    // Just expired but within the clock leeway: it passes once, and a replay is still caught.
    let late = token(&emr_key, None, emr, &aud_order, now() - 10);
    let (st, body) = call(&url, "zhiku-order-select", Some(&late), &order).await;
    assert_eq!(st, 200, "within the leeway: {body}");
    let (st, body) = call(&url, "zhiku-order-select", Some(&late), &order).await;
    assert_eq!(st, 401, "a replay within the leeway: {body}");
    let stranger = token(
        &emr_key,
        None,
        "https://unknown.test",
        &aud_order,
        now() + 300,
    );
    assert_eq!(
        call(&url, "zhiku-order-select", Some(&stranger), &order)
            .await
            .0,
        401
    );
    let forged = token(&cloud_key, None, emr, &aud_order, now() + 300);
    assert_eq!(
        call(&url, "zhiku-order-select", Some(&forged), &order)
            .await
            .0,
        401,
        "forged"
    );
    // A client whose keys are a JWK Set at a URL.
    let cloud = token(
        &cloud_key,
        Some("emr-2026"),
        "https://cloud-emr.test",
        &aud_order,
        now() + 300,
    );
    let (st, body) = call(&url, "zhiku-order-select", Some(&cloud), &order).await;
    assert_eq!(st, 200, "{body}");
    assert!(!cards(&body).is_empty());

    // Every call is in the audit trail, the client named, the patient not.
    let bundle = running
        .engine
        .audit_bundle(0, i64::MAX, "test")
        .await
        .unwrap();
    let text = bundle.to_string();
    assert!(!text.contains("1288992"), "the patient id is not recorded");
    let events: Vec<&Value> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .collect();
    assert!(events
        .iter()
        .any(|e| e["subtype"][0]["code"] == "cds-zhiku-order-select"
            && e["outcome"] == "0"
            && e["agent"][0]["who"]["identifier"]["value"] == emr));
    assert!(events
        .iter()
        .any(|e| e["subtype"][0]["code"] == "cds-zhiku-order-select" && e["outcome"] == "4"));
    let _ = Arc::clone(&running.engine);
    running.stop().await;
}

/// The README's integrator steps, literally: the test client's key pair and configuration
/// lines from `deploy/cds/make-test-client.sh`, a token from `deploy/cds/sign-jwt.sh`, and
/// `deploy/cds/order-select.json` and `patient-view.json` as the requests.
#[tokio::test]
async fn the_integrator_kit_in_deploy_cds_works_as_the_readme_says() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    guideline_corpus(dir);
    let kit = repo().join("deploy/cds");
    let made = std::process::Command::new("bash")
        .arg(kit.join("make-test-client.sh"))
        .arg(dir.join("emr"))
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    // The printed lines are a configuration file as they stand.
    let lines = dir.join("cds-client.toml");
    std::fs::write(&lines, &made.stdout).unwrap();
    let registered = zhiku_core::Config::load(Some(&lines)).unwrap();
    assert_eq!(registered.clinical.cds_clients.len(), 1);
    let iss = registered.clinical.cds_clients[0].iss.clone();

    let mut cfg = config(dir);
    cfg.clinical.cds_clients = registered.clinical.cds_clients;
    let running = start(cfg, Some(&dir.join("corpus"))).await;
    let url = running.url.clone();
    let sign = |aud: &str| {
        let out = std::process::Command::new("bash")
            .arg(kit.join("sign-jwt.sh"))
            .arg(dir.join("emr/emr.key"))
            .arg(&iss)
            .arg(aud)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let request: Value =
        serde_json::from_slice(&std::fs::read(kit.join("order-select.json")).unwrap()).unwrap();
    let service = format!("{url}/cds-services/zhiku-order-select");
    let (st, body) = call(&url, "zhiku-order-select", Some(&sign(&service)), &request).await;
    assert_eq!(st, 200, "{body}");
    let got = cards(&body);
    assert!(!got.is_empty(), "{body:#}");
    assert!(
        got[0]["summary"].as_str().unwrap().starts_with("Metformin"),
        "{body:#}"
    );
    assert_eq!(got[0]["indicator"], "warning", "{body:#}");
    let view: Value =
        serde_json::from_slice(&std::fs::read(kit.join("patient-view.json")).unwrap()).unwrap();
    let service = format!("{url}/cds-services/zhiku-patient-view");
    let (st, body) = call(&url, "zhiku-patient-view", Some(&sign(&service)), &view).await;
    assert_eq!(st, 200, "{body}");
    let about: Vec<String> = cards(&body)
        .iter()
        .map(|c| {
            c["summary"]
                .as_str()
                .unwrap()
                .split(':')
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert!(
        about.iter().any(|a| a == "Type 2 diabetes mellitus"),
        "{body:#}"
    );
    assert!(
        about.iter().any(|a| a == "Chronic kidney disease"),
        "{body:#}"
    );
    // The discovery URL is an accepted audience too; the bare base URL is not.
    let (st, _) = call(
        &url,
        "zhiku-order-select",
        Some(&sign(&format!("{url}/cds-services"))),
        &request,
    )
    .await;
    assert_eq!(st, 200);
    let (st, body) = call(&url, "zhiku-order-select", Some(&sign(&url)), &request).await;
    assert_eq!(st, 401, "{body}");
}
