//! `/api/tasks`: work routed to agent versions, and the claim queue for external workers.

pub mod batch;
mod requests;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use talon_domain::task::{Lease, NewTask, Task};
use talon_domain::{Scope, TaskId, ValidationErrors};
use talon_store::ListedTask;
use utoipa::ToSchema;

use super::agent_views::AgentSummary;
use super::pagination::Pagination;
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::json::ApiJson;
use crate::api::extract::{ApiQuery, Bounded};
use crate::auth::Principal;
use crate::services::tasks::{ClaimRequest, CreateTask, DEFAULT_LEASE_SECONDS, TaskListFilter, TaskUpdate};
use talon_domain::agent::AgentRef;

use crate::state::AppState;
pub use requests::{
    ClaimTasksRequest, CreateTaskRequest, ListTasksQuery, TaskExecutor, TaskPriority, TaskStatus, UpdateTaskRequest,
};

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskView {
    id: String,
    agent_id: String,
    version_id: String,
    title: String,
    description: String,
    status: &'static str,
    priority: &'static str,
    executor: &'static str,
    /// Free JSON, as the task was created with.
    input: Value,
    /// Free JSON: the worker's (or Talon's runtime's) answer; null until the task completes.
    output: Option<Value>,
    error: Option<String>,
    attempts: i32,
    max_attempts: i32,
    run_at: DateTime<Utc>,
    dedupe_key: Option<String>,
    lease_expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
}

impl From<Task> for TaskView {
    fn from(t: Task) -> Self {
        TaskView {
            id: t.id.to_string(),
            agent_id: t.agent_id.to_string(),
            version_id: t.version_id.to_string(),
            title: t.title,
            description: t.description,
            status: t.status.as_str(),
            priority: t.priority.as_str(),
            executor: t.executor.as_str(),
            input: t.input,
            output: t.output,
            error: t.error,
            attempts: t.attempts,
            max_attempts: t.max_attempts,
            run_at: t.run_at,
            dedupe_key: t.dedupe_key,
            lease_expires_at: t.lease.map(|l| l.expires_at),
            created_at: t.created_at,
            updated_at: t.updated_at,
            started_at: t.started_at,
            completed_at: t.completed_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskSummary {
    id: String,
    title: String,
    status: &'static str,
    priority: &'static str,
    started_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    agent: AgentSummary,
}

impl From<ListedTask> for TaskSummary {
    fn from(listed: ListedTask) -> Self {
        let t = listed.task;
        TaskSummary {
            id: t.id.to_string(),
            title: t.title,
            status: t.status.as_str(),
            priority: t.priority.as_str(),
            started_at: t.started_at,
            completed_at: t.completed_at,
            created_at: t.created_at,
            agent: AgentSummary { id: t.agent_id.to_string(), name: listed.agent_name },
        }
    }
}

/// A page of the account's tasks, newest first.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"data": [{"id": "task_01a22b0bdc94772c913c45ad7657ac3e", "title": "Review PR #42", "status": "queued",
    "priority": "normal", "startedAt": null, "completedAt": null, "createdAt": "2026-11-30T06:02:07.380958Z",
    "agent": {"id": "agent_01a22b0bdc6474ea95769740ef285ef0", "name": "Support Bot"}}],
    "pagination": {"page": 1, "limit": 20, "total": 1, "totalPages": 1}}))]
pub struct TaskList {
    data: Vec<TaskSummary>,
    pagination: Pagination,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClaimedTask {
    #[serde(flatten)]
    task: TaskView,
    lease_token: String,
}

/// A task after PATCH; `leaseToken` only when this update started it (`queued → running`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdatedTask {
    #[serde(flatten)]
    task: TaskView,
    #[serde(skip_serializing_if = "Option::is_none")]
    lease_token: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ClaimedTasks {
    data: Vec<ClaimedTask>,
}

/// A task id from the path; one that cannot name a task is "not found", as an unknown one is.
fn task_id(raw: &str) -> Result<TaskId, ApiError> {
    TaskId::parse(raw).map_err(|_| ApiError::not_found("Task"))
}

/// An agent named by a filter or a claim; a name no agent can have is "not found", as an unknown one is.
fn agent_filter(raw: Option<String>) -> Result<Option<AgentRef>, ApiError> {
    raw.map(|raw| AgentRef::parse(&raw).ok_or_else(|| ApiError::not_found("Agent"))).transpose()
}

/// Queue a task for an agent, pinned to `versionId` or the agent's current version. `executor` defaults
/// to `runtime` (Talon answers it) when the agent is deployed, else `external` (workers claim it).
#[utoipa::path(post, path = "/api/tasks", operation_id = "createTask",
    tag = "tasks", security(("bearer" = ["tasks:write"])), request_body = CreateTaskRequest,
    responses((status = 201, body = TaskView), (status = 200, body = TaskView, description = "Deduplicated"),
        (status = 400, body = ErrorEnvelope, description = "Unknown or invalid fields"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope, description = "Missing the tasks:write scope"),
        (status = 404, body = ErrorEnvelope, description = "`agentId` or `versionId` names no agent or version of this account"),
        (status = 409, body = ErrorEnvelope, description = "The dedupe key's task kept changing; try again")))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateTaskRequest>,
) -> Result<(StatusCode, Json<TaskView>), ApiError> {
    let caller = principal.with_scope(Scope::TasksWrite)?;
    let request = create_request(body)?;
    let (task, created) = state.tasks.create(&caller, request).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(task.into())))
}

/// The service's request for a new task: the task's own fields checked by the domain, the agent and
/// version named as references. The dashboard's form reads its task through this too.
pub fn create_request(body: CreateTaskRequest) -> Result<CreateTask, ApiError> {
    let (draft, target) = body.split();
    let mut errors = ValidationErrors::new();
    let new =
        NewTask::new(draft).map_err(|e| e.into_fields().into_iter().for_each(|f| errors.add(f.field, f.message))).ok();
    let Some(task) = new else {
        return Err(ApiError::validation(errors));
    };
    // A reference that can name nothing names a resource that does not exist: 404, like a missing one.
    let agent = AgentRef::parse(&target.agent_id).ok_or_else(|| ApiError::not_found("Agent"))?;
    let version = target.version(|| ApiError::not_found("Version"))?;
    Ok(CreateTask { agent, version, executor: target.executor.map(Into::into), task })
}

/// The account's tasks, newest first; filter by `status`, `agentId` (id or slug), `priority`.
#[utoipa::path(get, path = "/api/tasks", operation_id = "listTasks",
    tag = "tasks", security(("bearer" = ["tasks:read"])), params(ListTasksQuery),
    responses((status = 200, body = TaskList), (status = 400, body = ErrorEnvelope, description = "A filter or page out of range"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope, description = "Missing the tasks:read scope"),
        (status = 404, body = ErrorEnvelope, description = "No such agent in reach")))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ListTasksQuery>,
) -> Result<Json<TaskList>, ApiError> {
    let caller = principal.with_scope(Scope::TasksRead)?;
    let (page, window) = query.cursor_page().window(|id| TaskId::parse(id).ok().map(|t| *t.as_uuid()))?;
    let filter = TaskListFilter {
        status: query.status.map(Into::into),
        priority: query.priority.map(Into::into),
        agent: agent_filter(query.agent_id)?,
    };
    let tasks = state.tasks.list(&caller, filter, window).await?;
    Ok(Json(TaskList {
        pagination: Pagination::of_window(page, window, &tasks, |t| t.task.id.to_string()),
        data: tasks.items.into_iter().map(Into::into).collect(),
    }))
}

/// One task with its input, output, attempts and timestamps.
#[utoipa::path(get, path = "/api/tasks/{id}", operation_id = "getTask",
    tag = "tasks", security(("bearer" = ["tasks:read"])),
    params(("id" = String, Path, description = "The task's id")),
    responses((status = 200, body = TaskView), (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope, description = "Missing the tasks:read scope"), (status = 404, body = ErrorEnvelope)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<TaskView>, ApiError> {
    let caller = principal.with_scope(Scope::TasksRead)?;
    Ok(Json(state.tasks.get(&caller, task_id(&id)?).await?.into()))
}

/// Report progress or a result: `status`, `output`, `error`. A leased task (running) changes only with
/// its current `leaseToken`, which extends the lease by `leaseSeconds`. `queued → running` leases the task
/// and returns the new `leaseToken` once.
#[utoipa::path(patch, path = "/api/tasks/{id}", operation_id = "updateTask",
    tag = "tasks", security(("bearer" = ["tasks:write"])),
    params(("id" = String, Path, description = "The task's id")), request_body = UpdateTaskRequest,
    responses((status = 200, body = UpdatedTask), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope, description = "Missing the tasks:write scope"), (status = 404, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope, description = "Illegal transition, or a missing or stale lease token")))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateTaskRequest>,
) -> Result<Json<UpdatedTask>, ApiError> {
    let caller = principal.with_scope(Scope::TasksWrite)?;
    let update = TaskUpdate {
        status: body.status.map(Into::into),
        output: body.output.into_json(),
        error: body.error,
        lease_token: body.lease_token,
        lease_seconds: body.lease_seconds.map(Bounded::get),
    };
    let updated = state.tasks.update(&caller, task_id(&id)?, update).await?;
    Ok(Json(UpdatedTask { task: updated.task.into(), lease_token: updated.lease_token }))
}

/// Cancel a queued or running task. The account's own cancel: no lease token needed.
#[utoipa::path(post, path = "/api/tasks/{id}/cancel", operation_id = "cancelTask",
    tag = "tasks", security(("bearer" = ["tasks:write"])),
    params(("id" = String, Path, description = "The task's id")),
    responses((status = 200, body = TaskView), (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope, description = "Missing the tasks:write scope"), (status = 404, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope, description = "The task has already finished")))]
pub async fn cancel(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<TaskView>, ApiError> {
    let caller = principal.with_scope(Scope::TasksWrite)?;
    Ok(Json(state.tasks.cancel(&caller, task_id(&id)?).await?.into()))
}

/// Claim up to `limit` runnable tasks (highest priority, then oldest), each leased for `leaseSeconds`.
/// With `waitSeconds` (up to 30), an empty queue holds the request until a task arrives. `agentId` (id or
/// slug) narrows the claim to one agent; an agent out of reach is 404.
#[utoipa::path(post, path = "/api/tasks/claim", operation_id = "claimTasks",
    tag = "tasks", security(("bearer" = ["tasks:write"])), request_body = ClaimTasksRequest,
    responses((status = 200, body = ClaimedTasks), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope, description = "Missing the tasks:write scope"),
        (status = 404, body = ErrorEnvelope, description = "No such agent in reach")))]
pub async fn claim(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<ClaimTasksRequest>,
) -> Result<Json<ClaimedTasks>, ApiError> {
    let caller = principal.with_scope(Scope::TasksWrite)?;
    let request = ClaimRequest {
        agent: agent_filter(body.agent_id)?,
        limit: body.limit.map_or(1, Bounded::get),
        lease_seconds: body.lease_seconds.map_or(DEFAULT_LEASE_SECONDS, Bounded::get),
        wait_seconds: body.wait_seconds.map_or(0, Bounded::get),
    };
    let (tasks, lease) = state.tasks.claim(&caller, request).await?;
    Ok(Json(ClaimedTasks { data: tasks.into_iter().map(|t| claimed(t, &lease)).collect() }))
}

fn claimed(task: Task, lease: &Lease) -> ClaimedTask {
    ClaimedTask { task: task.into(), lease_token: lease.token.clone() }
}
