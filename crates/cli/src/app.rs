//! Opening the engine from a configuration: embedder, indexes, domains.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use zhiku_core::{Config, DomainRegistry};
use zhiku_embed::Embedder;
use zhiku_index::{HybridRetriever, IndexSet};
use zhiku_ingest::{IngestOptions, IngestReport, Ingestor};

pub fn load_config(file: Option<&Path>, data_dir: Option<&Path>) -> anyhow::Result<Config> {
    let mut config = Config::load(file)?;
    if let Some(d) = data_dir {
        config.data_dir = d.to_path_buf();
    }
    Ok(config)
}

/// Whether the vectors live on a Qdrant server (else in the embedded shard).
pub fn uses_server(config: &Config) -> bool {
    !config.qdrant.url.trim().is_empty()
}

/// The configuration for scratch indexes (eval, bench). On a Qdrant server they get a
/// collection of their own, named after the configured one and unique to this call, never the
/// configured collection itself; `App::discard_scratch` removes it.
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

pub struct App {
    pub config: Config,
    pub embedder: Arc<Embedder>,
    pub indexes: IndexSet,
    pub registry: Arc<DomainRegistry>,
}

impl App {
    pub async fn open(config: Config) -> anyhow::Result<Self> {
        Self::open_at(config.data_dir.clone(), config).await
    }

    pub async fn open_at(dir: PathBuf, config: Config) -> anyhow::Result<Self> {
        let embedder = Arc::new(Embedder::load(&config.embedding)?);
        let indexes = IndexSet::open(&dir, &config)
            .await
            .with_context(|| format!("opening the indexes in {}", dir.display()))?;
        Ok(Self {
            config,
            embedder,
            indexes,
            registry: Arc::new(crate::domains::registry()),
        })
    }

    /// Removes scratch indexes: the server collection, then the data directory.
    pub async fn discard_scratch(self) {
        discard(self.indexes).await;
    }

    /// A retriever with the settings of the one domain a filter restricts to, if any.
    pub fn retriever_for(&self, filter: &zhiku_core::SearchFilter) -> HybridRetriever {
        self.retriever()
            .with_config(self.registry.retrieval_for(filter, &self.config.retrieval))
    }

    pub fn retriever(&self) -> HybridRetriever {
        HybridRetriever::new(
            self.indexes.clone(),
            Arc::clone(&self.embedder),
            self.config.retrieval.clone(),
        )
    }

    pub async fn ingest(
        &self,
        paths: &[PathBuf],
        opts: &IngestOptions,
    ) -> anyhow::Result<IngestReport> {
        let ingestor = Ingestor {
            registry: &self.registry,
            indexes: &self.indexes,
            embedder: &self.embedder,
            config: &self.config.ingest,
        };
        Ok(ingestor.run(paths, opts).await?)
    }
}

/// Removes scratch indexes (see [`scratch_config`]); failures are reported, not fatal.
pub async fn discard(indexes: IndexSet) {
    if let Err(e) = indexes.vectors.destroy().await {
        eprintln!(
            "warning: could not remove {}: {e}",
            indexes.vectors.describe()
        );
    }
    let dir = indexes.dir.clone();
    drop(indexes);
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        eprintln!("warning: could not remove {}: {e}", dir.display());
    }
}

pub fn print_report(r: &IngestReport) {
    for issue in &r.issues {
        eprintln!("warning: {issue}");
    }
    for notice in &r.notices {
        eprintln!("note: {notice}");
    }
    if r.settled > 0 {
        eprintln!(
            "note: an earlier ingest was interrupted; {} document(s) it was changing were settled first",
            r.settled
        );
    }
    let rate = if r.total_s > 0.0 {
        r.chunks_written as f64 / r.total_s
    } else {
        0.0
    };
    println!(
        "ingested {} files: {} documents ({} unchanged, {} written, {} removed), {} chunks written, {} embeddings computed, {} problems; {:.1} s ({:.1} chunks/s; load {:.1} s, chunk {:.1} s, embed {:.1} s, write {:.1} s)",
        r.files, r.documents, r.unchanged, r.written, r.removed, r.chunks_written, r.embedded,
        r.issues.len(), r.total_s, rate, r.load_s, r.chunk_s, r.embed_s, r.write_s
    );
}

/// Counts from the manifest and from both indexes; they agree after any completed ingest.
pub async fn stats(config: &Config, with_ids: bool) -> anyhow::Result<std::process::ExitCode> {
    let indexes = IndexSet::open(&config.data_dir, config).await?;
    let manifest = zhiku_ingest::Manifest::load(&config.data_dir)?;
    let interrupted =
        zhiku_ingest::Intent::load(&config.data_dir)?.map_or(0, |i| i.unfinished(&manifest).len());
    let mut json = serde_json::json!({
        "documents": manifest.documents.len(),
        "chunks": manifest.chunk_count(),
        "keyword_chunks": indexes.keyword.num_chunks(),
        "vector_points": indexes.vectors.count().await?,
        "vector_backend": indexes.vectors.backend_name(),
        // Documents an interrupted ingest left half-changed; the next ingest settles them.
        "interrupted_documents": interrupted,
        "optimize_pending": manifest.optimize_pending,
    });
    if with_ids {
        let mut ids: Vec<&String> = manifest
            .documents
            .values()
            .flat_map(|d| &d.chunks)
            .collect();
        ids.sort();
        json["chunk_ids"] = serde_json::json!(ids);
    }
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(std::process::ExitCode::SUCCESS)
}

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
