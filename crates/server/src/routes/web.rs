//! The chat page for teachers and students: its files (built from `web/` into `web/dist` and
//! embedded in the binary, so that nothing is fetched from elsewhere at run time) and signing
//! in and out.

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zhiku_engine::WebUser;

use crate::auth::{session_token, web_user, PeerIp, SESSION_COOKIE};
use crate::error::{ApiError, ApiJson, ApiPath};
use crate::AppState;

#[derive(rust_embed::RustEmbed)]
#[folder = "../../web/dist/"]
#[allow_missing = true]
struct Page;

/// Shown when the binary was built before the page (`cargo build` without `make build`).
const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>Zhiku</title>\
<p>The chat page was not built into this binary. Run <code>make build</code> (it builds \
<code>web/</code> with npm, then the binary). The API is served as usual: see \
<a href=/openapi.json>/openapi.json</a>.";

/// The chat page itself. Never cached, so a new binary's page is picked up at once.
pub async fn index() -> Response {
    let mut response = match Page::get("index.html") {
        Some(file) => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            file.data.into_owned(),
        )
            .into_response(),
        None => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            NOT_BUILT,
        )
            .into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Scripts and styles from this server only; no inline script, nothing from elsewhere.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; \
             base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// The page's scripts, styles and fonts. Their names carry a content hash: cached for a year.
pub async fn asset(ApiPath(path): ApiPath<String>) -> Response {
    match Page::get(&format!("assets/{path}")) {
        Some(file) => {
            let mime = file.metadata.mimetype().to_string();
            let mut response =
                ([(header::CONTENT_TYPE, mime)], file.data.into_owned()).into_response();
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            response
        }
        None => ApiError::not_found("not_found", format!("no asset {path:?}")).into_response(),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub name: String,
    pub password: String,
}

/// Who the page is talking to, and what the server offers.
#[derive(Serialize, ToSchema)]
pub struct Me {
    /// `None`: nobody is signed in.
    #[schema(value_type = Option<Object>)]
    user: Option<WebUser>,
    /// The clearance requests run with now.
    clearance: &'static str,
    /// Guests may ask without signing in (`server.anonymous`).
    guests: bool,
    /// `model` or `extractive` (no large model configured).
    answers: &'static str,
    /// The server is behind an authenticating proxy (no password form needed).
    proxy: bool,
}

fn me(state: &AppState, user: Option<WebUser>) -> Me {
    let config = state.engine.config();
    Me {
        clearance: user
            .as_ref()
            .map_or("public", |u| u.role.clearance().as_str()),
        user,
        guests: config.server.anonymous,
        answers: match state.engine.answer_mode() {
            zhiku_engine::AnswerMode::Model => "model",
            zhiku_engine::AnswerMode::Extractive => "extractive",
        },
        proxy: !config.web.trusted_user_header.trim().is_empty(),
    }
}

/// Who is signed in (the session cookie or the trusted proxy's header).
#[utoipa::path(get, path = "/auth/me", tag = "web", responses(
    (status = 200, body = Me), (status = 401, body = crate::ErrorBody)))]
pub async fn who(State(state): State<AppState>, parts: Parts) -> Result<Json<Me>, ApiError> {
    let user = web_user(&parts, &state).await?;
    Ok(Json(me(&state, user)))
}

fn session_cookie(state: &AppState, value: String, max_age_s: i64) -> HeaderValue {
    let cookie = Cookie::build((SESSION_COOKIE, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.engine.config().web.secure_cookie)
        .max_age(time::Duration::seconds(max_age_s))
        .build();
    HeaderValue::from_str(&cookie.to_string()).unwrap_or(HeaderValue::from_static(""))
}

/// Signs in with a local account: sets the session cookie.
#[utoipa::path(post, path = "/auth/login", tag = "web", request_body = SignIn, responses(
    (status = 200, body = Me), (status = 401, body = crate::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    PeerIp(peer): PeerIp,
    ApiJson(body): ApiJson<SignIn>,
) -> Result<Response, ApiError> {
    if let Some(ip) = peer {
        state.rate.check_login(ip)?;
    }
    let (user, token) = state.engine.sign_in(&body.name, &body.password).await?;
    let hours = state.engine.config().web.session_hours.max(1);
    let cookie = session_cookie(&state, token, (hours * 3600) as i64);
    let mut response = Json(me(&state, Some(user))).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// Signs out: ends the session and clears the cookie.
#[utoipa::path(post, path = "/auth/logout", tag = "web", responses((status = 204)))]
pub async fn logout(State(state): State<AppState>, parts: Parts) -> Result<Response, ApiError> {
    crate::auth::same_origin(&parts)?;
    if let Some(token) = session_token(&parts) {
        state.engine.sign_out(&token).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&state, String::new(), 0));
    Ok(response)
}
