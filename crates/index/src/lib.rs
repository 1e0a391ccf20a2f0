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
mod qdrant_server;
mod vector;

pub use analysis::is_cjk;
pub use edge::EdgeStore;
pub use error::IndexError;
pub use keyword::KeywordIndex;
pub use qdrant_server::{CollectionLayout, ServerStore};
pub use vector::{VectorPoint, VectorStore};
mod index_set;
mod retriever;
mod room;
mod sparse;

pub use index_set::{IndexSet, KeywordLeg, DATA_FORMAT};
pub use retriever::{fuse, HybridRetriever, LegFailure, SearchResults, SearchTimings};
pub use room::{ensure_free_space, ensure_room, MIN_FREE_BYTES};
pub use sparse::{SparseEncoder, SparseTerms, SPARSE_NAME};
