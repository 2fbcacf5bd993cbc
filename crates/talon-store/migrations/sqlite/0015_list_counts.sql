-- Lists answer their totals from counters kept by triggers in the same transaction as every change to
-- the rows they count, so a total costs a few index rows however many rows the account holds. SQLite
-- has one writer at a time, so every change adds to slot 0 (the column keeps one schema with
-- PostgreSQL, whose connections each add to a slot of their own).

-- Tasks per account, agent, status and priority; the nil agent counts every agent of the account.
CREATE TABLE task_counts (
    user_id  BLOB NOT NULL,
    agent_id BLOB NOT NULL,
    status   TEXT NOT NULL,
    priority INTEGER NOT NULL,
    slot     INTEGER NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (user_id, agent_id, status, priority, slot)
) WITHOUT ROWID;

INSERT INTO task_counts (user_id, agent_id, status, priority, slot, n)
SELECT user_id, agent_id, status, priority, 0, COUNT(*) FROM tasks GROUP BY user_id, agent_id, status, priority
UNION ALL
SELECT user_id, zeroblob(16), status, priority, 0, COUNT(*) FROM tasks GROUP BY user_id, status, priority;

CREATE TRIGGER tasks_counted_on_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO task_counts (user_id, agent_id, status, priority, slot, n)
    VALUES (NEW.user_id, NEW.agent_id, NEW.status, NEW.priority, 0, 1),
           (NEW.user_id, zeroblob(16), NEW.status, NEW.priority, 0, 1)
    ON CONFLICT (user_id, agent_id, status, priority, slot) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER tasks_counted_on_update AFTER UPDATE OF user_id, agent_id, status, priority ON tasks
WHEN OLD.user_id IS NOT NEW.user_id OR OLD.agent_id IS NOT NEW.agent_id OR OLD.status IS NOT NEW.status
     OR OLD.priority IS NOT NEW.priority
BEGIN
    INSERT INTO task_counts (user_id, agent_id, status, priority, slot, n)
    VALUES (OLD.user_id, OLD.agent_id, OLD.status, OLD.priority, 0, -1),
           (OLD.user_id, zeroblob(16), OLD.status, OLD.priority, 0, -1)
    ON CONFLICT (user_id, agent_id, status, priority, slot) DO UPDATE SET n = n + excluded.n;
    INSERT INTO task_counts (user_id, agent_id, status, priority, slot, n)
    VALUES (NEW.user_id, NEW.agent_id, NEW.status, NEW.priority, 0, 1),
           (NEW.user_id, zeroblob(16), NEW.status, NEW.priority, 0, 1)
    ON CONFLICT (user_id, agent_id, status, priority, slot) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER tasks_counted_on_delete AFTER DELETE ON tasks BEGIN
    INSERT INTO task_counts (user_id, agent_id, status, priority, slot, n)
    VALUES (OLD.user_id, OLD.agent_id, OLD.status, OLD.priority, 0, -1),
           (OLD.user_id, zeroblob(16), OLD.status, OLD.priority, 0, -1)
    ON CONFLICT (user_id, agent_id, status, priority, slot) DO UPDATE SET n = n + excluded.n;
END;

-- Agents per account and status.
CREATE TABLE agent_counts (
    user_id BLOB NOT NULL,
    status  TEXT NOT NULL,
    slot    INTEGER NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (user_id, status, slot)
) WITHOUT ROWID;

INSERT INTO agent_counts (user_id, status, slot, n)
SELECT user_id, status, 0, COUNT(*) FROM agents GROUP BY user_id, status;

CREATE TRIGGER agents_counted_on_insert AFTER INSERT ON agents BEGIN
    INSERT INTO agent_counts (user_id, status, slot, n) VALUES (NEW.user_id, NEW.status, 0, 1)
    ON CONFLICT (user_id, status, slot) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER agents_counted_on_update AFTER UPDATE OF user_id, status ON agents
WHEN OLD.user_id IS NOT NEW.user_id OR OLD.status IS NOT NEW.status
BEGIN
    INSERT INTO agent_counts (user_id, status, slot, n) VALUES (OLD.user_id, OLD.status, 0, -1)
    ON CONFLICT (user_id, status, slot) DO UPDATE SET n = n + excluded.n;
    INSERT INTO agent_counts (user_id, status, slot, n) VALUES (NEW.user_id, NEW.status, 0, 1)
    ON CONFLICT (user_id, status, slot) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER agents_counted_on_delete AFTER DELETE ON agents BEGIN
    INSERT INTO agent_counts (user_id, status, slot, n) VALUES (OLD.user_id, OLD.status, 0, -1)
    ON CONFLICT (user_id, status, slot) DO UPDATE SET n = n + excluded.n;
END;

-- Every filter of the task list reads an index in list order (newest first): by status, by agent, and
-- by agent and status. The priority filter, alone or with another, reads one of these and skips the
-- other priorities.
CREATE INDEX tasks_by_owner_status ON tasks (user_id, status, id);
DROP INDEX tasks_by_agent;
CREATE INDEX tasks_by_agent ON tasks (agent_id, id);
CREATE INDEX tasks_by_agent_status ON tasks (agent_id, status, id);
