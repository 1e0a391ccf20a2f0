//! The audit trail as a hash chain: each row's hash covers its own content and the hash of
//! the row before, so that changing or removing a row is seen by [`Store::verify_audit`].
//! What a record says (a FHIR AuditEvent) is the `zhiku-audit` crate's business; here it is
//! opaque text. Also: settings the replicas share, and the ids of used tokens.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{now_ms, q, Backend, Result, Store};

/// The hash the first row points back to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One stored audit record.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    pub seq: i64,
    pub recorded_at_ms: i64,
    pub previous_hash: String,
    pub hash: String,
    /// The record's JSON, exactly as hashed.
    pub record: String,
}

/// Where and why the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    /// The first record that fails.
    pub seq: i64,
    pub reason: String,
}

/// SHA-256 over the row's place in the chain, time and record, and the previous row's hash.
fn chain_hash(previous: &str, seq: i64, recorded_at_ms: i64, record: &str) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(previous.as_bytes());
    h.update(b"\n");
    h.update(seq.to_string().as_bytes());
    h.update(b"\n");
    h.update(recorded_at_ms.to_string().as_bytes());
    h.update(b"\n");
    h.update(record.as_bytes());
    hex::encode(h.finalize())
}

fn row_from(r: &AnyRow) -> Result<AuditRow> {
    (|| {
        Ok(AuditRow {
            seq: r.try_get("seq")?,
            recorded_at_ms: r.try_get("recorded_at")?,
            previous_hash: r.try_get("previous_hash")?,
            hash: r.try_get("hash")?,
            record: r.try_get("record")?,
        })
    })()
    .map_err(q("reading the audit trail"))
}

impl Store {
    /// Appends one record at the end of the chain. The write is done when this returns: a
    /// request whose record cannot be written fails with it.
    pub async fn append_audit(&self, record: &str) -> Result<AuditRow> {
        let _one_writer = self.audit_writer.lock().await;
        let mut tx = self.begin_write("writing the audit trail").await?;
        if self.backend == Backend::Postgres {
            // Replicas share the chain: one appender at a time, until this transaction ends.
            sqlx::query("SELECT pg_advisory_xact_lock(7243500)")
                .execute(&mut *tx)
                .await
                .map_err(q("locking the audit trail"))?;
        }
        let last = sqlx::query("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await
            .map_err(q("reading the audit trail"))?;
        let (seq, previous_hash) = match last {
            Some(r) => (
                r.try_get::<i64, _>(0)
                    .map_err(q("reading the audit trail"))?
                    + 1,
                r.try_get::<String, _>(1)
                    .map_err(q("reading the audit trail"))?,
            ),
            None => (1, GENESIS.to_string()),
        };
        let recorded_at_ms = now_ms();
        let hash = chain_hash(&previous_hash, seq, recorded_at_ms, record);
        sqlx::query(
            "INSERT INTO audit_events (seq, recorded_at, previous_hash, hash, record) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(seq)
        .bind(recorded_at_ms)
        .bind(&previous_hash)
        .bind(&hash)
        .bind(record)
        .execute(&mut *tx)
        .await
        .map_err(q("writing the audit trail"))?;
        tx.commit().await.map_err(q("writing the audit trail"))?;
        Ok(AuditRow {
            seq,
            recorded_at_ms,
            previous_hash,
            hash,
            record: record.to_string(),
        })
    }

    /// Records recorded in `[since_ms, until_ms)`, oldest first.
    pub async fn audit_rows(&self, since_ms: i64, until_ms: i64) -> Result<Vec<AuditRow>> {
        let rows = sqlx::query(
            "SELECT seq, recorded_at, previous_hash, hash, record FROM audit_events \
             WHERE recorded_at >= $1 AND recorded_at < $2 ORDER BY seq",
        )
        .bind(since_ms)
        .bind(until_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(q("reading the audit trail"))?;
        rows.iter().map(row_from).collect()
    }

    /// Walks the whole chain: `Ok(Ok(n))` when its `n` records hold together, else the first
    /// record that was changed, or that follows a removed one.
    pub async fn verify_audit(&self) -> Result<std::result::Result<i64, ChainBreak>> {
        let rows = sqlx::query(
            "SELECT seq, recorded_at, previous_hash, hash, record FROM audit_events ORDER BY seq",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(q("reading the audit trail"))?;
        let mut previous = (0_i64, GENESIS.to_string());
        for r in &rows {
            let row = row_from(r)?;
            let broken = |reason: String| {
                Ok(Err(ChainBreak {
                    seq: row.seq,
                    reason,
                }))
            };
            if row.seq != previous.0 + 1 {
                return broken(format!(
                    "records {} to {} are missing",
                    previous.0 + 1,
                    row.seq - 1
                ));
            }
            if row.previous_hash != previous.1 {
                return broken("it does not point at the record before it".into());
            }
            if chain_hash(&row.previous_hash, row.seq, row.recorded_at_ms, &row.record) != row.hash
            {
                return broken("its content does not match its hash (changed)".into());
            }
            previous = (row.seq, row.hash);
        }
        Ok(Ok(previous.0))
    }

    /// A value every replica shares, made once by `make` when missing.
    pub async fn setting_or_insert(
        &self,
        name: &str,
        make: impl FnOnce() -> String,
    ) -> Result<String> {
        let read = || async {
            sqlx::query("SELECT value FROM settings WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(q("reading a setting"))?
                .map(|r| r.try_get::<String, _>(0).map_err(q("reading a setting")))
                .transpose()
        };
        if let Some(v) = read().await? {
            return Ok(v);
        }
        // Two replicas may race here; the first insert wins and both read its value.
        let _ = sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2)")
            .bind(name)
            .bind(make())
            .execute(&self.pool)
            .await;
        read().await?.ok_or(crate::StoreError::Query {
            doing: "reading a setting",
            source: sqlx::Error::RowNotFound,
        })
    }

    /// Records a signed token's id as used; false when it already was (a replay). Ids of
    /// tokens past their expiry are forgotten, since such tokens are refused anyway.
    pub async fn use_token(
        &self,
        issuer: &str,
        token_id: &str,
        expires_at_ms: i64,
    ) -> Result<bool> {
        sqlx::query("DELETE FROM token_uses WHERE expires_at < $1")
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(q("forgetting used tokens"))?;
        let inserted = sqlx::query(
            "INSERT INTO token_uses (issuer, token_id, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (issuer, token_id) DO NOTHING",
        )
        .bind(issuer)
        .bind(token_id)
        .bind(expires_at_ms)
        .execute(&self.pool)
        .await
        .map_err(q("recording a used token"))?;
        Ok(inserted.rows_affected() == 1)
    }
}
