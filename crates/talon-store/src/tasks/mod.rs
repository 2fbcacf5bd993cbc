//! Tasks: the queue, its claims and leases.
//!
//! `sql` holds what both databases run the same way (reads, lists, and the order of each write);
//! the writes themselves differ: on PostgreSQL (`postgres`) each batch is one statement that also
//! writes its events, binding arrays that `unnest` turns into rows, so that a batch of a thousand
//! costs one round trip and one commit; on SQLite (`sqlite`), which has one writer and no writes
//! inside `WITH`, a batch is one transaction of multi-row statements.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::event::Event;
use talon_domain::task::{Executor, Lease, Priority, Task, TaskStatus};
use talon_domain::{AgentId, TaskId, UserId};

use crate::StoreError;
use crate::page::{Page, Window};

mod postgres;
mod rows;
mod sql;
mod sqlite;

/// The most tasks one batch may insert or change.
pub const MAX_BATCH: usize = 1000;

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
    /// A queued or running task already holds the dedupe key (or an earlier task of the same batch
    /// took it).
    Existing(Box<Task>),
}

/// A task to insert, with the events written if (and only if) it is inserted.
#[derive(Debug, Clone, Copy)]
pub struct TaskInsert<'a> {
    pub task: &'a Task,
    pub events: &'a [Event],
}

/// A compare-and-swap of one task: `task` is written if the stored task is still in `expected` status
/// under `expected_lease` (an absent lease compares equal to none), and then its events are written.
#[derive(Debug, Clone, Copy)]
pub struct TaskChange<'a> {
    pub task: &'a Task,
    pub expected: TaskStatus,
    pub expected_lease: Option<&'a str>,
    pub events: &'a [Event],
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
    async fn insert_task(&self, task: &Task, events: &[Event]) -> Result<InsertOutcome, StoreError> {
        let outcomes = self.insert_tasks(&[TaskInsert { task, events }]).await?;
        outcomes.into_iter().next().ok_or_else(|| StoreError::Corrupt("no outcome for the inserted task".into()))
    }

    /// Inserts every task with its events, all or none (one statement on PostgreSQL, one transaction
    /// on SQLite), and returns one outcome per task, in order. A task whose dedupe key a queued or
    /// running task of its account holds is not inserted and gets that task; a task whose key an
    /// earlier task of the same batch carries gets that one (the first with a key is inserted, or
    /// finds its holder). At most `MAX_BATCH` tasks.
    async fn insert_tasks(&self, tasks: &[TaskInsert<'_>]) -> Result<Vec<InsertOutcome>, StoreError>;

    async fn task(&self, id: TaskId) -> Result<Option<Task>, StoreError>;

    /// The tasks among `ids` that exist, in no particular order.
    async fn tasks_by_id(&self, ids: &[TaskId]) -> Result<Vec<Task>, StoreError>;

    /// A window of the owner's tasks, newest first; the total comes from the account's counters, not
    /// from counting rows.
    async fn list_tasks(
        &self,
        owner: UserId,
        filter: TaskFilter,
        window: Window,
    ) -> Result<Page<ListedTask>, StoreError>;

    /// Atomically moves up to `limit` runnable queued tasks (highest priority, then oldest) to `running`
    /// under `lease`, counting an attempt and recording `task.started` for each, in one statement on
    /// PostgreSQL. Concurrent claimers, in this process or another replica, never receive the same task.
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
    ) -> Result<bool, StoreError> {
        let changed = self.update_tasks(&[TaskChange { task, expected, expected_lease, events }]).await?;
        Ok(changed.first().copied().unwrap_or(false))
    }

    /// Applies every compare-and-swap that still finds its task as expected, with its events, in one
    /// statement on PostgreSQL (one transaction on SQLite); returns, per change and in order, whether
    /// it was applied. One change that finds its task changed does not stop the others. At most
    /// `MAX_BATCH` changes, each of a different task.
    async fn update_tasks(&self, changes: &[TaskChange<'_>]) -> Result<Vec<bool>, StoreError>;

    /// Running tasks whose lease lapsed before `now` go back to `queued`, or to `failed` once their
    /// attempts are spent (recording `task.failed`). Returns the tasks changed.
    async fn expire_leases(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Task>, StoreError>;
}
