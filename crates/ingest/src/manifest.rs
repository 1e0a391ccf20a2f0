//! What has been ingested, and what an interrupted run was about to change.
//!
//! `manifest.json` holds, per document, the hash of what produced its chunks, its source file
//! and its chunk ids. `intent.json` is written (atomically, synced) before a batch touches
//! either index and removed once the manifest records the batch: a run killed in between
//! leaves the intent, and the next run settles it (see `Ingestor::settle`). Together they make
//! "the manifest claims exactly what both indexes hold" true at every instant that matters.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{path}: unreadable (it is written only by zhiku; restore it or start a new data directory): {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocEntry {
    pub hash: String,
    /// The document's source name (see `SourceRef::path`).
    pub source: String,
    pub domain: String,
    pub chunks: Vec<String>,
    /// Absolute path of the source file when it was ingested: what `--prune` checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// The document's level, so counts can be given within a caller's clearance. Entries
    /// written before it was kept read as `restricted`: counted only for those who may see
    /// everything, until the document is next written.
    #[serde(default = "most_restricted")]
    pub classification: zhiku_core::Classification,
    /// The document stated no level, nor did its folder: it took its domain's default.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub classification_defaulted: bool,
}

fn most_restricted() -> zhiku_core::Classification {
    zhiku_core::Classification::Restricted
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Manifest {
    pub documents: BTreeMap<String, DocEntry>,
    /// Points were written since the vector index was last optimised (kept across runs, so
    /// that an optimisation that was killed or failed is retried by the next run).
    #[serde(default)]
    pub optimize_pending: bool,
    #[serde(skip)]
    path: PathBuf,
}

const MANIFEST_FILE: &str = "manifest.json";
const INTENT_FILE: &str = "intent.json";

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, ManifestError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| ManifestError::Parse {
                    path: path.to_path_buf(),
                    source,
                })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ManifestError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Temporary file, fsync, rename, fsync of the folder: after it returns, a crash leaves
/// either the old file or the new one, never a torn one.
fn write_atomic(path: &Path, value: &impl Serialize) -> Result<(), ManifestError> {
    let tmp = path.with_extension("json.tmp");
    let write = || -> std::io::Result<()> {
        let bytes = serde_json::to_vec(value).map_err(std::io::Error::other)?;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    };
    write().map_err(|source| ManifestError::Io {
        path: path.to_path_buf(),
        source,
    })
}

impl Manifest {
    pub fn load(data_dir: &Path) -> Result<Self, ManifestError> {
        let path = data_dir.join(MANIFEST_FILE);
        let mut m: Manifest = read_json(&path)?.unwrap_or_default();
        m.path = path;
        Ok(m)
    }

    pub fn save(&self) -> Result<(), ManifestError> {
        write_atomic(&self.path, self)
    }

    pub fn chunk_count(&self) -> usize {
        self.documents.values().map(|d| d.chunks.len()).sum()
    }
}

/// The documents a run is about to change: each id with the hash the manifest will hold for
/// it when the change is complete (`None`: the document is being removed).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Intent {
    pub documents: BTreeMap<String, Option<String>>,
}

impl Intent {
    pub fn load(data_dir: &Path) -> Result<Option<Self>, ManifestError> {
        read_json(&data_dir.join(INTENT_FILE))
    }

    pub fn save(&self, data_dir: &Path) -> Result<(), ManifestError> {
        write_atomic(&data_dir.join(INTENT_FILE), self)
    }

    pub fn clear(data_dir: &Path) -> Result<(), ManifestError> {
        let path = data_dir.join(INTENT_FILE);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(ManifestError::Io { path, source }),
        }
    }

    /// The documents whose change did not complete: the manifest does not hold the hash the
    /// intent named for them.
    pub fn unfinished(&self, manifest: &Manifest) -> Vec<String> {
        self.documents
            .iter()
            .filter(|(id, target)| manifest.documents.get(*id).map(|e| &e.hash) != target.as_ref())
            .map(|(id, _)| id.clone())
            .collect()
    }
}
