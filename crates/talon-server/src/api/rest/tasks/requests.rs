//! What the task routes accept: one typed body or query per endpoint, and the closed sets of values
//! (status, priority, executor) as enums so that the document lists them.

use serde::Deserialize;
use serde_json::Value;
use talon_domain::ValidationErrors;
use talon_domain::agent::VersionRef;
use talon_domain::task::{self, TaskDraft};
use utoipa::{IntoParams, ToSchema};

use crate::api::error::ApiError;
use crate::api::extract::{Bounded, Patch, free_json};
use crate::api::rest::agent_inputs::VersionSelector;
use crate::api::rest::pagination::{CursorPageQuery, MAX_LIMIT};

/// Where a task is in its lifecycle: `queued → running → completed | failed`, `queued | running →
/// cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl From<TaskStatus> for task::TaskStatus {
    fn from(status: TaskStatus) -> Self {
        match status {
            TaskStatus::Queued => task::TaskStatus::Queued,
            TaskStatus::Running => task::TaskStatus::Running,
            TaskStatus::Completed => task::TaskStatus::Completed,
            TaskStatus::Failed => task::TaskStatus::Failed,
            TaskStatus::Cancelled => task::TaskStatus::Cancelled,
        }
    }
}

/// Claims take higher priorities first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskPriority {
    Low,
    Normal,
    High,
    Urgent,
}

impl From<TaskPriority> for task::Priority {
    fn from(priority: TaskPriority) -> Self {
        match priority {
            TaskPriority::Low => task::Priority::Low,
            TaskPriority::Normal => task::Priority::Normal,
            TaskPriority::High => task::Priority::High,
            TaskPriority::Urgent => task::Priority::Urgent,
        }
    }
}

/// Who works a task: `runtime` (Talon answers it with the agent's model) or `external` (workers claim it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskExecutor {
    External,
    Runtime,
}

impl From<TaskExecutor> for task::Executor {
    fn from(executor: TaskExecutor) -> Self {
        match executor {
            TaskExecutor::External => task::Executor::External,
            TaskExecutor::Runtime => task::Executor::Runtime,
        }
    }
}

/// `POST /api/tasks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({
    "agentId": "code-reviewer", "title": "Review PR #42", "priority": "high",
    "input": {"pr_number": 42, "repository": "myorg/myrepo"}, "dedupeKey": "pr-42"
}))]
pub struct CreateTaskRequest {
    /// The agent's id (`agent_…` or UUID) or slug.
    pub agent_id: String,
    /// A version of that agent to pin the task to: its id, number or label (`production`); the agent's
    /// current version when absent.
    pub version_id: Option<String>,
    /// The version to pin the task to (instead of `versionId`): a number or a label.
    pub version: Option<VersionSelector>,
    /// 1 to 200 characters (trimmed), not only whitespace.
    #[schema(min_length = 1, max_length = 200, pattern = "^[^\\x00]*[^\\s\\x00][^\\x00]*$")]
    pub title: String,
    /// At most 10000 characters.
    #[schema(max_length = 10000)]
    pub description: Option<String>,
    /// `normal` when absent.
    pub priority: Option<TaskPriority>,
    /// `runtime` when the agent is deployed, else `external`, when absent.
    pub executor: Option<TaskExecutor>,
    /// Free JSON handed to whoever works the task, at most 1 MB; `{}` when absent.
    #[serde(default, deserialize_with = "free_json::object")]
    #[schema(value_type = Option<Object>)]
    pub input: Patch<Value>,
    /// How many times the task may be started, 1 to 100 (3 when absent).
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub max_attempts: Option<Bounded<1, 100>>,
    /// Not claimable before this time (RFC 3339).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub run_at: Option<String>,
    /// While a queued or running task holds this key, creating another with it returns that task (200).
    #[schema(min_length = 1, max_length = 255)]
    pub dedupe_key: Option<String>,
}

/// Where a new task goes: the agent, the version and the executor as the request names them.
#[derive(Debug)]
pub struct TaskTarget {
    pub agent_id: String,
    pub version_id: Option<String>,
    pub version: Option<VersionSelector>,
    pub executor: Option<TaskExecutor>,
}

impl CreateTaskRequest {
    /// The task's own fields (for the domain to check) and where it goes (for the service to resolve).
    pub fn split(self) -> (TaskDraft, TaskTarget) {
        let input = self.input.into_json();
        let draft = TaskDraft {
            title: self.title,
            description: self.description,
            priority: self.priority.map(Into::into),
            input,
            max_attempts: self.max_attempts.map(Bounded::get),
            run_at: self.run_at,
            dedupe_key: self.dedupe_key,
        };
        (
            draft,
            TaskTarget {
                agent_id: self.agent_id,
                version_id: self.version_id,
                version: self.version,
                executor: self.executor,
            },
        )
    }
}

/// `PATCH /api/tasks/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"status": "completed", "output": {"approved": true}, "leaseToken": "lease_0193a4c1e5d27c3e8f1a2b3c4d5e6f70"}))]
pub struct UpdateTaskRequest {
    /// The status to move to; the task's current status when absent (a progress update).
    pub status: Option<TaskStatus>,
    /// Free JSON; replaces the task's output.
    #[serde(default, deserialize_with = "free_json::object")]
    #[schema(value_type = Option<Object>)]
    pub output: Patch<Value>,
    /// Why the task failed.
    pub error: Option<String>,
    /// The lease of a running task; required while the task is leased.
    pub lease_token: Option<String>,
    /// How long the lease lasts from now, 1 to 3600 seconds (60 when absent).
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 3600)]
    pub lease_seconds: Option<Bounded<1, 3600>>,
}

/// `POST /api/tasks/claim`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"agentId": "code-reviewer", "limit": 5, "leaseSeconds": 120, "waitSeconds": 20}))]
pub struct ClaimTasksRequest {
    /// Only this agent's tasks: its id (`agent_…` or UUID) or slug.
    pub agent_id: Option<String>,
    /// How many tasks to claim at most, 1 to 100 (1 when absent).
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<Bounded<1, 100>>,
    /// How long each lease lasts, 1 to 3600 seconds (60 when absent).
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 3600)]
    pub lease_seconds: Option<Bounded<1, 3600>>,
    /// With nothing to claim, wait up to this long for a task, 0 to 30 seconds (0 when absent).
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 30)]
    pub wait_seconds: Option<Bounded<0, 30>>,
}

/// `GET /api/tasks`: filters and the page.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListTasksQuery {
    /// Only tasks in this status.
    #[param(inline)]
    pub status: Option<TaskStatus>,
    /// Only tasks of this priority.
    #[param(inline)]
    pub priority: Option<TaskPriority>,
    /// Only this agent's tasks: its id (`agent_…` or UUID) or slug.
    pub agent_id: Option<String>,
    /// The page, from 1 (not with a cursor).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 2147483647, default = 1)]
    pub page: Option<Bounded<1, 2147483647>>,
    /// Items a page, 1 to 100.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<Bounded<1, MAX_LIMIT>>,
    /// A task's id: the page holds the (older) tasks after it. A response's `pagination.nextCursor`.
    /// Not with `page` or `endingBefore`.
    #[param(
        pattern = "^(task_[0-9a-f]{32}|[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
    )]
    pub starting_after: Option<String>,
    /// A task's id: the page holds the (newer) tasks just before it. Not with `page` or `startingAfter`.
    #[param(
        pattern = "^(task_[0-9a-f]{32}|[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
    )]
    pub ending_before: Option<String>,
}

impl ListTasksQuery {
    /// The page or cursor asked for.
    pub fn cursor_page(&self) -> CursorPageQuery {
        CursorPageQuery {
            page: self.page,
            limit: self.limit,
            starting_after: self.starting_after.clone(),
            ending_before: self.ending_before.clone(),
        }
    }
}

impl TaskTarget {
    /// The version the task is pinned to, if any: `versionId` or `version`, not both (400). Text that can
    /// name no version is 404 at `field`'s place (`not_found`).
    pub fn version(&self, not_found: impl Fn() -> ApiError) -> Result<Option<VersionRef>, ApiError> {
        let text = match (&self.version_id, &self.version) {
            (Some(_), Some(_)) => {
                return Err(ApiError::validation(ValidationErrors::single(
                    "version",
                    "Send versionId or version, not both",
                )));
            }
            (Some(text), None) | (None, Some(VersionSelector::Id(text))) => text,
            (None, Some(VersionSelector::Number(n))) => return Ok(Some(VersionRef::Number(n.get()))),
            (None, None) => return Ok(None),
        };
        VersionRef::parse(text).map(Some).ok_or_else(not_found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::extract::json::parse;

    #[test]
    fn every_unknown_field_is_named() {
        let err =
            parse::<CreateTaskRequest>(br#"{"agentId": "a", "title": "t", "colour": 1, "prio": "high"}"#).unwrap_err();
        let fields: Vec<_> = err.details().iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["colour", "prio"]);
    }

    #[test]
    fn claim_ranges_are_checked_together() {
        let err = parse::<ClaimTasksRequest>(br#"{"limit": 0, "leaseSeconds": 3601, "waitSeconds": 31}"#).unwrap_err();
        let fields: Vec<_> = err.details().iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["limit", "leaseSeconds", "waitSeconds"]);
        let ok = parse::<ClaimTasksRequest>(br#"{"limit": 100, "leaseSeconds": 3600, "waitSeconds": 0}"#).unwrap();
        assert_eq!(ok.limit.map(Bounded::get), Some(100));
    }

    #[test]
    fn null_input_and_output_are_kept_as_null() {
        let create = parse::<CreateTaskRequest>(br#"{"agentId": "a", "title": "t", "input": null}"#).unwrap();
        let (draft, target) = create.split();
        assert_eq!((draft.input, target.agent_id.as_str()), (Some(Value::Null), "a"));
        let update = parse::<UpdateTaskRequest>(br#"{"output": null}"#).unwrap();
        assert_eq!(update.output, Patch::Null);
    }
}
