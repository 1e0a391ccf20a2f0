//! [`Engine`]: opened once from a configuration, shared by every request.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use zhiku_agent::{Agent, AnswerMode, Turn};
use zhiku_core::{validate_query, Config, DomainRegistry, GeoRadius, RetrievalMode, SearchFilter};
use zhiku_embed::Embedder;
use zhiku_index::{HybridRetriever, IndexSet, SearchResults};
use zhiku_ingest::{IngestOptions, IngestReport, Ingestor};
use zhiku_store::Store;

use crate::scope::{resolve, Narrowing};
use crate::{Caller, EngineError, ErrorKind};
use zhiku_audit::Outcome;

/// The file in the data directory that says an ingest is running: its start's audit record
/// number and what it ingests. An ingest that ends removes it; one found at open was killed.
const INGEST_MARKER: &str = "ingest.running";

/// The one ingest at a time, taken by [`Engine::begin_ingest`].
pub struct IngestSlot {
    _one_at_a_time: tokio::sync::OwnedMutexGuard<()>,
    marker: PathBuf,
}

impl Drop for IngestSlot {
    /// A slot given up without an ingest (its upload could not be written) leaves no marker;
    /// a process that is killed runs no drop, and the marker stays to be found.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.marker);
    }
}

/// An audit record of an ingest by `caller`.
fn ingest_entry(caller: &Caller, outcome: Outcome) -> zhiku_audit::AuditEntry {
    let mut entry = zhiku_audit::AuditEntry::new("ingest", zhiku_audit::Action::Update);
    entry.agent = crate::privacy::audit_agent(caller);
    entry.outcome = outcome;
    entry
}

/// The paths of an ingest as its audit record names them.
pub fn paths_text(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether the vectors live on a Qdrant server (else in the embedded shard).
pub fn uses_server(config: &Config) -> bool {
    !config.qdrant.url.trim().is_empty()
}

/// The configuration for scratch indexes (eval, bench). On a Qdrant server they get a
/// collection of their own, named after the configured one and unique to this call, never the
/// configured collection itself; [`discard`] removes it.
pub fn scratch_config(config: &Config) -> Config {
    static MADE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut scratch = config.clone();
    if uses_server(config) {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        scratch.qdrant.collection = format!(
            "{}-scratch-{:x}-{nanos:x}-{n}",
            config.qdrant.collection,
            std::process::id()
        );
    }
    scratch
}

/// Removes scratch indexes (see [`scratch_config`]): the server collection, then the data
/// directory. Failures are reported, not fatal.
pub async fn discard(indexes: IndexSet) {
    if let Err(e) = indexes.vectors.destroy().await {
        tracing::warn!("could not remove {}: {e}", indexes.vectors.describe());
    }
    let dir = indexes.dir.clone();
    drop(indexes);
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        tracing::warn!("could not remove {}: {e}", dir.display());
    }
}

/// The store a data directory's engine uses: `database.url`, else SQLite at
/// `<dir>/zhiku.db` (commands that manage keys and users open it without the model).
pub async fn open_store(config: &Config, dir: &Path) -> Result<Store, EngineError> {
    if config.database.url.trim().is_empty() {
        Ok(Store::open_sqlite(&dir.join("zhiku.db")).await?)
    } else {
        Ok(Store::connect(config.database.url.trim()).await?)
    }
}

/// Where an answer's earlier turns come from.
#[derive(Debug, Clone, Default)]
pub enum History {
    /// A question on its own; nothing is stored.
    #[default]
    None,
    /// A conversation kept in the store: `None` starts one, `Some(id)` continues the
    /// caller's own.
    Stored(Option<String>),
    /// Turns the caller brings along (an OpenAI client's message list); nothing is stored.
    Given(Vec<Turn>),
}

/// One question as a transport hands it over.
#[derive(Debug, Clone, Default)]
pub struct AskInput {
    pub question: String,
    /// At most one domain: its prompts, policies and retrieval settings apply.
    pub domain: Option<String>,
    /// Metadata and distance filters (its `domains` are ignored: see `domain`).
    pub narrowing: Narrowing,
    pub history: History,
}

/// A stored conversation as its owner may see it now.
#[derive(Debug, Clone, Serialize)]
pub struct ConversationView {
    pub id: String,
    pub title: Option<String>,
    pub channel: String,
    pub created_at_ms: i64,
    pub turns: Vec<TurnView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TurnView {
    pub seq: i64,
    /// `None` when not stored (clinical questions) or withheld.
    pub question: Option<String>,
    pub answer: Option<String>,
    /// The query retrieval ran (a follow-up made to stand alone); `None` when not shown.
    pub query: Option<String>,
    /// The answer's sources and notices, as they were sent with it (empty when not kept).
    #[serde(flatten)]
    pub sources: TurnSources,
    pub abstained: bool,
    pub domain: Option<String>,
    pub mode: String,
    /// The turn drew on material above the caller's present clearance: its texts are not shown.
    pub withheld: bool,
}

/// What a stored answer cited and noted, so that a reopened conversation shows it as it was.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct TurnSources {
    pub citations: Vec<zhiku_agent::Citation>,
    pub notices: Vec<String>,
}

/// What the data directory holds.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub documents: usize,
    pub chunks: usize,
    pub keyword_chunks: u64,
    pub vector_points: u64,
    pub vector_backend: &'static str,
    /// Where the keyword leg searches: `tantivy` or `qdrant sparse vectors`.
    pub keyword_backend: &'static str,
    /// Documents an interrupted ingest left half-changed; the next ingest settles them.
    pub interrupted_documents: usize,
    pub optimize_pending: bool,
    /// Documents per level.
    pub classifications: BTreeMap<String, usize>,
    /// Documents that stated no level, nor did their folder: they took their domain's
    /// default (`ingest.default_classification`, else `public`).
    pub classification_defaulted: usize,
}

/// What a caller may know of the indexes' size: only what it could read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VisibleStats {
    /// The clearance the counts are within.
    pub clearance: zhiku_core::Classification,
    pub documents: usize,
    pub chunks: usize,
    /// Documents per domain.
    pub domains: BTreeMap<String, usize>,
}

/// What `/readyz` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    pub ready: bool,
    pub indexes: Result<u64, String>,
    pub embedding_model: Result<String, String>,
    pub database: Result<&'static str, String>,
    /// The large model's name, or `None`: answers are extractive.
    pub llm: Option<String>,
}

/// A place near a point.
#[derive(Debug, Clone, Serialize)]
pub struct Spot {
    pub doc_id: String,
    pub title: String,
    pub domain: String,
    pub lat: f64,
    pub lon: f64,
    pub distance_m: f64,
    pub source: String,
    /// The place's record fields (category, era, names, opening hours…).
    pub metadata: BTreeMap<String, String>,
}

pub struct Engine {
    config: Config,
    embedder: Arc<Embedder>,
    indexes: IndexSet,
    registry: Arc<DomainRegistry>,
    agent: Agent,
    pub(crate) store: Store,
    pub(crate) audit: zhiku_audit::AuditTrail,
    pub(crate) redactor: Option<Arc<zhiku_redact::Redactor>>,
    /// The mini-program's WeChat credentials, when its door is open.
    pub(crate) wechat: Option<zhiku_wechat::WeChat>,
    /// One ingest at a time (the manifest and the intent file are the data directory's).
    ingesting: Arc<tokio::sync::Mutex<()>>,
    /// The embedding model's fingerprint once a readiness check has embedded with it: the
    /// model lives in this process and does not go away, so probes after that do not embed
    /// (an embedding waits behind an ingest's batch). Until then each probe tries again.
    model_ready: std::sync::Mutex<Option<String>>,
}

impl Engine {
    pub async fn open(config: Config) -> Result<Self, EngineError> {
        Self::open_at(config.data_dir.clone(), config).await
    }

    /// The engine on the data directory `dir` (eval and bench use scratch ones).
    pub async fn open_at(dir: PathBuf, config: Config) -> Result<Self, EngineError> {
        crate::accounts::check_web_config(&config)?;
        let embedder = Arc::new(Embedder::load(&config.embedding)?);
        let indexes = IndexSet::open(&dir, &config).await?;
        let store = open_store(&config, &dir).await?;
        let registry = Arc::new(crate::registry());
        let retriever = HybridRetriever::new(
            indexes.clone(),
            Arc::clone(&embedder),
            config.retrieval.clone(),
        );
        let agent = Agent::new(retriever, Arc::clone(&registry), &config)?;
        let audit = crate::privacy::open_audit(&config, &store).await?;
        let redactor = crate::privacy::redactor(&config)?;
        let wechat = crate::tourists::wechat_client(&config);
        let engine = Self {
            wechat,
            config,
            embedder,
            indexes,
            registry,
            agent,
            store,
            audit,
            redactor,
            ingesting: Arc::new(tokio::sync::Mutex::new(())),
            model_ready: std::sync::Mutex::new(None),
        };
        engine.record_interrupted_ingest().await?;
        Ok(engine)
    }

    /// Removes a scratch engine's indexes and data directory (eval, bench).
    pub async fn discard_scratch(self) {
        let Engine {
            indexes,
            store,
            agent,
            ..
        } = self;
        store.close().await;
        drop(agent);
        discard(indexes).await;
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn registry(&self) -> &DomainRegistry {
        &self.registry
    }

    pub fn indexes(&self) -> &IndexSet {
        &self.indexes
    }

    pub fn embedder(&self) -> &Arc<Embedder> {
        &self.embedder
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn data_dir(&self) -> &Path {
        &self.indexes.dir
    }

    /// Whether the data directory can take writes now (a full disk or a read-only one is
    /// refused before anything is written; an ingest checks this itself).
    pub fn ensure_room(&self) -> Result<(), EngineError> {
        Ok(self.indexes.ensure_room()?)
    }

    /// The agent itself, for evaluation harnesses that ask it directly (no caller, no audit).
    pub fn agent(&self) -> &Agent {
        &self.agent
    }

    pub fn answer_mode(&self) -> AnswerMode {
        self.agent.mode()
    }

    pub fn retriever(&self) -> HybridRetriever {
        HybridRetriever::new(
            self.indexes.clone(),
            Arc::clone(&self.embedder),
            self.config.retrieval.clone(),
        )
    }

    /// A retriever with the settings of the one domain a filter restricts to, if any.
    pub fn retriever_for(&self, filter: &SearchFilter) -> HybridRetriever {
        self.retriever()
            .with_config(self.registry.retrieval_for(filter, &self.config.retrieval))
    }

    /// The filter `caller` searches with when a request narrows by `narrowing`.
    pub fn scope(
        &self,
        caller: &Caller,
        narrowing: &Narrowing,
    ) -> Result<SearchFilter, EngineError> {
        resolve(&self.registry, caller, narrowing)
    }

    /// Checks a query's text (once, for every door).
    pub fn check_query<'q>(&self, query: &'q str) -> Result<&'q str, EngineError> {
        Ok(validate_query(
            query,
            self.config.retrieval.max_query_chars,
        )?)
    }

    pub async fn search(
        &self,
        caller: &Caller,
        query: &str,
        narrowing: &Narrowing,
        k: usize,
        mode: RetrievalMode,
    ) -> Result<SearchResults, EngineError> {
        let redacted = self.redact(query);
        let query = self.check_query(&redacted.text)?;
        let filter = self.scope(caller, narrowing)?;
        let results = self
            .retriever_for(&filter)
            .search(query, &filter, k.clamp(1, 100), mode)
            .await?;
        let read = results.hits.iter().map(|h| {
            let c = &h.chunk;
            (c.doc_id.as_str(), c.title.as_str(), c.domain.as_str())
        });
        self.audit_reading(caller, "search", Some((query, redacted.total())), read)
            .await?;
        Ok(results)
    }

    /// Ingests files or folders the engine's machine can read. Searches go on meanwhile and
    /// see the new documents as each batch commits.
    pub async fn ingest(
        &self,
        caller: &Caller,
        paths: &[PathBuf],
        opts: &IngestOptions,
    ) -> Result<IngestReport, EngineError> {
        let slot = self.begin_ingest(caller, &paths_text(paths)).await?;
        self.ingest_in(slot, caller, paths, opts).await
    }

    /// Takes the one ingest slot for `caller` (an administrator, on a server that writes), and
    /// records in the audit trail that an ingest of `what` started. Take it before touching
    /// anything an ingest reads (an upload's files), so a refused ingest changes nothing.
    pub async fn begin_ingest(
        &self,
        caller: &Caller,
        what: &str,
    ) -> Result<IngestSlot, EngineError> {
        if !caller.is_admin() {
            return Err(EngineError::Forbidden(
                "ingest needs an administrator's credentials".into(),
            ));
        }
        if self.indexes.is_replica() {
            return Err(EngineError::Forbidden(
                "this server is a replica (qdrant.replica): documents are ingested by the ingest job, \
                 which writes the collection every replica serves"
                    .into(),
            ));
        }
        // A full or read-only disk refuses the ingest before anything, its record included,
        // is written.
        self.indexes.ensure_room()?;
        let Ok(guard) = Arc::clone(&self.ingesting).try_lock_owned() else {
            return Err(EngineError::Index(zhiku_index::IndexError::Busy(
                self.indexes.dir.clone(),
            )));
        };
        let mut entry = ingest_entry(caller, Outcome::Success);
        entry.outcome_desc = format!("started: {what}");
        let started = self.audit(&entry).await?;
        // Removed when the ingest ends; found at the next open if the process died first.
        let marker = self.indexes.dir.join(INGEST_MARKER);
        std::fs::write(&marker, format!("{started}\n{what}\n")).map_err(|e| {
            EngineError::NotConfigured(format!("cannot write {}: {e}", marker.display()))
        })?;
        Ok(IngestSlot {
            _one_at_a_time: guard,
            marker,
        })
    }

    /// Runs an ingest in the slot [`Engine::begin_ingest`] gave, and records its outcome in the
    /// audit trail, failures included.
    pub async fn ingest_in(
        &self,
        slot: IngestSlot,
        caller: &Caller,
        paths: &[PathBuf],
        opts: &IngestOptions,
    ) -> Result<IngestReport, EngineError> {
        let ingestor = Ingestor {
            registry: &self.registry,
            indexes: &self.indexes,
            embedder: &self.embedder,
            config: &self.config.ingest,
        };
        let result = ingestor.run(paths, opts).await.map_err(EngineError::from);
        let mut entry = match &result {
            Ok(report) => {
                let mut entry = ingest_entry(caller, Outcome::Success);
                entry.outcome_desc = format!(
                    "files={} written={} removed={} problems={}",
                    report.files,
                    report.written,
                    report.removed,
                    report.issues.len()
                );
                entry
            }
            Err(e) => {
                let outcome = if e.kind() == ErrorKind::Invalid {
                    Outcome::MinorFailure
                } else {
                    Outcome::SeriousFailure
                };
                let mut entry = ingest_entry(caller, outcome);
                entry.outcome_desc = format!("failed: {}", e.code());
                entry
            }
        };
        entry.outcome_desc = format!("ended: {}", entry.outcome_desc);
        self.audit(&entry).await?;
        drop(slot);
        result
    }

    /// Gives up an ingest slot before the ingest ran (its upload could not be written), and
    /// records that the ingest ended with `error`.
    pub async fn abandon_ingest(
        &self,
        slot: IngestSlot,
        caller: &Caller,
        error: &str,
    ) -> Result<(), EngineError> {
        let mut entry = ingest_entry(caller, Outcome::SeriousFailure);
        entry.outcome_desc = format!("ended: failed: {error}");
        self.audit(&entry).await?;
        drop(slot);
        Ok(())
    }

    /// Records an ingest that started and never ended (the process was killed) as
    /// interrupted, once: called when the engine opens.
    async fn record_interrupted_ingest(&self) -> Result<(), EngineError> {
        let marker = self.indexes.dir.join(INGEST_MARKER);
        let Ok(text) = std::fs::read_to_string(&marker) else {
            return Ok(());
        };
        let mut lines = text.lines();
        let started = lines.next().unwrap_or_default().trim().to_string();
        let what = lines.next().unwrap_or_default().to_string();
        let mut entry = zhiku_audit::AuditEntry::new("ingest", zhiku_audit::Action::Update);
        entry.agent =
            crate::privacy::audit_agent(&Caller::operator(zhiku_core::Classification::Restricted));
        entry.outcome = Outcome::SeriousFailure;
        entry.outcome_desc = format!(
            "interrupted: the ingest recorded as #{started} ({what}) never ended; \
             the next ingest of the same files completes it"
        );
        self.audit(&entry).await?;
        let _ = std::fs::remove_file(&marker);
        Ok(())
    }

    pub async fn stats(&self) -> Result<Stats, EngineError> {
        stats_of(&self.indexes).await
    }

    /// What the indexes hold that `caller` may read: documents and passages at or below its
    /// clearance, in the domains it may use. Nothing above its clearance is counted, so a count
    /// tells a caller nothing about material it may not see.
    pub fn visible_stats(&self, caller: &Caller) -> Result<VisibleStats, EngineError> {
        let manifest = zhiku_ingest::Manifest::load(&self.indexes.dir)?;
        let mut stats = VisibleStats {
            clearance: caller.clearance(),
            ..VisibleStats::default()
        };
        for entry in manifest.documents.values() {
            if entry.classification > caller.clearance() || !caller.may_use(&entry.domain) {
                continue;
            }
            stats.documents += 1;
            stats.chunks += entry.chunks.len();
            *stats.domains.entry(entry.domain.clone()).or_insert(0) += 1;
        }
        Ok(stats)
    }

    /// Places within `radius_m` of a point (and matching `filters`), nearest first, one per
    /// document; `query` (or, by default, words for sights) ranks the candidates before
    /// distance sorts them.
    pub async fn near(
        &self,
        caller: &Caller,
        point: GeoRadius,
        filters: BTreeMap<String, Vec<String>>,
        query: Option<&str>,
        k: usize,
    ) -> Result<Vec<Spot>, EngineError> {
        let narrowing = Narrowing {
            near: Some(point),
            filters,
            ..Narrowing::default()
        };
        let query = query.unwrap_or("景点 名胜 古迹 博物馆 scenic spot museum heritage");
        let k = k.clamp(1, 50);
        let hits = self
            .search(caller, query, &narrowing, k * 4, RetrievalMode::Hybrid)
            .await?
            .hits;
        let mut spots: Vec<Spot> = Vec::new();
        for h in hits {
            let c = h.chunk;
            let Some((lat, lon)) = c.location else {
                continue;
            };
            if spots.iter().any(|s| s.doc_id == c.doc_id) {
                continue;
            }
            spots.push(Spot {
                distance_m: zhiku_core::haversine_m(point.lat, point.lon, lat, lon),
                doc_id: c.doc_id,
                title: c.title,
                domain: c.domain,
                lat,
                lon,
                source: c.source.path,
                metadata: c.metadata,
            });
        }
        spots.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m));
        spots.truncate(k);
        Ok(spots)
    }

    /// Whether every part answers: indexes, embedding model, database; and which model writes.
    /// Whether the embedding model embeds: checked by embedding until it once has.
    fn model_check(&self) -> Result<String, String> {
        let known = self
            .model_ready
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(fingerprint) = known {
            return Ok(fingerprint);
        }
        let checked = self
            .embedder
            .embed_query("ready")
            .map(|_| self.embedder.fingerprint().to_string())
            .map_err(|e| e.to_string());
        if let Ok(fingerprint) = &checked {
            *self.model_ready.lock().unwrap_or_else(|p| p.into_inner()) = Some(fingerprint.clone());
        }
        checked
    }

    pub async fn readiness(&self) -> Readiness {
        let indexes = self
            .indexes
            .vectors
            .count()
            .await
            .map_err(|e| e.to_string());
        let embedding_model = self.model_check();
        let database = self
            .store
            .ping()
            .await
            .map(|_| self.store.backend().as_str())
            .map_err(|e| e.to_string());
        Readiness {
            ready: indexes.is_ok() && embedding_model.is_ok() && database.is_ok(),
            indexes,
            embedding_model,
            database,
            llm: self
                .config
                .llm
                .enabled()
                .then(|| self.config.llm.model.clone()),
        }
    }
}

/// The counts of a data directory's manifest and indexes (they agree after any completed
/// ingest), without loading the model.
pub async fn stats_of(indexes: &IndexSet) -> Result<Stats, EngineError> {
    let dir = &indexes.dir;
    let manifest = zhiku_ingest::Manifest::load(dir)?;
    let interrupted = zhiku_ingest::Intent::load(dir)?.map_or(0, |i| i.unfinished(&manifest).len());
    Ok(Stats {
        documents: manifest.documents.len(),
        chunks: manifest.chunk_count(),
        keyword_chunks: indexes.keyword.num_chunks().await?,
        vector_points: indexes.vectors.count().await?,
        vector_backend: indexes.vectors.backend_name(),
        keyword_backend: indexes.keyword.backend_name(),
        interrupted_documents: interrupted,
        classifications: manifest
            .documents
            .values()
            .fold(BTreeMap::new(), |mut by, d| {
                *by.entry(d.classification.as_str().to_string()).or_insert(0) += 1;
                by
            }),
        classification_defaulted: manifest
            .documents
            .values()
            .filter(|d| d.classification_defaulted)
            .count(),
        optimize_pending: manifest.optimize_pending,
    })
}

/// Whether a stored turn may be shown to `caller` now: it drew on nothing above its clearance.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_work_on_a_server_never_uses_the_configured_collection() {
        let mut config = Config::default();
        config.qdrant.collection = "zhiku".into();
        assert_eq!(
            scratch_config(&config).qdrant.collection,
            "zhiku",
            "embedded: its own folder"
        );
        config.qdrant.url = "http://127.0.0.1:6334".into();
        let (a, b) = (scratch_config(&config), scratch_config(&config));
        assert!(
            a.qdrant.collection.starts_with("zhiku-scratch-"),
            "{}",
            a.qdrant.collection
        );
        assert_ne!(
            a.qdrant.collection, b.qdrant.collection,
            "each scratch index its own"
        );
        assert_eq!(config.qdrant.collection, "zhiku");
    }
}
