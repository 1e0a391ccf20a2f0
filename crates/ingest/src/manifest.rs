//! What has been ingested: per document, the hash of what produced its chunks and the chunk
//! ids. Written atomically (temporary file + rename) after both indexes have committed, so a
//! run killed at any point leaves a manifest that under-claims, never over-claims.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocEntry {
    pub hash: String,
    pub source: String,
    pub domain: String,
    pub chunks: Vec<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Manifest {
    pub documents: BTreeMap<String, DocEntry>,
    #[serde(skip)]
    path: PathBuf,
}

impl Manifest {
    pub fn load(data_dir: &Path) -> Result<Self, String> {
        let path = data_dir.join("manifest.json");
        let mut m = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice::<Manifest>(&bytes)
                .map_err(|e| format!("{}: unreadable manifest: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Manifest::default(),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        m.path = path;
        Ok(m)
    }

    pub fn save(&self) -> Result<(), String> {
        let tmp = self.path.with_extension("json.tmp");
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&serde_json::to_vec(self).map_err(std::io::Error::other)?)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| format!("{}: {e}", self.path.display()))
    }

    pub fn chunk_count(&self) -> usize {
        self.documents.values().map(|d| d.chunks.len()).sum()
    }
}
