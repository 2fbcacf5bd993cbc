//! The outbox: events are written in the same transaction as the change they record, and with them the
//! audit log's entries for those of their types the log records (`talon_domain::audit`).

use talon_domain::AgentId;
use talon_domain::event::Event;

use super::{Bind, ConnRef, Db, Tx, placeholders, run};

const INSERT_EVENTS: &str = "INSERT INTO events (id, user_id, agent_id, kind, data, created_at) VALUES ";
const COLUMNS: usize = 6;
/// Events per statement: 6 bound values each, well under either database's bound on variables.
const EVENTS_PER_INSERT: usize = 100;

/// Records `events` inside `tx`.
pub(crate) async fn record(tx: &mut Tx, events: &[Event]) -> Result<(), sqlx::Error> {
    record_on(tx.conn(), events).await
}

/// Records `events` on a connection inside a transaction, a hundred to a statement, with their audit
/// entries.
pub(crate) async fn record_on(mut conn: ConnRef<'_>, events: &[Event]) -> Result<(), sqlx::Error> {
    for chunk in events.chunks(EVENTS_PER_INSERT) {
        let statement = format!("{INSERT_EVENTS}{}", placeholders(&conn, chunk.len(), COLUMNS));
        run!(&mut conn, |c| {
            let mut query = sqlx::query(&statement);
            for event in chunk {
                query = bind_event(query, event);
            }
            query.execute(&mut **c).await.map(|_| ())
        })?;
    }
    crate::audit::sql::record_events_on(conn, events).await
}

/// Runs `delete` (a `DELETE` of an agent's row by name: `$1` the agent, `$2` the name) and, if it
/// deleted anything, records `event` in the same transaction; whether it deleted.
pub(crate) async fn delete_named(
    db: &Db,
    delete: &str,
    agent: AgentId,
    name: &str,
    event: &Event,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let deleted = run!(tx.conn(), |c| {
        sqlx::query(delete).bind(*agent.as_uuid()).bind(name).execute(c).await.map(|d| d.rows_affected())
    })?;
    if deleted == 0 {
        return Ok(false);
    }
    record(&mut tx, std::slice::from_ref(event)).await?;
    tx.commit().await?;
    Ok(true)
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
