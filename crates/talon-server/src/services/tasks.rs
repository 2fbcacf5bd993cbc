//! Tasks: creation (pinned to an agent version, deduplicated), the lifecycle state machine, and leased
//! claims for external workers and for Talon's runtime (`runtime`).

mod runtime;

use std::sync::Arc;

use chrono::Duration;
use serde_json::Value;
use talon_domain::agent::AgentStatus;
use talon_domain::event::{self, Event};
use talon_domain::task::{Executor, Lease, NewTask, Priority, Task, TaskStatus};
use talon_domain::time::now;
use talon_domain::{AgentId, TaskId, ValidationErrors};
use talon_store::{InsertOutcome, ListedTask, Page, Store, TaskFilter};
use tokio::sync::Notify;

pub use runtime::RuntimeFailure;

use super::registry::RegistryService;
use super::{Caller, OutboxSignal, ServiceError};

pub const DEFAULT_LEASE_SECONDS: i64 = 60;
const MAX_LEASE_SECONDS: i64 = 3600;
pub const MAX_CLAIM: i64 = 100;

pub struct TaskService {
    store: Arc<dyn Store>,
    registry: Arc<RegistryService>,
    /// Woken whenever a task becomes claimable, so idle workers need not poll.
    queued: Arc<Notify>,
    outbox: OutboxSignal,
}

/// A task update as the request sends it.
#[derive(Debug, Default)]
pub struct TaskUpdate {
    pub status: Option<TaskStatus>,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub lease_token: Option<String>,
    pub lease_seconds: Option<i64>,
}

/// A claim request.
#[derive(Debug, Clone, Copy)]
pub struct ClaimRequest {
    pub agent: Option<AgentId>,
    pub limit: i64,
    pub lease_seconds: i64,
    /// Long-poll: when nothing is claimable, wait up to this long for a task to arrive.
    pub wait_seconds: i64,
}

const MAX_WAIT_SECONDS: i64 = 30;
/// While long-polling, look again at least this often (tasks queued on another replica, or due now).
const POLL_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

impl TaskService {
    pub fn new(store: Arc<dyn Store>, registry: Arc<RegistryService>, outbox: OutboxSignal) -> Self {
        Self { store, registry, queued: Arc::new(Notify::new()), outbox }
    }

    /// Creates a task (201) or, when its dedupe key is held by a queued or running task, returns that one.
    pub async fn create(
        &self,
        caller: &Caller,
        body: &serde_json::Map<String, Value>,
    ) -> Result<(Task, bool), ServiceError> {
        let mut errors = ValidationErrors::new();
        let new = NewTask::parse(body).map_err(|e| {
            for f in e.fields() {
                errors.add(f.field.clone(), f.message.clone());
            }
        });
        let agent_ref = match body.get("agentId") {
            Some(Value::String(id)) => Some(id.clone()),
            None | Some(Value::Null) => {
                errors.add("agentId", "Required field missing");
                None
            }
            Some(_) => {
                errors.add("agentId", "Must be a string");
                None
            }
        };
        // Absent, the agent's deployment decides it (below). An explicit `runtime` for an agent that is
        // not deployed is accepted: it may be deployed before the task runs, and if it is not, the runtime
        // fails the task saying so.
        let executor = match body.get("executor") {
            None | Some(Value::Null) => None,
            Some(Value::String(e)) => e.parse().map_err(|m: String| errors.add("executor", m)).ok(),
            Some(_) => {
                errors.add("executor", "Must be external or runtime");
                None
            }
        };
        let version_ref = match body.get("versionId") {
            None | Some(Value::Null) => None,
            Some(Value::String(v)) => Some(v.clone()),
            Some(_) => {
                errors.add("versionId", "Must be a string");
                None
            }
        };
        let (Ok(new), Some(agent_ref)) = (new, agent_ref) else {
            return Err(errors.into());
        };
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let agent =
            self.registry.owned(caller, &agent_ref).await.map_err(|_| {
                ServiceError::Invalid(ValidationErrors::single("agentId", "No such agent in this account"))
            })?;
        let version_id = match version_ref {
            Some(v) => self.registry.version(caller, &agent.id.to_string(), &v).await.map(|v| v.id).map_err(|_| {
                ServiceError::Invalid(ValidationErrors::single("versionId", "Not a version of this agent"))
            })?,
            None => agent.current_version_id,
        };
        let at = now();
        let task = Task {
            id: TaskId::new(),
            owner: caller.account.id,
            agent_id: agent.id,
            version_id,
            title: new.title,
            description: new.description,
            priority: new.priority,
            status: TaskStatus::Queued,
            executor: executor.unwrap_or(Executor::default_for(agent.status == AgentStatus::Deployed)),
            input: new.input,
            output: None,
            error: None,
            attempts: 0,
            max_attempts: new.max_attempts,
            run_at: new.run_at.unwrap_or(at),
            dedupe_key: new.dedupe_key,
            lease: None,
            created_at: at,
            updated_at: at,
            started_at: None,
            completed_at: None,
        };
        let events = [Event::new(task.owner, event::TASK_CREATED, task.event_data())];
        match self.store.insert_task(&task, &events).await? {
            InsertOutcome::Created => {
                self.queued.notify_waiters();
                self.outbox.written();
                Ok((task, true))
            }
            InsertOutcome::Existing(existing) => Ok((*existing, false)),
        }
    }

    pub async fn get(&self, caller: &Caller, id: &str) -> Result<Task, ServiceError> {
        let id = TaskId::parse(id).map_err(|_| ServiceError::NotFound("Task"))?;
        self.store
            .task(id)
            .await?
            .filter(|t| t.owner == caller.account.id && caller.only_agent.is_none_or(|a| a == t.agent_id))
            .ok_or(ServiceError::NotFound("Task"))
    }

    pub async fn list(
        &self,
        caller: &Caller,
        mut filter: TaskFilter,
        offset: i64,
        limit: i64,
    ) -> Result<Page<ListedTask>, ServiceError> {
        if let Some(only) = caller.only_agent {
            if filter.agent.is_some_and(|a| a != only) {
                return Ok(Page { items: Vec::new(), total: 0 });
            }
            filter.agent = Some(only);
        }
        Ok(self.store.list_tasks(caller.account.id, filter, offset, limit).await?)
    }

    /// Applies a status change and/or output. A lease token, when given, must be the task's current one
    /// (409 otherwise) and extends the lease.
    pub async fn update(&self, caller: &Caller, id: &str, update: TaskUpdate) -> Result<Task, ServiceError> {
        let current = self.get(caller, id).await?;
        let held = current.lease.as_ref().map(|l| l.token.clone());
        if update.lease_token.as_ref().is_some_and(|token| held.as_deref() != Some(token.as_str())) {
            return Err(ServiceError::Conflict(
                "The lease token is stale: the task's lease expired or another worker holds it".into(),
            ));
        }
        let lease_seconds = update.lease_seconds.unwrap_or(DEFAULT_LEASE_SECONDS);
        if !(1..=MAX_LEASE_SECONDS).contains(&lease_seconds) {
            return Err(ValidationErrors::single("leaseSeconds", "Must be from 1 to 3600").into());
        }
        let to = update.status.unwrap_or(current.status);
        let status = current.status.transition(to).map_err(|e| ServiceError::Conflict(e.to_string()))?;
        let at = now();
        let mut next = current.clone();
        next.status = status;
        next.updated_at = at;
        if let Some(output) = update.output {
            next.output = Some(output);
        }
        if let Some(error) = update.error {
            next.error = Some(error);
        }
        match status {
            TaskStatus::Running if current.status == TaskStatus::Queued => {
                next.attempts += 1;
                next.started_at = next.started_at.or(Some(at));
            }
            TaskStatus::Running if update.lease_token.is_some() => {
                next.lease =
                    held.clone().map(|token| Lease { token, expires_at: at + Duration::seconds(lease_seconds) });
            }
            s if s.is_terminal() => {
                next.completed_at = Some(at);
                next.lease = None;
            }
            _ => {}
        }
        if !self.write(&next, current.status, held.as_deref()).await? {
            return Err(ServiceError::Conflict("The task changed while it was being updated; read it again".into()));
        }
        Ok(next)
    }

    pub async fn cancel(&self, caller: &Caller, id: &str) -> Result<Task, ServiceError> {
        self.update(caller, id, TaskUpdate { status: Some(TaskStatus::Cancelled), ..TaskUpdate::default() }).await
    }

    /// Claims up to `limit` runnable tasks for an external worker, each under a fresh lease.
    pub async fn claim(&self, caller: &Caller, request: ClaimRequest) -> Result<(Vec<Task>, Lease), ServiceError> {
        let mut errors = ValidationErrors::new();
        if !(1..=MAX_CLAIM).contains(&request.limit) {
            errors.add("limit", "Must be from 1 to 100");
        }
        if !(1..=MAX_LEASE_SECONDS).contains(&request.lease_seconds) {
            errors.add("leaseSeconds", "Must be from 1 to 3600");
        }
        if !(0..=MAX_WAIT_SECONDS).contains(&request.wait_seconds) {
            errors.add("waitSeconds", "Must be from 0 to 30");
        }
        let agent = match (request.agent, caller.only_agent) {
            (Some(a), Some(only)) if a != only => return Err(ServiceError::NotFound("Agent")),
            (a, only) => a.or(only),
        };
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(request.wait_seconds as u64);
        let token = lease_token();
        loop {
            // Listen before looking, so a task queued in between still wakes this claim.
            let queued = self.queued.notified();
            tokio::pin!(queued);
            queued.as_mut().enable();
            let at = now();
            let lease = Lease { token: token.clone(), expires_at: at + Duration::seconds(request.lease_seconds) };
            let tasks =
                self.store.claim_tasks(caller.account.id, agent, Executor::External, request.limit, &lease, at).await?;
            if !tasks.is_empty() {
                self.outbox.written();
            }
            let now_instant = tokio::time::Instant::now();
            if !tasks.is_empty() || now_instant >= deadline {
                return Ok((tasks, lease));
            }
            let _ = tokio::time::timeout((deadline - now_instant).min(POLL_EVERY), queued).await;
        }
    }

    /// Returns lapsed leases to the queue (or fails their tasks); run periodically.
    pub async fn expire_leases(&self) -> Result<usize, ServiceError> {
        let changed = self.store.expire_leases(now(), 1000).await?;
        if changed.iter().any(|t| t.status == TaskStatus::Failed) {
            self.outbox.written();
        }
        if changed.iter().any(|t| t.status == TaskStatus::Queued) {
            self.queued.notify_waiters();
        }
        Ok(changed.len())
    }
}

impl TaskService {
    /// Writes `next` over a task still in `expected` status under `lease` (compare-and-swap), with the
    /// event of the status it enters; `false` when the task changed in between.
    async fn write(&self, next: &Task, expected: TaskStatus, lease: Option<&str>) -> Result<bool, ServiceError> {
        let events: Vec<Event> = (next.status != expected)
            .then(|| next.status.event())
            .flatten()
            .map(|kind| Event::new(next.owner, kind, next.event_data()))
            .into_iter()
            .collect();
        if !self.store.update_task(next, expected, lease, &events).await? {
            return Ok(false);
        }
        if !events.is_empty() {
            self.outbox.written();
        }
        if next.status == TaskStatus::Queued && expected != TaskStatus::Queued {
            self.queued.notify_waiters();
        }
        Ok(true)
    }
}

fn lease_token() -> String {
    format!("lease_{}", uuid::Uuid::now_v7().simple())
}

/// Parses the list filters of `GET /api/tasks`.
pub fn parse_filter(params: &std::collections::HashMap<String, String>) -> Result<TaskFilter, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let status = params.get("status").and_then(|s| s.parse::<TaskStatus>().map_err(|m| errors.add("status", m)).ok());
    let priority =
        params.get("priority").and_then(|p| p.parse::<Priority>().map_err(|m| errors.add("priority", m)).ok());
    let agent = params
        .get("agentId")
        .and_then(|a| AgentId::parse(a).map_err(|_| errors.add("agentId", "Must be an agent id")).ok());
    errors.finish(TaskFilter { status, agent, priority })
}
