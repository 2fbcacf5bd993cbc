//! Tasks: the queue, its claims and leases.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::event::Event;
use talon_domain::task::{Executor, Lease, Priority, Task, TaskStatus};
use talon_domain::{AgentId, TaskId, UserId};

use crate::{Page, StoreError};

mod rows;
mod sql;

pub(crate) use rows::TASK_COLUMNS;

/// Which of an account's tasks a list shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskFilter {
    pub status: Option<TaskStatus>,
    pub agent: Option<AgentId>,
    pub priority: Option<Priority>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum InsertOutcome {
    Created,
    /// A queued or running task already holds the dedupe key.
    Existing(Box<Task>),
}

/// A task with the name of its agent, for lists.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedTask {
    pub task: Task,
    pub agent_name: String,
}

#[async_trait]
pub trait TaskStore {
    /// Inserts a task and its events, unless its dedupe key is held by a queued or running task.
    async fn insert_task(&self, task: &Task, events: &[Event]) -> Result<InsertOutcome, StoreError>;

    async fn task(&self, id: TaskId) -> Result<Option<Task>, StoreError>;

    /// The owner's tasks, newest first.
    async fn list_tasks(
        &self,
        owner: UserId,
        filter: TaskFilter,
        offset: i64,
        limit: i64,
    ) -> Result<Page<ListedTask>, StoreError>;

    /// Atomically moves up to `limit` runnable queued tasks (highest priority, then oldest) to `running`
    /// under `lease`, counting an attempt and recording `task.started` for each. Concurrent claimers,
    /// in this process or another replica, never receive the same task.
    async fn claim_tasks(
        &self,
        owner: UserId,
        agent: Option<AgentId>,
        executor: Executor,
        limit: i64,
        lease: &Lease,
        now: DateTime<Utc>,
    ) -> Result<Vec<Task>, StoreError>;

    /// Like `claim_tasks`, for Talon's runtime: runtime tasks of every account.
    async fn claim_runtime_tasks(&self, limit: i64, lease: &Lease, now: DateTime<Utc>)
    -> Result<Vec<Task>, StoreError>;

    /// Writes `task` if it is still in `expected` status under `expected_lease` (compare-and-swap);
    /// `false` when it changed in between.
    async fn update_task(
        &self,
        task: &Task,
        expected: TaskStatus,
        expected_lease: Option<&str>,
        events: &[Event],
    ) -> Result<bool, StoreError>;

    /// Running tasks whose lease lapsed before `now` go back to `queued`, or to `failed` once their
    /// attempts are spent (recording `task.failed`). Returns the tasks changed.
    async fn expire_leases(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Task>, StoreError>;
}
