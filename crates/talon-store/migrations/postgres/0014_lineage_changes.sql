-- Each fork tree (a lineage) counts its changes, so that a rendered lineage can be reused until one of
-- its agents is forked, renamed, made public or private, moved to another account, deleted or given a
-- new version. An agent keeps the lineage it was created in (a fork takes its parent's); when deleting
-- an agent splits a tree, the parts still share one counter, which only makes them change together.
ALTER TABLE agents ADD COLUMN lineage_id UUID;
WITH RECURSIVE family (id, root) AS (
    SELECT id, id FROM agents WHERE parent_agent_id IS NULL
    UNION ALL
    SELECT a.id, f.root FROM agents a JOIN family f ON a.parent_agent_id = f.id
)
UPDATE agents SET lineage_id = family.root FROM family WHERE family.id = agents.id;
ALTER TABLE agents ALTER COLUMN lineage_id SET NOT NULL;

-- A lineage without a row has had no change counted yet (0).
CREATE TABLE lineages (
    id      UUID PRIMARY KEY,
    changes BIGINT NOT NULL
);
