-- Lists answer their totals from counters kept by triggers in the same transaction as every change to
-- the rows they count, so a total costs a few index rows however many rows the account holds. Each
-- connection adds to a slot of its own (its backend's pid modulo 64): writers of one account would
-- otherwise queue on one counter row until each commits (with random slots they still met often
-- enough to cut the queue's throughput). A total is the sum over the slots; one slot alone may be
-- negative.

CREATE FUNCTION counter_slot() RETURNS SMALLINT LANGUAGE sql STABLE AS $$
    SELECT (pg_backend_pid() % 64)::smallint
$$;

-- Tasks per account, agent, status and priority; the nil agent counts every agent of the account.
CREATE TABLE task_counts (
    user_id  UUID NOT NULL,
    agent_id UUID NOT NULL,
    status   TEXT NOT NULL,
    priority INTEGER NOT NULL,
    slot     SMALLINT NOT NULL,
    n        BIGINT NOT NULL,
    PRIMARY KEY (user_id, agent_id, status, priority, slot)
);

INSERT INTO task_counts (user_id, agent_id, status, priority, slot, n)
SELECT user_id, agent_id, status, priority, 0, COUNT(*) FROM tasks GROUP BY user_id, agent_id, status, priority
UNION ALL
SELECT user_id, '00000000-0000-0000-0000-000000000000', status, priority, 0, COUNT(*) FROM tasks
GROUP BY user_id, status, priority;

-- Adds each delta to its task's key and to the account-wide key, in one key order for every writer so
-- that two statements never wait on each other's counters in opposite orders. (PL/pgSQL keeps the
-- statement's plan for the session; an SQL function would plan it again on every call.)
CREATE FUNCTION add_task_counts(user_ids UUID[], agent_ids UUID[], statuses TEXT[], priorities INTEGER[],
                                deltas INTEGER[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    WITH changes AS (SELECT * FROM unnest(user_ids, agent_ids, statuses, priorities, deltas)
                     AS c(user_id, agent_id, status, priority, d)),
    scoped AS (
        SELECT user_id, agent_id, status, priority, d FROM changes
        UNION ALL
        SELECT user_id, '00000000-0000-0000-0000-000000000000'::uuid, status, priority, d FROM changes)
    INSERT INTO task_counts AS c (user_id, agent_id, status, priority, slot, n)
    SELECT s.user_id, s.agent_id, s.status, s.priority, counter_slot(), s.total
    FROM (SELECT user_id, agent_id, status, priority, SUM(d) AS total FROM scoped
          GROUP BY user_id, agent_id, status, priority) s
    WHERE s.total <> 0
    ORDER BY s.user_id, s.agent_id, s.status, s.priority
    ON CONFLICT (user_id, agent_id, status, priority, slot) DO UPDATE SET n = c.n + EXCLUDED.n;
END
$$;

CREATE FUNCTION count_inserted_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM add_task_counts(array_agg(user_id), array_agg(agent_id), array_agg(status), array_agg(priority),
                            array_agg(1)) FROM new_rows;
    RETURN NULL;
END
$$;

CREATE FUNCTION count_updated_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM add_task_counts(array_agg(c.user_id), array_agg(c.agent_id), array_agg(c.status),
                            array_agg(c.priority), array_agg(c.d))
    FROM old_rows o JOIN new_rows n ON n.id = o.id,
         LATERAL (VALUES (o.user_id, o.agent_id, o.status, o.priority, -1),
                         (n.user_id, n.agent_id, n.status, n.priority, 1)) AS c(user_id, agent_id, status, priority, d)
    WHERE (o.user_id, o.agent_id, o.status, o.priority) IS DISTINCT FROM (n.user_id, n.agent_id, n.status, n.priority);
    RETURN NULL;
END
$$;

CREATE FUNCTION count_deleted_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM add_task_counts(array_agg(user_id), array_agg(agent_id), array_agg(status), array_agg(priority),
                            array_agg(-1)) FROM old_rows;
    RETURN NULL;
END
$$;

CREATE TRIGGER tasks_counted_on_insert AFTER INSERT ON tasks REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION count_inserted_tasks();
CREATE TRIGGER tasks_counted_on_update AFTER UPDATE ON tasks REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION count_updated_tasks();
CREATE TRIGGER tasks_counted_on_delete AFTER DELETE ON tasks REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION count_deleted_tasks();

-- Agents per account and status.
CREATE TABLE agent_counts (
    user_id UUID NOT NULL,
    status  TEXT NOT NULL,
    slot    SMALLINT NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (user_id, status, slot)
);

INSERT INTO agent_counts (user_id, status, slot, n)
SELECT user_id, status, 0, COUNT(*) FROM agents GROUP BY user_id, status;

CREATE FUNCTION add_agent_counts(user_ids UUID[], statuses TEXT[], deltas INTEGER[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO agent_counts AS c (user_id, status, slot, n)
    SELECT s.user_id, s.status, counter_slot(), s.total
    FROM (SELECT user_id, status, SUM(d) AS total FROM unnest(user_ids, statuses, deltas) AS u(user_id, status, d)
          GROUP BY user_id, status) s
    WHERE s.total <> 0
    ORDER BY s.user_id, s.status
    ON CONFLICT (user_id, status, slot) DO UPDATE SET n = c.n + EXCLUDED.n;
END
$$;

CREATE FUNCTION count_inserted_agents() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM add_agent_counts(array_agg(user_id), array_agg(status), array_agg(1)) FROM new_rows;
    RETURN NULL;
END
$$;

CREATE FUNCTION count_updated_agents() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM add_agent_counts(array_agg(c.user_id), array_agg(c.status), array_agg(c.d))
    FROM old_rows o JOIN new_rows n ON n.id = o.id,
         LATERAL (VALUES (o.user_id, o.status, -1), (n.user_id, n.status, 1)) AS c(user_id, status, d)
    WHERE (o.user_id, o.status) IS DISTINCT FROM (n.user_id, n.status);
    RETURN NULL;
END
$$;

CREATE FUNCTION count_deleted_agents() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM add_agent_counts(array_agg(user_id), array_agg(status), array_agg(-1)) FROM old_rows;
    RETURN NULL;
END
$$;

CREATE TRIGGER agents_counted_on_insert AFTER INSERT ON agents REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION count_inserted_agents();
CREATE TRIGGER agents_counted_on_update AFTER UPDATE ON agents REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION count_updated_agents();
CREATE TRIGGER agents_counted_on_delete AFTER DELETE ON agents REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION count_deleted_agents();

-- Every filter of the task list reads an index in list order (newest first): by status, by agent, and
-- by agent and status. The priority filter, alone or with another, reads one of these and skips the
-- other priorities.
CREATE INDEX tasks_by_owner_status ON tasks (user_id, status, id);
DROP INDEX tasks_by_agent;
CREATE INDEX tasks_by_agent ON tasks (agent_id, id);
CREATE INDEX tasks_by_agent_status ON tasks (agent_id, status, id);
