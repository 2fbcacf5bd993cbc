-- One row per chat answer (or failure to answer), for per-version usage summaries. No foreign keys:
-- records are written in batches after the answer, and must not fail because the agent went away.
CREATE TABLE chat_usage (
    id                BLOB PRIMARY KEY NOT NULL,
    user_id           BLOB NOT NULL,
    agent_id          BLOB NOT NULL,
    version_id        BLOB NOT NULL,
    key_id            BLOB,
    source            TEXT NOT NULL,
    model             TEXT NOT NULL,
    fell_back         BOOLEAN NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    latency_us        INTEGER NOT NULL,
    first_token_us    INTEGER,
    outcome           TEXT NOT NULL,
    created_at        TEXT NOT NULL
);
CREATE INDEX chat_usage_by_agent ON chat_usage (agent_id, created_at);
