use std::path::PathBuf;

/// Errors from the indexes and retrieval.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("keyword index: {0}")]
    Keyword(String),
    #[error("vector store: {0}")]
    Vector(String),
    /// A vector-store server that could not be reached, or did not answer in time: what a
    /// hybrid search may go on without (unlike bad input or a broken store).
    #[error("vector store unreachable: {0}")]
    Unreachable(String),
    #[error(
        "the index at {0} is in use by another zhiku process (stop it, or send the work to it)"
    )]
    Busy(PathBuf),
    #[error(transparent)]
    Embed(#[from] zhiku_embed::EmbedError),
    #[error(transparent)]
    Core(#[from] zhiku_core::CoreError),
    #[error("the data directory {dir} cannot be used by this version of zhiku: {why}; use a new --data-dir or delete it and ingest again")]
    Incompatible { dir: PathBuf, why: String },
    #[error("the data directory {dir} cannot be opened: {why}")]
    Refused { dir: PathBuf, why: String },
    #[error(
        "{store} belongs to another data directory (its id {owner}; this one, {dir}, is {ours}); \
         give this data directory a collection of its own (qdrant.collection) or use the one that owns it"
    )]
    Foreign {
        store: String,
        owner: String,
        ours: String,
        dir: PathBuf,
    },
    #[error("corrupt stored chunk: {0}")]
    Corrupt(String),
    #[error(
        "the disk holding {dir} is full: {free_mb} MB free, and zhiku needs {need_mb} MB to open \
         or write it (its indexes write through memory-mapped files); nothing was changed \
         (free some space and try again)"
    )]
    DiskFull {
        dir: PathBuf,
        free_mb: u64,
        need_mb: u64,
    },
    #[error("{dir} is read-only ({why}); nothing was changed")]
    ReadOnly { dir: PathBuf, why: String },
}

impl From<tantivy::TantivyError> for IndexError {
    fn from(e: tantivy::TantivyError) -> Self {
        IndexError::Keyword(e.to_string())
    }
}

impl IndexError {
    /// The data directory cannot be written now (full, or read-only); what is in it stands.
    pub fn is_no_room(&self) -> bool {
        matches!(self, Self::DiskFull { .. } | Self::ReadOnly { .. })
    }

    /// The data directory's stamp, for callers that want to say more.
    pub fn is_busy(&self) -> bool {
        matches!(self, IndexError::Busy(_))
    }

    /// A store that could not be reached or did not answer in time, as opposed to bad input
    /// or a broken store.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, IndexError::Unreachable(_))
    }
}
