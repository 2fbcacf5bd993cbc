CREATE TABLE agents (
    id                  UUID PRIMARY KEY,
    user_id             UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    slug                TEXT NOT NULL,
    name                TEXT NOT NULL,
    description         TEXT NOT NULL,
    capabilities        TEXT NOT NULL,
    public              BOOLEAN NOT NULL DEFAULT FALSE,
    status              TEXT NOT NULL,
    current_version_id  UUID NOT NULL,
    deployed_version_id UUID,
    deployed_at         TIMESTAMPTZ,
    fork_count          BIGINT NOT NULL DEFAULT 0,
    depth               BIGINT NOT NULL DEFAULT 0,
    parent_agent_id     UUID REFERENCES agents (id) ON DELETE SET NULL,
    parent_version_id   UUID,
    fork_type           TEXT,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    UNIQUE (user_id, slug)
);
CREATE INDEX agents_by_owner ON agents (user_id, id);
CREATE INDEX agents_by_parent ON agents (parent_agent_id);

CREATE TABLE agent_versions (
    id                UUID PRIMARY KEY,
    agent_id          UUID NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    number            BIGINT NOT NULL,
    parent_version_id UUID REFERENCES agent_versions (id) ON DELETE SET NULL,
    definition        TEXT NOT NULL,
    content_hash      TEXT NOT NULL,
    commit_message    TEXT NOT NULL,
    fork_type         TEXT,
    created_by        UUID NOT NULL REFERENCES users (id),
    created_at        TIMESTAMPTZ NOT NULL,
    UNIQUE (agent_id, number)
);
CREATE INDEX agent_versions_by_parent ON agent_versions (parent_version_id);
ALTER TABLE agents ADD CONSTRAINT agents_parent_version_fk
    FOREIGN KEY (parent_version_id) REFERENCES agent_versions (id) ON DELETE SET NULL;

-- The outbox: one row per state change, written in the change's transaction.
CREATE TABLE events (
    id         UUID PRIMARY KEY,
    user_id    UUID NOT NULL,
    kind       TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX events_by_user ON events (user_id, id);
