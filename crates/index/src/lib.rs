//! Zhiku's indexes and retrieval: the Tantivy keyword index (BM25 over Chinese + English),
//! the vector store (embedded Qdrant Edge or a Qdrant server), and the [`HybridRetriever`]
//! that runs both legs concurrently and fuses them (normalised scores, or reciprocal ranks).
//!
//! It stores and finds chunks; it does not load files, chunk text (that is `zhiku-ingest`),
//! speak HTTP or call a large model.

mod analysis;
mod edge;
mod error;
mod keyword;
mod server;
mod vector;

pub use analysis::is_cjk;
pub use edge::EdgeStore;
pub use error::IndexError;
pub use keyword::KeywordIndex;
pub use server::{CollectionLayout, ServerStore};
pub use vector::{VectorPoint, VectorStore};
mod retriever;
mod room;
mod sparse;
mod store;

pub use retriever::{fuse, HybridRetriever, LegFailure, SearchResults, SearchTimings};
pub use room::{ensure_free_space, ensure_room, MIN_FREE_BYTES};
pub use sparse::{SparseEncoder, SparseTerms, SPARSE_NAME};
pub use store::{IndexSet, KeywordLeg, DATA_FORMAT};
