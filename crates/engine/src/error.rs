use zhiku_agent::AgentError;
use zhiku_core::CoreError;
use zhiku_index::IndexError;
use zhiku_ingest::IngestError;
use zhiku_store::StoreError;
use zhiku_wechat::WeChatError;

/// What went wrong, as a transport needs to know it: whose fault, and what to say.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Empty or over-long query, unknown domain, malformed filter.
    #[error(transparent)]
    Invalid(#[from] CoreError),
    #[error("unknown filter key {key:?}; {scope} can be filtered on: {}", fields.join(", "))]
    UnknownFilterKey {
        key: String,
        scope: String,
        fields: Vec<&'static str>,
    },
    /// A wrong name or password (which of the two is not said).
    #[error("wrong user name or password")]
    BadCredentials,
    #[error("unknown role {0:?}: student or teacher")]
    UnknownRole(String),
    #[error("{0}")]
    InvalidAccount(String),
    /// Unknown, or above the caller's clearance: the two are indistinguishable on purpose.
    #[error("document {0:?} not found")]
    DocumentNotFound(String),
    /// The caller is who it says but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// Unknown, or another caller's: the two are indistinguishable on purpose.
    #[error("conversation {0:?} not found")]
    ConversationNotFound(String),
    #[error(transparent)]
    Agent(AgentError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Embed(#[from] zhiku_embed::EmbedError),
    #[error(transparent)]
    Manifest(#[from] zhiku_ingest::ManifestError),
    /// The access could not be recorded, so it is not done.
    #[error(transparent)]
    Audit(#[from] zhiku_audit::AuditError),
    /// A door that configuration leaves closed.
    #[error("{0}")]
    NotConfigured(String),
    #[error(transparent)]
    WeChat(#[from] zhiku_wechat::WeChatError),
    #[error("this text did not pass WeChat's content check and is not answered")]
    ContentRejected,
    #[error("the content check could not run and is required (mini_program.content_check): {0}")]
    ContentCheckFailed(String),
}

/// The class of an error, which a transport maps to its own status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Invalid,
    /// The credentials do not prove who the caller says.
    Unauthenticated,
    Forbidden,
    NotFound,
    /// Another ingest is running; try again.
    Busy,
    /// A dependency (index, database, model) failed.
    Unavailable,
    /// Understood, and refused for what it says (422).
    Rejected,
    /// The caller must slow down.
    RateLimited,
    /// An upstream service (WeChat) answered wrongly or not at all.
    Upstream,
    UpstreamTimeout,
    /// The data directory cannot take writes now (disk full, read-only); reads go on.
    NoRoom,
}

impl From<AgentError> for EngineError {
    fn from(e: AgentError) -> Self {
        match e {
            AgentError::Invalid(c) => EngineError::Invalid(c),
            other => EngineError::Agent(other),
        }
    }
}

impl EngineError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Invalid(_)
            | Self::UnknownFilterKey { .. }
            | Self::UnknownRole(_)
            | Self::InvalidAccount(_) => ErrorKind::Invalid,
            Self::BadCredentials => ErrorKind::Unauthenticated,
            Self::Store(StoreError::Exists(_)) => ErrorKind::Invalid,
            Self::Agent(e) if e.is_caller_error() => ErrorKind::Invalid,
            Self::Index(IndexError::Core(_)) => ErrorKind::Invalid,
            Self::Ingest(IngestError::PruneTooLarge { .. }) => ErrorKind::Invalid,
            // A domain the registry does not know, an unparsable filter: the request's fault.
            Self::Ingest(IngestError::Core(_)) => ErrorKind::Invalid,
            // A stored key whose channel or clearance does not parse is refused, never guessed.
            Self::Store(StoreError::Invalid { .. }) => ErrorKind::Unauthenticated,
            Self::Forbidden(_) | Self::WeChat(WeChatError::Blocked) => ErrorKind::Forbidden,
            Self::WeChat(WeChatError::InvalidCode) => ErrorKind::Unauthenticated,
            Self::WeChat(WeChatError::TooFrequent) => ErrorKind::RateLimited,
            Self::WeChat(WeChatError::Timeout(_)) => ErrorKind::UpstreamTimeout,
            Self::WeChat(
                WeChatError::Other { .. } | WeChatError::Unreachable(_) | WeChatError::Malformed(_),
            ) => ErrorKind::Upstream,
            Self::ContentRejected => ErrorKind::Rejected,
            Self::ConversationNotFound(_) | Self::DocumentNotFound(_) => ErrorKind::NotFound,
            Self::Index(IndexError::Busy(_))
            | Self::Ingest(IngestError::Index(IndexError::Busy(_))) => ErrorKind::Busy,
            Self::Index(e) | Self::Ingest(IngestError::Index(e)) if e.is_no_room() => {
                ErrorKind::NoRoom
            }
            _ => ErrorKind::Unavailable,
        }
    }

    /// A short stable name for the error, for machines (`unknown_domain`, `invalid_query`…).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(CoreError::UnknownDomain(_))
            | Self::Ingest(IngestError::Core(CoreError::UnknownDomain(_))) => "unknown_domain",
            Self::Store(StoreError::Invalid { .. }) => "key_misconfigured",
            Self::Invalid(CoreError::InvalidQuery(_)) => "invalid_query",
            Self::Invalid(CoreError::InvalidFilter(_)) => "invalid_filter",
            Self::Invalid(_) => "invalid_request",
            Self::UnknownFilterKey { .. } => "unknown_filter_key",
            Self::Forbidden(_) => "forbidden",
            Self::ConversationNotFound(_) => "conversation_not_found",
            Self::DocumentNotFound(_) => "document_not_found",
            Self::BadCredentials => "bad_credentials",
            Self::UnknownRole(_) => "unknown_role",
            Self::InvalidAccount(_) => "invalid_account",
            Self::Store(StoreError::Exists(_)) => "already_exists",
            Self::NotConfigured(_) | Self::WeChat(WeChatError::NoSecret(_)) => "not_configured",
            Self::WeChat(WeChatError::InvalidCode) => "invalid_code",
            Self::WeChat(WeChatError::TooFrequent) => "login_too_frequent",
            Self::WeChat(WeChatError::Blocked) => "user_blocked",
            Self::WeChat(WeChatError::Busy) => "wechat_busy",
            Self::WeChat(WeChatError::Timeout(_)) => "wechat_timeout",
            Self::WeChat(WeChatError::Malformed(_)) => "wechat_bad_reply",
            Self::WeChat(_) => "wechat_error",
            Self::ContentRejected => "content_rejected",
            Self::ContentCheckFailed(_) => "content_check_unavailable",
            Self::Ingest(IngestError::PruneTooLarge { .. }) => "prune_too_large",
            Self::Index(IndexError::DiskFull { .. })
            | Self::Ingest(IngestError::Index(IndexError::DiskFull { .. })) => "disk_full",
            Self::Index(IndexError::ReadOnly { .. })
            | Self::Ingest(IngestError::Index(IndexError::ReadOnly { .. })) => "read_only",
            e if e.kind() == ErrorKind::Busy => "busy",
            e if e.kind() == ErrorKind::Invalid => "invalid_request",
            Self::Store(_) => "database_unavailable",
            Self::Audit(_) => "audit_unavailable",
            _ => "unavailable",
        }
    }
}
