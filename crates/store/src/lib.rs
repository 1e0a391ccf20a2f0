//! Zhiku's database: conversations and their turns, feedback, API keys, sessions, the
//! mini-program's tourists and the audit trail, behind one interface over SQLite (a file
//! under the data directory, nothing to install) or PostgreSQL (`database.url`, shared by several replicas). Migrations are built
//! into the binary and run on open.
//!
//! It stores what it is given and decides nothing: who may read a conversation and which
//! texts may be kept are the engine's rules.

mod accounts;
mod audit;
mod keys;
mod mini_program;

pub use accounts::{user_principal, Session, User};
pub use audit::{AuditRow, ChainBreak};
pub use keys::{ApiKey, NewKey};
pub use mini_program::{MpDeleted, MpSession};

use std::borrow::Cow;
use std::path::Path;
use std::sync::Once;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Row};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL {0:?} is neither sqlite:… nor postgres://…")]
    UnsupportedUrl(String),
    #[error("opening the database {place}: {source}")]
    Open { place: String, source: sqlx::Error },
    #[error("migrating the database {place}: {source}")]
    Migrate {
        place: String,
        source: sqlx::migrate::MigrateError,
    },
    #[error("{0} already exists")]
    Exists(String),
    #[error("password hashing: {0}")]
    Password(String),
    /// A stored value that does not parse as its type (a key's channel or clearance): the
    /// record is refused rather than read as some default.
    #[error("stored {field} {value:?} is not valid: {reason}")]
    Invalid {
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error("database error while {doing}: {source}")]
    Query {
        doing: &'static str,
        source: sqlx::Error,
    },
}

type Result<T> = std::result::Result<T, StoreError>;

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../migrations/0001_initial.sql")),
    (
        2,
        "web users",
        include_str!("../migrations/0002_web_users.sql"),
    ),
    (
        3,
        "clinical",
        include_str!("../migrations/0003_clinical.sql"),
    ),
    (
        4,
        "mini-program",
        include_str!("../migrations/0004_mini_program.sql"),
    ),
    (
        5,
        "key doors",
        include_str!("../migrations/0005_key_doors.sql"),
    ),
];

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// One answered question, as stored. Texts are `None` when they were not kept.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTurn {
    pub seq: i64,
    pub question: Option<String>,
    pub standalone: Option<String>,
    pub answer: Option<String>,
    /// Classification level name of the most restricted passage the answer drew on.
    pub level: String,
    pub domain: Option<String>,
    pub mode: String,
    pub abstained: bool,
    /// The answer's citations and notices as JSON (the engine's to read), when kept.
    pub sources: Option<String>,
    pub created_at_ms: i64,
}

/// A conversation's header.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub id: String,
    pub owner: String,
    pub channel: String,
    /// Set by its owner; `None`: the page shows the first question.
    pub title: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// A conversation in its owner's list: its header, its first turn (to name it by) and size.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationSummary {
    pub conversation: Conversation,
    pub first_question: Option<String>,
    /// The first turn's level (see [`StoredTurn::level`]).
    pub first_level: Option<String>,
    pub turns: i64,
}

/// One rating with the turn it rates, for review.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FeedbackRecord {
    pub id: String,
    pub conversation_id: String,
    pub seq: i64,
    pub principal: String,
    pub rating: i64,
    pub comment: Option<String>,
    pub created_at_ms: i64,
    /// The turn's texts where they were kept.
    pub question: Option<String>,
    pub answer: Option<String>,
    pub domain: Option<String>,
    pub mode: Option<String>,
}

pub struct Store {
    pool: AnyPool,
    backend: Backend,
    place: String,
    /// Audit records are chained, so this process appends one at a time (PostgreSQL replicas
    /// also take a transaction lock: see `audit.rs`).
    audit_writer: tokio::sync::Mutex<()>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn q(doing: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Query { doing, source }
}

impl Store {
    /// A transaction that will write. SQLite's default `BEGIN` takes the write lock only at
    /// the first write, so a transaction that reads first and another writer commits in
    /// between fails at once with "database is locked" (the busy timeout cannot help a stale
    /// snapshot); `BEGIN IMMEDIATE` takes the lock up front and waits its turn instead.
    async fn begin_write(
        &self,
        doing: &'static str,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        let begun = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        };
        begun.map_err(q(doing))
    }

    /// The SQLite database at `path` (created, with its folder, if missing).
    pub async fn open_sqlite(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Open {
                place: parent.display().to_string(),
                source: sqlx::Error::Io(e),
            })?;
        }
        Self::connect(&format!("sqlite://{}?mode=rwc", path.display())).await
    }

    /// `sqlite:…` or `postgres://…`. Runs the migrations the database has not seen.
    pub async fn connect(url: &str) -> Result<Self> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(redact(url)));
        };
        let place = redact(url);
        let mut options = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            .acquire_timeout(std::time::Duration::from_secs(10));
        if backend == Backend::Sqlite {
            // Foreign keys are off by default in SQLite; WAL lets readers run beside a writer.
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA foreign_keys = ON")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA journal_mode = WAL")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA busy_timeout = 5000")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            });
        }
        let pool = options
            .connect(url)
            .await
            .map_err(|source| StoreError::Open {
                place: place.clone(),
                source,
            })?;
        let migrator = Migrator {
            migrations: Cow::Owned(
                MIGRATIONS
                    .iter()
                    .map(|(v, d, sql)| {
                        Migration::new(
                            *v,
                            Cow::Borrowed(d),
                            MigrationType::Simple,
                            Cow::Borrowed(sql),
                            false,
                        )
                    })
                    .collect(),
            ),
            ..Migrator::DEFAULT
        };
        migrator
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate {
                place: place.clone(),
                source,
            })?;
        Ok(Self {
            pool,
            backend,
            place,
            audit_writer: tokio::sync::Mutex::new(()),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Where the store is, with any password removed.
    pub fn place(&self) -> &str {
        &self.place
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(q("checking the connection"))
    }

    pub async fn create_conversation(&self, owner: &str, channel: &str) -> Result<Conversation> {
        let c = Conversation {
            id: uuid::Uuid::new_v4().to_string(),
            owner: owner.to_string(),
            channel: channel.to_string(),
            title: None,
            created_at_ms: now_ms(),
            updated_at_ms: now_ms(),
        };
        sqlx::query(
            "INSERT INTO conversations (id, owner, channel, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&c.id)
        .bind(&c.owner)
        .bind(&c.channel)
        .bind(c.created_at_ms)
        .bind(c.updated_at_ms)
        .execute(&self.pool)
        .await
        .map_err(q("creating a conversation"))?;
        Ok(c)
    }

    pub async fn conversation(&self, id: &str) -> Result<Option<Conversation>> {
        let row = sqlx::query(
            "SELECT id, owner, channel, title, created_at, updated_at FROM conversations WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(q("reading a conversation"))?;
        row.map(|r| conversation_from(&r)).transpose()
    }

    /// The owner's conversations, most recently used first.
    pub async fn conversations_of(
        &self,
        owner: &str,
        limit: usize,
    ) -> Result<Vec<ConversationSummary>> {
        let rows = sqlx::query(
            "SELECT c.id, c.owner, c.channel, c.title, c.created_at, c.updated_at, \
             f.question AS first_question, f.level AS first_level, \
             (SELECT COUNT(*) FROM turns n WHERE n.conversation_id = c.id) AS turn_count \
             FROM conversations c \
             LEFT JOIN turns f ON f.conversation_id = c.id AND f.seq = 1 \
             WHERE c.owner = $1 ORDER BY c.updated_at DESC LIMIT $2",
        )
        .bind(owner)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(q("listing conversations"))?;
        rows.iter()
            .map(|r| {
                Ok(ConversationSummary {
                    conversation: conversation_from(r)?,
                    first_question: r
                        .try_get("first_question")
                        .map_err(q("listing conversations"))?,
                    first_level: r
                        .try_get("first_level")
                        .map_err(q("listing conversations"))?,
                    turns: r
                        .try_get("turn_count")
                        .map_err(q("listing conversations"))?,
                })
            })
            .collect()
    }

    /// Names a conversation (`None` clears the name).
    pub async fn rename_conversation(&self, id: &str, title: Option<&str>) -> Result<bool> {
        let done = sqlx::query("UPDATE conversations SET title = $1 WHERE id = $2")
            .bind(title.map(str::to_string))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(q("renaming a conversation"))?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes a conversation with its turns and their feedback, all or nothing.
    pub async fn delete_conversation(&self, id: &str) -> Result<bool> {
        let mut tx = self.begin_write("deleting a conversation").await?;
        for sql in [
            "DELETE FROM feedback WHERE conversation_id = $1",
            "DELETE FROM turns WHERE conversation_id = $1",
        ] {
            sqlx::query(sql)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(q("deleting a conversation"))?;
        }
        let done = sqlx::query("DELETE FROM conversations WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(q("deleting a conversation"))?;
        tx.commit().await.map_err(q("deleting a conversation"))?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes `owner`'s conversations (turns and feedback included) whose last turn is
    /// older than `idle_before_ms`; returns how many went.
    pub async fn delete_idle_conversations(&self, owner: &str, idle_before_ms: i64) -> Result<u64> {
        let mut tx = self.begin_write("deleting idle conversations").await?;
        for sql in [
            "DELETE FROM feedback WHERE conversation_id IN \
             (SELECT id FROM conversations WHERE owner = $1 AND updated_at < $2)",
            "DELETE FROM turns WHERE conversation_id IN \
             (SELECT id FROM conversations WHERE owner = $1 AND updated_at < $2)",
        ] {
            sqlx::query(sql)
                .bind(owner)
                .bind(idle_before_ms)
                .execute(&mut *tx)
                .await
                .map_err(q("deleting idle conversations"))?;
        }
        let done = sqlx::query("DELETE FROM conversations WHERE owner = $1 AND updated_at < $2")
            .bind(owner)
            .bind(idle_before_ms)
            .execute(&mut *tx)
            .await
            .map_err(q("deleting idle conversations"))?;
        tx.commit()
            .await
            .map_err(q("deleting idle conversations"))?;
        Ok(done.rows_affected())
    }

    /// Ratings given at or after `since_ms`, oldest first, with the turns they rate.
    pub async fn feedback_since(&self, since_ms: i64) -> Result<Vec<FeedbackRecord>> {
        let rows = sqlx::query(
            "SELECT f.id, f.conversation_id, f.seq, f.principal, f.rating, f.comment, f.created_at, \
             t.question, t.answer, t.domain, t.mode \
             FROM feedback f LEFT JOIN turns t \
             ON t.conversation_id = f.conversation_id AND t.seq = f.seq \
             WHERE f.created_at >= $1 ORDER BY f.created_at",
        )
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(q("reading feedback"))?;
        rows.iter()
            .map(|r| {
                (|| {
                    Ok(FeedbackRecord {
                        id: r.try_get("id")?,
                        conversation_id: r.try_get("conversation_id")?,
                        seq: r.try_get("seq")?,
                        principal: r.try_get("principal")?,
                        rating: r.try_get("rating")?,
                        comment: r.try_get("comment")?,
                        created_at_ms: r.try_get("created_at")?,
                        question: r.try_get("question")?,
                        answer: r.try_get("answer")?,
                        domain: r.try_get("domain")?,
                        mode: r.try_get("mode")?,
                    })
                })()
                .map_err(q("reading feedback"))
            })
            .collect()
    }

    /// The last `limit` turns of a conversation, oldest first.
    pub async fn turns(&self, conversation_id: &str, limit: usize) -> Result<Vec<StoredTurn>> {
        let rows = sqlx::query(
            "SELECT seq, question, standalone, answer, level, domain, mode, abstained, sources, \
             created_at \
             FROM turns WHERE conversation_id = $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(conversation_id)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(q("reading turns"))?;
        let mut turns = rows.iter().map(turn_from).collect::<Result<Vec<_>>>()?;
        turns.reverse();
        Ok(turns)
    }

    /// Appends a turn (its `seq` and time are assigned here) and returns its number.
    pub async fn append_turn(&self, conversation_id: &str, turn: &StoredTurn) -> Result<i64> {
        // Two answers finishing at once in one conversation race for the next number; the
        // primary key refuses the loser, which takes the following one.
        let mut last_error = None;
        for _ in 0..5 {
            let mut tx = self.begin_write("appending a turn").await?;
            let next: i64 = sqlx::query(
                "SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM turns WHERE conversation_id = $1",
            )
            .bind(conversation_id)
            .fetch_one(&mut *tx)
            .await
            .and_then(|r| r.try_get::<i64, _>("next"))
            .map_err(q("numbering a turn"))?;
            let now = now_ms();
            let inserted = sqlx::query(
                "INSERT INTO turns (conversation_id, seq, question, standalone, answer, level, \
                 domain, mode, abstained, sources, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(conversation_id)
            .bind(next)
            .bind(turn.question.clone())
            .bind(turn.standalone.clone())
            .bind(turn.answer.clone())
            .bind(&turn.level)
            .bind(turn.domain.clone())
            .bind(&turn.mode)
            .bind(i64::from(turn.abstained))
            .bind(turn.sources.clone())
            .bind(now)
            .execute(&mut *tx)
            .await;
            match inserted {
                Ok(_) => {
                    sqlx::query("UPDATE conversations SET updated_at = $1 WHERE id = $2")
                        .bind(now)
                        .bind(conversation_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(q("touching a conversation"))?;
                    tx.commit().await.map_err(q("appending a turn"))?;
                    return Ok(next);
                }
                Err(e) => {
                    last_error = Some(e);
                    let _ = tx.rollback().await;
                }
            }
        }
        Err(StoreError::Query {
            doing: "appending a turn",
            source: last_error.unwrap_or(sqlx::Error::PoolClosed),
        })
    }

    /// A rating (-1, 0 or 1) of one turn, with an optional comment.
    pub async fn add_feedback(
        &self,
        conversation_id: &str,
        seq: i64,
        principal: &str,
        rating: i64,
        comment: Option<&str>,
    ) -> Result<String> {
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO feedback (id, conversation_id, seq, principal, rating, comment, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(conversation_id)
        .bind(seq)
        .bind(principal)
        .bind(rating)
        .bind(comment.map(str::to_string))
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(q("saving feedback"))?;
        Ok(id)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// 244 random bits after a prefix that says what the secret is.
fn new_secret(prefix: &str) -> String {
    format!(
        "{prefix}{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

fn digest(secret: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}

fn conversation_from(r: &AnyRow) -> Result<Conversation> {
    let get = q("reading a conversation");
    (|| {
        Ok(Conversation {
            id: r.try_get("id")?,
            owner: r.try_get("owner")?,
            channel: r.try_get("channel")?,
            title: r.try_get("title")?,
            created_at_ms: r.try_get("created_at")?,
            updated_at_ms: r.try_get("updated_at")?,
        })
    })()
    .map_err(get)
}

fn turn_from(r: &AnyRow) -> Result<StoredTurn> {
    (|| {
        Ok(StoredTurn {
            seq: r.try_get("seq")?,
            question: r.try_get("question")?,
            standalone: r.try_get("standalone")?,
            answer: r.try_get("answer")?,
            level: r.try_get("level")?,
            domain: r.try_get("domain")?,
            mode: r.try_get("mode")?,
            abstained: r.try_get::<i64, _>("abstained")? != 0,
            sources: r.try_get("sources")?,
            created_at_ms: r.try_get("created_at")?,
        })
    })()
    .map_err(q("reading turns"))
}

/// The URL without its password, for messages and logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://zhiku:s3cret@db:5432/zhiku"),
            "postgres://zhiku:***@db:5432/zhiku"
        );
        assert_eq!(redact("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }
}
