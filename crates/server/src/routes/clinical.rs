//! The clinicians' API (`/api/clinical/v1/…`) for hospital systems: guideline search and
//! answers whose every source names its guideline, issuer, version, section, recommendation,
//! strength and evidence with the exact cited text; and the audit trail as a FHIR Bundle.
//! Callers are API keys allowed the medicine domain; each request is audited (`audit_layer.rs`).

use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zhiku_engine::{AskInput, Caller, Channel, Chunk, History, RetrievalMode};

use super::api::{narrowing, FilterValue};
use crate::answering::{respond, wants_stream, Door};
use crate::audit_layer::AuditFacts;
use crate::auth::{Admin, Authed};
use crate::error::{ApiError, ApiJson, ApiQuery};
use crate::AppState;

const MEDICINE: &str = "medicine";

/// Narrowing a clinical search: each field one value or several (any matches).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClinicalFilters {
    /// e.g. `endocrinology`.
    pub department: Option<FilterValue>,
    /// `strong` or `weak`.
    pub strength: Option<FilterValue>,
    /// Evidence level: `A`, `B` or `C`.
    pub evidence: Option<FilterValue>,
    /// The guideline's short name.
    pub guideline: Option<FilterValue>,
}

impl ClinicalFilters {
    fn into_map(self) -> std::collections::BTreeMap<String, FilterValue> {
        [
            ("department", self.department),
            ("strength", self.strength),
            ("evidence", self.evidence),
            ("guideline", self.guideline),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_string(), v?)))
        .collect()
    }
}

/// A guideline passage as a clinical source.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClinicalSource {
    /// The answer's `[n]`; absent in search results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<usize>,
    pub doc_id: String,
    pub chunk_id: String,
    pub guideline: Option<String>,
    pub title: String,
    pub issuer: Option<String>,
    pub version: Option<String>,
    pub year: Option<String>,
    pub department: Option<String>,
    /// Section path, e.g. `4 Drug therapy > 4.2 First-line drug therapy`.
    pub section: String,
    /// The recommendation's number, when the passage is one.
    pub recommendation: Option<String>,
    pub strength: Option<String>,
    pub evidence: Option<String>,
    pub lang: Option<String>,
    /// The cited text, exactly as it stands in the file at `path` bytes `start..end` (in the
    /// document's text when `span_in_file` is false).
    pub text: String,
    pub path: String,
    pub line: Option<usize>,
    pub start: usize,
    pub end: usize,
    pub span_in_file: bool,
}

impl ClinicalSource {
    fn of(chunk: &Chunk, marker: Option<usize>) -> Self {
        let meta = |k: &str| chunk.metadata.get(k).cloned();
        let span = chunk.source_span();
        Self {
            marker,
            doc_id: chunk.doc_id.clone(),
            chunk_id: chunk.id.clone(),
            guideline: meta("guideline"),
            title: chunk.title.clone(),
            issuer: meta("issuer"),
            version: meta("version"),
            year: meta("year"),
            department: meta("department"),
            section: chunk.section.clone(),
            recommendation: meta("recommendation"),
            strength: meta("strength"),
            evidence: meta("evidence"),
            lang: chunk.lang.clone(),
            text: chunk.text.clone(),
            path: chunk.source.path.clone(),
            line: chunk.source.line,
            start: span.start,
            end: span.end,
            span_in_file: span.in_file,
        }
    }
}

/// The caller as the clinical door sees it: an API key allowed the medicine domain.
fn clinical_caller(caller: Caller) -> Result<Caller, ApiError> {
    if !caller.principal().starts_with("key:") {
        return Err(ApiError::unauthorized(
            "api_key_required",
            "the clinical API needs an API key: Authorization: Bearer <key>",
        ));
    }
    if !caller.may_use(MEDICINE) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden_domain",
            "this key is not allowed the medicine domain",
        ));
    }
    Ok(Caller::authenticated(
        caller.principal(),
        Channel::Clinical,
        caller.clearance(),
        Some(vec![MEDICINE.to_string()]),
        false,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClinicalSearchBody {
    pub query: String,
    #[serde(default)]
    pub filters: ClinicalFilters,
    /// Results to return, 1–50 (default 5).
    pub k: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub struct ClinicalSearchResponse {
    results: Vec<ClinicalResult>,
    /// Identifiers replaced by placeholders in the query before it was searched.
    redacted_identifiers: usize,
    /// Said when the results are not what a normal search gives (one leg's store was
    /// unreachable); absent otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notices: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ClinicalResult {
    rank: usize,
    score: f32,
    source: ClinicalSource,
}

/// Guideline passages for a clinical query.
#[utoipa::path(post, path = "/api/clinical/v1/search", tag = "clinical",
    request_body = ClinicalSearchBody, responses(
    (status = 200, body = ClinicalSearchResponse),
    (status = 401, body = crate::ErrorBody), (status = 403, body = crate::ErrorBody),
    (status = 422, body = crate::ErrorBody), (status = 429, body = crate::ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    Extension(facts): Extension<AuditFacts>,
    Authed(caller): Authed,
    ApiJson(body): ApiJson<ClinicalSearchBody>,
) -> Result<Json<ClinicalSearchResponse>, ApiError> {
    let caller = clinical_caller(caller)?;
    let redacted = state.engine.redact(&body.query);
    facts.set_question(&redacted.text, redacted.total());
    let n = narrowing(vec![MEDICINE.into()], body.filters.into_map(), None);
    let k = body.k.unwrap_or(5).clamp(1, 50);
    let results = state
        .engine
        .search(&caller, &redacted.text, &n, k, RetrievalMode::Hybrid)
        .await?;
    facts.set_documents(
        results
            .hits
            .iter()
            .map(|h| (h.chunk.doc_id.as_str(), h.chunk.title.as_str())),
    );
    Ok(Json(ClinicalSearchResponse {
        notices: crate::routes::search_notices(&results, &redacted.text),
        results: results
            .hits
            .iter()
            .enumerate()
            .map(|(i, h)| ClinicalResult {
                rank: i + 1,
                score: h.score,
                source: ClinicalSource::of(&h.chunk, None),
            })
            .collect(),
        redacted_identifiers: redacted.total(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClinicalAskBody {
    pub question: String,
    #[serde(default)]
    pub filters: ClinicalFilters,
}

/// A clinical answer: the text with `[n]` markers and each marker's source.
#[derive(Serialize, ToSchema)]
pub struct ClinicalAnswer {
    text: String,
    sources: Vec<ClinicalSource>,
    /// `model` or `extractive`.
    mode: &'static str,
    /// What the reader must know: extractive mode, a failed model, redacted identifiers…
    notices: Vec<String>,
    abstained: bool,
    redacted_identifiers: usize,
}

/// Clinical sources with each answer; a stream's audit record written (in the answer's own
/// task, so that a client that goes away does not stop it) before its last event is sent.
struct ClinicalDoor {
    facts: AuditFacts,
}

impl Door for ClinicalDoor {
    const LABEL: &'static str = "clinical";
    type Body = ClinicalAnswer;

    fn streaming(&mut self) -> Option<axum::response::sse::Event> {
        // The stream records itself when it ends, not the middleware when its head is sent.
        self.facts.defer();
        None
    }

    async fn whole(
        &mut self,
        state: &AppState,
        caller: &Caller,
        a: zhiku_engine::Answer,
    ) -> Result<ClinicalAnswer, ApiError> {
        let chunks = state.engine.cited_sources(caller, &a).await?;
        let sources: Vec<ClinicalSource> = a
            .citations
            .iter()
            .zip(&chunks)
            .filter_map(|(c, chunk)| Some(ClinicalSource::of(chunk.as_ref()?, Some(c.marker))))
            .collect();
        self.facts.set_documents(
            sources
                .iter()
                .map(|s| (s.doc_id.as_str(), s.title.as_str())),
        );
        Ok(ClinicalAnswer {
            text: a.text,
            sources,
            mode: a.mode.as_str(),
            notices: a.notices,
            abstained: a.abstained,
            redacted_identifiers: a.redacted_identifiers,
        })
    }

    async fn settle(
        &mut self,
        state: &AppState,
        outcome: Result<(), &ApiError>,
    ) -> Result<(), ApiError> {
        let entry = match outcome {
            Ok(()) => self.facts.entry(200, None),
            Err(e) => self.facts.entry(e.status.as_u16(), Some(e.code)),
        };
        state.engine.audit(&entry).await?;
        Ok(())
    }
}

/// Answers a clinical question from the guidelines, whole (JSON) or as server-sent events
/// (`Accept: text/event-stream`: `started`, `text`, `citation`, `notice`, then `done` with the
/// whole answer, or `error`). Patient identifiers are replaced by placeholders first.
#[utoipa::path(post, path = "/api/clinical/v1/ask", tag = "clinical",
    request_body = ClinicalAskBody, responses(
    (status = 200, description = "The answer (JSON), or its events (text/event-stream)", body = ClinicalAnswer),
    (status = 401, body = crate::ErrorBody), (status = 403, body = crate::ErrorBody),
    (status = 422, body = crate::ErrorBody), (status = 429, body = crate::ErrorBody)))]
pub async fn ask(
    State(state): State<AppState>,
    Extension(facts): Extension<AuditFacts>,
    headers: HeaderMap,
    Authed(caller): Authed,
    ApiJson(body): ApiJson<ClinicalAskBody>,
) -> Result<Response, ApiError> {
    let caller = clinical_caller(caller)?;
    let redacted = state.engine.redact(&body.question);
    facts.set_question(&redacted.text, redacted.total());
    // The engine removes the identifiers again and says so in the answer's notices.
    let input = AskInput {
        question: body.question,
        domain: Some(MEDICINE.into()),
        narrowing: narrowing(Vec::new(), body.filters.into_map(), None),
        history: History::None,
    };
    respond(
        state,
        &caller,
        input,
        wants_stream(&headers),
        ClinicalDoor { facts },
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// From this time (RFC 3339) or day (YYYY-MM-DD, UTC), inclusive; default: the beginning.
    pub since: Option<String>,
    /// Up to this time or day, exclusive (a day: up to its end); default: now.
    pub until: Option<String>,
}

/// The audit trail between two times as a FHIR R4 `Bundle` of type `searchset` of
/// `AuditEvent`s (an admin key only).
#[utoipa::path(get, path = "/api/clinical/v1/audit", tag = "clinical", params(AuditQuery),
    responses((status = 200, description = "FHIR Bundle (searchset) of AuditEvent", body = Object),
    (status = 401, body = crate::ErrorBody), (status = 403, body = crate::ErrorBody)))]
pub async fn audit(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Admin(_admin): Admin,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    let (since, until) = zhiku_engine::time_range(q.since.as_deref(), q.until.as_deref())
        .map_err(|e| ApiError::bad_request("invalid_time", e.to_string()))?;
    let bundle = state
        .engine
        .audit_bundle(since, until, &uri.to_string())
        .await?;
    Ok((
        [(header::CONTENT_TYPE, "application/fhir+json")],
        Json(bundle),
    )
        .into_response())
}
