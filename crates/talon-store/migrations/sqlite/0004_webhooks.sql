ALTER TABLE events ADD COLUMN dispatched_at TEXT;
CREATE INDEX events_undispatched ON events (id) WHERE dispatched_at IS NULL;

CREATE TABLE webhooks (
    id                         BLOB PRIMARY KEY NOT NULL,
    user_id                    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    url                        TEXT NOT NULL,
    events                     TEXT NOT NULL,
    description                TEXT NOT NULL,
    active                     BOOLEAN NOT NULL,
    disabled_reason            TEXT,
    secret                     TEXT NOT NULL,
    previous_secret            TEXT,
    previous_secret_expires_at TEXT,
    failing_since              TEXT,
    created_at                 TEXT NOT NULL,
    updated_at                 TEXT NOT NULL
);
CREATE INDEX webhooks_by_user ON webhooks (user_id, id);

CREATE TABLE webhook_deliveries (
    id                 BLOB PRIMARY KEY NOT NULL,
    webhook_id         BLOB NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    user_id            BLOB NOT NULL,
    event_id           BLOB NOT NULL,
    event_kind         TEXT NOT NULL,
    payload            TEXT NOT NULL,
    status             TEXT NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at    TEXT NOT NULL,
    locked_until       TEXT,
    last_status_code   INTEGER,
    last_error         TEXT,
    last_latency_ms    INTEGER,
    last_response_body TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);
