//! Batched task calls: `POST /api/tasks/batch` creates up to 1,000 tasks all or none;
//! `POST /api/tasks/complete` and `POST /api/tasks/fail` end up to 1,000 leased tasks, each on its own.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use talon_domain::agent::AgentRef;
use talon_domain::task::{NewTask, TaskStatus};
use talon_domain::{Scope, TaskId, ValidationErrors};
use utoipa::ToSchema;

use super::{CreateTaskRequest, TaskView};
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::json::ApiJson;
use crate::api::extract::{Patch, free_json};
use crate::auth::Principal;
use crate::services::ServiceError;
use crate::services::tasks::{CreateTask, Finish, FinishOutcome, MAX_BATCH};
use crate::state::AppState;

/// `POST /api/tasks/batch`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"tasks": [
    {"agentId": "code-reviewer", "title": "Review PR #42", "dedupeKey": "pr-42"},
    {"agentId": "code-reviewer", "title": "Review PR #43", "priority": "high", "input": {"pr_number": 43}}
]}))]
pub struct CreateTasksRequest {
    /// 1 to 1000 tasks, each as `POST /api/tasks` takes it. (Read as empty when left out, so that a bad
    /// task is reported by its own fields rather than as a missing list.)
    #[serde(default)]
    #[schema(required = true, min_items = 1, max_items = 1000)]
    pub tasks: Vec<CreateTaskRequest>,
}

/// One task to complete.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CompleteTaskItem {
    /// The task's id.
    pub id: String,
    /// The token of the lease the task is held under (from the claim).
    pub lease_token: String,
    /// Free JSON; replaces the task's output (kept as it is when absent).
    #[serde(default, deserialize_with = "free_json::object")]
    #[schema(value_type = Option<Object>)]
    pub output: Patch<Value>,
}

/// `POST /api/tasks/complete`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"tasks": [
    {"id": "task_01a22b0bdc94772c913c45ad7657ac3e", "leaseToken": "lease_0193a4c1e5d27c3e8f1a2b3c4d5e6f70", "output": {"approved": true}}
]}))]
pub struct CompleteTasksRequest {
    /// 1 to 1000 leased tasks, each named once.
    #[serde(default)]
    #[schema(required = true, min_items = 1, max_items = 1000)]
    pub tasks: Vec<CompleteTaskItem>,
}

/// One task to fail.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FailTaskItem {
    /// The task's id.
    pub id: String,
    /// The token of the lease the task is held under (from the claim).
    pub lease_token: String,
    /// Why the task failed.
    pub error: Option<String>,
}

/// `POST /api/tasks/fail`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"tasks": [
    {"id": "task_01a22b0bdc94772c913c45ad7657ac3e", "leaseToken": "lease_0193a4c1e5d27c3e8f1a2b3c4d5e6f70", "error": "Repository not found"}
]}))]
pub struct FailTasksRequest {
    /// 1 to 1000 leased tasks, each named once.
    #[serde(default)]
    #[schema(required = true, min_items = 1, max_items = 1000)]
    pub tasks: Vec<FailTaskItem>,
}

/// A task of a batch create; `created` is false when its dedupe key named a queued or running task (or
/// an earlier task of the batch), which this is.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchCreatedTask {
    #[serde(flatten)]
    task: TaskView,
    created: bool,
}

/// The batch's tasks, in the order they were sent.
#[derive(Serialize, ToSchema)]
pub struct CreatedTasks {
    data: Vec<BatchCreatedTask>,
}

/// Why one task of a batch was not ended: the code and message its own `PATCH` would have answered
/// (`NOT_FOUND`, or `CONFLICT` for a missing or stale lease token or a task that is not running).
#[derive(Serialize, ToSchema)]
pub struct ItemError {
    code: &'static str,
    message: String,
}

/// One task's outcome: `ok` with the task as it now is, or not, with the error.
#[derive(Serialize, ToSchema)]
pub struct FinishedTask {
    /// The id as it was sent.
    id: String,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    task: Option<TaskView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ItemError>,
}

/// One outcome per task, in the order they were sent.
#[derive(Serialize, ToSchema)]
pub struct FinishedTasks {
    data: Vec<FinishedTask>,
}

/// Queue up to 1,000 tasks in one call, all or none: any invalid task is a 400 naming it
/// (`tasks[3].title`) and an agent or version out of reach a 404 naming it (`tasks[3].agentId`), and
/// nothing is created. A task whose `dedupeKey` a queued or running task holds is not created: that task
/// is returned in its place (`created: false`); so is a task whose key an earlier task of the same batch
/// carries (it gets that task). 201 when at least one task was created, 200 when none was.
#[utoipa::path(post, path = "/api/tasks/batch", operation_id = "createTasks",
    tag = "tasks", security(("bearer" = ["tasks:write"])), request_body = CreateTasksRequest,
    responses((status = 201, body = CreatedTasks), (status = 200, body = CreatedTasks, description = "Every task was deduplicated"),
        (status = 400, body = ErrorEnvelope, description = "Unknown or invalid fields, or not 1 to 1000 tasks; each named by its index"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope, description = "Missing the tasks:write scope"),
        (status = 404, body = ErrorEnvelope, description = "A task's `agentId` or `versionId` names no agent or version of this account (named in `details`)"),
        (status = 409, body = ErrorEnvelope, description = "A dedupe key's task kept changing; try again")))]
pub async fn create_batch(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateTasksRequest>,
) -> Result<(StatusCode, Json<CreatedTasks>), ApiError> {
    let caller = principal.with_scope(Scope::TasksWrite)?;
    check_count(body.tasks.len())?;
    let mut errors = ValidationErrors::new();
    let mut checked = Vec::with_capacity(body.tasks.len());
    for (index, item) in body.tasks.into_iter().enumerate() {
        let (draft, target) = item.split();
        match NewTask::new(draft) {
            Ok(task) => checked.push((task, target)),
            Err(invalid) => {
                for field in invalid.into_fields() {
                    errors.add(format!("tasks[{index}].{}", field.field), field.message);
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let mut requests = Vec::with_capacity(checked.len());
    for (index, (task, target)) in checked.into_iter().enumerate() {
        // A reference that can name nothing names a resource that does not exist: 404, like a missing one.
        let agent = AgentRef::parse(&target.agent_id).ok_or_else(|| not_found_at("Agent", index, "agentId"))?;
        let version = target.version(|| not_found_at("Version", index, "versionId"))?;
        requests.push(CreateTask { agent, version, executor: target.executor.map(Into::into), task });
    }
    let results = state.tasks.create_batch(&caller, requests).await?;
    let status = if results.iter().any(|r| r.created) { StatusCode::CREATED } else { StatusCode::OK };
    let data = results.into_iter().map(|r| BatchCreatedTask { task: r.task.into(), created: r.created }).collect();
    Ok((status, Json(CreatedTasks { data })))
}

/// Complete up to 1,000 leased tasks in one call, each with its `leaseToken` and optional `output`, as
/// `PATCH /api/tasks/:id` with `status: completed` would. Each task succeeds or fails on its own: one
/// whose lease lapsed (or another worker holds) is refused with `CONFLICT` and the rest still complete;
/// another account's task, or an unknown one, is `NOT_FOUND`. A task named twice is a 400.
#[utoipa::path(post, path = "/api/tasks/complete", operation_id = "completeTasks",
    tag = "tasks", security(("bearer" = ["tasks:write"])), request_body = CompleteTasksRequest,
    responses((status = 200, body = FinishedTasks, description = "One outcome per task, in order"),
        (status = 400, body = ErrorEnvelope, description = "Invalid fields, not 1 to 1000 tasks, or a task named twice"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope, description = "Missing the tasks:write scope")))]
pub async fn complete_batch(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CompleteTasksRequest>,
) -> Result<Json<FinishedTasks>, ApiError> {
    let caller = principal.with_scope(Scope::TasksWrite)?;
    let items = body.tasks.into_iter().map(|item| (item.id, item.lease_token, item.output.into_json(), None)).collect();
    finish(&state, &caller, TaskStatus::Completed, items).await
}

/// Fail up to 1,000 leased tasks in one call, each with its `leaseToken` and optional `error`, as
/// `PATCH /api/tasks/:id` with `status: failed` would (for good: a failed task is not retried). Each task
/// succeeds or fails on its own, as for `POST /api/tasks/complete`.
#[utoipa::path(post, path = "/api/tasks/fail", operation_id = "failTasks",
    tag = "tasks", security(("bearer" = ["tasks:write"])), request_body = FailTasksRequest,
    responses((status = 200, body = FinishedTasks, description = "One outcome per task, in order"),
        (status = 400, body = ErrorEnvelope, description = "Invalid fields, not 1 to 1000 tasks, or a task named twice"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope, description = "Missing the tasks:write scope")))]
pub async fn fail_batch(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<FailTasksRequest>,
) -> Result<Json<FinishedTasks>, ApiError> {
    let caller = principal.with_scope(Scope::TasksWrite)?;
    let items = body.tasks.into_iter().map(|item| (item.id, item.lease_token, None, item.error)).collect();
    finish(&state, &caller, TaskStatus::Failed, items).await
}

/// (id as sent, lease token, output, error)
type RawFinish = (String, String, Option<Value>, Option<String>);

/// Ends the tasks that an id can name; an id that cannot name a task is "not found", as on its own path.
async fn finish(
    state: &AppState,
    caller: &crate::services::Caller,
    status: TaskStatus,
    items: Vec<RawFinish>,
) -> Result<Json<FinishedTasks>, ApiError> {
    check_count(items.len())?;
    let mut first: HashMap<TaskId, usize> = HashMap::with_capacity(items.len());
    let mut errors = ValidationErrors::new();
    let ids: Vec<Option<TaskId>> = items.iter().map(|(id, ..)| TaskId::parse(id).ok()).collect();
    for (index, id) in ids.iter().enumerate() {
        if let Some(earlier) = id.and_then(|id| first.insert(id, index)) {
            errors.add(format!("tasks[{index}].id"), format!("Names the same task as tasks[{earlier}]"));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let mut sent = Vec::with_capacity(items.len());
    let mut finishes = Vec::with_capacity(items.len());
    for ((raw, lease_token, output, error), id) in items.into_iter().zip(&ids) {
        if let Some(id) = id {
            finishes.push(Finish { id: *id, lease_token, output, error });
        }
        sent.push(raw);
    }
    let mut outcomes = state.tasks.finish_batch(caller, status, finishes).await?.into_iter();
    let mut data = Vec::with_capacity(sent.len());
    for (raw, id) in sent.into_iter().zip(ids) {
        let outcome = match id {
            Some(_) => outcomes.next().ok_or_else(|| ApiError::internal("a batch outcome is missing"))?,
            None => FinishOutcome::Refused(ServiceError::NotFound("Task")),
        };
        data.push(match outcome {
            FinishOutcome::Finished(task) => {
                FinishedTask { id: raw, ok: true, task: Some((*task).into()), error: None }
            }
            FinishOutcome::Refused(refusal) => {
                let refusal = ApiError::from(refusal);
                let error = ItemError { code: refusal.public_code(), message: refusal.message().to_owned() };
                FinishedTask { id: raw, ok: false, task: None, error: Some(error) }
            }
        });
    }
    Ok(Json(FinishedTasks { data }))
}

fn check_count(len: usize) -> Result<(), ApiError> {
    if (1..=MAX_BATCH).contains(&len) {
        return Ok(());
    }
    Err(ApiError::validation(ValidationErrors::single("tasks", "Must hold 1 to 1000 tasks")))
}

fn not_found_at(what: &'static str, index: usize, field: &str) -> ApiError {
    ServiceError::NotFoundAt { what, field: format!("tasks[{index}].{field}") }.into()
}
