//! API keys of systems (hospital integrations, scripts): only a SHA-256 digest of each secret
//! is kept, with what the key may do, its request rate and when it ends.

use sqlx::any::AnyRow;
use sqlx::Row;

use zhiku_core::{Channel, Classification};

use crate::{digest, new_secret, now_ms, q, Result, Store, StoreError};

/// What a new key may do.
#[derive(Debug, Clone, PartialEq)]
pub struct NewKey {
    pub name: String,
    pub channel: Channel,
    pub clearance: Classification,
    /// `None`: every domain.
    pub domains: Option<Vec<String>>,
    pub admin: bool,
    /// At most `.0` requests per `.1` milliseconds; `None`: unlimited.
    pub rate: Option<(i64, i64)>,
    /// Unix milliseconds after which the key is refused; `None`: never.
    pub expires_at_ms: Option<i64>,
    /// For a clinical-channel key, the other doors it may use (`api`, `openai`, `web`,
    /// `mini-program`); empty: the clinical door only.
    pub doors: Vec<String>,
}

/// An API key's record (its secret is never stored, only a SHA-256 digest of it).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub channel: Channel,
    pub clearance: Classification,
    pub domains: Option<Vec<String>>,
    pub admin: bool,
    pub rate: Option<(i64, i64)>,
    pub expires_at_ms: Option<i64>,
    pub doors: Vec<String>,
    pub created_at_ms: i64,
    pub revoked: bool,
}

impl ApiKey {
    pub fn expired_at(&self, now_ms: i64) -> bool {
        self.expires_at_ms.is_some_and(|t| t <= now_ms)
    }
}

const KEY_COLUMNS: &str = "id, name, channel, clearance, domains, admin, rate_requests, \
     rate_period_ms, expires_at, doors, created_at, revoked_at";

impl Store {
    /// Makes a key; returns its record and the secret, which is shown once and never stored.
    pub async fn create_key(&self, new: &NewKey) -> Result<(ApiKey, String)> {
        let secret = new_secret("zk_");
        let key = ApiKey {
            id: uuid::Uuid::new_v4().simple().to_string()[..12].to_string(),
            name: new.name.clone(),
            channel: new.channel,
            clearance: new.clearance,
            domains: new.domains.clone(),
            admin: new.admin,
            rate: new.rate,
            expires_at_ms: new.expires_at_ms,
            doors: new.doors.clone(),
            created_at_ms: now_ms(),
            revoked: false,
        };
        sqlx::query(
            "INSERT INTO api_keys (id, name, key_hash, channel, clearance, domains, admin, \
             rate_requests, rate_period_ms, expires_at, created_at, doors) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&key.id)
        .bind(&key.name)
        .bind(digest(&secret))
        .bind(key.channel.as_str())
        .bind(key.clearance.as_str())
        .bind(
            key.domains
                .as_ref()
                .map_or("*".to_string(), |d| d.join(",")),
        )
        .bind(i64::from(key.admin))
        .bind(key.rate.map(|r| r.0))
        .bind(key.rate.map(|r| r.1))
        .bind(key.expires_at_ms)
        .bind(key.created_at_ms)
        .bind(key.doors.join(","))
        .execute(&self.pool)
        .await
        .map_err(q("creating a key"))?;
        Ok((key, secret))
    }

    /// The unrevoked key whose secret this is, expired or not (the caller says which it is).
    pub async fn find_key(&self, secret: &str) -> Result<Option<ApiKey>> {
        let row = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
        ))
        .bind(digest(secret))
        .fetch_optional(&self.pool)
        .await
        .map_err(q("checking a key"))?;
        row.map(|r| key_from(&r)).transpose()
    }

    pub async fn keys(&self) -> Result<Vec<ApiKey>> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(q("listing keys"))?;
        rows.iter().map(key_from).collect()
    }

    /// Revokes a key by id; false if there is no live key with that id.
    pub async fn revoke_key(&self, id: &str) -> Result<bool> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now_ms())
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(q("revoking a key"))?;
        Ok(done.rows_affected() > 0)
    }
}

impl Default for NewKey {
    /// An API key at `public` clearance for every domain, no administration, no limits.
    fn default() -> Self {
        Self {
            name: String::new(),
            channel: Channel::Api,
            clearance: Classification::Public,
            domains: None,
            admin: false,
            rate: None,
            expires_at_ms: None,
            doors: Vec::new(),
        }
    }
}

fn key_from(r: &AnyRow) -> Result<ApiKey> {
    let text = |field: &'static str| -> Result<String> {
        r.try_get::<String, _>(field).map_err(q("reading a key"))
    };
    let invalid = |field: &'static str, value: &str, reason: String| StoreError::Invalid {
        field,
        value: value.to_string(),
        reason,
    };
    let channel_text = text("channel")?;
    let channel: Channel = channel_text
        .parse()
        .map_err(|e| invalid("channel", &channel_text, e))?;
    let clearance_text = text("clearance")?;
    let clearance: Classification = clearance_text
        .parse()
        .map_err(|e| invalid("clearance", &clearance_text, e))?;
    // Only the exact level names: `Restricted`, `受限` or ` public` were never written here.
    if clearance.as_str() != clearance_text {
        return Err(invalid(
            "clearance",
            &clearance_text,
            "not a level name".into(),
        ));
    }
    (|| {
        let domains: String = r.try_get("domains")?;
        let rate = match (
            r.try_get::<Option<i64>, _>("rate_requests")?,
            r.try_get::<Option<i64>, _>("rate_period_ms")?,
        ) {
            (Some(n), Some(ms)) => Some((n, ms)),
            _ => None,
        };
        Ok(ApiKey {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            channel,
            clearance,
            domains: (domains != "*").then(|| {
                domains
                    .split(',')
                    .filter(|d| !d.is_empty())
                    .map(str::to_string)
                    .collect()
            }),
            admin: r.try_get::<i64, _>("admin")? != 0,
            rate,
            expires_at_ms: r.try_get("expires_at")?,
            doors: r
                .try_get::<String, _>("doors")?
                .split(',')
                .filter(|d| !d.is_empty())
                .map(str::to_string)
                .collect(),
            created_at_ms: r.try_get("created_at")?,
            revoked: r.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
        })
    })()
    .map_err(q("reading a key"))
}
