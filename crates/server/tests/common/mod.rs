//! Real servers for the HTTP tests: the real engine (model, Tantivy, Qdrant Edge, SQLite or
//! PostgreSQL) behind the real axum server on an ephemeral loopback port.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use tokio::sync::oneshot;
use zhiku_core::{Classification, Config};
use zhiku_engine::{Caller, Engine, IngestOptions};

/// A small corpus in all three domains and at every classification level.
pub fn write_corpus(root: &Path) {
    let fixtures = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../tests/fixtures/agent");
    let put = |rel: &str, text: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    let copy = |from: &str, to: &str| {
        put(to, &std::fs::read_to_string(fixtures.join(from)).unwrap());
    };
    copy(
        "education/pythagoras-junior.md",
        "education/pythagoras-junior.md",
    );
    copy(
        "medicine/endocrinology/metformin-en.md",
        "medicine/endocrinology/metformin-en.md",
    );
    copy(
        "culture/articles/temple-of-heaven-en.md",
        "culture/articles/temple-of-heaven-en.md",
    );
    let sites = std::fs::read_to_string(
        Path::new(
            &std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
        )
        .join("../../corpora/culture/sites.jsonl"),
    )
    .unwrap();
    put(
        "culture/sites.jsonl",
        &sites.lines().take(3).collect::<Vec<_>>().join("\n"),
    );
    put(
        "medicine/protocols/insulin-pump-internal.md",
        "---\nid: fx-pump-internal\ntitle: 胰岛素泵夜间交接规程（内部）\nlang: zh\nclassification: internal\ndepartment: endocrinology\n---\n\
         # 胰岛素泵夜间交接规程\n\n夜班护士交接时逐项核对胰岛素泵的基础率、大剂量设置和储药器余量，规程代号 ZK-INTERNAL-4。\
         发现泵报警时先测指尖血糖，再按本院流程联系值班医生。\n",
    );
    put(
        "medicine/protocols/insulin-pump-restricted.md",
        "---\nid: fx-pump-restricted\ntitle: 胰岛素泵故障的内部处置记录（限制级）\nlang: zh\nclassification: restricted\ndepartment: endocrinology\n---\n\
         # 胰岛素泵故障处置记录\n\n本记录只供质控小组查阅：胰岛素泵故障导致的低血糖事件，按代号 ZK-RESTRICTED-7 的流程上报，\
         并封存故障泵与输注管路，由设备科检测。\n",
    );
}

/// The configuration tests start from: the installed model, a data directory under `dir`.
pub fn config(dir: &Path) -> Config {
    // Thresholds off: these tests are about the doors, not about abstention.
    let mut config = zhiku_testkit::engine_test_config(dir);
    config.server.body_timeout_ms = 1_000;
    // Every test request comes from 127.0.0.1: one address's limit is tested on its own.
    config.server.anonymous_rate = String::new();
    config.server.max_body_bytes = 64 * 1024;
    config
}

/// Answers by the stand-in model `llm`, without retries: each question is one request to it.
pub fn answer_with(config: &mut Config, llm: &zhiku_testkit::FakeLlm) {
    config.llm.base_url = llm.base_url();
    config.llm.model = "fake".into();
    config.llm.max_retries = 0;
}

/// A running server, stopped (gracefully) when dropped or by `stop`.
pub struct Running {
    pub url: String,
    pub engine: Arc<Engine>,
    stop: Option<oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Asks the server to stop and waits until it has (streams in flight may finish first).
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(d) = self.done.take() {
            d.await.unwrap();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Opens the engine on `config`, ingests `corpus` (if any) and serves it on the current runtime.
pub async fn start(config: Config, corpus: Option<&Path>) -> Running {
    let engine = Arc::new(
        Engine::open(config)
            .await
            .expect("engine opens (make setup)"),
    );
    if let Some(c) = corpus {
        let report = engine
            .ingest(
                &Caller::operator(Classification::Restricted),
                &[c.to_path_buf()],
                &IngestOptions::default(),
            )
            .await
            .unwrap();
        assert!(report.issues.is_empty(), "{:?}", report.issues);
    }
    let listener = zhiku_server::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel::<()>();
    let e = Arc::clone(&engine);
    let done = tokio::spawn(async move {
        zhiku_server::serve(e, listener, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    Running {
        url,
        engine,
        stop: Some(tx),
        done: Some(done),
    }
}

/// The shared server of most tests, with its keys; it lives on its own thread (each test has
/// a runtime of its own) for the whole test binary.
pub struct Shared {
    pub url: String,
    pub engine: Arc<Engine>,
    pub runtime: tokio::runtime::Handle,
    pub root: PathBuf,
    /// clinical, internal, medicine only, also on the `api` door
    pub nurse: String,
    /// api, restricted, every domain
    pub doctor: String,
    pub admin: String,
}

/// Runs `setup` on a thread and runtime of its own, which then keep its server serving for
/// the rest of the test binary (each test has a runtime of its own); returns what it made.
pub fn for_the_binary<T, F>(setup: impl FnOnce(tokio::runtime::Handle) -> F + Send + 'static) -> T
where
    T: Send + 'static,
    F: std::future::Future<Output = (T, Running)>,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let handle = runtime.handle().clone();
        runtime.block_on(async move {
            let (made, running) = setup(handle).await;
            tx.send(made).unwrap();
            std::future::pending::<()>().await;
            drop(running);
        });
    });
    rx.recv().expect("the server starts")
}

pub fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        for_the_binary(|handle| async move {
            let root = tempfile::tempdir().unwrap().keep();
            let corpus = root.join("corpus");
            write_corpus(&corpus);
            let running = start(config(&root), Some(&corpus)).await;
            let store = running.engine.store();
            let medicine = ["medicine".to_string()];
            let nurse = store
                .create_key(&zhiku_engine::NewKey {
                    name: "nurse".into(),
                    channel: zhiku_core::Channel::Clinical,
                    clearance: zhiku_core::Classification::Internal,
                    domains: Some(medicine.to_vec()),
                    doors: vec!["api".into()],
                    admin: false,
                    ..Default::default()
                })
                .await
                .unwrap()
                .1;
            let doctor = store
                .create_key(&zhiku_engine::NewKey {
                    name: "doctor".into(),
                    channel: zhiku_core::Channel::Api,
                    clearance: zhiku_core::Classification::Restricted,
                    domains: None,
                    admin: false,
                    ..Default::default()
                })
                .await
                .unwrap()
                .1;
            let admin = store
                .create_key(&zhiku_engine::NewKey {
                    name: "ops".into(),
                    channel: zhiku_core::Channel::Api,
                    clearance: zhiku_core::Classification::Public,
                    domains: None,
                    admin: true,
                    ..Default::default()
                })
                .await
                .unwrap()
                .1;
            let shared = Shared {
                url: running.url.clone(),
                engine: Arc::clone(&running.engine),
                runtime: handle,
                root,
                nurse,
                doctor,
                admin,
            };
            (shared, running)
        })
    })
}

/// The document ids of a `/v1/search` response's hits, in rank order.
pub fn doc_ids(hits: &serde_json::Value) -> Vec<String> {
    hits["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["chunk"]["doc_id"].as_str().unwrap().to_string())
        .collect()
}

/// An error response: its status, its stable code, and a message for people.
pub fn assert_error(status: u16, body: &serde_json::Value, want_status: u16, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"]["code"], want_code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .unwrap()
}

/// Signs `name` in on the chat page; returns the `Cookie` header value to send back.
pub async fn sign_in(url: &str, name: &str, password: &str) -> String {
    let r = client()
        .post(format!("{url}/auth/login"))
        .json(&serde_json::json!({"name": name, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let set = r.headers()[reqwest::header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    set.split(';').next().unwrap().to_string()
}
