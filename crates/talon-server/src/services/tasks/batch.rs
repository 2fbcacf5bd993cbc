//! Many tasks in one call: creating up to `MAX_BATCH` tasks all or none, and completing or failing up
//! to `MAX_BATCH` leased tasks with one outcome each. Each batch is one store write (one statement on
//! PostgreSQL), and rings the queue and outbox signals once.

use std::collections::HashMap;

use serde_json::Value;
use talon_domain::agent::{Agent, AgentRef, VersionRef};
use talon_domain::event::{self, Event};
use talon_domain::task::{Task, TaskStatus};
use talon_domain::time::now;
use talon_domain::{AgentId, TaskId, ValidationErrors, VersionId};
use talon_store::{InsertOutcome, TaskChange, TaskInsert};

use super::{CreateTask, TaskService, TaskUpdate, Updated, insert_error, plan_update, queued_task, status_events};
use crate::services::{Caller, ServiceError};

/// The most tasks one batch creates, completes or fails.
pub const MAX_BATCH: usize = talon_store::MAX_BATCH;

/// One task of a batch create: the task, and whether this call created it (`false`: its dedupe key
/// named a live task, or an earlier task of the batch, which it is).
#[derive(Debug)]
pub struct BatchCreated {
    pub task: Task,
    pub created: bool,
}

/// How a worker ends one leased task: completed with `output` (kept as it is when absent) or failed with
/// `error`.
#[derive(Debug)]
pub struct Finish {
    pub id: TaskId,
    pub lease_token: String,
    pub output: Option<Value>,
    pub error: Option<String>,
}

/// One task's outcome in a batch completion: ended, or why not, as the single-task update would say.
#[derive(Debug)]
pub enum FinishOutcome {
    Finished(Box<Task>),
    Refused(ServiceError),
}

impl TaskService {
    /// Creates every task or none. Each request is checked (its agent and version must be the caller's,
    /// a 404 naming the item's field otherwise) before anything is written; the tasks are then inserted
    /// in one store write, and each one whose dedupe key a queued or running task holds (or an earlier
    /// task of this batch carries) is answered with that task instead of a new one.
    pub async fn create_batch(
        &self,
        caller: &Caller,
        requests: Vec<CreateTask>,
    ) -> Result<Vec<BatchCreated>, ServiceError> {
        if requests.is_empty() || requests.len() > MAX_BATCH {
            return Err(ValidationErrors::single("tasks", "Must hold 1 to 1000 tasks").into());
        }
        let mut targets = Targets::default();
        let at = now();
        let mut tasks = Vec::with_capacity(requests.len());
        for (index, request) in requests.into_iter().enumerate() {
            let CreateTask { agent, version, executor, task: new } = request;
            let agent = targets.agent(self, caller, &agent, index).await?;
            let version_id = match version {
                Some(version) => targets.version(self, caller, &agent, version, index).await?,
                None => agent.current_version_id,
            };
            tasks.push(queued_task(caller, &agent, version_id, executor, new, at));
        }
        let events: Vec<[Event; 1]> =
            tasks.iter().map(|t| [Event::new(t.owner, event::TASK_CREATED, t.event_data())]).collect();
        let inserts: Vec<TaskInsert> =
            tasks.iter().zip(&events).map(|(task, events)| TaskInsert { task, events }).collect();
        let outcomes = self.store.insert_tasks(&inserts).await.map_err(insert_error)?;
        let results: Vec<BatchCreated> = tasks
            .into_iter()
            .zip(outcomes)
            .map(|(task, outcome)| match outcome {
                InsertOutcome::Created => BatchCreated { task, created: true },
                InsertOutcome::Existing(existing) => BatchCreated { task: *existing, created: false },
            })
            .collect();
        if results.iter().any(|r| r.created) {
            self.queued.ring();
            self.outbox.ring();
        }
        Ok(results)
    }

    /// Ends each leased task as `status` (`completed` or `failed`), in one store write. Each item is
    /// judged as its own `PATCH` would be (a task of another account, or out of the key's reach, is not
    /// found; a missing or stale lease token, or a task not running, is a conflict) and refused alone,
    /// so one lapsed lease does not hold back the rest. The items must name different tasks.
    pub async fn finish_batch(
        &self,
        caller: &Caller,
        status: TaskStatus,
        items: Vec<Finish>,
    ) -> Result<Vec<FinishOutcome>, ServiceError> {
        if !matches!(status, TaskStatus::Completed | TaskStatus::Failed) {
            return Err(ServiceError::Internal(format!("a batch cannot end tasks as {status}")));
        }
        if items.len() > MAX_BATCH {
            return Err(ValidationErrors::single("tasks", "Must hold 1 to 1000 tasks").into());
        }
        let ids: Vec<TaskId> = items.iter().map(|i| i.id).collect();
        let current: HashMap<TaskId, Task> = self
            .store
            .tasks_by_id(&ids)
            .await?
            .into_iter()
            .filter(|t| t.owner == caller.account.id && caller.reaches(t.agent_id))
            .map(|t| (t.id, t))
            .collect();
        let at = now();
        let mut planned: Vec<Result<Updated, ServiceError>> = Vec::with_capacity(items.len());
        for item in items {
            let Some(task) = current.get(&item.id) else {
                planned.push(Err(ServiceError::NotFound("Task")));
                continue;
            };
            let update = TaskUpdate {
                status: Some(status),
                output: item.output,
                error: item.error,
                lease_token: Some(item.lease_token),
                lease_seconds: None,
            };
            planned.push(plan_update(task, update, at));
        }
        let writes: Vec<(&Task, TaskStatus, Option<&str>, Vec<Event>)> = planned
            .iter()
            .filter_map(|p| p.as_ref().ok())
            .filter_map(|u| {
                let before = current.get(&u.task.id)?;
                let lease = before.lease.as_ref().map(|l| l.token.as_str());
                Some((&u.task, before.status, lease, status_events(&u.task, before.status)))
            })
            .collect();
        let changes: Vec<TaskChange> = writes
            .iter()
            .map(|(task, expected, expected_lease, events)| TaskChange {
                task,
                expected: *expected,
                expected_lease: *expected_lease,
                events,
            })
            .collect();
        let applied: HashMap<TaskId, bool> = if changes.is_empty() {
            HashMap::new()
        } else {
            let applied = self.store.update_tasks(&changes).await?;
            changes.iter().zip(applied).map(|(c, applied)| (c.task.id, applied)).collect()
        };
        if applied.values().any(|&a| a) {
            self.outbox.ring();
        }
        Ok(planned
            .into_iter()
            .map(|p| match p {
                Ok(updated) if applied.get(&updated.task.id) == Some(&true) => {
                    FinishOutcome::Finished(Box::new(updated.task))
                }
                Ok(_) => FinishOutcome::Refused(ServiceError::Conflict(
                    "The task changed while it was being updated; read it again".into(),
                )),
                Err(e) => FinishOutcome::Refused(e),
            })
            .collect())
    }
}

/// The agents and versions a batch names, each looked up once.
#[derive(Default)]
struct Targets {
    agents: Vec<(AgentRef, Agent)>,
    versions: Vec<((AgentId, VersionRef), VersionId)>,
}

impl Targets {
    async fn agent(
        &mut self,
        service: &TaskService,
        caller: &Caller,
        reference: &AgentRef,
        index: usize,
    ) -> Result<Agent, ServiceError> {
        if let Some((_, agent)) = self.agents.iter().find(|(r, _)| r == reference) {
            return Ok(agent.clone());
        }
        let agent = service.registry.owned(caller, reference).await.map_err(|e| at_item(e, index, "agentId"))?;
        self.agents.push((reference.clone(), agent.clone()));
        Ok(agent)
    }

    async fn version(
        &mut self,
        service: &TaskService,
        caller: &Caller,
        agent: &Agent,
        version: VersionRef,
        index: usize,
    ) -> Result<VersionId, ServiceError> {
        if let Some((_, found)) = self.versions.iter().find(|((a, v), _)| *a == agent.id && *v == version) {
            return Ok(*found);
        }
        let found = service
            .registry
            .version(caller, &agent.id.into(), version.clone())
            .await
            .map_err(|e| at_item(e, index, "versionId"))?
            .id;
        self.versions.push(((agent.id, version), found));
        Ok(found)
    }
}

/// A "not found" of one item names the item's field.
fn at_item(error: ServiceError, index: usize, field: &str) -> ServiceError {
    match error {
        ServiceError::NotFound(what) => ServiceError::NotFoundAt { what, field: format!("tasks[{index}].{field}") },
        other => other,
    }
}
