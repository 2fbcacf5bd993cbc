//! `TaskStore` for every store, in SQL both databases run; claims and lease expiry take their
//! statements from the store's dialect.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::event::{self, Event};
use talon_domain::task::{Executor, Lease, Task, TaskStatus};
use talon_domain::{AgentId, TaskId, UserId};

use super::rows::{ListedTaskRow, TASK_COLUMNS, TaskRow, bind_task, bind_task_update, claimed_in_order};
use crate::db::{Portable, Tx, outbox, run};
use crate::{InsertOutcome, ListedTask, Page, StoreError, TaskFilter, TaskStore};

const INSERT_TASK: &str = "INSERT INTO tasks (id, user_id, agent_id, version_id, title, description, \
     priority, status, executor, input, output, error, attempts, max_attempts, run_at, dedupe_key, lease_token, \
     lease_expires_at, created_at, updated_at, started_at, completed_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22) \
     ON CONFLICT (user_id, dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('queued', 'running') DO NOTHING";

const TASK_HOLDING_DEDUPE_KEY: &str = "SELECT id, user_id, agent_id, version_id, title, description, \
     priority, status, executor, input, output, error, attempts, max_attempts, run_at, dedupe_key, lease_token, \
     lease_expires_at, created_at, updated_at, started_at, completed_at FROM tasks \
     WHERE user_id = $1 AND dedupe_key = $2 AND status IN ('queued', 'running')";

/// Compare-and-swap on status and lease (an absent lease compares as '').
const UPDATE_TASK: &str = "UPDATE tasks SET status = $1, output = $2, error = $3, attempts = $4, \
     lease_token = $5, lease_expires_at = $6, started_at = $7, completed_at = $8, updated_at = $9, run_at = $13 \
     WHERE id = $10 AND status = $11 AND COALESCE(lease_token, '') = $12";

/// How often an insert is tried again when its dedupe key's holder finished mid-way.
const DEDUPE_INSERT_ATTEMPTS: usize = 8;

#[async_trait]
impl<S: Portable> TaskStore for S {
    async fn insert_task(&self, task: &Task, events: &[Event]) -> Result<InsertOutcome, StoreError> {
        let mut tx = self.db().begin().await?;
        // The key's holder may finish between the insert's conflict and the read of the holder
        // (each statement sees the latest commits on PostgreSQL); the key is then free, so the
        // insert is tried again, a bounded number of times.
        let mut attempts = 0;
        loop {
            let inserted = run!(tx.conn(), |c| {
                bind_task(sqlx::query(INSERT_TASK), task).execute(c).await.map(|done| done.rows_affected())
            })?;
            if inserted == 1 {
                break;
            }
            let existing: Option<TaskRow> = run!(tx.conn(), |c| {
                sqlx::query_as(TASK_HOLDING_DEDUPE_KEY)
                    .bind(task.owner.as_uuid())
                    .bind(&task.dedupe_key)
                    .fetch_optional(c)
                    .await
            })?;
            if let Some(existing) = existing {
                return Ok(InsertOutcome::Existing(Box::new(existing.try_into()?)));
            }
            attempts += 1;
            if attempts >= DEDUPE_INSERT_ATTEMPTS {
                return Err(StoreError::Conflict("task dedupe key (its task kept changing)"));
            }
        }
        outbox::record(&mut tx, events).await?;
        tx.commit().await?;
        Ok(InsertOutcome::Created)
    }

    async fn task(&self, id: TaskId) -> Result<Option<Task>, StoreError> {
        let statement = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1");
        let row: Option<TaskRow> =
            run!(self.db().reader(), |e| sqlx::query_as(&statement).bind(id.as_uuid()).fetch_optional(e).await)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn list_tasks(
        &self,
        owner: UserId,
        filter: TaskFilter,
        offset: i64,
        limit: i64,
    ) -> Result<Page<ListedTask>, StoreError> {
        let condition = "t.user_id = $1 AND ($2 IS NULL OR t.status = $2) AND ($3 IS NULL OR t.agent_id = $3) \
                         AND ($4 IS NULL OR t.priority = $4)";
        let status = filter.status.map(|s| s.as_str());
        let agent = filter.agent.map(|a| *a.as_uuid());
        let priority = filter.priority.map(|p| p.rank());
        let count = format!("SELECT COUNT(*) FROM tasks t WHERE {condition}");
        let (total,): (i64,) = run!(self.db().reader(), |e| {
            sqlx::query_as(&count).bind(owner.as_uuid()).bind(status).bind(agent).bind(priority).fetch_one(e).await
        })?;
        let columns = TASK_COLUMNS.split(", ").map(|c| format!("t.{}", c.trim())).collect::<Vec<_>>().join(", ");
        let select = format!(
            "SELECT {columns}, a.name AS agent_name FROM tasks t JOIN agents a ON a.id = t.agent_id
             WHERE {condition} ORDER BY t.id DESC LIMIT $5 OFFSET $6"
        );
        let rows: Vec<ListedTaskRow> = run!(self.db().reader(), |e| {
            sqlx::query_as(&select)
                .bind(owner.as_uuid())
                .bind(status)
                .bind(agent)
                .bind(priority)
                .bind(limit)
                .bind(offset)
                .fetch_all(e)
                .await
        })?;
        let items = rows
            .into_iter()
            .map(|r| Ok(ListedTask { agent_name: r.agent_name, task: r.task.try_into()? }))
            .collect::<Result<_, StoreError>>()?;
        Ok(Page { items, total })
    }

    async fn claim_tasks(
        &self,
        owner: UserId,
        agent: Option<AgentId>,
        executor: Executor,
        limit: i64,
        lease: &Lease,
        now: DateTime<Utc>,
    ) -> Result<Vec<Task>, StoreError> {
        let dialect = self.db().dialect();
        let statement = format!("{} RETURNING {}", dialect.claim_tasks, (dialect.task_returning)());
        let mut tx = self.db().begin().await?;
        let rows: Vec<TaskRow> = run!(tx.conn(), |c| {
            sqlx::query_as(&statement)
                .bind(owner.as_uuid())
                .bind(now)
                .bind(agent.map(|a| *a.as_uuid()))
                .bind(limit)
                .bind(&lease.token)
                .bind(lease.expires_at)
                .bind(executor.as_str())
                .fetch_all(c)
                .await
        })?;
        settle_claim(tx, rows).await
    }

    async fn claim_runtime_tasks(
        &self,
        limit: i64,
        lease: &Lease,
        now: DateTime<Utc>,
    ) -> Result<Vec<Task>, StoreError> {
        let dialect = self.db().dialect();
        let statement = format!("{} RETURNING {}", dialect.claim_runtime_tasks, (dialect.task_returning)());
        let mut tx = self.db().begin().await?;
        let rows: Vec<TaskRow> = run!(tx.conn(), |c| {
            sqlx::query_as(&statement)
                .bind(now)
                .bind(limit)
                .bind(&lease.token)
                .bind(lease.expires_at)
                .fetch_all(c)
                .await
        })?;
        settle_claim(tx, rows).await
    }

    async fn update_task(
        &self,
        task: &Task,
        expected: TaskStatus,
        expected_lease: Option<&str>,
        events: &[Event],
    ) -> Result<bool, StoreError> {
        let mut tx = self.db().begin().await?;
        let updated = run!(tx.conn(), |c| {
            bind_task_update(sqlx::query(UPDATE_TASK), task, expected, expected_lease)
                .execute(c)
                .await
                .map(|done| done.rows_affected())
        })?;
        if updated != 1 {
            return Ok(false);
        }
        outbox::record(&mut tx, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn expire_leases(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Task>, StoreError> {
        let dialect = self.db().dialect();
        let statement = format!("{} RETURNING {}", dialect.expire_leases, (dialect.task_returning)());
        let mut tx = self.db().begin().await?;
        let rows: Vec<TaskRow> =
            run!(tx.conn(), |c| sqlx::query_as(&statement).bind(now).bind(limit).fetch_all(c).await)?;
        let tasks = rows.into_iter().map(TryInto::try_into).collect::<Result<Vec<Task>, _>>()?;
        let failed = events_of(&tasks, event::TASK_FAILED, |t| t.status == TaskStatus::Failed);
        outbox::record(&mut tx, &failed).await?;
        tx.commit().await?;
        Ok(tasks)
    }
}

/// One `kind` event for each of `tasks` that `which` picks.
fn events_of(tasks: &[Task], kind: &'static str, which: impl Fn(&Task) -> bool) -> Vec<Event> {
    tasks.iter().filter(|t| which(t)).map(|t| Event::new(t.owner, kind, t.event_data())).collect()
}

/// The end of every claim: the claimed tasks in priority order, `task.started` recorded for each in the
/// claim's own transaction, then the commit.
async fn settle_claim(mut tx: Tx, rows: Vec<TaskRow>) -> Result<Vec<Task>, StoreError> {
    let tasks = claimed_in_order(rows)?;
    outbox::record(&mut tx, &events_of(&tasks, event::TASK_STARTED, |_| true)).await?;
    tx.commit().await?;
    Ok(tasks)
}
