//! The outbox: events are written in the same transaction as the change they record.

use talon_domain::event::Event;

use super::{Bind, Tx, run};

const INSERT_EVENT: &str =
    "INSERT INTO events (id, user_id, agent_id, kind, data, created_at) VALUES ($1, $2, $3, $4, $5, $6)";

/// Records `events` inside `tx`.
pub(crate) async fn record(tx: &mut Tx, events: &[Event]) -> Result<(), sqlx::Error> {
    for event in events {
        run!(tx.conn(), |c| bind_event(sqlx::query(INSERT_EVENT), event).execute(c).await.map(|_| ()))?;
    }
    Ok(())
}

fn bind_event<'q, Q: Bind<'q>>(query: Q, event: &Event) -> Q {
    query
        .bind(*event.id.as_uuid())
        .bind(*event.account.as_uuid())
        .bind(event.agent.map(|agent| *agent.as_uuid()))
        .bind(event.kind)
        .bind(event.data.to_string())
        .bind(event.created_at)
}
