-- The clinical door: keys with a rate and an end, the hash-chained audit trail, settings the
-- replicas share, and the ids of signed tokens already used (replay protection).
ALTER TABLE api_keys ADD COLUMN rate_requests BIGINT;
ALTER TABLE api_keys ADD COLUMN rate_period_ms BIGINT;
ALTER TABLE api_keys ADD COLUMN expires_at BIGINT;

-- One FHIR AuditEvent per row, as JSON. `hash` covers this row's seq, time, record and the
-- previous row's hash, so that a changed or removed row breaks the chain. (The older `audit`
-- table is kept, unwritten, so that no earlier record is lost.)
CREATE TABLE audit_events (
    seq BIGINT PRIMARY KEY,
    recorded_at BIGINT NOT NULL,
    previous_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX audit_events_by_time ON audit_events (recorded_at);

CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE token_uses (
    issuer TEXT NOT NULL,
    token_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, token_id)
);
