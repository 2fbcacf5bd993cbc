-- Usage per minute beside the hourly and daily rollups (crates/talon-domain/src/usage/rollup.rs), so that
-- a summary reads the records only where its range cuts a minute, not an hour: at a few thousand
-- answers an hour, the edges of a range were most of its cost. Kept as long as the records
-- (TALON_USAGE_RAW_RETENTION_DAYS), deleted oldest first.
CREATE TABLE usage_minutely (
    agent_id           BLOB NOT NULL,
    period_start       TEXT NOT NULL,
    version_id         BLOB NOT NULL,
    key_id             BLOB NOT NULL,
    outcome            TEXT NOT NULL,
    user_id            BLOB NOT NULL,
    requests           INTEGER NOT NULL,
    fallbacks          INTEGER NOT NULL,
    prompt_tokens      INTEGER NOT NULL,
    completion_tokens  INTEGER NOT NULL,
    latency_sum_us     INTEGER NOT NULL,
    latency_max_us     INTEGER NOT NULL,
    first_tokens       INTEGER NOT NULL,
    first_token_sum_us INTEGER NOT NULL,
    PRIMARY KEY (agent_id, period_start, version_id, key_id, outcome)
) WITHOUT ROWID;

INSERT INTO usage_minutely (agent_id, period_start, version_id, key_id, outcome, user_id, requests, fallbacks,
    prompt_tokens, completion_tokens, latency_sum_us, latency_max_us, first_tokens, first_token_sum_us)
SELECT agent_id, strftime('%Y-%m-%dT%H:%M:00+00:00', created_at), version_id, COALESCE(key_id, zeroblob(16)), outcome, MIN(user_id),
    COUNT(*), SUM(CASE WHEN fell_back THEN 1 ELSE 0 END), SUM(prompt_tokens), SUM(completion_tokens),
    SUM(latency_us), MAX(latency_us), COUNT(first_token_us), COALESCE(SUM(first_token_us), 0)
FROM chat_usage GROUP BY agent_id, strftime('%Y-%m-%dT%H:%M:00+00:00', created_at), version_id, COALESCE(key_id, zeroblob(16)), outcome;

CREATE INDEX usage_minutely_by_time ON usage_minutely (period_start);
