//! `/api/tasks`: work routed to agent versions, and the claim queue for external workers.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use talon_domain::task::{Lease, Task, TaskStatus};
use talon_domain::{Scope, ValidationErrors};
use talon_store::ListedTask;
use utoipa::ToSchema;

use super::agent_views::AgentRef;
use super::pagination::{PageQuery, Pagination};
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::ApiQuery;
use crate::api::extract::json::{ApiJson, JsonObject, optional_string};
use crate::auth::Principal;
use crate::services::tasks::{ClaimRequest, DEFAULT_LEASE_SECONDS, TaskUpdate, parse_filter};
use crate::state::AppState;

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
    #[schema(value_type = Object)]
    input: Value,
    #[schema(value_type = Object)]
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
    agent: AgentRef,
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
            agent: AgentRef { id: t.agent_id.to_string(), name: listed.agent_name },
        }
    }
}

#[derive(Serialize, ToSchema)]
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

/// Queue a task for an agent, pinned to `versionId` or the agent's current version. `executor` defaults
/// to `runtime` (Talon answers it) when the agent is deployed, else `external` (workers claim it).
#[utoipa::path(post, path = "/api/tasks", operation_id = "createTask",
    tag = "tasks", security(("bearer" = ["tasks:write"])), request_body = Object,
    responses((status = 201, body = TaskView), (status = 200, body = TaskView, description = "Deduplicated"),
        (status = 400, body = ErrorEnvelope)))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<JsonObject>,
) -> Result<(StatusCode, Json<TaskView>), ApiError> {
    let caller = principal.with_scope(Scope::TasksWrite)?;
    let (task, created) = state.tasks.create(&caller, &body).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(task.into())))
}

// Never built: the `status` and `priority` filters parse into the domain's types; these give the
// document the values those accept.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum StatusFilter {
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum PriorityFilter {
    Low,
    Normal,
    High,
    Urgent,
}

/// The account's tasks, newest first; filter by `status`, `agentId` (id or slug), `priority`.
#[utoipa::path(get, path = "/api/tasks", operation_id = "listTasks",
    tag = "tasks", security(("bearer" = ["tasks:read"])),
    params(("status" = inline(Option<StatusFilter>), Query), ("agentId" = Option<String>, Query, description = "Agent id (agent_… or UUID) or slug"),
        ("priority" = inline(Option<PriorityFilter>), Query), PageQuery),
    responses((status = 200, body = TaskList), (status = 400, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope, description = "No such agent in reach")))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(params): Query<HashMap<String, String>>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<TaskList>, ApiError> {
    let caller = principal.with_scope(Scope::TasksRead)?;
    let (page, limit, offset) = page.resolve();
    let filter = parse_filter(&params).map_err(ApiError::validation)?;
    let agent = params.get("agentId").map(String::as_str);
    let tasks = state.tasks.list(&caller, filter, agent, offset, limit).await?;
    Ok(Json(TaskList {
        pagination: Pagination::new(page, limit, tasks.total),
        data: tasks.items.into_iter().map(Into::into).collect(),
    }))
}

/// One task with its input, output, attempts and timestamps.
#[utoipa::path(get, path = "/api/tasks/{id}", operation_id = "getTask",
    tag = "tasks", security(("bearer" = ["tasks:read"])),
    params(("id" = String, Path)), responses((status = 200, body = TaskView), (status = 404, body = ErrorEnvelope)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<TaskView>, ApiError> {
    let caller = principal.with_scope(Scope::TasksRead)?;
    Ok(Json(state.tasks.get(&caller, &id).await?.into()))
}

/// Report progress or a result: `status`, `output`, `error`. A leased task (running) changes only with
/// its current `leaseToken`, which extends the lease by `leaseSeconds`. `queued → running` leases the task
/// and returns the new `leaseToken` once.
#[utoipa::path(patch, path = "/api/tasks/{id}", operation_id = "updateTask",
    tag = "tasks", security(("bearer" = ["tasks:write"])),
    params(("id" = String, Path)), request_body = Object,
    responses((status = 200, body = UpdatedTask), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope, description = "Illegal transition, or a missing or stale lease token")))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<JsonObject>,
) -> Result<Json<UpdatedTask>, ApiError> {
    let caller = principal.with_scope(Scope::TasksWrite)?;
    let mut errors = ValidationErrors::new();
    let status = match optional_string(&body, "status")? {
        Some(s) => s.parse::<TaskStatus>().map_err(|m| errors.add("status", m)).ok(),
        None => None,
    };
    let lease_seconds = match body.get("leaseSeconds") {
        None | Some(Value::Null) => None,
        Some(v) => v.as_i64().or_else(|| {
            errors.add("leaseSeconds", "Must be an integer");
            None
        }),
    };
    let update = TaskUpdate {
        status,
        output: body.get("output").cloned(),
        error: optional_string(&body, "error")?,
        lease_token: optional_string(&body, "leaseToken")?,
        lease_seconds,
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let updated = state.tasks.update(&caller, &id, update).await?;
    Ok(Json(UpdatedTask { task: updated.task.into(), lease_token: updated.lease_token }))
}

/// Cancel a queued or running task. The account's own cancel: no lease token needed.
#[utoipa::path(post, path = "/api/tasks/{id}/cancel", operation_id = "cancelTask",
    tag = "tasks", security(("bearer" = ["tasks:write"])),
    params(("id" = String, Path)),
    responses((status = 200, body = TaskView), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
pub async fn cancel(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<TaskView>, ApiError> {
    let caller = principal.with_scope(Scope::TasksWrite)?;
    Ok(Json(state.tasks.cancel(&caller, &id).await?.into()))
}

/// Claim up to `limit` runnable tasks (highest priority, then oldest), each leased for `leaseSeconds`.
/// With `waitSeconds` (up to 30), an empty queue holds the request until a task arrives. `agentId` (id or
/// slug) narrows the claim to one agent; an agent out of reach is 404.
#[utoipa::path(post, path = "/api/tasks/claim", operation_id = "claimTasks",
    tag = "tasks", security(("bearer" = ["tasks:write"])), request_body = Object,
    responses((status = 200, body = ClaimedTasks), (status = 400, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope)))]
pub async fn claim(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<JsonObject>,
) -> Result<Json<ClaimedTasks>, ApiError> {
    let caller = principal.with_scope(Scope::TasksWrite)?;
    let mut errors = ValidationErrors::new();
    let agent = optional_string(&body, "agentId")?;
    let number = |field: &str, default: i64, errors: &mut ValidationErrors| match body.get(field) {
        None | Some(Value::Null) => default,
        Some(v) => v.as_i64().unwrap_or_else(|| {
            errors.add(field, "Must be an integer");
            default
        }),
    };
    let limit = number("limit", 1, &mut errors);
    let lease_seconds = number("leaseSeconds", DEFAULT_LEASE_SECONDS, &mut errors);
    let wait_seconds = number("waitSeconds", 0, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let request = ClaimRequest { agent, limit, lease_seconds, wait_seconds };
    let (tasks, lease) = state.tasks.claim(&caller, request).await?;
    Ok(Json(ClaimedTasks { data: tasks.into_iter().map(|t| claimed(t, &lease)).collect() }))
}

fn claimed(task: Task, lease: &Lease) -> ClaimedTask {
    ClaimedTask { task: task.into(), lease_token: lease.token.clone() }
}
