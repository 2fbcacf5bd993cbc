-- The audit log: who did what to which resource of an account, and when. Never purged by retention.
-- No foreign keys: an entry outlives the agent, key or webhook it names.
CREATE TABLE audit_log (
    id            UUID PRIMARY KEY,
    user_id       UUID NOT NULL,
    actor_type    TEXT NOT NULL,
    actor_id      UUID,
    actor_account UUID,
    action        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT,
    agent_id      UUID,
    detail        TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_log_by_user ON audit_log (user_id, id);
CREATE INDEX audit_log_by_agent ON audit_log (user_id, agent_id, id);
CREATE INDEX audit_log_by_actor ON audit_log (user_id, actor_type, actor_id, id);
