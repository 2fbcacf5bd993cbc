-- Talon's runtime claims queued runtime tasks of every account, highest priority first, oldest first.
CREATE INDEX tasks_runtime_claimable ON tasks (priority DESC, id) WHERE status = 'queued' AND executor = 'runtime';
