-- Usage summarised as it is written (crates/talon-domain/src/usage/rollup.rs): per agent, hour or day,
-- version, API key (the nil id for none) and outcome, in the same transaction as the records. Summaries
-- read these, and the records only where a range cuts an hour; records are kept for
-- TALON_USAGE_RAW_RETENTION_DAYS, the rollups for good.
CREATE TABLE usage_hourly (
    agent_id           UUID NOT NULL,
    period_start       TIMESTAMPTZ NOT NULL,
    version_id         UUID NOT NULL,
    key_id             UUID NOT NULL,
    outcome            TEXT NOT NULL,
    user_id            UUID NOT NULL,
    requests           BIGINT NOT NULL,
    fallbacks          BIGINT NOT NULL,
    prompt_tokens      BIGINT NOT NULL,
    completion_tokens  BIGINT NOT NULL,
    latency_sum_us     BIGINT NOT NULL,
    latency_max_us     BIGINT NOT NULL,
    first_tokens       BIGINT NOT NULL,
    first_token_sum_us BIGINT NOT NULL,
    PRIMARY KEY (agent_id, period_start, version_id, key_id, outcome)
);

CREATE TABLE usage_daily (
    agent_id           UUID NOT NULL,
    period_start       TIMESTAMPTZ NOT NULL,
    version_id         UUID NOT NULL,
    key_id             UUID NOT NULL,
    outcome            TEXT NOT NULL,
    user_id            UUID NOT NULL,
    requests           BIGINT NOT NULL,
    fallbacks          BIGINT NOT NULL,
    prompt_tokens      BIGINT NOT NULL,
    completion_tokens  BIGINT NOT NULL,
    latency_sum_us     BIGINT NOT NULL,
    latency_max_us     BIGINT NOT NULL,
    first_tokens       BIGINT NOT NULL,
    first_token_sum_us BIGINT NOT NULL,
    PRIMARY KEY (agent_id, period_start, version_id, key_id, outcome)
);

INSERT INTO usage_hourly (agent_id, period_start, version_id, key_id, outcome, user_id, requests, fallbacks,
    prompt_tokens, completion_tokens, latency_sum_us, latency_max_us, first_tokens, first_token_sum_us)
SELECT agent_id, date_trunc('hour', created_at, 'UTC'), version_id, COALESCE(key_id, '00000000-0000-0000-0000-000000000000'::uuid), outcome, (array_agg(user_id))[1],
    COUNT(*), SUM(CASE WHEN fell_back THEN 1 ELSE 0 END), SUM(prompt_tokens), SUM(completion_tokens),
    SUM(latency_us), MAX(latency_us), COUNT(first_token_us), COALESCE(SUM(first_token_us), 0)
FROM chat_usage GROUP BY agent_id, date_trunc('hour', created_at, 'UTC'), version_id, COALESCE(key_id, '00000000-0000-0000-0000-000000000000'::uuid), outcome;

INSERT INTO usage_daily (agent_id, period_start, version_id, key_id, outcome, user_id, requests, fallbacks,
    prompt_tokens, completion_tokens, latency_sum_us, latency_max_us, first_tokens, first_token_sum_us)
SELECT agent_id, date_trunc('day', created_at, 'UTC'), version_id, COALESCE(key_id, '00000000-0000-0000-0000-000000000000'::uuid), outcome, (array_agg(user_id))[1],
    COUNT(*), SUM(CASE WHEN fell_back THEN 1 ELSE 0 END), SUM(prompt_tokens), SUM(completion_tokens),
    SUM(latency_us), MAX(latency_us), COUNT(first_token_us), COALESCE(SUM(first_token_us), 0)
FROM chat_usage GROUP BY agent_id, date_trunc('day', created_at, 'UTC'), version_id, COALESCE(key_id, '00000000-0000-0000-0000-000000000000'::uuid), outcome;

-- Retention deletes the oldest records first.
CREATE INDEX chat_usage_by_time ON chat_usage (created_at);
