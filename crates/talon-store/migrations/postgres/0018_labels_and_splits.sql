-- Labels: named pointers to one of an agent's versions (`production`, `staging`), moved by their owner.
CREATE TABLE agent_labels (
    agent_id   UUID NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    version_id UUID NOT NULL REFERENCES agent_versions (id) ON DELETE CASCADE,
    updated_at TIMESTAMPTZ NOT NULL,
    moved_by   UUID NOT NULL,
    PRIMARY KEY (agent_id, name)
);
CREATE INDEX agent_labels_by_version ON agent_labels (version_id);

-- A canary split of the deployment: JSON `{"arms": [{"versionId", "weight"}], "previousVersionId"}`, or
-- NULL when the deployment serves one version.
ALTER TABLE agents ADD COLUMN deployed_split TEXT;
