//! Who is calling, from credentials and nothing else, in this order: an
//! `Authorization: Bearer <key>` header (systems); the web chat's session cookie (a signed-in
//! user); the trusted proxy's user header, when configured and sent by a trusted proxy. None
//! of these: an anonymous caller with `public` clearance, if `server.anonymous` allows it.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use axum_extra::extract::cookie::CookieJar;
use zhiku_engine::{Caller, Channel, Classification, WebUser};

use crate::audited::AuditFacts;
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
        let channel = match key.channel.as_str() {
            "web" => Channel::Web,
            "clinical" => Channel::Clinical,
            "mini-program" => Channel::MiniProgram,
            _ => Channel::Api,
        };
        let clearance: Classification = key.clearance.parse().unwrap_or(Classification::Public);
        Ok(Authed(Caller::authenticated(
            format!("key:{}", key.id),
            channel,
            clearance,
            key.domains,
            key.admin,
        )))
    }
}

/// The `Authorization: Bearer <token>` a request carries, if any. An empty bearer token (what
/// OpenAI clients send when the key field is left blank) counts as none.
pub fn bearer_token(parts: &Parts) -> Result<Option<String>, ApiError> {
    let header = parts
        .headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or_default().trim().to_string());
    match header.as_deref() {
        None | Some("") => Ok(None),
        Some(value) => {
            let token = value
                .strip_prefix("Bearer")
                .or_else(|| value.strip_prefix("bearer"))
                .filter(|rest| rest.is_empty() || rest.starts_with(' '))
                .map(str::trim)
                .ok_or_else(|| {
                    ApiError::unauthorized(
                        "invalid_credentials",
                        "expected Authorization: Bearer <key>",
                    )
                })?;
            Ok(Some(token.to_string()).filter(|t| !t.is_empty()))
        }
    }
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
