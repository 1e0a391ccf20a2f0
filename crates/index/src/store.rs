//! The indexes of one data directory, opened together, with a format stamp so that a
//! directory written by an incompatible version is refused with a clear error.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use zhiku_core::Config;

use crate::{EdgeStore, IndexError, KeywordIndex, ServerStore, VectorStore};

/// Bumped whenever the on-disk layout, the chunk payload or the embedding model changes.
pub const DATA_FORMAT: u32 = 1;
const STAMP_FILE: &str = "zhiku-data.json";

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Stamp {
    format: u32,
    embedding_model: String,
    dimension: usize,
}

impl Stamp {
    fn current() -> Self {
        Self {
            format: DATA_FORMAT,
            embedding_model: "multilingual-e5-small".into(),
            dimension: zhiku_embed::DIMENSION,
        }
    }
}

/// Checks (or writes, for a new directory) the format stamp.
fn check_stamp(dir: &Path) -> Result<(), IndexError> {
    let path = dir.join(STAMP_FILE);
    let incompatible = |why: String| IndexError::Incompatible {
        dir: dir.to_path_buf(),
        why,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let stamp: Stamp = serde_json::from_str(&text)
                .map_err(|e| incompatible(format!("unreadable {STAMP_FILE}: {e}")))?;
            if stamp != Stamp::current() {
                return Err(incompatible(format!(
                    "written as format {} with {} ({} dims); this zhiku uses format {DATA_FORMAT} with multilingual-e5-small",
                    stamp.format, stamp.embedding_model, stamp.dimension
                )));
            }
            Ok(())
        }
        Err(_) => {
            let non_empty = std::fs::read_dir(dir)
                .map(|mut d| d.next().is_some())
                .unwrap_or(false);
            if non_empty {
                return Err(incompatible(format!(
                    "the folder is not empty and has no {STAMP_FILE}"
                )));
            }
            std::fs::create_dir_all(dir)
                .map_err(|e| IndexError::Keyword(format!("{}: {e}", dir.display())))?;
            let text = serde_json::to_string_pretty(&Stamp::current()).unwrap_or_default();
            std::fs::write(&path, text)
                .map_err(|e| IndexError::Keyword(format!("{}: {e}", path.display())))
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
        check_stamp(dir)?;
        let vectors = if cfg.qdrant.url.trim().is_empty() {
            VectorStore::Edge(EdgeStore::open(&dir.join("vectors"))?)
        } else {
            let key = std::env::var(&cfg.qdrant.api_key_env)
                .ok()
                .filter(|k| !k.is_empty());
            VectorStore::Server(
                ServerStore::connect(&cfg.qdrant.url, &cfg.qdrant.collection, key).await?,
            )
        };
        let keyword = KeywordIndex::open(&dir.join("keyword"))?;
        Ok(Self {
            keyword: Arc::new(keyword),
            vectors: Arc::new(vectors),
            dir: dir.to_path_buf(),
        })
    }
}
