//! Ingestion: finds files, lets each domain load them into documents, chunks them by
//! embedding-model tokens, embeds in length-sorted batches and writes both indexes, so that
//! re-running on an unchanged corpus does nothing and a killed run is finished by the next.
//!
//! The `general` domain lives here, on the loaders of `zhiku-loaders`; domain crates add
//! their own. Searching is `zhiku-index`'s job.

mod chunker;
mod general;
mod manifest;
mod pipeline;
mod sources;
mod walk;

pub use chunker::{embedding_text, signature as ingest_signature, Chunker};
pub use general::{GeneralDomain, GENERAL};
pub use manifest::{DocEntry, Intent, Manifest, ManifestError};
pub use pipeline::{IngestOptions, IngestReport, Ingestor};
pub use sources::{absolute, SourceNames};
pub use walk::files_under;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Index(#[from] zhiku_index::IndexError),
    #[error(transparent)]
    Embed(#[from] zhiku_embed::EmbedError),
    #[error(transparent)]
    Core(#[from] zhiku_core::CoreError),
    #[error("manifest: {0}")]
    Manifest(#[from] ManifestError),
    #[error("chunking configuration: {0}")]
    Config(String),
    #[error(
        "--prune would remove {would_remove} of the {indexed} indexed documents (more than \
         ingest.prune_max_share = {share}); nothing was changed. Check that the paths are the \
         ones you meant and are mounted, then run again with --yes to remove them"
    )]
    PruneTooLarge {
        would_remove: usize,
        indexed: usize,
        share: f64,
    },
}
