//! The JSON API: search, ask (whole or as server-sent events), conversations, feedback, spots
//! near a point, counts. Request bodies refuse unknown fields, so a misspelt (or a
//! `clearance`) field is an error, never silently ignored.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zhiku_engine::{AskInput, GeoRadius, History, Narrowing, RetrievalMode};

use crate::answering::{respond, Door};
use crate::auth::Authed;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::AppState;

/// One value or several (any of which matches).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum FilterValue {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NearBody {
    pub lat: f64,
    pub lon: f64,
    /// Default 5000.
    pub radius_m: Option<f64>,
}

/// How a request narrows what the caller may see. Clearance is not among the fields: it
/// comes from the caller's key.
pub fn narrowing(
    domains: Vec<String>,
    filters: BTreeMap<String, FilterValue>,
    near: Option<NearBody>,
) -> Narrowing {
    Narrowing {
        domains,
        filters: filters
            .into_iter()
            .map(|(k, v)| {
                let values = match v {
                    FilterValue::One(s) => vec![s],
                    FilterValue::Many(vs) => vs,
                };
                (k, values)
            })
            .collect(),
        near: near.map(|n| GeoRadius {
            lat: n.lat,
            lon: n.lon,
            radius_m: n.radius_m.unwrap_or(5_000.0),
        }),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchBody {
    pub query: String,
    /// Restrict to these domains (within those the key allows).
    #[serde(default)]
    pub domains: Vec<String>,
    /// Metadata equality, e.g. `{"department": "endocrinology"}`; an unknown key is an error
    /// that lists the domain's fields.
    #[serde(default)]
    pub filters: BTreeMap<String, FilterValue>,
    pub near: Option<NearBody>,
    /// Hits to return, 1–100 (default 5).
    pub k: Option<usize>,
    /// `hybrid` (default), `bm25` or `dense`.
    pub mode: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SearchResponse {
    /// Ranked hits: the chunk (text, title, source path, byte span, metadata) and scores.
    #[schema(value_type = Vec<Object>)]
    hits: Vec<zhiku_engine::Hit>,
    timings_ms: Timings,
    /// Said when the results are not what a normal search gives (one leg's store was
    /// unreachable); absent otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notices: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Timings {
    total: f64,
    bm25: f64,
    embed: f64,
    dense: f64,
}

/// Hybrid search with the caller's clearance.
#[utoipa::path(post, path = "/v1/search", tag = "api", request_body = SearchBody, responses(
    (status = 200, body = SearchResponse),
    (status = 400, body = crate::ErrorBody), (status = 401, body = crate::ErrorBody),
    (status = 403, body = crate::ErrorBody), (status = 422, body = crate::ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiJson(body): ApiJson<SearchBody>,
) -> Result<Json<SearchResponse>, ApiError> {
    let mode: RetrievalMode = match body.mode.as_deref() {
        None => RetrievalMode::Hybrid,
        Some(m) => m
            .parse()
            .map_err(|e: String| ApiError::bad_request("invalid_mode", e))?,
    };
    let n = narrowing(body.domains, body.filters, body.near);
    let results = state
        .engine
        .search(&caller, &body.query, &n, body.k.unwrap_or(5), mode)
        .await?;
    let t = results.timings;
    state
        .metrics
        .retrieval_seconds
        .with_label_values(&["search"])
        .observe(t.total_ms / 1e3);
    let notices = crate::routes::search_notices(&results, &body.query);
    Ok(Json(SearchResponse {
        notices,
        hits: results.hits,
        timings_ms: Timings {
            total: t.total_ms,
            bm25: t.bm25_ms,
            embed: t.embed_ms,
            dense: t.dense_ms,
        },
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AskBody {
    pub question: String,
    /// One domain: its prompts, answer rules and filters apply.
    pub domain: Option<String>,
    #[serde(default)]
    pub filters: BTreeMap<String, FilterValue>,
    pub near: Option<NearBody>,
    /// Continue this conversation (yours only). Without it a new one is started, unless
    /// `remember` is false.
    pub conversation_id: Option<String>,
    /// Default true: keep this turn in a conversation (clinical texts are never kept).
    pub remember: Option<bool>,
    /// Server-sent events (`started`, `text`, `citation`, `notice`, then `done` with the whole
    /// answer, or `error`) instead of one JSON answer.
    #[serde(default)]
    pub stream: bool,
}

/// Answers a question citing its sources, whole or streamed.
#[utoipa::path(post, path = "/v1/ask", tag = "api", request_body = AskBody, responses(
    (status = 200, description = "The answer (JSON), or its events (text/event-stream)", body = Object),
    (status = 400, body = crate::ErrorBody), (status = 404, body = crate::ErrorBody),
    (status = 422, body = crate::ErrorBody), (status = 429, body = crate::ErrorBody)))]
pub async fn ask(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiJson(body): ApiJson<AskBody>,
) -> Result<Response, ApiError> {
    let history = match (body.conversation_id, body.remember.unwrap_or(true)) {
        (Some(id), _) => History::Stored(Some(id)),
        (None, true) => History::Stored(None),
        (None, false) => History::None,
    };
    let input = AskInput {
        question: body.question,
        domain: body.domain,
        narrowing: narrowing(Vec::new(), body.filters, body.near),
        history,
    };
    respond(state, &caller, input, body.stream, ZhikuDoor).await
}

/// Zhiku's own events, and the engine's answer as the body.
struct ZhikuDoor;

impl Door for ZhikuDoor {
    const LABEL: &'static str = "ask";
    type Body = zhiku_engine::Answer;

    async fn whole(
        &mut self,
        _: &AppState,
        _: &zhiku_engine::Caller,
        answer: zhiku_engine::Answer,
    ) -> Result<Self::Body, ApiError> {
        Ok(answer)
    }
}

/// One of your conversations, with what your clearance may read now.
#[utoipa::path(get, path = "/v1/conversations/{id}", tag = "api",
    params(("id" = String, Path, description = "conversation id")),
    responses((status = 200, body = Object), (status = 404, body = crate::ErrorBody)))]
pub async fn conversation(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<zhiku_engine::ConversationView>, ApiError> {
    Ok(Json(state.engine.conversation(&caller, &id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackBody {
    /// The turn's number (1 for the first).
    pub seq: i64,
    /// -1, 0 or 1.
    pub rating: i64,
    pub comment: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct FeedbackSaved {
    id: String,
}

/// Rates a turn of one of your conversations.
#[utoipa::path(post, path = "/v1/conversations/{id}/feedback", tag = "api",
    params(("id" = String, Path, description = "conversation id")), request_body = FeedbackBody,
    responses((status = 200, body = FeedbackSaved), (status = 404, body = crate::ErrorBody)))]
pub async fn feedback(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<FeedbackBody>,
) -> Result<Json<FeedbackSaved>, ApiError> {
    if body
        .comment
        .as_ref()
        .is_some_and(|c| c.chars().count() > 2_000)
    {
        return Err(ApiError::bad_request(
            "comment_too_long",
            "a comment may have 2000 characters",
        ));
    }
    let id = state
        .engine
        .feedback(&caller, &id, body.seq, body.rating, body.comment.as_deref())
        .await?;
    Ok(Json(FeedbackSaved { id }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NearQuery {
    pub lat: f64,
    pub lon: f64,
    /// Default 3000.
    pub radius_m: Option<f64>,
    /// Default 10, at most 50.
    pub k: Option<usize>,
    /// What to look for (default: sights, museums, heritage).
    pub q: Option<String>,
}

/// Places within a radius of a point, nearest first.
#[utoipa::path(get, path = "/v1/near", tag = "api", params(NearQuery),
    responses((status = 200, body = Object), (status = 400, body = crate::ErrorBody)))]
pub async fn near(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiQuery(q): ApiQuery<NearQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let point = GeoRadius {
        lat: q.lat,
        lon: q.lon,
        radius_m: q.radius_m.unwrap_or(3_000.0),
    };
    let spots = state
        .engine
        .near(
            &caller,
            point,
            Default::default(),
            q.q.as_deref(),
            q.k.unwrap_or(10),
        )
        .await?;
    Ok(Json(serde_json::json!({ "spots": spots })))
}

/// What the indexes hold: everything for an administrator's key; for anyone else only the
/// documents and passages within its clearance and domains.
#[utoipa::path(get, path = "/v1/stats", tag = "api", responses((status = 200, body = Object)))]
pub async fn stats(
    State(state): State<AppState>,
    Authed(caller): Authed,
) -> Result<Json<serde_json::Value>, ApiError> {
    let stats = if caller.is_admin() {
        serde_json::to_value(state.engine.stats().await?)
    } else {
        serde_json::to_value(state.engine.visible_stats(&caller)?)
    };
    Ok(Json(stats.map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            e.to_string(),
        )
    })?))
}

/// Your conversations, most recent first (signed-in users and keys; guests have no list).
#[utoipa::path(get, path = "/v1/conversations", tag = "api",
    responses((status = 200, body = Object), (status = 403, body = crate::ErrorBody)))]
pub async fn conversations(
    State(state): State<AppState>,
    Authed(caller): Authed,
) -> Result<Json<serde_json::Value>, ApiError> {
    let list = state.engine.conversations(&caller).await?;
    Ok(Json(serde_json::json!({ "conversations": list })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameBody {
    /// The new name; empty clears it (the first question names it again).
    pub title: String,
}

/// Renames one of your conversations.
#[utoipa::path(patch, path = "/v1/conversations/{id}", tag = "api",
    params(("id" = String, Path, description = "conversation id")), request_body = RenameBody,
    responses((status = 204), (status = 404, body = crate::ErrorBody)))]
pub async fn rename_conversation(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<RenameBody>,
) -> Result<axum::http::StatusCode, ApiError> {
    state
        .engine
        .rename_conversation(&caller, &id, &body.title)
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Deletes one of your conversations, with its answers and their ratings.
#[utoipa::path(delete, path = "/v1/conversations/{id}", tag = "api",
    params(("id" = String, Path, description = "conversation id")),
    responses((status = 204), (status = 404, body = crate::ErrorBody)))]
pub async fn delete_conversation(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiPath(id): ApiPath<String>,
) -> Result<axum::http::StatusCode, ApiError> {
    state.engine.delete_conversation(&caller, &id).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DocumentQuery {
    /// Mark this chunk (a citation's `chunk_id`).
    pub chunk: Option<String>,
    /// Bytes of text to give on each side of the marked chunk; absent: the whole document.
    pub context: Option<usize>,
}

/// A document you may read, as indexed, with a cited chunk marked: `before`, `cited`,
/// `after`. An unknown document and one above your clearance are both 404.
#[utoipa::path(get, path = "/v1/documents/{id}", tag = "api",
    params(("id" = String, Path, description = "document id (a citation's doc_id)"), DocumentQuery),
    responses((status = 200, body = Object), (status = 404, body = crate::ErrorBody)))]
pub async fn document(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<DocumentQuery>,
) -> Result<Json<zhiku_engine::DocumentView>, ApiError> {
    Ok(Json(
        state
            .engine
            .document(&caller, &id, q.chunk.as_deref(), q.context)
            .await?,
    ))
}

/// The domains you may ask about, each with the values of its pickers (subject, grade band…)
/// among what you may read.
#[utoipa::path(get, path = "/v1/domains", tag = "api", responses((status = 200, body = Object)))]
pub async fn domains(
    State(state): State<AppState>,
    Authed(caller): Authed,
) -> Result<Json<serde_json::Value>, ApiError> {
    let domains = state.engine.domains(&caller).await?;
    Ok(Json(serde_json::json!({ "domains": domains })))
}
