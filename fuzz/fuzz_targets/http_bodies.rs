//! The HTTP request bodies (and query strings) of every route that reads one, sent to the
//! real router over the real engine (model, Tantivy, Qdrant Edge, SQLite) with a small
//! corpus, as a caller with no key, a clinical key, a restricted API key or an admin key.
//!
//! The promise checked: a request is never a 500 (a panic is caught and answered 500, so a
//! panic shows here too), and every refusal is a JSON error with a code and a message.
//!
//! Input: byte 0 picks the route, byte 1 the caller, the rest is the body (or the query).
#![no_main]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request};
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;
use zhiku_core::{Classification, Config};
use zhiku_engine::{Caller, Engine, IngestOptions, NewKey};

/// Where the body goes: the method, the path, and whether the input is a query string.
const ROUTES: &[(Method, &str, Kind)] = &[
    (Method::POST, "/v1/search", Kind::Json),
    (Method::POST, "/v1/ask", Kind::Json),
    (Method::POST, "/v1/chat/completions", Kind::Json),
    (Method::POST, "/api/clinical/v1/search", Kind::Json),
    (Method::POST, "/api/clinical/v1/ask", Kind::Json),
    (Method::POST, "/cds-services/zhiku-order-select", Kind::Json),
    (Method::POST, "/api/mp/v1/login", Kind::Json),
    (Method::POST, "/api/mp/v1/ask", Kind::Json),
    (Method::POST, "/api/mp/v1/route", Kind::Json),
    (Method::PUT, "/api/mp/v1/preferences", Kind::Json),
    (Method::POST, "/auth/login", Kind::Json),
    (Method::PATCH, "/v1/conversations/c1", Kind::Json),
    (Method::POST, "/v1/conversations/c1/feedback", Kind::Json),
    (Method::POST, "/admin/ingest", Kind::Multipart),
    (Method::GET, "/v1/near", Kind::Query),
    (Method::GET, "/api/mp/v1/spots/nearby", Kind::Query),
    (
        Method::GET,
        "/v1/documents/culture%2Fsites.jsonl%231",
        Kind::Query,
    ),
    (Method::GET, "/api/clinical/v1/audit", Kind::Query),
    (Method::GET, "/v1/conversations", Kind::Query),
];

#[derive(Clone, Copy)]
enum Kind {
    Json,
    Multipart,
    Query,
}

struct World {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    /// `Authorization` values: none, clinical (internal, medicine), API (restricted), admin.
    callers: Vec<Option<String>>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (router, callers) = runtime.block_on(open());
        World {
            runtime,
            router,
            callers,
        }
    })
}

/// The engine over a fresh data directory with the test corpus, and its callers' keys.
async fn open() -> (axum::Router, Vec<Option<String>>) {
    let dir = std::env::temp_dir().join(format!("zhiku-fuzz-http-{}", std::process::id()));
    let mut config = Config::load(None).expect("configuration (run `make setup` first)");
    config.data_dir = dir.join("data");
    config.llm = Default::default();
    config.server.request_timeout_ms = 20_000;
    config.server.max_body_bytes = 64 * 1024;
    // Every fuzzed request comes from one address: the limit on callers without a key is
    // not what this target tests.
    config.server.anonymous_rate = String::new();
    let engine = Engine::open(config).await.expect("engine opens");
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/agent");
    engine
        .ingest(
            &Caller::operator(Classification::Restricted),
            &[corpus],
            &IngestOptions::default(),
        )
        .await
        .expect("the test corpus ingests");
    let key =
        |name: &str, channel: &str, clearance: &str, domains: Option<Vec<String>>, admin| NewKey {
            name: name.into(),
            channel: channel.parse().expect("a channel name"),
            clearance: clearance.parse().expect("a level name"),
            domains,
            admin,
            ..Default::default()
        };
    let mut callers = vec![None];
    for k in [
        key(
            "nurse",
            "clinical",
            "internal",
            Some(vec!["medicine".into()]),
            false,
        ),
        key("doctor", "api", "restricted", None, false),
        key("ops", "api", "public", None, true),
    ] {
        let (_, secret) = engine.store().create_key(&k).await.expect("key");
        callers.push(Some(format!("Bearer {secret}")));
    }
    let state = zhiku_server::AppState::new(std::sync::Arc::new(engine)).expect("state");
    (zhiku_server::router(state), callers)
}

fuzz_target!(|input: &[u8]| {
    let [route, caller, body @ ..] = input else {
        return;
    };
    let world = world();
    let (method, path, kind) = &ROUTES[*route as usize % ROUTES.len()];
    let mut request = Request::builder().method(method.clone());
    let uri = match kind {
        Kind::Query => match std::str::from_utf8(body) {
            Ok(q) => format!("{path}?{q}"),
            Err(_) => return,
        },
        _ => path.to_string(),
    };
    if uri.parse::<axum::http::Uri>().is_err() {
        return; // not a request a client could send
    }
    request = request.uri(uri);
    request = match kind {
        Kind::Json => request.header("content-type", "application/json"),
        Kind::Multipart => request.header("content-type", "multipart/form-data; boundary=zz"),
        Kind::Query => request,
    };
    if let Some(auth) = &world.callers[*caller as usize % world.callers.len()] {
        request = request.header("authorization", auth);
    }
    let body = match kind {
        Kind::Query => Body::empty(),
        _ => Body::from(body.to_vec()),
    };
    let mut request = request.body(body).expect("request");
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    let router = world.router.clone();
    let (status, content_type, bytes) = world.runtime.block_on(async move {
        let response = router.oneshot(request).await.expect("infallible");
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = tokio::time::timeout(Duration::from_secs(60), response.into_body().collect())
            .await
            .expect("the response body ends")
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        (status, content_type, bytes)
    });
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        status.as_u16() != 500,
        "{method} {path}: 500 for input {input:?}: {text}"
    );
    if status.is_client_error() || status.is_server_error() {
        let error: serde_json::Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{method} {path}: {status} is not JSON ({e}): {text}"));
        let code = error["error"]["code"].as_str().unwrap_or("");
        let message = error["error"]["message"].as_str().unwrap_or("");
        assert!(
            !code.is_empty() && !message.is_empty(),
            "{method} {path}: {status} without a code and a message: {text} ({content_type})"
        );
    }
});
