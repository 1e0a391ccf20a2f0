//! Local accounts of the web chat and their sign-in sessions. Passwords are kept as Argon2id
//! hashes, session tokens as SHA-256 digests: a copy of the database signs nobody in.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{digest, new_secret, now_ms, q, Result, Store, StoreError};

/// A local account. What a role may see is the engine's rule, not the store's.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub name: String,
    pub role: String,
    pub created_at_ms: i64,
    /// False: the account signs in only through the trusted proxy header.
    pub has_password: bool,
}

/// A live sign-in.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub principal: String,
    pub expires_at_ms: i64,
}

/// Compared against when the name is unknown, so that a wrong name and a wrong password take
/// the same time.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$wWKIMhR9lyDFvRz9YTZweHcfvjnjiy2QtBGPWMpBeHk";

fn hash_password(password: &str) -> std::result::Result<String, StoreError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Password(e.to_string()))
}

fn password_matches(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Argon2 is slow on purpose: keep it off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Password(e.to_string()))
}

fn user_from(r: &AnyRow) -> Result<User> {
    (|| {
        Ok(User {
            name: r.try_get("name")?,
            role: r.try_get("role")?,
            created_at_ms: r.try_get("created_at")?,
            has_password: r.try_get::<Option<String>, _>("password_hash")?.is_some(),
        })
    })()
    .map_err(q("reading a user"))
}

impl Store {
    /// Adds an account; an existing name is an error ([`StoreError::Exists`]).
    pub async fn create_user(
        &self,
        name: &str,
        role: &str,
        password: Option<&str>,
    ) -> Result<User> {
        let hash = match password {
            Some(p) => {
                let p = p.to_string();
                Some(blocking(move || hash_password(&p)).await??)
            }
            None => None,
        };
        if self.user(name).await?.is_some() {
            return Err(StoreError::Exists(format!("user {name:?}")));
        }
        let user = User {
            name: name.to_string(),
            role: role.to_string(),
            created_at_ms: now_ms(),
            has_password: hash.is_some(),
        };
        sqlx::query(
            "INSERT INTO users (name, role, password_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&user.name)
        .bind(&user.role)
        .bind(hash)
        .bind(user.created_at_ms)
        .execute(&self.pool)
        .await
        .map_err(q("adding a user"))?;
        Ok(user)
    }

    pub async fn user(&self, name: &str) -> Result<Option<User>> {
        self.user_row(name)
            .await?
            .map(|r| user_from(&r))
            .transpose()
    }

    async fn user_row(&self, name: &str) -> Result<Option<AnyRow>> {
        sqlx::query("SELECT name, role, password_hash, created_at FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(q("reading a user"))
    }

    pub async fn users(&self) -> Result<Vec<User>> {
        let rows =
            sqlx::query("SELECT name, role, password_hash, created_at FROM users ORDER BY name")
                .fetch_all(&self.pool)
                .await
                .map_err(q("listing users"))?;
        rows.iter().map(user_from).collect()
    }

    /// The account, if the password is its own. Takes as long for an unknown name.
    pub async fn check_password(&self, name: &str, password: &str) -> Result<Option<User>> {
        let row = self.user_row(name).await?;
        let (user, hash) = match &row {
            Some(r) => (
                Some(user_from(r)?),
                r.try_get::<Option<String>, _>("password_hash")
                    .map_err(q("reading a user"))?,
            ),
            None => (None, None),
        };
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.to_string());
        let password = password.to_string();
        let matches = blocking(move || password_matches(&password, &hash)).await?;
        Ok(user.filter(|_| known && matches))
    }

    /// Sets a new password and signs the account out everywhere.
    pub async fn set_password(&self, name: &str, password: &str) -> Result<bool> {
        let p = password.to_string();
        let hash = blocking(move || hash_password(&p)).await??;
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE name = $2")
            .bind(hash)
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(q("setting a password"))?;
        self.end_sessions_of(&user_principal(name)).await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn set_role(&self, name: &str, role: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE users SET role = $1 WHERE name = $2")
            .bind(role)
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(q("setting a role"))?;
        Ok(done.rows_affected() > 0)
    }

    /// Removes the account with its sessions, its conversations (turns and feedback
    /// included), all in one transaction. Conversations are owned by the account's name, so
    /// keeping them would hand them to the next account given that name.
    pub async fn remove_user(&self, name: &str) -> Result<bool> {
        let principal = user_principal(name);
        let mut tx = self.begin_write("removing a user").await?;
        for sql in [
            "DELETE FROM feedback WHERE conversation_id IN \
             (SELECT id FROM conversations WHERE owner = $1)",
            "DELETE FROM turns WHERE conversation_id IN \
             (SELECT id FROM conversations WHERE owner = $1)",
            "DELETE FROM conversations WHERE owner = $1",
            "DELETE FROM sessions WHERE principal = $1",
        ] {
            sqlx::query(sql)
                .bind(&principal)
                .execute(&mut *tx)
                .await
                .map_err(q("removing a user"))?;
        }
        let done = sqlx::query("DELETE FROM users WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(q("removing a user"))?;
        if done.rows_affected() == 0 {
            // No such account: nothing of anyone else's is touched.
            tx.rollback().await.map_err(q("removing a user"))?;
            return Ok(false);
        }
        tx.commit().await.map_err(q("removing a user"))?;
        Ok(true)
    }

    /// Starts a session for `principal`; returns its token, which is never stored.
    pub async fn create_session(
        &self,
        principal: &str,
        clearance: &str,
        ttl: std::time::Duration,
    ) -> Result<String> {
        let token = new_secret("zs_");
        let now = now_ms();
        sqlx::query(
            "INSERT INTO sessions (id_hash, principal, clearance, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(digest(&token))
        .bind(principal)
        .bind(clearance)
        .bind(now)
        .bind(now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)))
        .execute(&self.pool)
        .await
        .map_err(q("starting a session"))?;
        Ok(token)
    }

    /// The live session this token opens, if any.
    pub async fn session(&self, token: &str) -> Result<Option<Session>> {
        let row = sqlx::query(
            "SELECT principal, expires_at FROM sessions WHERE id_hash = $1 AND expires_at > $2",
        )
        .bind(digest(token))
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await
        .map_err(q("checking a session"))?;
        row.map(|r| {
            Ok(Session {
                principal: r.try_get("principal").map_err(q("reading a session"))?,
                expires_at_ms: r.try_get("expires_at").map_err(q("reading a session"))?,
            })
        })
        .transpose()
    }

    /// Ends one session (sign-out). Expired sessions are swept at the same time.
    pub async fn end_session(&self, token: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1 OR expires_at <= $2")
            .bind(digest(token))
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(q("ending a session"))?;
        Ok(())
    }

    async fn end_sessions_of(&self, principal: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE principal = $1")
            .bind(principal)
            .execute(&self.pool)
            .await
            .map_err(q("ending sessions"))?;
        Ok(())
    }
}

/// The principal a local account's requests carry (conversations are owned by it).
pub fn user_principal(name: &str) -> String {
    format!("user:{name}")
}
