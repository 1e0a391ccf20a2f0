//! What the engine does so that identifiers and accesses are handled once for every door:
//! questions lose their patient identifiers before retrieval, a model or a log sees them
//! (`privacy.redact_identifiers`), and accesses are appended to the audit trail.

use std::sync::Arc;

use zhiku_audit::{AuditAgent, AuditEntry, AuditTrail};
use zhiku_core::Config;
use zhiku_redact::{Redacted, Redactor};
use zhiku_store::Store;

use crate::{Caller, Channel, Engine, EngineError};

pub(crate) async fn open_audit(config: &Config, store: &Store) -> Result<AuditTrail, EngineError> {
    let observer = Some(config.clinical.instance.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "zhiku".into());
    Ok(AuditTrail::open(store, &observer, config.clinical.audit_question_text).await?)
}

pub(crate) fn redactor(config: &Config) -> Result<Option<Arc<Redactor>>, EngineError> {
    if !config.privacy.redact_identifiers {
        return Ok(None);
    }
    Redactor::new(&config.privacy.record_patterns)
        .map(|r| Some(Arc::new(r)))
        .map_err(|e| {
            EngineError::Invalid(zhiku_core::CoreError::ConfigParse {
                path: "<configuration>".into(),
                message: format!("privacy.record_patterns: {e}"),
            })
        })
}

/// The audit trail's view of a caller.
pub fn audit_agent(caller: &Caller) -> AuditAgent {
    let principal = caller.principal();
    let (kind, id) = match principal.split_once(':') {
        Some((kind, id)) => (
            if kind == "key" { "api-key" } else { kind },
            Some(id.to_string()),
        ),
        None if caller.channel() == Channel::Terminal => ("operator", None),
        None => (principal, None),
    };
    AuditAgent {
        kind: kind.to_string(),
        id,
        name: Some(principal.to_string()),
        address: None,
    }
}

impl Engine {
    /// `text` without patient identifiers (unchanged when `privacy.redact_identifiers` is off).
    pub fn redact(&self, text: &str) -> Redacted {
        match &self.redactor {
            Some(r) => r.redact(text),
            None => Redacted {
                text: text.to_string(),
                counts: Default::default(),
            },
        }
    }

    /// Records that `caller` was given passages of an audited domain (medicine) through a
    /// door other than the clinical one, which records its own requests: one record per
    /// response, the same FHIR AuditEvent the clinical door writes, its subtype naming the
    /// door (`api-search`, `web-ask`, `mini-program-document`, …). `read` lists the passages
    /// given as (document id, title, domain); a response with none of an audited domain
    /// records nothing. `question` is the text as searched, identifiers already removed, with
    /// how many were. An error means the response must not be given.
    pub async fn audit_reading<'a>(
        &self,
        caller: &Caller,
        what: &str,
        question: Option<(&str, usize)>,
        read: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
    ) -> Result<(), EngineError> {
        if matches!(caller.channel(), Channel::Clinical | Channel::Terminal) {
            return Ok(());
        }
        let mut documents: Vec<(String, String)> = Vec::new();
        for (doc, title, domain) in read {
            let audited = self.registry().get(domain).is_ok_and(|d| d.audited());
            if audited && !documents.iter().any(|(d, _)| d == doc) {
                documents.push((doc.to_string(), title.to_string()));
            }
        }
        if documents.is_empty() {
            return Ok(());
        }
        let mut entry = AuditEntry::new(
            &format!("{}-{what}", caller.channel().as_str()),
            zhiku_audit::Action::Execute,
        );
        entry.agent = audit_agent(caller);
        entry.outcome_desc = "200".into();
        if let Some((text, redactions)) = question {
            entry.question = Some(text.to_string());
            entry.redactions = redactions;
        }
        entry.documents = documents;
        self.audit(&entry).await.map(|_| ())
    }

    pub fn audit_trail(&self) -> &AuditTrail {
        &self.audit
    }

    /// Appends one record to the audit trail; an error means the access must not be reported
    /// as done.
    pub async fn audit(&self, entry: &AuditEntry) -> Result<i64, EngineError> {
        Ok(self.audit.record(&self.store, entry).await?)
    }
}

/// The records of `[since_ms, until_ms)` as a FHIR searchset Bundle (the CLI reads the store
/// without an engine).
pub async fn audit_bundle(
    store: &Store,
    since_ms: i64,
    until_ms: i64,
    self_url: &str,
) -> Result<serde_json::Value, EngineError> {
    let rows = store.audit_rows(since_ms, until_ms).await?;
    Ok(zhiku_audit::bundle(&rows, self_url)?)
}

impl Engine {
    pub async fn audit_bundle(
        &self,
        since_ms: i64,
        until_ms: i64,
        self_url: &str,
    ) -> Result<serde_json::Value, EngineError> {
        audit_bundle(&self.store, since_ms, until_ms, self_url).await
    }
}
