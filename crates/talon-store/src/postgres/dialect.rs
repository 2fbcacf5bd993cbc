//! Claims on PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent claimers on any replica skip rows
//! another claim holds.

use crate::db::Dialect;
use crate::webhooks::DELIVERY_COLUMNS;

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
fn delivery_returning() -> String {
    qualified("webhook_deliveries", DELIVERY_COLUMNS)
}

fn qualified(table: &str, columns: &str) -> String {
    columns.split(", ").map(|c| format!("{table}.{}", c.trim())).collect::<Vec<_>>().join(", ")
}

pub(crate) const DIALECT: Dialect = Dialect {
    pending_events: PENDING_EVENTS,
    pick_on_reader: PICK_ON_READER,
    claim_deliveries,
    delivery_returning,
    dataset_case_count: "CAST(json_array_length(cases::json) AS BIGINT)",
};
