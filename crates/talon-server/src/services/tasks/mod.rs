//! Tasks: creation (pinned to an agent version, deduplicated), the lifecycle state machine, and leased
//! claims for external workers and for Talon's runtime (`runtime`).

mod batch;
mod runtime;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use talon_domain::agent::{Agent, AgentRef, AgentStatus, VersionRef};
use talon_domain::event::{self, Event};
use talon_domain::task::{Executor, Lease, NewTask, Priority, Task, TaskStatus};
use talon_domain::time::now;
use talon_domain::{TaskId, ValidationErrors, VersionId};
use talon_store::{InsertOutcome, ListedTask, Page, Store, TaskFilter, Window};

pub use batch::{BatchCreated, Finish, FinishOutcome, MAX_BATCH};
pub use runtime::RuntimeFailure;

use super::registry::RegistryService;
use super::{Caller, ServiceError, Signal};

pub const DEFAULT_LEASE_SECONDS: i64 = 60;
const MAX_LEASE_SECONDS: i64 = 3600;
pub const MAX_CLAIM: i64 = 100;

pub struct TaskService {
    store: Arc<dyn Store>,
    registry: Arc<RegistryService>,
    /// Woken whenever a task becomes claimable, so idle workers need not poll.
    queued: Signal,
    outbox: Signal,
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

/// A task after an update, with the token of the lease the update started (`queued → running`), if any.
#[derive(Debug)]
pub struct Updated {
    pub task: Task,
    pub lease_token: Option<String>,
}

/// A new task: its checked fields, and the agent (and optionally the version) it is for.
#[derive(Debug, Clone)]
pub struct CreateTask {
    pub agent: AgentRef,
    /// Pins the task to this version of the agent (by id, number or label, resolved when the task is
    /// created); the agent's current version when absent.
    pub version: Option<VersionRef>,
    /// Who works it; when absent, the agent's deployment decides.
    pub executor: Option<Executor>,
    pub task: NewTask,
}

/// Which of the caller's tasks a list shows.
#[derive(Debug, Clone, Default)]
pub struct TaskListFilter {
    pub status: Option<TaskStatus>,
    pub priority: Option<Priority>,
    pub agent: Option<AgentRef>,
}

/// A claim request.
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    pub agent: Option<AgentRef>,
    pub limit: i64,
    pub lease_seconds: i64,
    /// Long-poll: when nothing is claimable, wait up to this long for a task to arrive.
    pub wait_seconds: i64,
}

const MAX_WAIT_SECONDS: i64 = 30;
/// While long-polling without the bus, look again at least this often (tasks queued on another replica);
/// with it, rings wake the claim and this is only the safety net's pace (see `Signal::poll_every`).
const POLL_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

impl TaskService {
    /// `queued` rings when tasks become claimable, `outbox` when events are written.
    pub fn new(store: Arc<dyn Store>, registry: Arc<RegistryService>, queued: Signal, outbox: Signal) -> Self {
        Self { store, registry, queued, outbox }
    }

    /// Creates a task (201) or, when its dedupe key is held by a queued or running task, returns that one.
    pub async fn create(&self, caller: &Caller, request: CreateTask) -> Result<(Task, bool), ServiceError> {
        let CreateTask { agent, version, executor, task: new } = request;
        let agent = self.registry.owned(caller, &agent).await?;
        let version_id = match version {
            Some(v) => self.registry.version(caller, &agent.id.into(), v).await.map(|v| v.id)?,
            None => agent.current_version_id,
        };
        let task = queued_task(caller, &agent, version_id, executor, new, now());
        let events = [Event::new(task.owner, event::TASK_CREATED, task.event_data())];
        let outcome = self.store.insert_task(&task, &events).await.map_err(insert_error)?;
        match outcome {
            InsertOutcome::Created => {
                self.queued.ring_at(task.run_at);
                self.outbox.ring();
                Ok((task, true))
            }
            InsertOutcome::Existing(existing) => Ok((*existing, false)),
        }
    }

    pub async fn get(&self, caller: &Caller, id: TaskId) -> Result<Task, ServiceError> {
        self.store
            .task(id)
            .await?
            .filter(|t| t.owner == caller.account.id && caller.reaches(t.agent_id))
            .ok_or(ServiceError::NotFound("Task"))
    }

    /// The caller's tasks; `filter.agent` narrows them to an agent the caller reaches, and any other agent
    /// is "not found" as elsewhere.
    pub async fn list(
        &self,
        caller: &Caller,
        filter: TaskListFilter,
        window: Window,
    ) -> Result<Page<ListedTask>, ServiceError> {
        let agent = match filter.agent {
            Some(reference) => Some(self.registry.owned(caller, &reference).await?.id),
            None => caller.only_agent,
        };
        let filter = TaskFilter { status: filter.status, agent, priority: filter.priority };
        Ok(self.store.list_tasks(caller.account.id, filter, window).await?)
    }

    /// Applies a status change and/or output. A task under a lease changes only with its lease token
    /// (409 when it is missing or stale), which extends the lease. A queued task PATCHed to `running` is
    /// leased like a claimed one: the new token is returned with it, so a running task always has a lease
    /// and its `maxAttempts` apply.
    pub async fn update(&self, caller: &Caller, id: TaskId, update: TaskUpdate) -> Result<Updated, ServiceError> {
        let current = self.get(caller, id).await?;
        let planned = plan_update(&current, update, now())?;
        let held = current.lease.as_ref().map(|l| l.token.as_str());
        if !self.write(&planned.task, current.status, held).await? {
            return Err(ServiceError::Conflict("The task changed while it was being updated; read it again".into()));
        }
        Ok(planned)
    }

    /// The owner's cancel: no lease token needed, since it is the account stopping its own work rather
    /// than a worker reporting; the worker's next update with its token is then refused.
    pub async fn cancel(&self, caller: &Caller, id: TaskId) -> Result<Task, ServiceError> {
        let current = self.get(caller, id).await?;
        let status =
            current.status.transition(TaskStatus::Cancelled).map_err(|e| ServiceError::Conflict(e.to_string()))?;
        let at = now();
        let next = Task { status, lease: None, completed_at: Some(at), updated_at: at, ..current.clone() };
        let held = current.lease.as_ref().map(|l| l.token.as_str());
        if !self.write(&next, current.status, held).await? {
            return Err(ServiceError::Conflict("The task changed while it was being cancelled; read it again".into()));
        }
        Ok(next)
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
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let agent = match &request.agent {
            Some(reference) => Some(self.registry.owned(caller, reference).await?.id),
            None => caller.only_agent,
        };
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(request.wait_seconds as u64);
        let token = lease_token();
        loop {
            let queued = self.queued.listen();
            let at = now();
            let lease = Lease { token: token.clone(), expires_at: at + Duration::seconds(request.lease_seconds) };
            let tasks =
                self.store.claim_tasks(caller.account.id, agent, Executor::External, request.limit, &lease, at).await?;
            if !tasks.is_empty() {
                self.outbox.ring();
            }
            let now_instant = tokio::time::Instant::now();
            if !tasks.is_empty() || now_instant >= deadline {
                return Ok((tasks, lease));
            }
            queued.wait((deadline - now_instant).min(self.queued.poll_every(POLL_EVERY))).await;
        }
    }

    /// Returns lapsed leases to the queue (or fails their tasks); run periodically.
    pub async fn expire_leases(&self) -> Result<usize, ServiceError> {
        let changed = self.store.expire_leases(now(), 1000).await?;
        if changed.iter().any(|t| t.status == TaskStatus::Failed) {
            self.outbox.ring();
        }
        if changed.iter().any(|t| t.status == TaskStatus::Queued) {
            self.queued.ring();
        }
        Ok(changed.len())
    }
}

impl TaskService {
    /// Writes `next` over a task still in `expected` status under `lease` (compare-and-swap), with the
    /// event of the status it enters; `false` when the task changed in between.
    async fn write(&self, next: &Task, expected: TaskStatus, lease: Option<&str>) -> Result<bool, ServiceError> {
        let events = status_events(next, expected);
        if !self.store.update_task(next, expected, lease, &events).await? {
            return Ok(false);
        }
        if !events.is_empty() {
            self.outbox.ring();
        }
        if next.status == TaskStatus::Queued && expected != TaskStatus::Queued {
            self.queued.ring_at(next.run_at);
        }
        Ok(true)
    }
}

/// A new queued task of `agent`, pinned to `version_id`.
fn queued_task(
    caller: &Caller,
    agent: &Agent,
    version_id: VersionId,
    executor: Option<Executor>,
    new: NewTask,
    at: DateTime<Utc>,
) -> Task {
    Task {
        id: TaskId::new(),
        owner: caller.account.id,
        agent_id: agent.id,
        version_id,
        title: new.title,
        description: new.description,
        priority: new.priority,
        status: TaskStatus::Queued,
        // An explicit `runtime` for an agent that is not deployed is accepted: it may be deployed before
        // the task runs, and if it is not, the runtime fails the task saying so.
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
    }
}

/// A store conflict while inserting is a dedupe key whose task kept changing.
fn insert_error(e: talon_store::StoreError) -> ServiceError {
    match e {
        talon_store::StoreError::Conflict(_) => {
            ServiceError::Conflict("The dedupe key's task kept changing while this one was created; try again".into())
        }
        e => e.into(),
    }
}

/// What an update makes of `current` at `at`: the lease rules (a leased task changes only with its token,
/// which the update extends), the state machine, and the lease a `queued → running` update starts.
fn plan_update(current: &Task, update: TaskUpdate, at: DateTime<Utc>) -> Result<Updated, ServiceError> {
    let held = current.lease.as_ref().map(|l| l.token.clone());
    match (held.as_deref(), update.lease_token.as_deref()) {
        (Some(_), None) => {
            return Err(ServiceError::Conflict(
                "This task is leased to a worker: send its `leaseToken` (the task's owner may still cancel \
                 it with POST /api/tasks/:id/cancel)"
                    .into(),
            ));
        }
        (held, Some(token)) if held != Some(token) => {
            return Err(ServiceError::Conflict(
                "The lease token is stale: the task's lease expired or another worker holds it".into(),
            ));
        }
        _ => {}
    }
    let lease_seconds = update.lease_seconds.unwrap_or(DEFAULT_LEASE_SECONDS);
    if !(1..=MAX_LEASE_SECONDS).contains(&lease_seconds) {
        return Err(ValidationErrors::single("leaseSeconds", "Must be from 1 to 3600").into());
    }
    let to = update.status.unwrap_or(current.status);
    let status = current.status.transition(to).map_err(|e| ServiceError::Conflict(e.to_string()))?;
    let mut next = current.clone();
    next.status = status;
    next.updated_at = at;
    if let Some(output) = update.output {
        next.output = Some(output);
    }
    if let Some(error) = update.error {
        next.error = Some(error);
    }
    let mut granted = None;
    match status {
        TaskStatus::Running if current.status == TaskStatus::Queued => {
            next.attempts += 1;
            next.started_at = next.started_at.or(Some(at));
            let lease = Lease { token: lease_token(), expires_at: at + Duration::seconds(lease_seconds) };
            granted = Some(lease.token.clone());
            next.lease = Some(lease);
        }
        TaskStatus::Running => {
            next.lease = held.map(|token| Lease { token, expires_at: at + Duration::seconds(lease_seconds) });
        }
        s if s.is_terminal() => {
            next.completed_at = Some(at);
            next.lease = None;
        }
        _ => {}
    }
    Ok(Updated { task: next, lease_token: granted })
}

/// The event a task entering its status records, if the write changes its status.
fn status_events(next: &Task, expected: TaskStatus) -> Vec<Event> {
    (next.status != expected)
        .then(|| next.status.event())
        .flatten()
        .map(|kind| Event::new(next.owner, kind, next.event_data()))
        .into_iter()
        .collect()
}

fn lease_token() -> String {
    format!("lease_{}", uuid::Uuid::now_v7().simple())
}
