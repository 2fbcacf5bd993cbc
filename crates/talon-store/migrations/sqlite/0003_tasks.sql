CREATE TABLE tasks (
    id               BLOB PRIMARY KEY NOT NULL,
    user_id          BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    agent_id         BLOB NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    version_id       BLOB NOT NULL,
    title            TEXT NOT NULL,
    description      TEXT NOT NULL,
    priority         INTEGER NOT NULL,
    status           TEXT NOT NULL,
    executor         TEXT NOT NULL,
    input            TEXT NOT NULL,
    output           TEXT,
    error            TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    run_at           TEXT NOT NULL,
    dedupe_key       TEXT,
    lease_token      TEXT,
    lease_expires_at TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    started_at       TEXT,
    completed_at     TEXT
);
CREATE INDEX tasks_by_owner ON tasks (user_id, id);
-- Claims: the account's queued tasks, highest priority first, oldest first.
CREATE INDEX tasks_claimable ON tasks (user_id, priority DESC, id) WHERE status = 'queued';
CREATE INDEX tasks_leased ON tasks (lease_expires_at) WHERE status = 'running';
CREATE INDEX tasks_by_agent ON tasks (agent_id, status);
-- A dedupe key is held while its task is queued or running.
CREATE UNIQUE INDEX tasks_dedupe ON tasks (user_id, dedupe_key)
    WHERE dedupe_key IS NOT NULL AND status IN ('queued', 'running');
