//! Zhiku's engine: the one object every front door drives. It assembles the embedder, the
//! indexes, the domains, the agent and the store from a configuration, and offers the
//! operations users reach — search, ask (streamed), conversations, ingest, stats, places near
//! a point and a day's route, tourists' sessions — each taking the [`Caller`] its transport authenticated.
//!
//! Transports (the `zhiku` terminal commands, the HTTP server) parse, authenticate and print;
//! the rules about who may see what live here, once: clearance and allowed domains come from
//! the caller, a request can only narrow them, conversations belong to their caller.

mod accounts;
mod answering;
mod caller;
mod conversations;
mod documents;
mod domains;
mod engine;
mod error;
mod places;
mod privacy;
mod scope;
mod tourists;

pub use accounts::{add_user, set_password, Role, WebUser};
pub use answering::Prepared;
pub use caller::{Caller, Channel};
pub use conversations::ConversationItem;
pub use documents::{DocumentView, DomainFacets, FacetValue};
pub use domains::registry;
pub use engine::{
    discard, open_store, paths_text, scratch_config, stats_of, uses_server, AskInput,
    ConversationView, Engine, History, IngestSlot, Readiness, Spot, Stats, TurnSources, TurnView,
    VisibleStats,
};
pub use error::{EngineError, ErrorKind};
pub use places::{
    Lang, Mention, NotProposed, Place, PlaceDetail, Quote, RoutePlan, RouteRequest, RouteStop,
};
pub use privacy::{audit_agent, audit_bundle};
pub use scope::Narrowing;
pub use tourists::{ContentChecked, MiniProgramLogin, Preferences, Tourist};
pub use zhiku_audit::{
    time_range, Action as AuditAction, AuditAgent, AuditEntry, Outcome as AuditOutcome,
};
pub use zhiku_redact::{IdentifierKind, Redacted};

pub use zhiku_agent::{Answer, AnswerEvent, AnswerMode, Citation, Turn};
pub use zhiku_core::{
    Chunk, Classification, Config, GeoRadius, Hit, RateLimit, RetrievalMode, SearchFilter,
};
pub use zhiku_index::SearchResults;
pub use zhiku_ingest::{IngestOptions, IngestReport, GENERAL as GENERAL_DOMAIN};
/// The medicine behind CDS cards (the CDS Hooks door renders them).
pub use zhiku_medicine::cds;
pub use zhiku_store::{MpDeleted, NewKey};
pub use zhiku_tour::{Leg, OpeningHours, Travel};
