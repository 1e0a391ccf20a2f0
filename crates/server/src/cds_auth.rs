//! Authenticating a CDS client as CDS Hooks requires: a JWT in `Authorization: Bearer`, signed
//! by the client (ES384/RS384, also ES256/RS256) with a key configured for its `iss` (a PEM
//! file or a JWK Set URL), whose `aud` is this service's URL, not expired, and whose `jti` was
//! never seen before (kept in the store, so a replay is refused by every replica).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, StatusCode};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::Mutex;
use zhiku_core::CdsClient;

use crate::error::ApiError;
use crate::AppState;

/// The claims CDS Hooks requires of a client's token.
#[derive(Debug, Deserialize)]
struct Claims {
    iss: String,
    exp: i64,
    jti: String,
}

/// Clock difference tolerated between the EMR and this server, in seconds.
const LEEWAY_S: u64 = 60;
/// The longest a CDS client's token may live (CDS Hooks: `exp` at most 5 minutes ahead).
const MAX_LIFETIME_S: i64 = 300;

fn refused(message: impl Into<String>) -> ApiError {
    ApiError::unauthorized("invalid_cds_token", message)
}

/// Key sets fetched from clients' `jwks_url`, refetched when a token names an unknown `kid`
/// (at most once a minute per client).
#[derive(Default)]
pub struct JwksCache {
    sets: Mutex<HashMap<String, (Instant, JwkSet)>>,
}

impl JwksCache {
    async fn key(&self, client: &CdsClient, kid: Option<&str>) -> Result<DecodingKey, ApiError> {
        let mut sets = self.sets.lock().await;
        let stale = match sets.get(&client.iss) {
            Some((at, set)) => find(set, kid).is_none() && at.elapsed() > Duration::from_secs(60),
            None => true,
        };
        if stale {
            let set = fetch(&client.jwks_url).await?;
            sets.insert(client.iss.clone(), (Instant::now(), set));
        }
        let set = &sets
            .get(&client.iss)
            .ok_or_else(|| refused("no key set"))?
            .1;
        let jwk = find(set, kid)
            .ok_or_else(|| refused("no key in the client's JWK Set matches the token's kid"))?;
        DecodingKey::from_jwk(jwk).map_err(|e| refused(format!("the client's key: {e}")))
    }
}

fn find<'a>(set: &'a JwkSet, kid: Option<&str>) -> Option<&'a jsonwebtoken::jwk::Jwk> {
    match kid {
        Some(k) => set.find(k),
        None if set.keys.len() == 1 => set.keys.first(),
        None => None,
    }
}

async fn fetch(url: &str) -> Result<JwkSet, ApiError> {
    let unavailable = |e: String| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "jwks_unavailable",
            format!("the CDS client's key set at {url} could not be read: {e}"),
        )
    };
    let response = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    if !response.status().is_success() {
        return Err(unavailable(format!("status {}", response.status())));
    }
    response
        .json::<JwkSet>()
        .await
        .map_err(|e| unavailable(e.to_string()))
}

/// The configured client whose token this request carries, once the token is proved.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    audience: &[String],
) -> Result<CdsClient, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            refused("a CDS client must send its signed JWT: Authorization: Bearer <jwt>")
        })?;
    let head =
        jsonwebtoken::decode_header(token).map_err(|e| refused(format!("not a JWT: {e}")))?;
    if !matches!(
        head.alg,
        Algorithm::ES384 | Algorithm::RS384 | Algorithm::ES256 | Algorithm::RS256
    ) {
        return Err(refused(format!(
            "{:?} is not accepted: ES384 or RS384",
            head.alg
        )));
    }
    // Which client says it signed: read before the signature is checked, only to pick the key.
    let mut peek = Validation::new(head.alg);
    peek.insecure_disable_signature_validation();
    peek.validate_exp = false;
    peek.validate_aud = false;
    peek.required_spec_claims.clear();
    let unverified =
        jsonwebtoken::decode::<serde_json::Value>(token, &DecodingKey::from_secret(&[]), &peek)
            .map_err(|e| refused(format!("unreadable claims: {e}")))?;
    let iss = unverified.claims["iss"].as_str().unwrap_or_default();
    let client = state
        .engine
        .config()
        .clinical
        .cds_clients
        .iter()
        .find(|c| c.iss == iss)
        .cloned()
        .ok_or_else(|| refused(format!("unknown issuer {iss:?} (clinical.cds_clients)")))?;
    let key = if client.jwks_url.trim().is_empty() {
        let pem = std::fs::read(client.public_key.trim()).map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "cds_key_unreadable",
                format!("{}: {e}", client.public_key),
            )
        })?;
        match head.alg {
            Algorithm::ES256 | Algorithm::ES384 => DecodingKey::from_ec_pem(&pem),
            _ => DecodingKey::from_rsa_pem(&pem),
        }
        .map_err(|e| {
            refused(format!(
                "the configured key of {iss:?} does not fit the token: {e}"
            ))
        })?
    } else {
        state.jwks.key(&client, head.kid.as_deref()).await?
    };
    let mut validation = Validation::new(head.alg);
    validation.set_audience(audience);
    validation.set_issuer(&[client.iss.as_str()]);
    // jsonwebtoken checks only exp, nbf, iss, aud and sub of these; `jti` is checked below.
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.validate_nbf = true;
    validation.leeway = LEEWAY_S;
    let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map_err(|e| refused(format!("token refused: {e}")))?
        .claims;
    if claims.jti.trim().is_empty() {
        return Err(refused(
            "the token's jti is empty: each token needs a unique jti",
        ));
    }
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    if claims.exp > now_s.saturating_add(MAX_LIFETIME_S + LEEWAY_S as i64) {
        return Err(refused(
            "the token's exp is more than 5 minutes ahead (CDS Hooks: at most 5 minutes)",
        ));
    }
    // Remembered until the token could no longer pass, leeway included: a token replayed
    // within the leeway after its exp is still a replay.
    let remembered_until_ms = claims
        .exp
        .saturating_add(LEEWAY_S as i64)
        .saturating_mul(1000);
    let fresh = state
        .engine
        .store()
        .use_token(&claims.iss, &claims.jti, remembered_until_ms)
        .await
        .map_err(|e| ApiError::from(zhiku_engine::EngineError::from(e)))?;
    if !fresh {
        return Err(refused("this token was used before (jti replay)"));
    }
    Ok(client)
}
