//! Tourists of the WeChat mini-program: their sessions (token digests, with the openid and
//! WeChat's `session_key` that only the server keeps) and their preferences, under a salted
//! hash of the openid; and deleting all of it on request.

use sqlx::Row;

use crate::{digest, new_secret, now_ms, q, Result, Store};

/// A live mini-program session. `session_key` is not read back: nothing here needs it.
#[derive(Debug, Clone)]
pub struct MpSession {
    pub user_hash: String,
    pub openid: String,
    pub expires_at_ms: i64,
}

/// What deleting a tourist's data removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MpDeleted {
    pub sessions: u64,
    pub conversations: u64,
    pub preferences: bool,
}

impl Store {
    /// Records a login: the user (created with empty preferences the first time) and a new
    /// session, whose token is returned and never stored. Expired sessions are swept.
    pub async fn start_mp_session(
        &self,
        user_hash: &str,
        openid: &str,
        session_key: &str,
        ttl: std::time::Duration,
    ) -> Result<(String, i64)> {
        let token = new_secret("zmp_");
        let now = now_ms();
        let expires = now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
        let mut tx = self.begin_write("starting a session").await?;
        sqlx::query("DELETE FROM mp_sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(q("sweeping sessions"))?;
        sqlx::query(
            "INSERT INTO mp_users (user_hash, preferences, created_at, seen_at) \
             VALUES ($1, '{}', $2, $2) \
             ON CONFLICT (user_hash) DO UPDATE SET seen_at = $2",
        )
        .bind(user_hash)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(q("recording a tourist"))?;
        sqlx::query(
            "INSERT INTO mp_sessions (id_hash, user_hash, openid, session_key, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(digest(&token))
        .bind(user_hash)
        .bind(openid)
        .bind(session_key)
        .bind(now)
        .bind(expires)
        .execute(&mut *tx)
        .await
        .map_err(q("starting a session"))?;
        tx.commit().await.map_err(q("starting a session"))?;
        Ok((token, expires))
    }

    /// The live session this token opens, if any.
    pub async fn mp_session(&self, token: &str) -> Result<Option<MpSession>> {
        let row = sqlx::query(
            "SELECT user_hash, openid, expires_at FROM mp_sessions \
             WHERE id_hash = $1 AND expires_at > $2",
        )
        .bind(digest(token))
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await
        .map_err(q("checking a session"))?;
        let get = q("reading a session");
        row.map(|r| {
            Ok(MpSession {
                user_hash: r.try_get("user_hash").map_err(get)?,
                openid: r.try_get("openid").map_err(q("reading a session"))?,
                expires_at_ms: r.try_get("expires_at").map_err(q("reading a session"))?,
            })
        })
        .transpose()
    }

    /// A tourist's preferences as stored (JSON), if the tourist is known.
    pub async fn mp_preferences(&self, user_hash: &str) -> Result<Option<String>> {
        sqlx::query("SELECT preferences FROM mp_users WHERE user_hash = $1")
            .bind(user_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(q("reading preferences"))?
            .map(|r| r.try_get("preferences").map_err(q("reading preferences")))
            .transpose()
    }

    pub async fn set_mp_preferences(&self, user_hash: &str, json: &str) -> Result<bool> {
        let done =
            sqlx::query("UPDATE mp_users SET preferences = $1, seen_at = $2 WHERE user_hash = $3")
                .bind(json)
                .bind(now_ms())
                .bind(user_hash)
                .execute(&self.pool)
                .await
                .map_err(q("saving preferences"))?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes everything kept about a tourist, all or nothing: sessions, preferences, and the
    /// conversations `principal` owns with their turns and feedback.
    pub async fn delete_mp_user(&self, user_hash: &str, principal: &str) -> Result<MpDeleted> {
        let doing = "deleting a tourist's data";
        let mut tx = self.begin_write(doing).await?;
        for sql in [
            "DELETE FROM feedback WHERE conversation_id IN (SELECT id FROM conversations WHERE owner = $1)",
            "DELETE FROM turns WHERE conversation_id IN (SELECT id FROM conversations WHERE owner = $1)",
        ] {
            sqlx::query(sql)
                .bind(principal)
                .execute(&mut *tx)
                .await
                .map_err(q(doing))?;
        }
        let conversations = sqlx::query("DELETE FROM conversations WHERE owner = $1")
            .bind(principal)
            .execute(&mut *tx)
            .await
            .map_err(q(doing))?
            .rows_affected();
        let sessions = sqlx::query("DELETE FROM mp_sessions WHERE user_hash = $1")
            .bind(user_hash)
            .execute(&mut *tx)
            .await
            .map_err(q(doing))?
            .rows_affected();
        let preferences = sqlx::query("DELETE FROM mp_users WHERE user_hash = $1")
            .bind(user_hash)
            .execute(&mut *tx)
            .await
            .map_err(q(doing))?
            .rows_affected()
            > 0;
        tx.commit().await.map_err(q(doing))?;
        Ok(MpDeleted {
            sessions,
            conversations,
            preferences,
        })
    }
}
