//! Claims on PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent claimers on any replica skip rows
//! another claim holds.

use crate::db::Dialect;
use crate::tasks::TASK_COLUMNS;
use crate::webhooks::DELIVERY_COLUMNS;

const CLAIM_TASKS: &str = "WITH picked AS (
         SELECT id FROM tasks WHERE user_id = $1 AND status = 'queued' AND run_at <= $2
             AND ($3::uuid IS NULL OR agent_id = $3) AND executor = $7
         ORDER BY priority DESC, id LIMIT $4 FOR UPDATE SKIP LOCKED)
     UPDATE tasks SET status = 'running', attempts = tasks.attempts + 1, lease_token = $5,
         lease_expires_at = $6, started_at = COALESCE(tasks.started_at, $2), updated_at = $2
     FROM picked WHERE tasks.id = picked.id";

/// Every account's runtime tasks; the literal `executor = 'runtime'` lets the partial index serve it.
const CLAIM_RUNTIME_TASKS: &str = "WITH picked AS (
         SELECT id FROM tasks WHERE status = 'queued' AND executor = 'runtime' AND run_at <= $1
         ORDER BY priority DESC, id LIMIT $2 FOR UPDATE SKIP LOCKED)
     UPDATE tasks SET status = 'running', attempts = tasks.attempts + 1, lease_token = $3,
         lease_expires_at = $4, started_at = COALESCE(tasks.started_at, $1), updated_at = $1
     FROM picked WHERE tasks.id = picked.id";

const EXPIRE_LEASES: &str = "WITH lapsed AS (
         SELECT id FROM tasks WHERE status = 'running' AND lease_expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
     UPDATE tasks SET
         status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
         error = CASE WHEN attempts >= max_attempts
                      THEN 'Lease expired on attempt ' || attempts || ' of ' || max_attempts ELSE error END,
         completed_at = CASE WHEN attempts >= max_attempts THEN $1 ELSE completed_at END,
         lease_token = NULL, lease_expires_at = NULL, updated_at = $1
     FROM lapsed WHERE tasks.id = lapsed.id";

/// Replicas dispatch side by side: each takes events the others have not locked.
const PENDING_EVENTS: &str = "SELECT id, user_id, agent_id, kind, data, created_at FROM events \
     WHERE dispatched_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED";

/// Replicas claim side by side, so the pick and the lock are one statement.
const PICK_ON_READER: bool = false;

/// `FOR UPDATE` cannot sit beside the window functions of the fair pick, so the pick chooses the
/// ids and this outer select locks them, skipping any another replica holds.
fn claim_deliveries() -> String {
    format!(
        "WITH picked AS (
             SELECT id FROM webhook_deliveries
             WHERE id IN ({}) AND (status = 'pending' OR (status = 'sending' AND locked_until < $1))
             FOR UPDATE SKIP LOCKED)
         UPDATE webhook_deliveries SET status = 'sending', locked_until = $5, updated_at = $1
         FROM picked WHERE webhook_deliveries.id = picked.id",
        crate::webhooks::FAIR_DELIVERY_PICK
    )
}

/// `UPDATE … FROM` needs the returned columns qualified by table.
fn task_returning() -> String {
    qualified("tasks", TASK_COLUMNS)
}

fn delivery_returning() -> String {
    qualified("webhook_deliveries", DELIVERY_COLUMNS)
}

fn qualified(table: &str, columns: &str) -> String {
    columns.split(", ").map(|c| format!("{table}.{}", c.trim())).collect::<Vec<_>>().join(", ")
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
