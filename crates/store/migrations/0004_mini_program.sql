-- The mini-program door. Tourists are known by a salted hash of their openid; a session keeps
-- the openid in clear (msgSecCheck needs it) and WeChat's session_key, both gone when the
-- session expires or the tourist deletes their data.
CREATE TABLE mp_users (
    user_hash TEXT PRIMARY KEY,
    -- JSON: language and interests.
    preferences TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    seen_at BIGINT NOT NULL
);

CREATE TABLE mp_sessions (
    id_hash TEXT PRIMARY KEY,
    user_hash TEXT NOT NULL,
    openid TEXT NOT NULL,
    session_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX mp_sessions_by_user ON mp_sessions (user_hash);
