//! Task rows, their conversion into domain types, and the argument lists of the statements that
//! write tasks.

use chrono::{DateTime, Utc};
use talon_domain::task::{Lease, Priority, Task, TaskStatus};
use talon_domain::{AgentId, TaskId, UserId, VersionId};
use uuid::Uuid;

use crate::StoreError;
use crate::db::Bind;
use crate::error::corrupt;

#[derive(sqlx::FromRow)]
pub(crate) struct TaskRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub agent_id: Uuid,
    pub version_id: Uuid,
    pub title: String,
    pub description: String,
    pub priority: i32,
    pub status: String,
    pub executor: String,
    pub input: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
    pub dedupe_key: Option<String>,
    pub lease_token: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

pub(crate) const TASK_COLUMNS: &str = "id, user_id, agent_id, version_id, title, description, priority, status, \
     executor, input, output, error, attempts, max_attempts, run_at, dedupe_key, lease_token, lease_expires_at, \
     created_at, updated_at, started_at, completed_at";

impl TryFrom<TaskRow> for Task {
    type Error = StoreError;
    fn try_from(row: TaskRow) -> Result<Self, StoreError> {
        let json = |text: &str| serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("task json: {e}")));
        Ok(Task {
            id: TaskId::from_uuid(row.id),
            owner: UserId::from_uuid(row.user_id),
            agent_id: AgentId::from_uuid(row.agent_id),
            version_id: VersionId::from_uuid(row.version_id),
            title: row.title,
            description: row.description,
            priority: Priority::from_rank(row.priority).ok_or_else(|| StoreError::Corrupt("task priority".into()))?,
            status: row.status.parse().map_err(corrupt("task status"))?,
            executor: row.executor.parse().map_err(corrupt("task executor"))?,
            input: json(&row.input)?,
            output: row.output.as_deref().map(json).transpose()?,
            error: row.error,
            attempts: row.attempts,
            max_attempts: row.max_attempts,
            run_at: row.run_at,
            dedupe_key: row.dedupe_key,
            lease: match (row.lease_token, row.lease_expires_at) {
                (Some(token), Some(expires_at)) => Some(Lease { token, expires_at }),
                _ => None,
            },
            created_at: row.created_at,
            updated_at: row.updated_at,
            started_at: row.started_at,
            completed_at: row.completed_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ListedTaskRow {
    #[sqlx(flatten)]
    pub task: TaskRow,
    pub agent_name: String,
}

/// `RETURNING` gives rows in no particular order; claims hand them out by priority, then age.
pub(crate) fn claimed_in_order(rows: Vec<TaskRow>) -> Result<Vec<Task>, StoreError> {
    let mut tasks = rows.into_iter().map(TryInto::try_into).collect::<Result<Vec<Task>, _>>()?;
    tasks.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.id.cmp(&b.id)));
    Ok(tasks)
}

/// Binds a `Task` as one row of the task insert (`TASK_COLUMNS` order).
pub(crate) fn bind_task<'q, Q: Bind<'q>>(query: Q, task: &Task) -> Q {
    query
        .bind(*task.id.as_uuid())
        .bind(*task.owner.as_uuid())
        .bind(*task.agent_id.as_uuid())
        .bind(*task.version_id.as_uuid())
        .bind(task.title.clone())
        .bind(task.description.clone())
        .bind(task.priority.rank())
        .bind(task.status.as_str())
        .bind(task.executor.as_str())
        .bind(task.input.to_string())
        .bind(task.output.as_ref().map(|o| o.to_string()))
        .bind(task.error.clone())
        .bind(task.attempts)
        .bind(task.max_attempts)
        .bind(task.run_at)
        .bind(task.dedupe_key.clone())
        .bind(task.lease.as_ref().map(|l| l.token.clone()))
        .bind(task.lease.as_ref().map(|l| l.expires_at))
        .bind(task.created_at)
        .bind(task.updated_at)
        .bind(task.started_at)
        .bind(task.completed_at)
}

/// Binds a `Task`'s mutable fields and the expected state to the compare-and-swap (`sqlite::UPDATE_TASK`).
pub(crate) fn bind_task_update<'q, Q: Bind<'q>>(
    query: Q,
    task: &Task,
    expected: TaskStatus,
    expected_lease: Option<&str>,
) -> Q {
    query
        .bind(task.status.as_str())
        .bind(task.output.as_ref().map(|o| o.to_string()))
        .bind(task.error.clone())
        .bind(task.attempts)
        .bind(task.lease.as_ref().map(|l| l.token.clone()))
        .bind(task.lease.as_ref().map(|l| l.expires_at))
        .bind(task.started_at)
        .bind(task.completed_at)
        .bind(task.updated_at)
        .bind(*task.id.as_uuid())
        .bind(expected.as_str())
        .bind(expected_lease.unwrap_or("").to_owned())
        .bind(task.run_at)
}
