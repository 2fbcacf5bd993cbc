use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::event::Event;
use talon_domain::task::{Executor, Lease, Task, TaskStatus};
use talon_domain::{AgentId, TaskId, UserId};

use super::PgStore;
use crate::bind::{bind_event, bind_task, bind_task_update};
use crate::rows::{ListedTaskRow, TASK_COLUMNS, TaskRow, claimed_in_order};
use crate::{InsertOutcome, ListedTask, Page, StoreError, TaskFilter, TaskStore, sql};

/// `FOR UPDATE SKIP LOCKED`: concurrent claimers (on any replica) skip rows another claim holds.
const CLAIM: &str = "WITH picked AS (
         SELECT id FROM tasks WHERE user_id = $1 AND status = 'queued' AND run_at <= $2
             AND ($3::uuid IS NULL OR agent_id = $3) AND executor = $7
         ORDER BY priority DESC, id LIMIT $4 FOR UPDATE SKIP LOCKED)
     UPDATE tasks SET status = 'running', attempts = tasks.attempts + 1, lease_token = $5,
         lease_expires_at = $6, started_at = COALESCE(tasks.started_at, $2), updated_at = $2
     FROM picked WHERE tasks.id = picked.id";

const EXPIRE: &str = "WITH lapsed AS (
         SELECT id FROM tasks WHERE status = 'running' AND lease_expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
     UPDATE tasks SET
         status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
         error = CASE WHEN attempts >= max_attempts
                      THEN 'Lease expired on attempt ' || attempts || ' of ' || max_attempts ELSE error END,
         completed_at = CASE WHEN attempts >= max_attempts THEN $1 ELSE completed_at END,
         lease_token = NULL, lease_expires_at = NULL, updated_at = $1
     FROM lapsed WHERE tasks.id = lapsed.id";

#[async_trait]
impl TaskStore for PgStore {
    async fn insert_task(&self, task: &Task, events: &[Event]) -> Result<InsertOutcome, StoreError> {
        let mut tx = self.pool.begin().await?;
        let inserted = bind_task!(sqlx::query(sql::INSERT_TASK), task).execute(&mut *tx).await?;
        if inserted.rows_affected() == 0 {
            let existing: TaskRow = sqlx::query_as(sql::TASK_HOLDING_DEDUPE_KEY)
                .bind(task.owner.as_uuid())
                .bind(&task.dedupe_key)
                .fetch_one(&mut *tx)
                .await?;
            return Ok(InsertOutcome::Existing(Box::new(existing.try_into()?)));
        }
        for event in events {
            bind_event!(sqlx::query(sql::INSERT_EVENT), event).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(InsertOutcome::Created)
    }

    async fn task(&self, id: TaskId) -> Result<Option<Task>, StoreError> {
        let row: Option<TaskRow> = sqlx::query_as(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1"))
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await?;
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
        let (total,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM tasks t WHERE {condition}"))
            .bind(owner.as_uuid())
            .bind(status)
            .bind(agent)
            .bind(priority)
            .fetch_one(&self.pool)
            .await?;
        let columns = TASK_COLUMNS.split(", ").map(|c| format!("t.{}", c.trim())).collect::<Vec<_>>().join(", ");
        let rows: Vec<ListedTaskRow> = sqlx::query_as(&format!(
            "SELECT {columns}, a.name AS agent_name FROM tasks t JOIN agents a ON a.id = t.agent_id
             WHERE {condition} ORDER BY t.id DESC LIMIT $5 OFFSET $6"
        ))
        .bind(owner.as_uuid())
        .bind(status)
        .bind(agent)
        .bind(priority)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
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
        let mut tx = self.pool.begin().await?;
        let rows: Vec<TaskRow> = sqlx::query_as(&format!("{CLAIM} RETURNING {}", returning()))
            .bind(owner.as_uuid())
            .bind(now)
            .bind(agent.map(|a| *a.as_uuid()))
            .bind(limit)
            .bind(&lease.token)
            .bind(lease.expires_at)
            .bind(executor.as_str())
            .fetch_all(&mut *tx)
            .await?;
        let tasks = claimed_in_order(rows)?;
        for task in &tasks {
            let event = Event::new(task.owner, talon_domain::event::TASK_STARTED, task.event_data());
            bind_event!(sqlx::query(sql::INSERT_EVENT), &event).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(tasks)
    }

    async fn update_task(
        &self,
        task: &Task,
        expected: TaskStatus,
        expected_lease: Option<&str>,
        events: &[Event],
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done =
            bind_task_update!(sqlx::query(sql::UPDATE_TASK), task, expected, expected_lease).execute(&mut *tx).await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        for event in events {
            bind_event!(sqlx::query(sql::INSERT_EVENT), event).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn expire_leases(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Task>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let rows: Vec<TaskRow> = sqlx::query_as(&format!("{EXPIRE} RETURNING {}", returning()))
            .bind(now)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        let tasks = rows.into_iter().map(TryInto::try_into).collect::<Result<Vec<Task>, _>>()?;
        for task in tasks.iter().filter(|t| t.status == TaskStatus::Failed) {
            let event = Event::new(task.owner, talon_domain::event::TASK_FAILED, task.event_data());
            bind_event!(sqlx::query(sql::INSERT_EVENT), &event).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(tasks)
    }

    async fn running_task_count(&self, agent: AgentId) -> Result<i64, StoreError> {
        let (count,): (i64,) =
            sqlx::query_as(sql::RUNNING_TASKS_OF_AGENT).bind(agent.as_uuid()).fetch_one(&self.pool).await?;
        Ok(count)
    }
}

/// The task columns qualified by table, as `UPDATE … FROM` needs them.
fn returning() -> String {
    TASK_COLUMNS.split(", ").map(|c| format!("tasks.{}", c.trim())).collect::<Vec<_>>().join(", ")
}
