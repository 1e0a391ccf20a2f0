//! The audit trail of clinical access: every clinical request, allowed or refused, becomes one
//! FHIR R4 `AuditEvent` (who, from where, what was asked as a salted hash, which documents
//! were returned, how it ended), appended to the store's hash chain; [`bundle`] exports a time
//! range as a FHIR `Bundle` of type `searchset`.
//!
//! It records what the door tells it and decides nothing about access; the store keeps the
//! chain. A record never holds a question's text unless the configuration asks for it, and
//! then only after identifiers were removed.

mod event;

pub use event::{Action, AuditAgent, AuditEntry, Outcome};

use serde_json::{json, Value};
use zhiku_store::{AuditRow, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{0:?} is neither a day (2027-06-30) nor a time (2027-06-30T18:00:00Z)")]
    Time(String),
    #[error("audit trail: {0}")]
    Store(#[from] StoreError),
    #[error("audit record {seq} is not valid JSON: {source}")]
    Record { seq: i64, source: serde_json::Error },
}

/// Extension URLs carrying a record's place in the chain when exported.
pub const PREVIOUS_HASH_URL: &str = "urn:zhiku:audit-chain:previous-hash";
pub const HASH_URL: &str = "urn:zhiku:audit-chain:hash";

/// Writes audit records for one instance.
#[derive(Debug, Clone)]
pub struct AuditTrail {
    /// Shared by every replica (kept in the store), so that equal questions hash equally.
    salt: String,
    observer: String,
    keep_question_text: bool,
}

impl AuditTrail {
    /// The trail of the instance named `observer`; makes the salt on first use.
    pub async fn open(
        store: &Store,
        observer: &str,
        keep_question_text: bool,
    ) -> Result<Self, AuditError> {
        let salt = store
            .setting_or_insert("audit_question_salt", || {
                format!(
                    "{}{}",
                    uuid::Uuid::new_v4().simple(),
                    uuid::Uuid::new_v4().simple()
                )
            })
            .await?;
        Ok(Self {
            salt,
            observer: observer.to_string(),
            keep_question_text,
        })
    }

    /// The salted SHA-256 of a question: equal questions can be matched, none can be read.
    pub fn question_hash(&self, question: &str) -> String {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(self.salt.as_bytes());
        h.update([0]);
        h.update(question.trim().as_bytes());
        hex::encode(h.finalize())
    }

    /// The AuditEvent for `entry`, recorded now.
    pub fn event(&self, entry: &AuditEntry) -> Value {
        event::to_fhir(self, entry, jiff::Timestamp::now())
    }

    /// Appends `entry`; returns its place in the chain. When this fails the request must
    /// fail too: an access that cannot be recorded does not happen.
    pub async fn record(&self, store: &Store, entry: &AuditEntry) -> Result<i64, AuditError> {
        Ok(store
            .append_audit(&self.event(entry).to_string())
            .await?
            .seq)
    }

    pub(crate) fn observer(&self) -> &str {
        &self.observer
    }

    pub(crate) fn keeps_question_text(&self) -> bool {
        self.keep_question_text
    }
}

/// The rows as a FHIR `Bundle` of type `searchset`, each AuditEvent with its id (its place in
/// the chain) and its chain hashes as extensions.
pub fn bundle(rows: &[AuditRow], self_url: &str) -> Result<Value, AuditError> {
    let entries = rows
        .iter()
        .map(|row| {
            let mut resource: Value =
                serde_json::from_str(&row.record).map_err(|source| AuditError::Record {
                    seq: row.seq,
                    source,
                })?;
            if let Some(obj) = resource.as_object_mut() {
                obj.insert("id".into(), json!(row.seq.to_string()));
                obj.insert(
                    "extension".into(),
                    json!([
                        {"url": PREVIOUS_HASH_URL, "valueString": row.previous_hash},
                        {"url": HASH_URL, "valueString": row.hash},
                    ]),
                );
            }
            Ok(json!({
                "fullUrl": format!("urn:zhiku:audit-event:{}", row.seq),
                "resource": resource,
                "search": {"mode": "match"},
            }))
        })
        .collect::<Result<Vec<_>, AuditError>>()?;
    Ok(json!({
        "resourceType": "Bundle",
        "id": uuid::Uuid::new_v4().to_string(),
        "type": "searchset",
        "timestamp": jiff::Timestamp::now().to_string(),
        "total": entries.len(),
        "link": [{"relation": "self", "url": self_url}],
        "entry": entries,
    }))
}

/// `[since, until)` in Unix milliseconds from texts that are days (`2027-06-30`, UTC: a day
/// `until` includes that day) or RFC 3339 times; absent: the beginning, now.
pub fn time_range(since: Option<&str>, until: Option<&str>) -> Result<(i64, i64), AuditError> {
    let at = |text: &str, end_of_day: bool| -> Result<i64, AuditError> {
        let bad = || AuditError::Time(text.to_string());
        if let Ok(day) = text.trim().parse::<jiff::civil::Date>() {
            let day = if end_of_day {
                day.tomorrow().map_err(|_| bad())?
            } else {
                day
            };
            return format!("{day}T00:00:00Z")
                .parse::<jiff::Timestamp>()
                .map(|t| t.as_millisecond())
                .map_err(|_| bad());
        }
        text.trim()
            .parse::<jiff::Timestamp>()
            .map(|t| t.as_millisecond())
            .map_err(|_| bad())
    };
    let since = since.map(|s| at(s, false)).transpose()?.unwrap_or(0);
    let until = match until {
        Some(u) => at(u, true)?,
        // Just past now, so that a record written this millisecond is included.
        None => jiff::Timestamp::now().as_millisecond() + 1,
    };
    Ok((since, until))
}
