-- Portable between SQLite and PostgreSQL: TEXT ids (UUIDs), BIGINT times (Unix milliseconds)
-- and flags, no dialect-specific types.
CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    channel TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX conversations_by_owner ON conversations (owner, updated_at);

-- One answered question. The texts are NULL when they must not be stored (clinical
-- questions, by default); `level` is the highest classification of the passages the answer
-- drew on, so that history is never shown to a caller below it.
CREATE TABLE turns (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    question TEXT,
    standalone TEXT,
    answer TEXT,
    level TEXT NOT NULL,
    domain TEXT,
    mode TEXT NOT NULL,
    abstained BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);

CREATE TABLE feedback (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    principal TEXT NOT NULL,
    rating BIGINT NOT NULL,
    comment TEXT,
    created_at BIGINT NOT NULL
);

-- Keys are stored as SHA-256 digests only.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    clearance TEXT NOT NULL,
    -- Comma-separated domain names, or * for all.
    domains TEXT NOT NULL,
    admin BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    clearance TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Who did what; never question text or identifiers.
CREATE TABLE audit (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    principal TEXT NOT NULL,
    channel TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_by_time ON audit (at);
