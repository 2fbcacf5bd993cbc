-- Idempotency records now belong to one credential and hold sealed responses; the records written
-- before held responses (new API keys, webhook secrets, session tokens) in clear, so they are dropped.
DELETE FROM idempotency_keys;

-- "Sign out everywhere" bumps the generation; a session token carries the generation it was issued in.
ALTER TABLE users ADD COLUMN session_generation INTEGER NOT NULL DEFAULT 0;

-- Sessions ended by logout, kept until their token would have expired anyway.
CREATE TABLE revoked_sessions (
    session_id BLOB PRIMARY KEY NOT NULL,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at TEXT NOT NULL
);
CREATE INDEX revoked_sessions_by_expiry ON revoked_sessions (expires_at);
