-- A contract worked by the agent's runtime (auto_work): the revision round its current task answers.
-- A revision request raises the contract's `revisions_used` past it, which asks for a new task.
ALTER TABLE contracts ADD COLUMN task_round INTEGER;
-- Funded, active contracts of agents that work them themselves are looked up every second.
CREATE INDEX contracts_being_worked ON contracts (agent_id) WHERE status = 'active' AND funded = TRUE;
