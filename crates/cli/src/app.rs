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

pub fn print_report(r: &IngestReport) {
    for issue in &r.issues {
        eprintln!("warning: {issue}");
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
    let manifest = zhiku_ingest::Manifest::load(&config.data_dir).map_err(anyhow::Error::msg)?;
    let mut json = serde_json::json!({
        "documents": manifest.documents.len(),
        "chunks": manifest.chunk_count(),
        "keyword_chunks": indexes.keyword.num_chunks(),
        "vector_points": indexes.vectors.count().await?,
        "vector_backend": indexes.vectors.backend_name(),
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
