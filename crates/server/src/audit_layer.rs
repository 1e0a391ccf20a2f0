//! Every clinical request leaves one audit record, allowed or refused: this middleware puts
//! an [`AuditFacts`] in the request for authentication and the handler to fill (who, the
//! question, the documents returned), then records it with the response's status. If the
//! record cannot be written the client gets a 503 instead of the response: an access that is
//! not recorded does not happen. A stream records itself when it ends (see
//! [`AuditFacts::defer`]).

use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use zhiku_engine::{AuditAction, AuditAgent, AuditEntry, AuditOutcome};

use crate::auth::peer_ip;
use crate::error::ApiError;
use crate::AppState;

/// What is known of one clinical request so far; shared by the middleware, authentication and
/// the handler.
#[derive(Clone)]
pub struct AuditFacts(Arc<Mutex<Facts>>);

struct Facts {
    entry: AuditEntry,
    deferred: bool,
}

impl AuditFacts {
    fn new(subtype: &str, address: Option<String>) -> Self {
        let mut entry = AuditEntry::new(subtype, AuditAction::Execute);
        if subtype == "audit-read" {
            entry.action = AuditAction::Read;
        }
        entry.agent.address = address;
        Self(Arc::new(Mutex::new(Facts {
            entry,
            deferred: false,
        })))
    }

    fn with<T>(&self, f: impl FnOnce(&mut Facts) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Who is calling, once their credential names them (the address is kept).
    pub fn set_agent(&self, agent: AuditAgent) {
        self.with(|f| {
            let address = f.entry.agent.address.take();
            f.entry.agent = AuditAgent { address, ..agent };
        });
    }

    /// The question as searched (identifiers already removed) and how many were removed.
    pub fn set_question(&self, question: &str, redactions: usize) {
        self.with(|f| {
            f.entry.question = Some(question.to_string());
            f.entry.redactions = redactions;
        });
    }

    /// The documents returned, in order, each once.
    pub fn set_documents<'a>(&self, docs: impl IntoIterator<Item = (&'a str, &'a str)>) {
        self.with(|f| {
            f.entry.documents.clear();
            for (id, title) in docs {
                if !f.entry.documents.iter().any(|(d, _)| d == id) {
                    f.entry.documents.push((id.to_string(), title.to_string()));
                }
            }
        });
    }

    /// The response is a stream: the handler records the access when the stream ends.
    pub fn defer(&self) {
        self.with(|f| f.deferred = true);
    }

    /// The record as it stands, ending with `status` (and an error code, if any).
    pub fn entry(&self, status: u16, code: Option<&str>) -> AuditEntry {
        self.with(|f| {
            let mut e = f.entry.clone();
            e.outcome = AuditOutcome::of_status(status);
            e.outcome_desc = match code {
                Some(c) => format!("{status} {c}"),
                None => status.to_string(),
            };
            e
        })
    }
}

/// The audit subtype of a clinical route, from its path.
fn subtype(path: &str) -> String {
    let last = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    if path.starts_with("/cds-services/") {
        return format!("cds-{last}");
    }
    match last {
        "audit" => "audit-read".into(),
        other => format!("clinical-{other}"),
    }
}

/// The middleware on the clinical routes.
pub async fn record(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let facts = AuditFacts::new(
        &subtype(req.uri().path()),
        peer_ip(req.extensions()).map(|ip| ip.to_string()),
    );
    req.extensions_mut().insert(facts.clone());
    let response = next.run(req).await;
    if facts.with(|f| f.deferred) {
        return response;
    }
    let code = response.extensions().get::<ErrorCode>().map(|c| c.0);
    let entry = facts.entry(response.status().as_u16(), code);
    match state.engine.audit(&entry).await {
        Ok(_) => response,
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// An error response's code, for the audit record (set by `ApiError`).
#[derive(Clone, Copy)]
pub struct ErrorCode(pub &'static str);
