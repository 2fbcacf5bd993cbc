-- One row per chat answer (or failure to answer), for per-version usage summaries. No foreign keys:
-- records are written in batches after the answer, and must not fail because the agent went away.
CREATE TABLE chat_usage (
    id                UUID PRIMARY KEY,
    user_id           UUID NOT NULL,
    agent_id          UUID NOT NULL,
    version_id        UUID NOT NULL,
    key_id            UUID,
    source            TEXT NOT NULL,
    model             TEXT NOT NULL,
    fell_back         BOOLEAN NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    latency_us        BIGINT NOT NULL,
    first_token_us    BIGINT,
    outcome           TEXT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX chat_usage_by_agent ON chat_usage (agent_id, created_at);
