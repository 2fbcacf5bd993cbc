-- Evaluations: an agent's datasets of cases, runs of them against chosen versions, each case's result
-- per version, and the tasks (a case's or a judge's) a run created, so a settled task finds its run.

-- `cases`: JSON array of cases; `revision` counts saves from 1, so a gate tells a stale run from a fresh one.
CREATE TABLE datasets (
    id          BLOB PRIMARY KEY NOT NULL,
    user_id     BLOB NOT NULL,
    agent_id    BLOB NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    cases       TEXT NOT NULL,
    revision    INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (agent_id, name)
);

-- No foreign key to the dataset: a run outlives it, keeping the cases it ran (`cases`, JSON). `versions`:
-- JSON array of version ids; `summaries`: JSON array, one per version, `[]` while running. `leased_until`:
-- the replica driving a running evaluation holds it until then.
CREATE TABLE evaluations (
    id               BLOB PRIMARY KEY NOT NULL,
    user_id          BLOB NOT NULL,
    agent_id         BLOB NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    dataset_id       BLOB NOT NULL,
    dataset_name     TEXT NOT NULL,
    dataset_revision INTEGER NOT NULL,
    cases            TEXT NOT NULL,
    versions         TEXT NOT NULL,
    concurrency      INTEGER NOT NULL,
    status           TEXT NOT NULL,
    summaries        TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    completed_at     TEXT,
    leased_until     TEXT
);
CREATE INDEX evaluations_by_agent ON evaluations (agent_id, id);
CREATE INDEX evaluations_running ON evaluations (leased_until) WHERE status = 'running';

-- `judge_task_ids` and `checks`: JSON arrays.
CREATE TABLE evaluation_results (
    evaluation_id  BLOB NOT NULL REFERENCES evaluations (id) ON DELETE CASCADE,
    version_id     BLOB NOT NULL,
    case_index     INTEGER NOT NULL,
    case_name      TEXT NOT NULL,
    status         TEXT NOT NULL,
    task_id        BLOB,
    judge_task_ids TEXT NOT NULL,
    answer         TEXT,
    checks         TEXT NOT NULL,
    error          TEXT,
    latency_ms     INTEGER,
    tokens         INTEGER,
    PRIMARY KEY (evaluation_id, version_id, case_index)
);

CREATE TABLE evaluation_tasks (
    task_id       BLOB PRIMARY KEY NOT NULL,
    evaluation_id BLOB NOT NULL REFERENCES evaluations (id) ON DELETE CASCADE
);
CREATE INDEX evaluation_tasks_by_evaluation ON evaluation_tasks (evaluation_id);

-- What a version must pass before the label moves to it: JSON `{"dataset", "minPassRate"}`, or NULL.
ALTER TABLE agent_labels ADD COLUMN required_evaluation TEXT;
