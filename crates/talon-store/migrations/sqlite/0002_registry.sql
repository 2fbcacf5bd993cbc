CREATE TABLE agents (
    id                  BLOB PRIMARY KEY NOT NULL,
    user_id             BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    slug                TEXT NOT NULL,
    name                TEXT NOT NULL,
    description         TEXT NOT NULL,
    capabilities        TEXT NOT NULL,
    public              BOOLEAN NOT NULL DEFAULT FALSE,
    status              TEXT NOT NULL,
    current_version_id  BLOB NOT NULL,
    deployed_version_id BLOB,
    deployed_at         TEXT,
    fork_count          INTEGER NOT NULL DEFAULT 0,
    depth               INTEGER NOT NULL DEFAULT 0,
    parent_agent_id     BLOB REFERENCES agents (id) ON DELETE SET NULL,
    parent_version_id   BLOB REFERENCES agent_versions (id) ON DELETE SET NULL,
    fork_type           TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    UNIQUE (user_id, slug)
);
CREATE INDEX agents_by_owner ON agents (user_id, id);
CREATE INDEX agents_by_parent ON agents (parent_agent_id);

CREATE TABLE agent_versions (
    id                BLOB PRIMARY KEY NOT NULL,
    agent_id          BLOB NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    number            INTEGER NOT NULL,
    parent_version_id BLOB REFERENCES agent_versions (id) ON DELETE SET NULL,
    definition        TEXT NOT NULL,
    content_hash      TEXT NOT NULL,
    commit_message    TEXT NOT NULL,
    fork_type         TEXT,
    created_by        BLOB NOT NULL REFERENCES users (id),
    created_at        TEXT NOT NULL,
    UNIQUE (agent_id, number)
);
CREATE INDEX agent_versions_by_parent ON agent_versions (parent_version_id);

-- The outbox: one row per state change, written in the change's transaction.
CREATE TABLE events (
    id         BLOB PRIMARY KEY NOT NULL,
    user_id    BLOB NOT NULL,
    kind       TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX events_by_user ON events (user_id, id);
