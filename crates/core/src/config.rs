use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::clinical::{ClinicalConfig, PrivacyConfig, TlsConfig};
use crate::mini_program::MiniProgramConfig;
use crate::CoreError;

/// The whole configuration. Every field has a default, so no file is needed to start; a TOML
/// file overrides the defaults and environment variables override the file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the indexes live (`--data-dir` / `ZHIKU_DATA_DIR`).
    pub data_dir: PathBuf,
    pub embedding: EmbeddingConfig,
    pub ingest: IngestConfig,
    pub retrieval: RetrievalConfig,
    pub qdrant: QdrantConfig,
    pub llm: LlmConfig,
    pub agent: AgentConfig,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub web: WebConfig,
    pub privacy: PrivacyConfig,
    pub clinical: ClinicalConfig,
    pub mini_program: MiniProgramConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddingConfig {
    /// Folder with model.onnx and the tokenizer files (`ZHIKU_MODEL_DIR`).
    pub model_dir: PathBuf,
    /// Path of libonnxruntime.so (`ZHIKU_ORT_LIB`, or ort's own `ORT_DYLIB_PATH`).
    pub onnxruntime: PathBuf,
    pub batch_size: usize,
    /// ONNX Runtime intra-op threads; 0 = one per core.
    pub threads: usize,
    pub max_length: usize,
    /// Which of the model's two files to run (`ZHIKU_EMBEDDING_WEIGHTS`).
    pub weights: EmbeddingWeights,
}

/// The float model or its int8 quantisation (both made by `deploy/models/fetch.sh` from the
/// same weights). Vectors of one do not mix with the other's: switching re-embeds on ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbeddingWeights {
    /// `model.onnx`: f32 weights and arithmetic.
    #[default]
    F32,
    /// `model-int8.onnx`: int8 weights, activations quantised per batch at run time.
    Int8,
}

impl EmbeddingWeights {
    /// The ONNX file of this variant inside `embedding.model_dir`.
    pub fn onnx_file(self) -> &'static str {
        match self {
            Self::F32 => "model.onnx",
            Self::Int8 => "model-int8.onnx",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Chunks are filled up to `chunk_max_tokens` (embedding-model tokens), preferring
    /// boundaries that keep at least `chunk_min_tokens`.
    pub chunk_min_tokens: usize,
    pub chunk_max_tokens: usize,
    pub overlap_tokens: usize,
    /// Documents written per commit: a killed run loses at most this much work.
    pub commit_every_chunks: usize,
    /// Source names (and so default document ids) are paths relative to this folder, however
    /// the ingested path was spelled; files outside it are named by their absolute path.
    /// Empty: the folder that holds the data directory.
    pub corpus_root: PathBuf,
    /// `--prune` that would remove more than this share of the indexed documents stops and
    /// asks for `--yes` (a mistyped path or an unmounted disk looks like deleted files).
    pub prune_max_share: f64,
    /// The level of a document that states none, and whose folder's `_defaults.yaml` states
    /// none, per domain (`[ingest.default_classification] medicine = "internal"`); a domain
    /// not named here defaults to `public`. `zhiku stats` counts the documents that took it.
    pub default_classification: std::collections::BTreeMap<String, crate::Classification>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrievalConfig {
    /// How the two legs' candidates are merged.
    pub fusion: Fusion,
    /// RRF's rank constant (`fusion = "rrf"` only).
    pub rrf_k: f32,
    /// The legs' relative weights: the mix of normalised scores (`scores`), or the factors
    /// of the reciprocal ranks (`rrf`).
    pub bm25_weight: f32,
    pub dense_weight: f32,
    /// Candidates fetched from each leg before fusion.
    pub candidates: usize,
    pub max_query_chars: usize,
    /// HNSW search breadth; filtered search needs more than the default to keep recall.
    pub hnsw_ef: usize,
    /// Where the keyword leg lives (`ZHIKU_KEYWORD_BACKEND`).
    pub keyword: KeywordBackend,
}

/// Where the BM25 keyword leg is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeywordBackend {
    /// Tantivy when the vectors are embedded; the vector store's sparse vectors when they are
    /// on a Qdrant server, so that replicas keep no index of their own.
    #[default]
    Auto,
    /// A Tantivy index under the data directory (one per process).
    Tantivy,
    /// Sparse BM25 vectors beside the dense ones, in Qdrant Edge or on the server.
    Qdrant,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QdrantConfig {
    /// Empty: embedded Qdrant Edge under the data directory. Set: a Qdrant server or cluster
    /// (gRPC URL, e.g. http://localhost:6334), `ZHIKU_QDRANT_URL`.
    pub url: String,
    pub collection: String,
    /// Name of the environment variable holding the API key (never the key itself).
    pub api_key_env: String,
    /// A new collection's layout on a cluster (an existing one keeps its own; see
    /// docs/scaling.md): shards spread over the nodes (`ZHIKU_QDRANT_SHARDS`), copies of each
    /// shard (`ZHIKU_QDRANT_REPLICAS`), and copies that must apply a write before it counts.
    pub shard_number: u32,
    pub replication_factor: u32,
    pub write_consistency_factor: u32,
    /// Serve a collection that an ingest job writes from its own data directory: claim
    /// nothing, keep no Tantivy index, refuse to ingest (`ZHIKU_REPLICA=true`; docs/scaling.md).
    pub replica: bool,
}

impl Default for QdrantConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            collection: String::new(),
            api_key_env: String::new(),
            shard_number: 1,
            replication_factor: 1,
            write_consistency_factor: 1,
            replica: false,
        }
    }
}

impl Config {
    /// The keyword backend `auto` resolves to for this configuration.
    pub fn keyword_backend(&self) -> KeywordBackend {
        match self.retrieval.keyword {
            KeywordBackend::Auto if self.qdrant.url.trim().is_empty() => KeywordBackend::Tantivy,
            KeywordBackend::Auto => KeywordBackend::Qdrant,
            chosen => chosen,
        }
    }
}

/// The large model behind the answers: any OpenAI-compatible chat-completions endpoint
/// (DeepSeek, Qwen, GLM, Moonshot, OpenAI, vLLM, Ollama, llama.cpp). Empty `base_url`: no
/// model, answers are extractive.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// e.g. `https://api.deepseek.com/v1` or `http://localhost:11434/v1` (`ZHIKU_LLM_URL`).
    pub base_url: String,
    /// Model name sent with each request (`ZHIKU_LLM_MODEL`).
    pub model: String,
    /// Name of the environment variable holding the API key, never the key itself
    /// (`ZHIKU_LLM_KEY_ENV`). Empty: no `Authorization` header (local servers).
    pub api_key_env: String,
    /// Whether answers are streamed (server-sent events) or fetched whole.
    pub stream: bool,
    pub connect_timeout_ms: u64,
    /// From sending the request to the first token of the answer; also the longest silence
    /// allowed between two pieces of a streamed answer.
    pub first_token_timeout_ms: u64,
    /// The whole answer.
    pub total_timeout_ms: u64,
    /// Retries on 429, 5xx, refused connections and timeouts, before any token was shown.
    pub max_retries: u32,
    /// First backoff; doubles per retry, with jitter, unless the server sends `Retry-After`.
    pub backoff_ms: u64,
    /// The model's context window in tokens; the prompt plus `max_answer_tokens` stays
    /// within it.
    pub context_tokens: usize,
    pub max_answer_tokens: usize,
    pub temperature: f32,
}

/// How the agent answers, whatever the model.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    /// Folder of prompt templates (`ZHIKU_PROMPTS_DIR`); empty: `prompts/` if it exists,
    /// else the copies built into the binary.
    pub prompts_dir: PathBuf,
    /// Passages retrieved and given to the model.
    pub passages: usize,
    /// Answer only when the best passage's dense similarity plus `coverage_weight` times the
    /// share of the question's content terms the passages hold reaches this: a passage that
    /// holds the question's words may be a little further away in meaning, and one that holds
    /// none must be very close.
    pub min_relevance: f32,
    pub coverage_weight: f32,
    /// …and the passages hold at least this share of the question's content terms.
    pub min_term_coverage: f32,
    /// Earlier turns of a conversation given to the agent.
    pub history_turns: usize,
}

/// `zhiku serve`: where it listens and the bounds on what one request may ask of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on (`--listen`, `ZHIKU_LISTEN`); loopback unless told otherwise.
    pub listen: String,
    /// Callers without credentials may use the OpenAI-compatible and web doors, with
    /// `public` clearance. Off: every request needs a key.
    pub anonymous: bool,
    /// Requests one address may make without credentials (`300/min`; per replica); beyond
    /// it 429 with Retry-After. Empty: unlimited. A school behind one address shares it.
    pub anonymous_rate: String,
    /// Conversations started without credentials are deleted this many hours after their
    /// last turn (nobody can list them, so nobody else would ever delete them).
    pub anonymous_conversation_hours: u64,
    /// Largest request body (JSON); uploads to the admin ingest have their own bound.
    pub max_body_bytes: usize,
    pub max_upload_bytes: usize,
    /// Messages in one chat-completions request (the conversation's history).
    pub max_history_messages: usize,
    /// Answers formed at once; a request waits `queue_timeout_ms` for a turn, then gets 429.
    pub max_concurrent_answers: usize,
    pub queue_timeout_ms: u64,
    /// A request body must arrive within this long (a body that never ends gets 408).
    pub body_timeout_ms: u64,
    /// Longest a request may take before its response starts (an answer's stream may go on
    /// after, bounded by `llm.total_timeout_ms`).
    pub request_timeout_ms: u64,
    /// On shutdown, answers in flight get this long to finish.
    pub shutdown_grace_ms: u64,
    /// A request's headers must arrive within this long of the connection opening or going
    /// idle (HTTP/1); a connection that sends nothing for this long is closed.
    pub header_timeout_ms: u64,
    /// Connections open at once; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// Log question text (for debugging; never for clinical deployments). Off by default.
    /// Identifiers are removed first, and clinical questions are never logged.
    pub log_questions: bool,
    /// HTTPS, and mutual TLS, served directly.
    pub tls: TlsConfig,
}

/// Where conversations, feedback, keys, sessions and the audit trail live.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Empty: SQLite at `<data_dir>/zhiku.db`. Else `postgres://…` (`ZHIKU_DATABASE_URL`), so
    /// that several replicas share it.
    pub url: String,
    /// Turns whose question or passages belong to these domains are stored without their
    /// texts (clinical questions may identify a patient).
    pub textless_domains: Vec<String>,
}

/// The chat page at `/` and how its users sign in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// How long a sign-in lasts.
    pub session_hours: u64,
    /// Mark the session cookie `Secure` (set it when the page is served over HTTPS, directly
    /// or by a reverse proxy).
    pub secure_cookie: bool,
    /// The domains signed-in users may ask about; empty: every domain.
    pub domains: Vec<String>,
    /// Behind a school's reverse proxy that authenticates users: the header carrying the user
    /// name (e.g. `X-Remote-User`). Empty: off. Only believed from `trusted_proxies`.
    pub trusted_user_header: String,
    /// Peer addresses (exact IPs) allowed to set `trusted_user_header`.
    pub trusted_proxies: Vec<String>,
    /// The role of a proxy-authenticated user who has no local account (a local account's
    /// role wins): `student` or `teacher`.
    pub trusted_default_role: String,
    /// Sign-in attempts allowed from one address (`/auth/login`), e.g. `60/min`; a whole class
    /// behind one NAT address shares it. Empty: unlimited.
    pub login_rate: String,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            session_hours: 24 * 7,
            secure_cookie: false,
            domains: Vec::new(),
            trusted_user_header: String::new(),
            trusted_proxies: vec!["127.0.0.1".into(), "::1".into()],
            trusted_default_role: "student".into(),
            login_rate: "60/min".into(),
        }
    }
}

/// The folder where `deploy/models/fetch.sh` puts the model and ONNX Runtime by default.
pub fn default_home() -> PathBuf {
    if let Some(h) = std::env::var_os("ZHIKU_HOME") {
        return PathBuf::from(h);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join("zhiku")
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("zhiku-data"),
            embedding: EmbeddingConfig::default(),
            ingest: IngestConfig::default(),
            retrieval: RetrievalConfig::default(),
            qdrant: QdrantConfig::default(),
            llm: LlmConfig::default(),
            agent: AgentConfig::default(),
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            web: WebConfig::default(),
            privacy: PrivacyConfig::default(),
            clinical: ClinicalConfig::default(),
            mini_program: MiniProgramConfig::default(),
        }
    }
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            model: String::new(),
            api_key_env: String::new(),
            stream: true,
            connect_timeout_ms: 5_000,
            first_token_timeout_ms: 30_000,
            total_timeout_ms: 120_000,
            max_retries: 2,
            backoff_ms: 500,
            context_tokens: 8_192,
            max_answer_tokens: 1_024,
            temperature: 0.1,
        }
    }
}

impl LlmConfig {
    /// Whether a model is configured at all.
    pub fn enabled(&self) -> bool {
        !self.base_url.trim().is_empty()
    }
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            prompts_dir: PathBuf::new(),
            passages: 5,
            // Calibrated on the three dev sets (`zhiku eval` on all three; docs/evaluation.md,
            // "Abstention"): at most 5% of answerable questions refused.
            min_relevance: 0.9325,
            coverage_weight: 0.15,
            min_term_coverage: 0.05,
            history_turns: 6,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            anonymous: true,
            anonymous_rate: "300/min".into(),
            anonymous_conversation_hours: 24,
            max_body_bytes: 1 << 20,
            max_upload_bytes: 64 << 20,
            max_history_messages: 64,
            max_concurrent_answers: 16,
            queue_timeout_ms: 5_000,
            body_timeout_ms: 15_000,
            // Above llm.total_timeout_ms (120 s), so that a whole answer from a slow model is
            // not cut off here first.
            request_timeout_ms: 150_000,
            shutdown_grace_ms: 10_000,
            header_timeout_ms: 15_000,
            max_connections: 1_024,
            log_questions: false,
            tls: TlsConfig::default(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            textless_domains: vec!["medicine".into()],
        }
    }
}

impl Default for EmbeddingConfig {
    fn default() -> Self {
        let home = default_home();
        Self {
            model_dir: home.join("multilingual-e5-small"),
            onnxruntime: home.join("onnxruntime").join("libonnxruntime.so"),
            // Small length-sorted batches pad least: 8 measured fastest and leanest on 2 cores.
            batch_size: 8,
            threads: 0,
            max_length: 512,
            weights: EmbeddingWeights::default(),
        }
    }
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            chunk_min_tokens: 160,
            chunk_max_tokens: 384,
            overlap_tokens: 48,
            commit_every_chunks: 512,
            corpus_root: PathBuf::new(),
            prune_max_share: 0.25,
            default_classification: Default::default(),
        }
    }
}

/// How hybrid search merges the keyword and dense legs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fusion {
    /// Each leg's scores min-max normalised over its candidates, then mixed by the weights:
    /// how far ahead a candidate is counts, not only its place (docs/evaluation.md: +0.01 to
    /// +0.025 nDCG@10 over RRF on the dev sets).
    #[default]
    Scores,
    /// Weighted reciprocal rank fusion: Σ weight / (rrf_k + rank).
    Rrf,
}

impl Default for RetrievalConfig {
    fn default() -> Self {
        Self {
            fusion: Fusion::Scores,
            rrf_k: 60.0,
            // Equal shares: the best mix on the education and culture dev sets (`zhiku eval`
            // sweeps it); medicine weights its dense leg more.
            bm25_weight: 1.0,
            dense_weight: 1.0,
            candidates: 50,
            max_query_chars: 2000,
            hnsw_ef: 256,
            keyword: KeywordBackend::Auto,
        }
    }
}

/// An environment variable's value as the configuration field's type reads it from TOML
/// (numbers, `true` / `false`, or an enum's lower-case names).
fn parse_env<T: serde::de::DeserializeOwned>(var: &str, value: &str) -> Result<T, CoreError> {
    let text = value.trim().to_ascii_lowercase();
    let bare = text == "true" || text == "false" || text.parse::<f64>().is_ok();
    let as_toml = if bare {
        text.clone()
    } else {
        format!("{text:?}")
    };
    let error = |message: String| CoreError::ConfigEnv {
        var: var.into(),
        value: value.into(),
        message,
    };
    toml::from_str::<std::collections::HashMap<String, T>>(&format!("v = {as_toml}"))
        .map_err(|e| error(e.message().to_string()))?
        .remove("v")
        .ok_or_else(|| error("no value".into()))
}

impl Config {
    /// Defaults, then the file (if given), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, CoreError> {
        let mut cfg = match file {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| CoreError::ConfigRead {
                        path: path.to_path_buf(),
                        source,
                    })?;
                toml::from_str(&text).map_err(|e| CoreError::ConfigParse {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?
            }
            None => Config::default(),
        };
        cfg.apply_env(|k| std::env::var(k).ok())?;
        Ok(cfg)
    }

    /// Environment overrides, read through `get` so that tests need not touch the real
    /// environment.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), CoreError> {
        let non_empty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        if let Some(v) = non_empty("ZHIKU_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = non_empty("ZHIKU_MODEL_DIR") {
            self.embedding.model_dir = v.into();
        }
        if let Some(v) = non_empty("ZHIKU_ORT_LIB").or_else(|| non_empty("ORT_DYLIB_PATH")) {
            self.embedding.onnxruntime = v.into();
        }
        if let Some(v) = non_empty("ZHIKU_QDRANT_URL") {
            self.qdrant.url = v;
        }
        if let Some(v) = non_empty("ZHIKU_EMBED_THREADS") {
            self.embedding.threads = parse_env("ZHIKU_EMBED_THREADS", &v)?;
        }
        if let Some(v) = non_empty("ZHIKU_EMBEDDING_WEIGHTS") {
            self.embedding.weights = parse_env("ZHIKU_EMBEDDING_WEIGHTS", &v)?;
        }
        if let Some(v) = non_empty("ZHIKU_KEYWORD_BACKEND") {
            self.retrieval.keyword = parse_env("ZHIKU_KEYWORD_BACKEND", &v)?;
        }
        if let Some(v) = non_empty("ZHIKU_REPLICA") {
            self.qdrant.replica = parse_env("ZHIKU_REPLICA", &v)?;
        }
        if let Some(v) = non_empty("ZHIKU_QDRANT_SHARDS") {
            self.qdrant.shard_number = parse_env("ZHIKU_QDRANT_SHARDS", &v)?;
        }
        if let Some(v) = non_empty("ZHIKU_QDRANT_REPLICAS") {
            self.qdrant.replication_factor = parse_env("ZHIKU_QDRANT_REPLICAS", &v)?;
        }
        if let Some(v) = non_empty("ZHIKU_LLM_URL") {
            self.llm.base_url = v;
        }
        if let Some(v) = non_empty("ZHIKU_LLM_MODEL") {
            self.llm.model = v;
        }
        if let Some(v) = non_empty("ZHIKU_LLM_KEY_ENV") {
            self.llm.api_key_env = v;
        }
        if let Some(v) = non_empty("ZHIKU_LISTEN") {
            self.server.listen = v;
        }
        if let Some(v) = non_empty("ZHIKU_DATABASE_URL") {
            self.database.url = v;
        }
        if let Some(v) = non_empty("ZHIKU_PROMPTS_DIR") {
            self.agent.prompts_dir = v.into();
        }
        if let Some(v) = non_empty("ZHIKU_WECHAT_APPID") {
            self.mini_program.appid = v;
        }
        if self.qdrant.collection.is_empty() {
            self.qdrant.collection = "zhiku".into();
        }
        if self.qdrant.api_key_env.is_empty() {
            self.qdrant.api_key_env = "ZHIKU_QDRANT_API_KEY".into();
        }
        self.validate()
    }

    fn validate(&self) -> Result<(), CoreError> {
        let bad = |message: String| CoreError::ConfigParse {
            path: PathBuf::from("<configuration>"),
            message,
        };
        let i = &self.ingest;
        if i.chunk_min_tokens == 0 || i.chunk_min_tokens > i.chunk_max_tokens {
            return Err(bad(
                "ingest.chunk_min_tokens must be in 1..=chunk_max_tokens".into(),
            ));
        }
        if i.chunk_max_tokens + 2 > self.embedding.max_length {
            return Err(bad(format!(
                "ingest.chunk_max_tokens ({}) must leave room for 2 special tokens within embedding.max_length ({})",
                i.chunk_max_tokens, self.embedding.max_length
            )));
        }
        if i.overlap_tokens >= i.chunk_min_tokens {
            return Err(bad(
                "ingest.overlap_tokens must be below chunk_min_tokens".into()
            ));
        }
        let q = &self.qdrant;
        if q.shard_number == 0
            || q.replication_factor == 0
            || q.write_consistency_factor == 0
            || q.write_consistency_factor > q.replication_factor
        {
            return Err(bad(format!(
                "qdrant.shard_number ({}), replication_factor ({}) and write_consistency_factor ({}) must be at least 1, \
                 and write_consistency_factor at most replication_factor",
                q.shard_number, q.replication_factor, q.write_consistency_factor
            )));
        }
        if !(0.0..=1.0).contains(&i.prune_max_share) {
            return Err(bad("ingest.prune_max_share must be between 0 and 1".into()));
        }
        if self.llm.enabled() && self.llm.model.trim().is_empty() {
            return Err(bad(
                "llm.model must be set when llm.base_url is (ZHIKU_LLM_MODEL)".into(),
            ));
        }
        if self.llm.max_answer_tokens * 2 > self.llm.context_tokens {
            return Err(bad(
                "llm.max_answer_tokens must be at most half of llm.context_tokens".into(),
            ));
        }
        if self.agent.passages == 0 || self.agent.history_turns == 0 {
            return Err(bad(
                "agent.passages and agent.history_turns must be positive".into(),
            ));
        }
        let sv = &self.server;
        if sv.max_concurrent_answers == 0 || sv.max_body_bytes == 0 || sv.max_history_messages == 0
        {
            return Err(bad(
                "server.max_concurrent_answers, max_body_bytes and max_history_messages must be positive".into(),
            ));
        }
        if self.embedding.batch_size == 0 || self.retrieval.candidates == 0 {
            return Err(bad("batch_size and candidates must be positive".into()));
        }
        if !self.server.anonymous_rate.trim().is_empty() {
            self.server
                .anonymous_rate
                .parse::<crate::RateLimit>()
                .map_err(|e| bad(format!("server.anonymous_rate: {e}")))?;
        }
        if self.server.header_timeout_ms == 0 || self.server.max_connections == 0 {
            return Err(bad(
                "server.header_timeout_ms and server.max_connections must be positive".into(),
            ));
        }
        if self.server.anonymous_conversation_hours == 0 {
            return Err(bad(
                "server.anonymous_conversation_hours must be positive".into()
            ));
        }
        if !self.web.login_rate.trim().is_empty() {
            self.web
                .login_rate
                .parse::<crate::RateLimit>()
                .map_err(|e| bad(format!("web.login_rate: {e}")))?;
        }
        let r = &self.mini_program.route;
        let speeds_ok = r.walk_kmh > 0.0 && r.transit_kmh > 0.0 && r.radius_m > 0.0;
        if !speeds_ok || r.max_stops == 0 || self.mini_program.session_hours == 0 {
            return Err(bad(
                "mini_program.route speeds, radius_m and max_stops, and mini_program.session_hours, must be positive".into(),
            ));
        }
        let tls = &sv.tls;
        if tls.enabled() == tls.key.trim().is_empty() {
            return Err(bad("server.tls.cert and server.tls.key go together".into()));
        }
        if !tls.client_ca.trim().is_empty() && !tls.enabled() {
            return Err(bad(
                "server.tls.client_ca needs server.tls.cert and key".into()
            ));
        }
        for c in &self.clinical.cds_clients {
            if c.iss.trim().is_empty()
                || c.public_key.trim().is_empty() == c.jwks_url.trim().is_empty()
            {
                return Err(bad(
                    "each clinical.cds_clients entry needs iss and one of public_key or jwks_url"
                        .into(),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zhiku.toml");
        std::fs::write(
            &path,
            "data_dir = \"/srv/zhiku\"\n[retrieval]\nrrf_k = 30.0\n",
        )
        .unwrap();
        let mut cfg: Config = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(cfg.retrieval.rrf_k, 30.0);
        assert_eq!(
            cfg.retrieval.candidates, 50,
            "unset keys keep their defaults"
        );
        cfg.apply_env(|k| (k == "ZHIKU_DATA_DIR").then(|| "/tmp/x".to_string()))
            .unwrap();
        assert_eq!(cfg.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(cfg.qdrant.collection, "zhiku");
    }

    #[test]
    fn the_keyword_leg_follows_the_vectors_unless_chosen() {
        let mut cfg = Config::default();
        assert_eq!(cfg.keyword_backend(), KeywordBackend::Tantivy);
        cfg.apply_env(|k| match k {
            "ZHIKU_QDRANT_URL" => Some("http://qdrant:6334".into()),
            "ZHIKU_QDRANT_SHARDS" => Some("6".into()),
            "ZHIKU_QDRANT_REPLICAS" => Some("2".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(cfg.keyword_backend(), KeywordBackend::Qdrant);
        assert_eq!(
            (cfg.qdrant.shard_number, cfg.qdrant.replication_factor),
            (6, 2)
        );
        cfg.apply_env(|k| (k == "ZHIKU_KEYWORD_BACKEND").then(|| "Tantivy".to_string()))
            .unwrap();
        assert_eq!(cfg.keyword_backend(), KeywordBackend::Tantivy);
        // As the deployment files set it.
        cfg.apply_env(|k| (k == "ZHIKU_REPLICA").then(|| "true".to_string()))
            .unwrap();
        assert!(cfg.qdrant.replica);
        cfg.apply_env(|k| (k == "ZHIKU_REPLICA").then(|| "False".to_string()))
            .unwrap();
        assert!(!cfg.qdrant.replica);
        let mut embedded = Config::default();
        embedded.retrieval.keyword = KeywordBackend::Qdrant;
        assert_eq!(embedded.keyword_backend(), KeywordBackend::Qdrant);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        assert!(toml::from_str::<Config>("[retrieval]\nrrf = 1.0\n").is_err());
        let mut cfg = Config::default();
        let err = cfg
            .apply_env(|k| (k == "ZHIKU_EMBED_THREADS").then(|| "many".to_string()))
            .unwrap_err();
        assert!(err.to_string().contains("ZHIKU_EMBED_THREADS"), "{err}");
        let err = cfg
            .apply_env(|k| (k == "ZHIKU_EMBEDDING_WEIGHTS").then(|| "int4".to_string()))
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("int4") && text.contains("`f32` or `int8`"),
            "names the value and the choices: {text}"
        );
        cfg.apply_env(|k| (k == "ZHIKU_EMBEDDING_WEIGHTS").then(|| "INT8".to_string()))
            .unwrap();
        assert_eq!(cfg.embedding.weights, EmbeddingWeights::Int8);
        assert!(toml::from_str::<Config>("[embedding]\nweights = \"int4\"\n").is_err());
        let err = cfg
            .apply_env(|k| (k == "ZHIKU_KEYWORD_BACKEND").then(|| "lucene".to_string()))
            .unwrap_err();
        assert!(err.to_string().contains("tantivy"), "{err}");
        let err = cfg
            .apply_env(|k| (k == "ZHIKU_QDRANT_REPLICAS").then(|| "0".to_string()))
            .unwrap_err();
        assert!(err.to_string().contains("replication_factor"), "{err}");
        let path = std::path::Path::new("/nonexistent/zhiku.toml");
        assert!(Config::load(Some(path))
            .unwrap_err()
            .to_string()
            .contains("/nonexistent"));
    }
}
