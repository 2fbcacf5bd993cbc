//! `AuditStore` for every store, in SQL both databases run.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::UserId;
use talon_domain::audit::AuditEntry;
use talon_domain::event::Event;
use uuid::Uuid;

use super::rows::{AuditRow, COLUMN_COUNT, COLUMNS, bind_entry};
use super::{AuditFilter, AuditStore};
use crate::db::{ConnRef, Portable, placeholders, run};
use crate::page::Order;
use crate::{Page, StoreError, Window};

/// Entries per statement: 11 bound values each, well under either database's bound on variables.
const ENTRIES_PER_INSERT: usize = 50;

/// Records the audit entries `events` make (see `AuditEntry::of_event`), on a connection inside the
/// transaction that records the events.
pub(crate) async fn record_events_on(conn: ConnRef<'_>, events: &[Event]) -> Result<(), sqlx::Error> {
    let entries: Vec<AuditEntry> = events.iter().filter_map(AuditEntry::of_event).collect();
    record_on(conn, &entries).await
}

/// Records `entries` on a connection inside the transaction of the change they describe (API keys and
/// webhooks, whose changes write no event).
pub(crate) async fn record_on(mut conn: ConnRef<'_>, entries: &[AuditEntry]) -> Result<(), sqlx::Error> {
    for chunk in entries.chunks(ENTRIES_PER_INSERT) {
        let statement =
            format!("INSERT INTO audit_log ({COLUMNS}) VALUES {}", placeholders(&conn, chunk.len(), COLUMN_COUNT));
        run!(&mut conn, |c| {
            let mut query = sqlx::query(&statement);
            for entry in chunk {
                query = bind_entry(query, entry);
            }
            query.execute(&mut **c).await.map(|_| ())
        })?;
    }
    Ok(())
}

/// The smallest time-ordered id (UUIDv7) of the millisecond `at` falls in: entries are filtered by
/// when they were recorded through their ids, which the list's index already orders.
fn id_floor(at: DateTime<Utc>) -> Uuid {
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0).min((1 << 48) - 1);
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    Uuid::from_bytes(bytes)
}

/// The conditions of `filter` after the account's (`$1`), numbered from `$2`, with their values in order.
struct Conditions {
    sql: String,
    values: Vec<Bound>,
}

enum Bound {
    Id(Uuid),
    Text(&'static str),
}

fn conditions(filter: &AuditFilter) -> Conditions {
    let mut sql = String::from("user_id = $1");
    let mut values = Vec::new();
    let mut add = |condition: &str, value: Bound, sql: &mut String| {
        values.push(value);
        sql.push_str(&format!(" AND {condition} ${}", values.len() + 1));
    };
    if let Some(agent) = filter.agent {
        add("agent_id =", Bound::Id(*agent.as_uuid()), &mut sql);
    }
    if let Some(actor) = filter.actor {
        let (kind, id) = actor.stored();
        add("actor_type =", Bound::Text(kind), &mut sql);
        if let Some(id) = id {
            add("actor_id =", Bound::Id(id), &mut sql);
        }
    }
    if let Some(from) = filter.from {
        add("id >=", Bound::Id(id_floor(from)), &mut sql);
    }
    if let Some(to) = filter.to {
        add("id <", Bound::Id(id_floor(to)), &mut sql);
    }
    Conditions { sql, values }
}

macro_rules! bind_conditions {
    ($query:expr, $account:expr, $conditions:expr) => {{
        let mut query = $query.bind(*$account.as_uuid());
        for value in &$conditions.values {
            query = match value {
                Bound::Id(id) => query.bind(*id),
                Bound::Text(text) => query.bind(*text),
            };
        }
        query
    }};
}

#[async_trait]
impl<S: Portable> AuditStore for S {
    async fn list_audit(
        &self,
        account: UserId,
        filter: AuditFilter,
        window: Window,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let conditions = conditions(&filter);
        let count = format!("SELECT COUNT(*) FROM audit_log WHERE {}", conditions.sql);
        let (total,): (i64,) = run!(self.db().reader(), |e| {
            bind_conditions!(sqlx::query_as(&count), account, conditions).fetch_one(e).await
        })?;
        let windowed = window.sql("id", Order::Descending, conditions.values.len() + 2);
        let extra = windowed.condition.map(|c| format!(" AND {c}")).unwrap_or_default();
        let select = format!("SELECT {COLUMNS} FROM audit_log WHERE {}{extra} {}", conditions.sql, windowed.tail);
        let rows: Vec<AuditRow> = run!(self.db().reader(), |e| {
            window.bind(bind_conditions!(sqlx::query_as(&select), account, conditions)).fetch_all(e).await
        })?;
        let items = rows.into_iter().map(TryInto::try_into).collect::<Result<_, StoreError>>()?;
        Ok(window.page(items, total, windowed.reversed))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn an_id_floor_sorts_before_every_id_of_its_millisecond_and_after_the_one_before() {
        let at = Utc.timestamp_millis_opt(1_780_000_000_123).unwrap();
        let floor = id_floor(at);
        let same = Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, 1_780_000_000, 123_000_000));
        let before = Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, 1_780_000_000, 122_999_999));
        assert!(floor <= same && before < floor);
    }

    #[test]
    fn conditions_number_their_parameters_after_the_account() {
        let filter = AuditFilter {
            agent: Some(talon_domain::AgentId::new()),
            actor: Some(talon_domain::audit::ActorFilter::System),
            from: Some(Utc::now()),
            to: None,
        };
        let c = conditions(&filter);
        assert_eq!(c.sql, "user_id = $1 AND agent_id = $2 AND actor_type = $3 AND id >= $4");
        assert_eq!(c.values.len(), 3);
    }
}
