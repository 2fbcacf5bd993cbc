-- A version made by merging a fork back records the fork's version it merged: its second parent. The
-- first parent stays `parent_version_id` (the agent's previous version). Deleting the fork forgets the
-- merge's source, not the merge.
ALTER TABLE agent_versions ADD COLUMN merged_from_version_id UUID REFERENCES agent_versions (id) ON DELETE SET NULL;
-- For the foreign key's action when a fork's versions are deleted.
CREATE INDEX agent_versions_by_merged_from ON agent_versions (merged_from_version_id)
    WHERE merged_from_version_id IS NOT NULL;
-- An agent's merges (merge bases, lineage): few rows, read by agent.
CREATE INDEX agent_versions_merges ON agent_versions (agent_id) WHERE merged_from_version_id IS NOT NULL;
