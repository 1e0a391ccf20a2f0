//! Who is calling, from the `Authorization: Bearer <key>` header and nothing else. No key:
//! an anonymous caller with `public` clearance, if `server.anonymous` allows it.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use zhiku_engine::{Caller, Channel, Classification};

use crate::error::ApiError;
use crate::AppState;

/// The authenticated caller of a request.
pub struct Authed(pub Caller);

/// The caller must be an administrator (ingest).
pub struct Admin(pub Caller);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or_default().trim().to_string());
        // An empty bearer token (what OpenAI clients send when the key field is left blank)
        // counts as no credentials.
        let secret = match header.as_deref() {
            None | Some("") => None,
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
                Some(token).filter(|t| !t.is_empty())
            }
        };
        let Some(secret) = secret else {
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
            .find_key(secret)
            .await
            .map_err(|e| ApiError::from(zhiku_engine::EngineError::from(e)))?
            .ok_or_else(|| {
                ApiError::unauthorized("invalid_credentials", "unknown or revoked API key")
            })?;
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
