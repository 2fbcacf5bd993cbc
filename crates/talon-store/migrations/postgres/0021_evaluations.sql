-- Evaluations: an agent's datasets of cases, runs of them against chosen versions, each case's result
-- per version, and the tasks (a case's or a judge's) a run created, so a settled task finds its run.

-- `cases`: JSON array of cases; `revision` counts saves from 1, so a gate tells a stale run from a fresh one.
CREATE TABLE datasets (
    id          UUID PRIMARY KEY,
    user_id     UUID NOT NULL,
    agent_id    UUID NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    cases       TEXT NOT NULL,
    revision    BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (agent_id, name)
);

-- No foreign key to the dataset: a run outlives it, keeping the cases it ran (`cases`, JSON). `versions`:
-- JSON array of version ids; `summaries`: JSON array, one per version, `[]` while running. `leased_until`:
-- the replica driving a running evaluation holds it until then.
CREATE TABLE evaluations (
    id               UUID PRIMARY KEY,
    user_id          UUID NOT NULL,
    agent_id         UUID NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    dataset_id       UUID NOT NULL,
    dataset_name     TEXT NOT NULL,
    dataset_revision BIGINT NOT NULL,
    cases            TEXT NOT NULL,
    versions         TEXT NOT NULL,
    concurrency      INTEGER NOT NULL,
    status           TEXT NOT NULL,
    summaries        TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    completed_at     TIMESTAMPTZ,
    leased_until     TIMESTAMPTZ
);
CREATE INDEX evaluations_by_agent ON evaluations (agent_id, id);
CREATE INDEX evaluations_running ON evaluations (leased_until) WHERE status = 'running';

-- `judge_task_ids` and `checks`: JSON arrays.
CREATE TABLE evaluation_results (
    evaluation_id  UUID NOT NULL REFERENCES evaluations (id) ON DELETE CASCADE,
    version_id     UUID NOT NULL,
    case_index     BIGINT NOT NULL,
    case_name      TEXT NOT NULL,
    status         TEXT NOT NULL,
    task_id        UUID,
    judge_task_ids TEXT NOT NULL,
    answer         TEXT,
    checks         TEXT NOT NULL,
    error          TEXT,
    latency_ms     BIGINT,
    tokens         BIGINT,
    PRIMARY KEY (evaluation_id, version_id, case_index)
);

CREATE TABLE evaluation_tasks (
    task_id       UUID PRIMARY KEY,
    evaluation_id UUID NOT NULL REFERENCES evaluations (id) ON DELETE CASCADE
);
CREATE INDEX evaluation_tasks_by_evaluation ON evaluation_tasks (evaluation_id);

-- What a version must pass before the label moves to it: JSON `{"dataset", "minPassRate"}`, or NULL.
ALTER TABLE agent_labels ADD COLUMN required_evaluation TEXT;
