//! The indexes of one data directory, opened together, with a stamp that refuses a directory
//! written by an incompatible version and gives the directory an identity: the vector
//! collection it writes to is marked with that identity, so that two data directories never
//! share one collection (each one's manifest would then claim the other's points).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use zhiku_core::Config;

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

/// Both indexes of a data directory.
#[derive(Clone)]
pub struct IndexSet {
    pub keyword: Arc<KeywordIndex>,
    pub vectors: Arc<VectorStore>,
    pub dir: PathBuf,
}

impl IndexSet {
    pub async fn open(dir: &Path, cfg: &Config) -> Result<Self, IndexError> {
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
            let key = std::env::var(&cfg.qdrant.api_key_env)
                .ok()
                .filter(|k| !k.is_empty());
            let store = ServerStore::connect(&cfg.qdrant.url, wanted, key).await?;
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
        let keyword = KeywordIndex::open(&dir.join("keyword"))?;
        Ok(Self {
            keyword: Arc::new(keyword),
            vectors: Arc::new(vectors),
            dir: dir.to_path_buf(),
        })
    }
}
