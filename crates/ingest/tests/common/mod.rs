//! What the ingest tests share: fixtures, and the engine parts opened on a data directory.
#![allow(dead_code)] // each test file uses a different part

use std::path::{Path, PathBuf};
use std::sync::Arc;

use zhiku_core::{Config, DomainRegistry};
use zhiku_embed::Embedder;
use zhiku_index::IndexSet;
use zhiku_ingest::{GeneralDomain, IngestError, IngestOptions, IngestReport, Ingestor, Manifest};

pub fn fixtures() -> PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../tests/fixtures")
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

pub struct Env {
    pub config: Config,
    pub embedder: Arc<Embedder>,
    pub indexes: IndexSet,
    pub registry: DomainRegistry,
}

impl Env {
    pub async fn new(data: &Path) -> Self {
        let mut config = Config {
            data_dir: data.to_path_buf(),
            ..Default::default()
        };
        config.ingest.commit_every_chunks = 4;
        Self::with_config(config).await
    }

    pub async fn with_config(config: Config) -> Self {
        let embedder =
            Arc::new(Embedder::load(&config.embedding).expect("model installed by make setup"));
        let indexes = IndexSet::open(&config.data_dir, &config).await.unwrap();
        let mut registry = DomainRegistry::new();
        registry.register(GeneralDomain);
        Self {
            config,
            embedder,
            indexes,
            registry,
        }
    }

    pub async fn try_ingest(
        &self,
        paths: &[PathBuf],
        opts: &IngestOptions,
    ) -> Result<IngestReport, IngestError> {
        let ingestor = Ingestor {
            registry: &self.registry,
            indexes: &self.indexes,
            embedder: &self.embedder,
            config: &self.config.ingest,
        };
        ingestor.run(paths, opts).await
    }

    pub async fn ingest(&self, paths: &[PathBuf], prune: bool) -> IngestReport {
        let opts = IngestOptions {
            prune,
            ..Default::default()
        };
        self.try_ingest(paths, &opts).await.unwrap()
    }

    pub fn manifest(&self) -> Manifest {
        Manifest::load(&self.config.data_dir).unwrap()
    }

    /// The manifest, the keyword index and the vector index hold the same number of chunks.
    pub async fn assert_indexes_agree(&self) {
        let (m, k, v) = self.counts().await;
        assert_eq!(
            (m as u64, m as u64),
            (k, v),
            "manifest, keyword and vector chunks"
        );
    }

    /// Chunks in the manifest, the keyword index and the vector index.
    pub async fn counts(&self) -> (usize, u64, u64) {
        (
            self.manifest().chunk_count(),
            self.indexes.keyword.num_chunks().await.unwrap(),
            self.indexes.vectors.count().await.unwrap(),
        )
    }
}
