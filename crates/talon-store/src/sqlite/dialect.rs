//! Claims on SQLite: it has one writer, so a single `UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING`
//! is atomic.

use crate::db::Dialect;
use crate::webhooks::DELIVERY_COLUMNS;

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

fn delivery_returning() -> String {
    DELIVERY_COLUMNS.to_owned()
}

pub(crate) const DIALECT: Dialect = Dialect {
    pending_events: PENDING_EVENTS,
    pick_on_reader: PICK_ON_READER,
    claim_deliveries,
    delivery_returning,
    dataset_case_count: "json_array_length(cases)",
};
