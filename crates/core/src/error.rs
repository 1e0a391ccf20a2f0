use std::path::PathBuf;

/// Errors raised by the shared types: bad configuration, bad queries, bad filters.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("cannot read configuration file {path}: {source}")]
    ConfigRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration in {path}: {message}")]
    ConfigParse { path: PathBuf, message: String },
    #[error("invalid value {value:?} for environment variable {var}: {message}")]
    ConfigEnv {
        var: String,
        value: String,
        message: String,
    },
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    #[error("invalid filter: {0}")]
    InvalidFilter(String),
    #[error("unknown domain {0:?}")]
    UnknownDomain(String),
}
