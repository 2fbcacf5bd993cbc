//! Claims on SQLite: it has one writer, so a single `UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING`
//! is atomic.

use crate::db::Dialect;
use crate::tasks::TASK_COLUMNS;
use crate::webhooks::DELIVERY_COLUMNS;

const CLAIM_TASKS: &str = "UPDATE tasks SET status = 'running', attempts = attempts + 1, lease_token = $5, \
     lease_expires_at = $6, started_at = COALESCE(started_at, $2), updated_at = $2
     WHERE id IN (SELECT id FROM tasks WHERE user_id = $1 AND status = 'queued' AND run_at <= $2
                  AND ($3 IS NULL OR agent_id = $3) AND executor = $7
                  ORDER BY priority DESC, id LIMIT $4)";

/// Every account's runtime tasks; the literal `executor = 'runtime'` lets the partial index serve it.
const CLAIM_RUNTIME_TASKS: &str = "UPDATE tasks SET status = 'running', attempts = attempts + 1, \
     lease_token = $3, lease_expires_at = $4, started_at = COALESCE(started_at, $1), updated_at = $1
     WHERE id IN (SELECT id FROM tasks WHERE status = 'queued' AND executor = 'runtime' AND run_at <= $1
                  ORDER BY priority DESC, id LIMIT $2)";

const EXPIRE_LEASES: &str = "UPDATE tasks SET
         status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
         error = CASE WHEN attempts >= max_attempts
                      THEN 'Lease expired on attempt ' || attempts || ' of ' || max_attempts ELSE error END,
         completed_at = CASE WHEN attempts >= max_attempts THEN $1 ELSE completed_at END,
         lease_token = NULL, lease_expires_at = NULL, updated_at = $1
     WHERE id IN (SELECT id FROM tasks WHERE status = 'running' AND lease_expires_at < $1 LIMIT $2)";

const PENDING_EVENTS: &str =
    "SELECT id, user_id, agent_id, kind, data, created_at FROM events WHERE dispatched_at IS NULL ORDER BY id LIMIT $1";

/// The fair pick reads every open delivery; on SQLite it runs on a reader, outside the single
/// writer's lock, and the claim then updates just the picked rows that are still claimable (this
/// process's dispatcher is the only claimer, so the pick cannot go stale in between).
const PICK_ON_READER: bool = true;

/// Not used: see `PICK_ON_READER`.
fn claim_deliveries() -> String {
    String::new()
}

fn task_returning() -> String {
    TASK_COLUMNS.to_owned()
}

fn delivery_returning() -> String {
    DELIVERY_COLUMNS.to_owned()
}

pub(crate) const DIALECT: Dialect = Dialect {
    claim_tasks: CLAIM_TASKS,
    claim_runtime_tasks: CLAIM_RUNTIME_TASKS,
    expire_leases: EXPIRE_LEASES,
    pending_events: PENDING_EVENTS,
    pick_on_reader: PICK_ON_READER,
    claim_deliveries,
    task_returning,
    delivery_returning,
};
