//! The indexes of one data directory, opened together, with a stamp that refuses a directory
//! written by an incompatible version and gives the directory an identity: the vector
//! collection it writes to is marked with that identity, so that two data directories never
//! share one collection (each one's manifest would then claim the other's points).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use zhiku_core::{Chunk, Config, KeywordBackend, SearchFilter};

use crate::qdrant_server::CollectionLayout;
use crate::{EdgeStore, IndexError, KeywordIndex, ServerStore, VectorStore};

/// Bumped whenever the on-disk layout, the chunk payload or the embedding model changes.
pub const DATA_FORMAT: u32 = 1;
const STAMP_FILE: &str = "zhiku-data.json";
const EMBEDDING_MODEL: &str = "multilingual-e5-small";

#[derive(Debug, Serialize, Deserialize)]
struct Stamp {
    format: u32,
    embedding_model: String,
    dimension: usize,
    /// A random id given to the directory when it is created (or first opened by a version
    /// that records it); the vector collection is marked with it.
    #[serde(default)]
    data_id: String,
    /// Server mode: the Qdrant collection holding this directory's vectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    collection: Option<String>,
}

impl Stamp {
    fn current() -> Self {
        Self {
            format: DATA_FORMAT,
            embedding_model: EMBEDDING_MODEL.into(),
            dimension: zhiku_embed::DIMENSION,
            data_id: uuid::Uuid::new_v4().to_string(),
            collection: None,
        }
    }

    fn compatible(&self) -> bool {
        self.format == DATA_FORMAT
            && self.embedding_model == EMBEDDING_MODEL
            && self.dimension == zhiku_embed::DIMENSION
    }

    fn save(&self, dir: &Path) -> Result<(), IndexError> {
        let path = dir.join(STAMP_FILE);
        let tmp = dir.join(format!("{STAMP_FILE}.tmp"));
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| IndexError::Keyword(format!("{}: {e}", path.display())))
    }
}

/// Reads the stamp (or writes one, for a new directory) and checks it.
fn check_stamp(dir: &Path) -> Result<Stamp, IndexError> {
    let path = dir.join(STAMP_FILE);
    let incompatible = |why: String| IndexError::Incompatible {
        dir: dir.to_path_buf(),
        why,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let mut stamp: Stamp = serde_json::from_str(&text)
                .map_err(|e| incompatible(format!("unreadable {STAMP_FILE}: {e}")))?;
            if !stamp.compatible() {
                return Err(incompatible(format!(
                    "written as format {} with {} ({} dims); this zhiku uses format {DATA_FORMAT} with {EMBEDDING_MODEL}",
                    stamp.format, stamp.embedding_model, stamp.dimension
                )));
            }
            if stamp.data_id.is_empty() {
                stamp.data_id = Stamp::current().data_id;
                stamp.save(dir)?;
            }
            Ok(stamp)
        }
        Err(_) => {
            // The store's database may come first: `zhiku keys create` or `users add` before
            // the first ingest.
            let non_empty = std::fs::read_dir(dir)
                .map(|d| {
                    d.flatten().any(|e| {
                        !e.file_name()
                            .to_str()
                            .is_some_and(|n| n.starts_with("zhiku.db"))
                    })
                })
                .unwrap_or(false);
            if non_empty {
                return Err(incompatible(format!(
                    "the folder is not empty and has no {STAMP_FILE}"
                )));
            }
            std::fs::create_dir_all(dir)
                .map_err(|e| IndexError::Keyword(format!("{}: {e}", dir.display())))?;
            let stamp = Stamp::current();
            stamp.save(dir)?;
            Ok(stamp)
        }
    }
}

/// The keyword leg: the Tantivy index under the data directory, or the sparse vectors in
/// the vector store. A process that writes keeps the Tantivy index current whichever leg
/// searches, so that switching back never finds it stale; a replica has none.
pub struct KeywordLeg {
    tantivy: Option<Arc<KeywordIndex>>,
    /// Set when the sparse vectors are the leg that searches.
    sparse: Option<Arc<VectorStore>>,
}

impl KeywordLeg {
    /// The leg that searches, for messages and `zhiku stats`.
    pub fn backend_name(&self) -> &'static str {
        match self.sparse {
            Some(_) => "qdrant sparse vectors",
            None => "tantivy",
        }
    }

    fn tantivy(&self) -> Result<&Arc<KeywordIndex>, IndexError> {
        self.tantivy.as_ref().ok_or_else(|| {
            IndexError::Keyword(
                "this replica keeps no keyword index of its own: writes go through an ingest job"
                    .into(),
            )
        })
    }

    /// BM25 top-`k` chunks for the query under the filter, best first.
    pub async fn search(
        &self,
        query: &str,
        filter: &SearchFilter,
        k: usize,
    ) -> Result<Vec<(Chunk, f32)>, IndexError> {
        if let Some(v) = &self.sparse {
            return v.keyword_search(query, filter, k).await;
        }
        let index = Arc::clone(self.tantivy()?);
        let (q, f) = (query.to_string(), filter.clone());
        tokio::task::spawn_blocking(move || index.search(&q, &f, k))
            .await
            .map_err(|e| IndexError::Keyword(format!("search task failed: {e}")))?
    }

    /// Every chunk of one document that the filter lets through, in reading order.
    pub async fn chunks_of(
        &self,
        doc_id: &str,
        filter: &SearchFilter,
    ) -> Result<Vec<Chunk>, IndexError> {
        match &self.sparse {
            Some(v) => v.chunks_of(doc_id, filter).await,
            None => self.tantivy()?.chunks_of(doc_id, filter),
        }
    }

    /// The values of one metadata key among the chunks the filter lets through, with how
    /// many chunks carry each, most common first.
    pub async fn tag_values(
        &self,
        key: &str,
        filter: &SearchFilter,
    ) -> Result<Vec<(String, usize)>, IndexError> {
        match &self.sparse {
            Some(v) => v.tag_values(key, filter).await,
            None => self.tantivy()?.tag_values(key, filter),
        }
    }

    /// Chunks the searching leg holds.
    pub async fn num_chunks(&self) -> Result<u64, IndexError> {
        match &self.sparse {
            Some(v) => v.count().await,
            None => Ok(self.tantivy()?.num_chunks()),
        }
    }

    /// Removes every chunk of the document from the Tantivy index (the vector store's
    /// sparse vectors go with their points).
    pub fn delete_doc(&self, doc_id: &str) -> Result<(), IndexError> {
        self.tantivy()?.delete_doc(doc_id)
    }

    pub fn add(&self, chunks: &[Chunk]) -> Result<(), IndexError> {
        self.tantivy()?.add(chunks)
    }

    pub fn commit(&self) -> Result<(), IndexError> {
        self.tantivy()?.commit()
    }
}

/// Both indexes of a data directory.
#[derive(Clone)]
pub struct IndexSet {
    pub keyword: Arc<KeywordLeg>,
    pub vectors: Arc<VectorStore>,
    pub dir: PathBuf,
}

impl IndexSet {
    /// Opens the data directory's indexes. With `qdrant.replica` set, this process serves a
    /// collection that an ingest job writes from its own data directory: it takes the
    /// collection as it is (no claim), keeps no Tantivy index, and cannot ingest.
    pub async fn open(dir: &Path, cfg: &Config) -> Result<Self, IndexError> {
        if cfg.qdrant.replica {
            return Self::open_replica(dir, cfg).await;
        }
        // Opening writes (the write-ahead log, the keyword index's meta): on a full disk
        // that could be a SIGBUS, so it is refused here instead.
        crate::ensure_room(dir)?;
        let mut stamp = check_stamp(dir)?;
        let refused = |why: String| IndexError::Refused {
            dir: dir.to_path_buf(),
            why,
        };
        let embedded_shard = dir.join("vectors").join("edge_config.json").is_file();
        let vectors = if cfg.qdrant.url.trim().is_empty() {
            if let Some(c) = &stamp.collection {
                return Err(refused(format!(
                    "its vectors are in the Qdrant collection {c:?} on a server, but no qdrant.url is configured (ZHIKU_QDRANT_URL)"
                )));
            }
            VectorStore::Edge(EdgeStore::open(&dir.join("vectors"))?)
        } else {
            if embedded_shard && stamp.collection.is_none() {
                return Err(refused(format!(
                    "its vectors are in the embedded store under it, but qdrant.url names a server ({}); \
                     unset it, or ingest into a new data directory to use the server",
                    cfg.qdrant.url
                )));
            }
            let wanted = &cfg.qdrant.collection;
            if let Some(own) = stamp.collection.as_ref().filter(|c| *c != wanted) {
                return Err(refused(format!(
                    "its vectors are in the Qdrant collection {own:?}, but the configuration names {wanted:?} \
                     (set qdrant.collection back, or use another data directory for {wanted:?})"
                )));
            }
            let store = connect(cfg).await?;
            if stamp.collection.is_some() && store.created() {
                return Err(refused(format!(
                    "its Qdrant collection {wanted:?} no longer existed on {} (an empty one was made); \
                     the vectors its manifest lists are lost, so ingest again into a new data directory",
                    cfg.qdrant.url
                )));
            }
            VectorStore::Server(store)
        };
        vectors.claim(&stamp.data_id).await.map_err(|e| match e {
            IndexError::Foreign {
                store, owner, ours, ..
            } => IndexError::Foreign {
                store,
                owner,
                ours,
                dir: dir.to_path_buf(),
            },
            other => other,
        })?;
        if let VectorStore::Server(s) = &vectors {
            if stamp.collection.is_none() {
                stamp.collection = Some(s.collection().to_string());
                stamp.save(dir)?;
            }
        }
        let vectors = Arc::new(vectors);
        let keyword = KeywordLeg {
            tantivy: Some(Arc::new(KeywordIndex::open(&dir.join("keyword"))?)),
            sparse: sparse_leg(cfg, &vectors, dir)?,
        };
        Ok(Self {
            keyword: Arc::new(keyword),
            vectors,
            dir: dir.to_path_buf(),
        })
    }

    async fn open_replica(dir: &Path, cfg: &Config) -> Result<Self, IndexError> {
        let refused = |why: &str| IndexError::Refused {
            dir: dir.to_path_buf(),
            why: why.to_string(),
        };
        if cfg.qdrant.url.trim().is_empty() {
            return Err(refused(
                "qdrant.replica needs qdrant.url: a replica serves a Qdrant server's collection (ZHIKU_QDRANT_URL)",
            ));
        }
        if cfg.keyword_backend() != KeywordBackend::Qdrant {
            return Err(refused(
                "qdrant.replica needs the keyword leg in Qdrant (retrieval.keyword = \"auto\" or \"qdrant\"): \
                 a replica keeps no Tantivy index",
            ));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| IndexError::Keyword(format!("{}: {e}", dir.display())))?;
        let vectors = Arc::new(VectorStore::Server(connect(cfg).await?));
        let keyword = KeywordLeg {
            tantivy: None,
            sparse: sparse_leg(cfg, &vectors, dir)?,
        };
        Ok(Self {
            keyword: Arc::new(keyword),
            vectors,
            dir: dir.to_path_buf(),
        })
    }

    /// Whether this process only serves a collection that an ingest job writes.
    pub fn is_replica(&self) -> bool {
        self.keyword.tantivy.is_none()
    }

    /// Whether this data directory can take writes now (see [`crate::ensure_room`]).
    pub fn ensure_room(&self) -> Result<(), IndexError> {
        crate::ensure_room(&self.dir)
    }

    /// Whether its disk still has room (see [`crate::ensure_free_space`]).
    pub fn ensure_free_space(&self) -> Result<(), IndexError> {
        crate::ensure_free_space(&self.dir)
    }
}

async fn connect(cfg: &Config) -> Result<ServerStore, IndexError> {
    let key = std::env::var(&cfg.qdrant.api_key_env)
        .ok()
        .filter(|k| !k.is_empty());
    ServerStore::connect(
        &cfg.qdrant.url,
        &cfg.qdrant.collection,
        key,
        CollectionLayout::from(&cfg.qdrant),
    )
    .await
}

/// The vector store as the keyword leg, when the configuration puts it there. `auto` on a
/// collection made before sparse vectors existed keeps Tantivy, and says so.
fn sparse_leg(
    cfg: &Config,
    vectors: &Arc<VectorStore>,
    dir: &Path,
) -> Result<Option<Arc<VectorStore>>, IndexError> {
    if cfg.keyword_backend() != KeywordBackend::Qdrant {
        return Ok(None);
    }
    if vectors.has_sparse() {
        // A replica opens no Tantivy index, which would otherwise have paid for this.
        crate::analysis::warm_up();
        return Ok(Some(Arc::clone(vectors)));
    }
    let why = format!(
        "{} has no keyword vectors (it was made before they existed); ingest into a new data directory \
         or collection to have them",
        vectors.describe()
    );
    if cfg.retrieval.keyword == KeywordBackend::Auto && !cfg.qdrant.replica {
        tracing::warn!("{why}: the keyword leg stays in Tantivy");
        return Ok(None);
    }
    Err(IndexError::Refused {
        dir: dir.to_path_buf(),
        why,
    })
}
