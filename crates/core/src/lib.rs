//! Zhiku's shared vocabulary: documents, chunks, hits, search filters, classification levels,
//! the [`Domain`] plug-in trait and the configuration file.
//!
//! This crate holds data and rules about data only. It does no I/O beyond reading the
//! configuration file, and knows nothing of embeddings, indexes, HTTP or large models: those
//! live in `zhiku-embed`, `zhiku-index`, `zhiku-ingest` and the binary.

mod channel;
mod classification;
mod clinical;
mod config;
mod domain;
mod error;
mod filter;
mod mini_program;
mod model;

pub use channel::Channel;
pub use classification::Classification;
pub use clinical::{CdsClient, ClinicalConfig, PrivacyConfig, RateLimit, TlsConfig};
pub use config::{
    default_home, AgentConfig, Config, DatabaseConfig, EmbeddingConfig, EmbeddingWeights, Fusion,
    IngestConfig, KeywordBackend, LlmConfig, QdrantConfig, RetrievalConfig, ServerConfig,
    WebConfig,
};
pub use domain::{
    AnswerPolicy, Domain, DomainRegistry, DomainRetrieval, FilterField, LoadDefaults, LoadIssue,
    LoadedFile, QuestionHints,
};
pub use error::CoreError;
pub use filter::{haversine_m, GeoRadius, SearchFilter};
pub use mini_program::{ContentCheck, MiniProgramConfig, RouteConfig};
pub use model::{
    stable_chunk_id, Chunk, Document, Hit, LegScore, RetrievalMode, Section, SourceRef, SourceSpan,
};

/// Validates a user's query text: not empty after trimming, and not longer than `max_chars`.
pub fn validate_query(query: &str, max_chars: usize) -> Result<&str, CoreError> {
    let q = query.trim();
    if q.is_empty() {
        return Err(CoreError::InvalidQuery("the query is empty".into()));
    }
    let n = q.chars().count();
    if n > max_chars {
        return Err(CoreError::InvalidQuery(format!(
            "the query is {n} characters long; the limit is {max_chars}"
        )));
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_validation() {
        assert!(validate_query("  ", 10).is_err());
        assert!(validate_query("故宫", 10).is_ok());
        let long = "字".repeat(11);
        let err = validate_query(&long, 10).unwrap_err().to_string();
        assert!(err.contains("11 characters"), "{err}");
    }
}
