//! Who is calling, from credentials and nothing else, in this order: an
//! `Authorization: Bearer <key>` header (systems); the web chat's session cookie (a signed-in
//! user); the trusted proxy's user header, when configured and sent by a trusted proxy. None
//! of these: an anonymous caller with `public` clearance, if `server.anonymous` allows it.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use axum_extra::extract::cookie::CookieJar;
use zhiku_engine::{Caller, Channel, WebUser};

use crate::audit_layer::AuditFacts;
use crate::error::ApiError;
use crate::AppState;

/// The authenticated caller of a request.
pub struct Authed(pub Caller);

/// The caller must be an administrator (ingest).
pub struct Admin(pub Caller);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let secret = bearer_token(parts)?;
        let Some(secret) = secret else {
            if let Some(user) = web_user(parts, state).await? {
                return Ok(Authed(state.engine.web_caller(&user)));
            }
            if state.engine.config().server.anonymous {
                state.rate.check_anonymous(peer_ip(&parts.extensions))?;
                return Ok(Authed(Caller::anonymous(Channel::Api)));
            }
            return Err(ApiError::unauthorized(
                "missing_credentials",
                "this server requires an API key: Authorization: Bearer <key>",
            ));
        };
        let key = state
            .engine
            .store()
            .find_key(&secret)
            .await
            .map_err(|e| ApiError::from(zhiku_engine::EngineError::from(e)))?
            .ok_or_else(|| {
                ApiError::unauthorized("invalid_credentials", "unknown or revoked API key")
            })?;
        // Known from here on, even if refused: the audit trail names the key.
        if let Some(facts) = parts.extensions.get::<AuditFacts>() {
            facts.set_agent(zhiku_engine::AuditAgent {
                kind: "api-key".into(),
                id: Some(key.id.clone()),
                name: Some(key.name.clone()),
                address: None,
            });
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        if key.expired_at(now) {
            return Err(ApiError::unauthorized(
                "key_expired",
                "this API key has expired; ask for a new one",
            ));
        }
        if let Some((requests, period_ms)) = key.rate {
            let rate = zhiku_engine::RateLimit {
                requests: u32::try_from(requests).unwrap_or(u32::MAX),
                period: std::time::Duration::from_millis(u64::try_from(period_ms).unwrap_or(0)),
            };
            state.rate.check_key(&key.id, rate)?;
        }
        let door = door_of(parts.uri.path());
        let mut channel = key.channel;
        if channel == Channel::Clinical && door != CLINICAL_DOOR {
            // A hospital system's key reads medicine at internal clearance: off the clinical
            // door only where it was made for it (`--doors`), and then as an API caller, whose
            // medicine readings the engine records.
            if !key.doors.iter().any(|d| d == door) {
                return Err(ApiError::new(
                    axum::http::StatusCode::FORBIDDEN,
                    "wrong_door",
                    format!(
                        "this clinical key is for /api/clinical and /cds-services; \
                         a key for the {door} door is made with `zhiku keys add --doors {door}`"
                    ),
                ));
            }
            channel = Channel::Api;
        }
        Ok(Authed(Caller::authenticated(
            format!("key:{}", key.id),
            channel,
            key.clearance,
            key.domains,
            key.admin,
        )))
    }
}

/// The clinical door's name among the doors.
const CLINICAL_DOOR: &str = "clinical";

/// The doors a clinical-channel key may be opened to with `zhiku keys add --doors`.
pub const DOORS: [&str; 4] = ["api", "openai", "web", "mini-program"];

/// Which door a request path belongs to.
fn door_of(path: &str) -> &'static str {
    if path.starts_with("/api/clinical/") || path.starts_with("/cds-services") {
        CLINICAL_DOOR
    } else if path.starts_with("/v1/chat/") || path == "/v1/models" {
        "openai"
    } else if path.starts_with("/api/mp/") {
        "mini-program"
    } else if path.starts_with("/auth/") || path == "/" || path.starts_with("/assets/") {
        "web"
    } else {
        "api"
    }
}

/// The `Authorization: Bearer <token>` a request carries, if any. An empty bearer token (what
/// OpenAI clients send when the key field is left blank) counts as none; any other header
/// that is not `Bearer <token>` in visible ASCII (bytes that are not text, another scheme, a
/// token with spaces) is refused with 401, never served as a guest.
pub fn bearer_token(parts: &Parts) -> Result<Option<String>, ApiError> {
    let Some(header) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || {
        ApiError::unauthorized(
            "invalid_credentials",
            "expected Authorization: Bearer <key>",
        )
    };
    let value = header.to_str().map_err(|_| malformed())?.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(malformed());
    }
    let token = token.trim();
    if token.contains(|c: char| !c.is_ascii_graphic()) {
        return Err(malformed());
    }
    Ok(Some(token.to_string()).filter(|t| !t.is_empty()))
}

/// A tourist of the mini-program, from the session token its login returned.
pub struct TouristAuth(pub zhiku_engine::Tourist);

impl FromRequestParts<AppState> for TouristAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(token) = bearer_token(parts)? else {
            return Err(ApiError::unauthorized(
                "missing_session",
                "log in first (POST /api/mp/v1/login) and send Authorization: Bearer <token>",
            ));
        };
        match state.engine.tourist(&token).await? {
            Some(t) => Ok(TouristAuth(t)),
            None => Err(ApiError::unauthorized(
                "session_expired",
                "this session has expired or is unknown: call wx.login and log in again",
            )),
        }
    }
}

/// The peer's address, when the server was started with connection info (it always is
/// outside unit tests). An IPv4 peer of a dual-stack listener arrives as ::ffff:a.b.c.d and
/// is given back as a.b.c.d.
pub struct PeerIp(pub Option<std::net::IpAddr>);

pub fn peer_ip(parts_extensions: &axum::http::Extensions) -> Option<std::net::IpAddr> {
    parts_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_canonical())
}

impl<S: Send + Sync> FromRequestParts<S> for PeerIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PeerIp(peer_ip(&parts.extensions)))
    }
}

/// The session cookie's name; the cookie is `HttpOnly` and `SameSite=Strict`.
pub const SESSION_COOKIE: &str = "zhiku_session";

/// The session token the request's cookie carries, if any.
pub fn session_token(parts: &Parts) -> Option<String> {
    CookieJar::from_headers(&parts.headers)
        .get(SESSION_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty())
}

/// The web user a request comes from: its session cookie, else the trusted proxy's header.
/// A cookie that no longer opens a session is a 401 (sign in again), never a silent fall back
/// to anonymous: a teacher must not quietly become a guest.
pub async fn web_user(parts: &Parts, state: &AppState) -> Result<Option<WebUser>, ApiError> {
    let by_browser = session_token(parts).is_some()
        || header_named(parts, &state.engine.config().web.trusted_user_header);
    if by_browser {
        same_origin(parts)?;
    }
    if let Some(token) = session_token(parts) {
        return match state.engine.session_user(&token).await? {
            Some(user) => Ok(Some(user)),
            None => Err(ApiError::unauthorized(
                "session_expired",
                "your session has ended: sign in again",
            )),
        };
    }
    let web = &state.engine.config().web;
    let header_name = web.trusted_user_header.trim();
    if header_name.is_empty() {
        return Ok(None);
    }
    let Some(value) = parts.headers.get(header_name) else {
        return Ok(None);
    };
    let peer = peer_ip(&parts.extensions);
    let trusted = peer.is_some_and(|ip| {
        web.trusted_proxies
            .iter()
            .any(|p| p.trim().parse::<std::net::IpAddr>() == Ok(ip))
    });
    if !trusted {
        return Err(ApiError::unauthorized(
            "untrusted_proxy_header",
            format!("{header_name} is accepted only from web.trusted_proxies"),
        ));
    }
    let name = value.to_str().map_err(|_| {
        ApiError::bad_request("invalid_user_header", format!("{header_name} is not text"))
    })?;
    Ok(Some(state.engine.proxy_user(name).await?))
}

/// Whether the request carries the (configured, non-empty) header `name`.
fn header_named(parts: &Parts, name: &str) -> bool {
    let name = name.trim();
    !name.is_empty() && parts.headers.contains_key(name)
}

/// A request that changes something on the strength of a browser's credentials (the session
/// cookie, the proxy's user header) must come from this server's own page. Browsers say where
/// a request comes from (`Sec-Fetch-Site`, else `Origin`), and a page on another site or
/// another port of this one cannot forge either, so a form posted from elsewhere is refused
/// with 403. Reads (GET, HEAD) change nothing and are let through; clients that send neither
/// header (curl, scripts) are not browsers and carry no one else's cookie.
pub fn same_origin(parts: &Parts) -> Result<(), ApiError> {
    use axum::http::Method;
    if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let refused = |from: &str| {
        ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "cross_origin",
            format!("a request from {from} may not act with this site's sign-in: use the chat page itself"),
        )
    };
    if let Some(site) = parts.headers.get("sec-fetch-site") {
        return match site.to_str().unwrap_or_default() {
            "same-origin" | "none" => Ok(()),
            other => Err(refused(&format!("a {other} page"))),
        };
    }
    let Some(origin) = parts.headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or_default();
    let authority = origin.split_once("://").map(|(_, a)| a);
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()));
    match (authority, host) {
        (Some(a), Some(h)) if a.eq_ignore_ascii_case(h) => Ok(()),
        _ => Err(refused(origin)),
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Authed(caller) = Authed::from_request_parts(parts, state).await?;
        if caller.is_anonymous() {
            return Err(ApiError::unauthorized(
                "missing_credentials",
                "administration needs an admin key (zhiku keys add --admin): Authorization: Bearer <key>",
            ));
        }
        if !caller.is_admin() {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "forbidden",
                "this key is not an administrator's",
            ));
        }
        Ok(Admin(caller))
    }
}
