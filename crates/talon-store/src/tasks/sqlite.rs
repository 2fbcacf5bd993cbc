//! Task writes on SQLite. It has one writer, so a claim is a single `UPDATE … WHERE id IN (SELECT …
//! LIMIT n) RETURNING`, and each batch runs inside the caller's transaction: inserts as multi-row
//! statements, compare-and-swaps one row each. Events are written by the caller (`outbox`), in the same
//! transaction, since SQLite allows no writes inside `WITH`.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnection, SqlitePool};
use talon_domain::TaskId;
use talon_domain::event::{self, Event};
use talon_domain::task::{Lease, Task, TaskStatus};
use uuid::Uuid;

use super::rows::{TASK_COLUMNS, TaskRow, bind_task, bind_task_update};
use super::sql::ClaimScope;
use super::{TaskChange, TaskInsert};
use crate::StoreError;
use crate::db::{Bind, On, anonymous, anonymous_rows, outbox};

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

/// Compare-and-swap on status and lease (an absent lease compares as '').
const UPDATE_TASK: &str = "UPDATE tasks SET status = $1, output = $2, error = $3, attempts = $4, \
     lease_token = $5, lease_expires_at = $6, started_at = $7, completed_at = $8, updated_at = $9, run_at = $13 \
     WHERE id = $10 AND status = $11 AND COALESCE(lease_token, '') = $12";

/// Rows per multi-row insert: 22 columns each, well under SQLite's 32,766 bound variables.
const ROWS_PER_INSERT: usize = 100;
const TASK_COLUMN_COUNT: usize = 22;

/// Inserts `items` (skipping those whose dedupe key is held) with the events of those inserted; returns
/// the ids inserted.
pub(super) async fn insert(c: &mut SqliteConnection, items: &[TaskInsert<'_>]) -> Result<HashSet<TaskId>, StoreError> {
    let mut inserted = HashSet::with_capacity(items.len());
    for chunk in items.chunks(ROWS_PER_INSERT) {
        let statement = format!(
            "INSERT INTO tasks ({TASK_COLUMNS}) VALUES {} \
             ON CONFLICT (user_id, dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('queued', 'running') \
             DO NOTHING RETURNING id",
            anonymous_rows(chunk.len(), TASK_COLUMN_COUNT)
        );
        let mut query = sqlx::query_as::<_, (Uuid,)>(&statement);
        for item in chunk {
            query = bind_task(query, item.task);
        }
        inserted.extend(query.fetch_all(&mut *c).await?.into_iter().map(|(id,)| TaskId::from_uuid(id)));
    }
    let events: Vec<Event> =
        items.iter().filter(|i| inserted.contains(&i.task.id)).flat_map(|i| i.events.iter().cloned()).collect();
    outbox::record_on(On::Sqlite(c), &events).await?;
    Ok(inserted)
}

/// Applies the compare-and-swaps that still hold; returns the ids changed. The caller writes their events.
pub(super) async fn update(
    c: &mut SqliteConnection,
    changes: &[TaskChange<'_>],
) -> Result<HashSet<TaskId>, StoreError> {
    let mut changed = HashSet::with_capacity(changes.len());
    for change in changes {
        let done = bind_task_update(sqlx::query(UPDATE_TASK), change.task, change.expected, change.expected_lease)
            .execute(&mut *c)
            .await?;
        if done.rows_affected() == 1 {
            changed.insert(change.task.id);
        }
    }
    Ok(changed)
}

/// The claimed tasks, by priority then age, and their `task.started` events.
pub(super) async fn claim(
    c: &mut SqliteConnection,
    scope: ClaimScope,
    limit: i64,
    lease: &Lease,
    now: DateTime<Utc>,
) -> Result<(Vec<Task>, Vec<Event>), StoreError> {
    let rows: Vec<TaskRow> = match scope {
        ClaimScope::Account { owner, agent, executor } => {
            let statement = format!("{CLAIM_TASKS} RETURNING {TASK_COLUMNS}");
            sqlx::query_as(&statement)
                .bind(owner.as_uuid())
                .bind(now)
                .bind(agent.map(|a| *a.as_uuid()))
                .bind(limit)
                .bind(&lease.token)
                .bind(lease.expires_at)
                .bind(executor.as_str())
                .fetch_all(&mut *c)
                .await?
        }
        ClaimScope::Runtime => {
            let statement = format!("{CLAIM_RUNTIME_TASKS} RETURNING {TASK_COLUMNS}");
            sqlx::query_as(&statement)
                .bind(now)
                .bind(limit)
                .bind(&lease.token)
                .bind(lease.expires_at)
                .fetch_all(&mut *c)
                .await?
        }
    };
    let tasks = super::rows::claimed_in_order(rows)?;
    let events = events_of(&tasks, event::TASK_STARTED, now, |_| true);
    Ok((tasks, events))
}

/// The changed tasks and the `task.failed` events of those whose attempts were spent.
pub(super) async fn expire_leases(
    c: &mut SqliteConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<(Vec<Task>, Vec<Event>), StoreError> {
    let statement = format!("{EXPIRE_LEASES} RETURNING {TASK_COLUMNS}");
    let rows: Vec<TaskRow> = sqlx::query_as(&statement).bind(now).bind(limit).fetch_all(&mut *c).await?;
    let mut tasks = rows.into_iter().map(Task::try_from).collect::<Result<Vec<Task>, _>>()?;
    tasks.sort_by_key(|t| t.id);
    let events = events_of(&tasks, event::TASK_FAILED, now, |t| t.status == TaskStatus::Failed);
    Ok((tasks, events))
}

pub(super) async fn tasks_by_id(pool: &SqlitePool, ids: &[TaskId]) -> Result<Vec<TaskRow>, StoreError> {
    let mut rows = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(ROWS_PER_INSERT * 10) {
        let statement = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id IN ({})", anonymous(chunk.len()));
        let mut query = sqlx::query_as::<_, TaskRow>(&statement);
        for id in chunk {
            query = Bind::bind(query, *id.as_uuid());
        }
        rows.extend(query.fetch_all(pool).await?);
    }
    Ok(rows)
}

/// One `kind` event at `at` for each of `tasks` that `which` picks.
fn events_of(tasks: &[Task], kind: &'static str, at: DateTime<Utc>, which: impl Fn(&Task) -> bool) -> Vec<Event> {
    tasks
        .iter()
        .filter(|t| which(t))
        .map(|t| Event { created_at: at, ..Event::new(t.owner, kind, t.event_data()) })
        .collect()
}
