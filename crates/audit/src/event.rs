//! One access as a FHIR R4 `AuditEvent`: the codes come from the value sets the resource binds
//! (`audit-event-type`, `audit-event-action`, `audit-event-outcome`, `network-type`,
//! `security-source-type`, `audit-entity-type`, `object-role`).

use base64::Engine as _;
use serde_json::{json, Value};

use crate::AuditTrail;

/// `AuditEvent.action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `R`: a record was read (the audit trail itself).
    Read,
    /// `U`: data was changed (an ingest).
    Update,
    /// `E`: a query or function ran (search, ask, a CDS hook).
    Execute,
}

/// `AuditEvent.outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `0`.
    Success,
    /// `4`: refused or rejected (the caller's fault: 4xx).
    MinorFailure,
    /// `8`: it failed on our side (5xx).
    SeriousFailure,
}

impl Outcome {
    /// From an HTTP status.
    pub fn of_status(status: u16) -> Self {
        match status {
            0..=399 => Self::Success,
            400..=499 => Self::MinorFailure,
            _ => Self::SeriousFailure,
        }
    }

    fn code(self) -> &'static str {
        match self {
            Self::Success => "0",
            Self::MinorFailure => "4",
            Self::SeriousFailure => "8",
        }
    }
}

/// Who asked: a key, a CDS client, the operator; `None` fields when the request was refused
/// before it could say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditAgent {
    /// `api-key`, `cds-client` or `operator`.
    pub kind: String,
    /// The key's id or the client's `iss`.
    pub id: Option<String>,
    pub name: Option<String>,
    /// The peer's IP address.
    pub address: Option<String>,
}

/// What a door knows of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// What was done: `clinical-search`, `clinical-ask`, `cds-order-select`, `audit-read`…
    pub subtype: String,
    pub action: Action,
    pub outcome: Outcome,
    /// e.g. `200`, `403 forbidden_domain`.
    pub outcome_desc: String,
    pub agent: AuditAgent,
    /// The question after identifiers were removed; stored as a salted hash, and as text only
    /// when the configuration asks.
    pub question: Option<String>,
    /// How many identifiers were removed from it (never which).
    pub redactions: usize,
    /// The documents returned: (id, title).
    pub documents: Vec<(String, String)>,
}

impl AuditEntry {
    pub fn new(subtype: &str, action: Action) -> Self {
        Self {
            subtype: subtype.to_string(),
            action,
            outcome: Outcome::Success,
            outcome_desc: String::new(),
            agent: AuditAgent::default(),
            question: None,
            redactions: 0,
            documents: Vec::new(),
        }
    }
}

fn coding(system: &str, code: &str, display: &str) -> Value {
    json!({"system": system, "code": code, "display": display})
}

pub(crate) fn to_fhir(trail: &AuditTrail, e: &AuditEntry, now: jiff::Timestamp) -> Value {
    let action = match e.action {
        Action::Read => "R",
        Action::Update => "U",
        Action::Execute => "E",
    };
    let mut who =
        json!({"display": e.agent.name.clone().unwrap_or_else(|| "unauthenticated".into())});
    if let Some(id) = &e.agent.id {
        who["identifier"] = json!({"system": format!("urn:zhiku:{}", e.agent.kind), "value": id});
    }
    let mut agent = json!({
        "type": {"coding": [coding(
            "http://terminology.hl7.org/CodeSystem/extra-security-role-type",
            "humanuser", "human user")]},
        "who": who,
        "requestor": true,
    });
    if e.agent.kind != "operator" {
        // A system acting for a clinician: the EMR or HIS, not a person we know.
        agent["type"] = json!({"coding": [coding(
            "http://terminology.hl7.org/CodeSystem/extra-security-role-type",
            "datacollector", "data collector")]});
    }
    if let Some(address) = &e.agent.address {
        agent["network"] = json!({"address": address, "type": "2"});
    }
    let mut entities = Vec::new();
    if let Some(q) = &e.question {
        let mut entity = json!({
            "what": {"display": "question"},
            "type": coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object"),
            "role": coding("http://terminology.hl7.org/CodeSystem/object-role", "24", "Query"),
        });
        if trail.keeps_question_text() {
            entity["query"] = json!(base64::engine::general_purpose::STANDARD.encode(q.trim()));
        }
        entity["detail"] = json!([
            {"type": "question-sha256-salted", "valueString": trail.question_hash(q)},
            {"type": "identifiers-redacted", "valueString": e.redactions.to_string()},
        ]);
        entities.push(entity);
    }
    for (id, title) in &e.documents {
        entities.push(json!({
            "what": {"identifier": {"system": "urn:zhiku:document", "value": id}, "display": title},
            "type": coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object"),
            "role": coding("http://terminology.hl7.org/CodeSystem/object-role", "3", "Report"),
        }));
    }
    let mut event = json!({
        "resourceType": "AuditEvent",
        "type": coding("http://terminology.hl7.org/CodeSystem/audit-event-type", "rest", "RESTful Operation"),
        "subtype": [{"system": "urn:zhiku:audit-subtype", "code": e.subtype, "display": e.subtype}],
        "action": action,
        "recorded": now.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "outcome": e.outcome.code(),
        "agent": [agent],
        "source": {
            "site": trail.observer(),
            "observer": {"display": trail.observer()},
            "type": [coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4", "Application Server")],
        },
    });
    if !e.outcome_desc.is_empty() {
        event["outcomeDesc"] = json!(e.outcome_desc);
    }
    if !entities.is_empty() {
        event["entity"] = Value::Array(entities);
    }
    event
}
