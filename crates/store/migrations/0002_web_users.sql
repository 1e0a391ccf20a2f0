-- The web chat: local accounts, and conversations a user can rename.
CREATE TABLE users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    -- Argon2id PHC string; NULL: the account signs in only through the trusted proxy.
    password_hash TEXT,
    created_at BIGINT NOT NULL
);

ALTER TABLE conversations ADD COLUMN title TEXT;
-- What a reopened answer needs to show its sources and notices (JSON, NULL when the texts
-- were not kept).
ALTER TABLE turns ADD COLUMN sources TEXT;

CREATE INDEX feedback_by_time ON feedback (created_at);
CREATE INDEX sessions_by_principal ON sessions (principal);
