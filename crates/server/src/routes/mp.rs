//! The WeChat mini-program's backend (`/api/mp/v1/…`) for tourists: a `wx.login` code turned
//! into a Zhiku session, short answers in the tourist's language (whole, or as server-sent
//! events a mini-program reads with `enableChunked`), sights nearby, one sight in full, a
//! day's route, preferences and deleting one's data.
//!
//! Every route but login needs `Authorization: Bearer <token>` from login; an unknown or
//! expired token is a 401 `session_expired`, on which the mini-program logs in again.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zhiku_engine::{
    AskInput, Caller, ContentChecked, GeoRadius, History, Lang, Narrowing, Preferences, Prepared,
    RouteRequest, Tourist,
};

use crate::answering::{respond, wants_stream, Door};
use crate::auth::TouristAuth;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// The code `wx.login` gave (valid once, for five minutes).
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`; keep it in `wx.setStorageSync`.
    token: String,
    /// When it stops working (milliseconds since 1970) and in how many seconds.
    expires_at: i64,
    expires_in: i64,
    #[schema(value_type = Object)]
    preferences: Preferences,
}

/// Logs a tourist in with a `wx.login` code (exchanged at WeChat's `code2Session`). WeChat's
/// refusals come back as `invalid_code` (401: call `wx.login` again), `login_too_frequent`
/// (429), `user_blocked` (403), `wechat_busy` (503), `wechat_timeout` (504) or
/// `wechat_error` / `wechat_bad_reply` (502).
#[utoipa::path(post, path = "/api/mp/v1/login", tag = "mini-program",
    request_body = LoginBody, responses(
    (status = 200, body = LoginResponse), (status = 401, body = crate::ErrorBody),
    (status = 403, body = crate::ErrorBody), (status = 429, body = crate::ErrorBody),
    (status = 502, body = crate::ErrorBody), (status = 503, body = crate::ErrorBody),
    (status = 504, body = crate::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Json<LoginResponse>, ApiError> {
    let login = state.engine.mini_program_login(&body.code).await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    Ok(Json(LoginResponse {
        token: login.token,
        expires_at: login.expires_at_ms,
        expires_in: (login.expires_at_ms - now) / 1000,
        preferences: login.preferences,
    }))
}

/// The language a request asks for, else the tourist's preference, else `fallback`.
async fn language(
    state: &AppState,
    tourist: &Tourist,
    asked: Option<&str>,
    fallback: Lang,
) -> Result<Lang, ApiError> {
    if let Some(l) = asked {
        return Lang::parse(l)
            .ok_or_else(|| ApiError::bad_request("invalid_lang", "lang must be zh or en"));
    }
    let stored = state.engine.preferences(tourist).await?;
    Ok(stored
        .lang
        .as_deref()
        .and_then(Lang::parse)
        .unwrap_or(fallback))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MpAskBody {
    pub question: String,
    /// From an earlier answer, to ask a follow-up; absent: a new conversation.
    pub conversation_id: Option<String>,
    /// Server-sent events (also when the request sends `Accept: text/event-stream`).
    #[serde(default)]
    pub stream: bool,
}

/// A cited source; `site_id` is the sight it describes (for `spots/{id}`), when it is one.
#[derive(Serialize, ToSchema)]
pub struct MpSource {
    marker: usize,
    title: String,
    site_id: Option<String>,
    doc_id: String,
    chunk_id: String,
    path: String,
    line: Option<usize>,
    start: usize,
    end: usize,
    span_in_file: bool,
}

/// An answer sized for a phone screen, in the question's language.
#[derive(Serialize, ToSchema)]
pub struct MpAnswer {
    answer: String,
    /// `zh` or `en`.
    lang: &'static str,
    conversation_id: Option<String>,
    turn: Option<i64>,
    /// `model` or `extractive`.
    mode: &'static str,
    abstained: bool,
    notices: Vec<String>,
    sources: Vec<MpSource>,
}

/// Answers sized for a phone, after WeChat's content check.
struct MiniProgramDoor {
    tourist: Tourist,
    /// What the content check said (set by `admit`).
    checked: Option<ContentChecked>,
}

impl Door for MiniProgramDoor {
    const LABEL: &'static str = "mini-program";
    type Body = MpAnswer;

    async fn admit(&mut self, state: &AppState, prepared: &Prepared) -> Result<(), ApiError> {
        let checked = state
            .engine
            .check_content(&self.tourist, prepared.question())
            .await?;
        self.checked = Some(checked);
        Ok(())
    }

    async fn whole(
        &mut self,
        state: &AppState,
        caller: &Caller,
        a: zhiku_engine::Answer,
    ) -> Result<MpAnswer, ApiError> {
        let chunks = state.engine.cited_sources(caller, &a).await?;
        let zh = zhiku_agent::detect_language(&a.query) == zhiku_agent::Language::Chinese;
        let mut notices = a.notices.clone();
        if let Some(ContentChecked::Unchecked(_)) = &self.checked {
            notices.push(if zh {
                "内容安全检查暂不可用，本次照常回答。".into()
            } else {
                "The content check is unavailable right now; answered anyway.".into()
            });
        }
        Ok(MpAnswer {
            answer: a.text.clone(),
            lang: if zh { "zh" } else { "en" },
            conversation_id: a.conversation_id.clone(),
            turn: a.turn,
            mode: a.mode.as_str(),
            abstained: a.abstained,
            notices,
            sources: a
                .citations
                .iter()
                .zip(&chunks)
                .map(|(c, chunk)| MpSource {
                    marker: c.marker,
                    title: c.title.clone(),
                    site_id: chunk
                        .as_ref()
                        .filter(|ch| ch.location.is_some())
                        .map(|ch| ch.doc_id.clone()),
                    doc_id: c.doc_id.clone(),
                    chunk_id: c.chunk_id.clone(),
                    path: c.path.clone(),
                    line: c.line,
                    start: c.start,
                    end: c.end,
                    span_in_file: c.span_in_file,
                })
                .collect(),
        })
    }
}

/// Answers a tourist's question, short enough for a phone screen, in the question's language,
/// after WeChat's content check (`content_rejected`, 422, when it finds the text risky).
/// Whole (JSON), or server-sent events: `started`, `text`, `citation`, `notice`, then `done`
/// with the whole answer (as JSON here), or `error`.
#[utoipa::path(post, path = "/api/mp/v1/ask", tag = "mini-program",
    request_body = MpAskBody, security(("bearer" = [])), responses(
    (status = 200, description = "The answer (JSON), or its events (text/event-stream)", body = MpAnswer),
    (status = 401, body = crate::ErrorBody), (status = 404, body = crate::ErrorBody),
    (status = 422, body = crate::ErrorBody), (status = 429, body = crate::ErrorBody)))]
pub async fn ask(
    State(state): State<AppState>,
    headers: HeaderMap,
    TouristAuth(tourist): TouristAuth,
    ApiJson(body): ApiJson<MpAskBody>,
) -> Result<Response, ApiError> {
    let caller = tourist.caller.clone();
    let domains = &state.engine.config().mini_program.domains;
    let input = AskInput {
        question: body.question,
        domain: (domains.len() == 1).then(|| domains[0].clone()),
        narrowing: Narrowing::default(),
        history: History::Stored(body.conversation_id),
    };
    let streamed = body.stream || wants_stream(&headers);
    let door = MiniProgramDoor {
        tourist,
        checked: None,
    };
    respond(state, &caller, input, streamed, door).await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NearbyQuery {
    pub lat: f64,
    pub lng: f64,
    /// Metres, default 3000, at most 50000.
    pub radius_m: Option<f64>,
    /// One category or several, comma-separated (`museum,temple`).
    pub category: Option<String>,
    /// Default 10, at most 50.
    pub limit: Option<usize>,
    /// `zh` or `en` (default: the tourist's preference, else `zh`).
    pub lang: Option<String>,
}

/// Sights near a point, nearest first, each with its names, category, era, distance,
/// opening hours and tickets.
#[utoipa::path(get, path = "/api/mp/v1/spots/nearby", tag = "mini-program",
    params(NearbyQuery), security(("bearer" = [])), responses(
    (status = 200, body = Object), (status = 400, body = crate::ErrorBody),
    (status = 401, body = crate::ErrorBody)))]
pub async fn nearby(
    State(state): State<AppState>,
    TouristAuth(tourist): TouristAuth,
    ApiQuery(q): ApiQuery<NearbyQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let radius_m = q.radius_m.unwrap_or(3_000.0);
    if !(radius_m > 0.0 && radius_m <= 50_000.0) {
        return Err(ApiError::bad_request(
            "invalid_radius",
            "radius_m must be more than 0 and at most 50000",
        ));
    }
    let lang = language(&state, &tourist, q.lang.as_deref(), Lang::Zh).await?;
    let categories = q
        .category
        .iter()
        .flat_map(|c| c.split(','))
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    let point = GeoRadius {
        lat: q.lat,
        lon: q.lng,
        radius_m,
    };
    let spots = state
        .engine
        .spots_near(
            &tourist.caller,
            point,
            categories,
            q.limit.unwrap_or(10).clamp(1, 50),
            lang,
        )
        .await?;
    Ok(Json(serde_json::json!({ "spots": spots })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LangQuery {
    /// `zh` or `en` (default: the tourist's preference, else `zh`).
    pub lang: Option<String>,
}

/// One sight in full, with the poems and articles that mention it.
#[utoipa::path(get, path = "/api/mp/v1/spots/{id}", tag = "mini-program",
    params(("id" = String, Path, description = "the sight's id"), LangQuery),
    security(("bearer" = [])), responses(
    (status = 200, body = Object), (status = 401, body = crate::ErrorBody),
    (status = 404, body = crate::ErrorBody)))]
pub async fn spot(
    State(state): State<AppState>,
    TouristAuth(tourist): TouristAuth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<LangQuery>,
) -> Result<Json<zhiku_engine::PlaceDetail>, ApiError> {
    let lang = language(&state, &tourist, q.lang.as_deref(), Lang::Zh).await?;
    Ok(Json(state.engine.place(&tourist.caller, &id, lang).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteBody {
    pub lat: f64,
    pub lng: f64,
    /// Local time at the sights, `2026-12-08T09:00`; or with an offset
    /// (`2026-12-08T01:00:00Z`), converted to the sights' time.
    pub start_time: String,
    /// The time budget, hours (at most 16).
    pub hours: f64,
    /// e.g. `["history", "园林"]`; absent: the tourist's preference.
    pub interests: Option<Vec<String>>,
    /// `zh` or `en`; absent: the preference, else the interests' language, else `zh`.
    pub lang: Option<String>,
}

fn start_time(s: &str, offset_hours: i8) -> Result<jiff::civil::DateTime, ApiError> {
    let bad = || {
        ApiError::bad_request(
            "invalid_start_time",
            "start_time must be like 2026-12-08T09:00 (local time at the sights) or carry an offset",
        )
    };
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        let offset = jiff::tz::Offset::from_hours(offset_hours).map_err(|_| bad())?;
        return Ok(offset.to_datetime(ts));
    }
    s.parse::<jiff::civil::DateTime>().map_err(|_| bad())
}

/// A day's visit from a point and time: sights open when the tourist would arrive, within the
/// time budget, matching the interests, each with a one-sentence reason quoting its source.
/// The same request always gets the same route.
#[utoipa::path(post, path = "/api/mp/v1/route", tag = "mini-program",
    request_body = RouteBody, security(("bearer" = [])), responses(
    (status = 200, body = Object), (status = 400, body = crate::ErrorBody),
    (status = 401, body = crate::ErrorBody)))]
pub async fn route(
    State(state): State<AppState>,
    TouristAuth(tourist): TouristAuth,
    ApiJson(body): ApiJson<RouteBody>,
) -> Result<Json<zhiku_engine::RoutePlan>, ApiError> {
    let offset = state.engine.config().mini_program.route.utc_offset_hours;
    let start = start_time(&body.start_time, offset)?;
    let stored = state.engine.preferences(&tourist).await?;
    let interests = Preferences {
        lang: None,
        interests: body.interests.unwrap_or(stored.interests),
    }
    .checked()?
    .interests;
    let guessed = if interests.iter().any(|i| !i.is_ascii()) || interests.is_empty() {
        Lang::Zh
    } else {
        Lang::En
    };
    let lang = language(&state, &tourist, body.lang.as_deref(), guessed).await?;
    let request = RouteRequest {
        lat: body.lat,
        lon: body.lng,
        start,
        hours: body.hours,
        interests,
        lang,
    };
    Ok(Json(state.engine.route(&tourist.caller, &request).await?))
}

/// The tourist's stored language and interests.
#[utoipa::path(get, path = "/api/mp/v1/preferences", tag = "mini-program",
    security(("bearer" = [])), responses((status = 200, body = Object),
    (status = 401, body = crate::ErrorBody)))]
pub async fn preferences(
    State(state): State<AppState>,
    TouristAuth(tourist): TouristAuth,
) -> Result<Json<Preferences>, ApiError> {
    Ok(Json(state.engine.preferences(&tourist).await?))
}

/// Replaces the tourist's language (`zh`, `en` or null) and interests (at most 10).
#[utoipa::path(put, path = "/api/mp/v1/preferences", tag = "mini-program",
    request_body = Object, security(("bearer" = [])), responses(
    (status = 200, body = Object), (status = 400, body = crate::ErrorBody),
    (status = 401, body = crate::ErrorBody)))]
pub async fn set_preferences(
    State(state): State<AppState>,
    TouristAuth(tourist): TouristAuth,
    ApiJson(body): ApiJson<Preferences>,
) -> Result<Json<Preferences>, ApiError> {
    Ok(Json(state.engine.set_preferences(&tourist, body).await?))
}

#[derive(Serialize, ToSchema)]
pub struct Deleted {
    sessions: u64,
    conversations: u64,
    preferences: bool,
}

/// Deletes everything kept about the tourist: sessions (this token stops working),
/// preferences and conversations.
#[utoipa::path(delete, path = "/api/mp/v1/me", tag = "mini-program",
    security(("bearer" = [])), responses((status = 200, body = Deleted),
    (status = 401, body = crate::ErrorBody)))]
pub async fn delete_me(
    State(state): State<AppState>,
    TouristAuth(tourist): TouristAuth,
) -> Result<Json<Deleted>, ApiError> {
    let d = state.engine.forget_tourist(&tourist).await?;
    Ok(Json(Deleted {
        sessions: d.sessions,
        conversations: d.conversations,
        preferences: d.preferences,
    }))
}
