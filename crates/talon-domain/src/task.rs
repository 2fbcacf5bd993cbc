//! Tasks: work routed to an agent version, worked by Talon's runtime or by external workers through
//! leased claims. The lifecycle is a state machine; every rule here is pure.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::id::{AgentId, TaskId, UserId, VersionId};
use crate::validation::ValidationErrors;

pub const INPUT_MAX_BYTES: usize = 1024 * 1024;
pub const DEFAULT_MAX_ATTEMPTS: i32 = 3;
const MAX_ATTEMPTS_LIMIT: i32 = 100;
const TITLE_MAX_CHARS: usize = 200;
const DESCRIPTION_MAX_CHARS: usize = 10_000;
const DEDUPE_KEY_MAX_CHARS: usize = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskStatus {
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a task cannot go from {from} to {to}")]
pub struct IllegalTransition {
    pub from: TaskStatus,
    pub to: TaskStatus,
}

impl TaskStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Queued => "queued",
            TaskStatus::Running => "running",
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
        }
    }

    pub const fn is_terminal(self) -> bool {
        matches!(self, TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Cancelled)
    }

    /// `queued → running → completed | failed`, `queued | running → cancelled`. Staying `running` is a
    /// progress update.
    pub fn transition(self, to: TaskStatus) -> Result<TaskStatus, IllegalTransition> {
        use TaskStatus::*;
        match (self, to) {
            (Queued, Running)
            | (Running, Running)
            | (Running, Completed)
            | (Running, Failed)
            | (Queued | Running, Cancelled) => Ok(to),
            (from, to) => Err(IllegalTransition { from, to }),
        }
    }

    /// The event a task entering this status emits.
    pub const fn event(self) -> Option<&'static str> {
        match self {
            TaskStatus::Queued => None,
            TaskStatus::Running => Some(crate::event::TASK_STARTED),
            TaskStatus::Completed => Some(crate::event::TASK_COMPLETED),
            TaskStatus::Failed => Some(crate::event::TASK_FAILED),
            TaskStatus::Cancelled => Some(crate::event::TASK_CANCELLED),
        }
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "queued" => Ok(TaskStatus::Queued),
            "running" => Ok(TaskStatus::Running),
            "completed" => Ok(TaskStatus::Completed),
            "failed" => Ok(TaskStatus::Failed),
            "cancelled" => Ok(TaskStatus::Cancelled),
            _ => Err("Must be one of queued, running, completed, failed, cancelled".into()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub const fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    /// Claims take higher ranks first.
    pub const fn rank(self) -> i32 {
        match self {
            Priority::Low => 0,
            Priority::Normal => 1,
            Priority::High => 2,
            Priority::Urgent => 3,
        }
    }

    pub fn from_rank(rank: i32) -> Option<Priority> {
        [Priority::Low, Priority::Normal, Priority::High, Priority::Urgent].into_iter().find(|p| p.rank() == rank)
    }
}

impl FromStr for Priority {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "low" => Ok(Priority::Low),
            "normal" => Ok(Priority::Normal),
            "high" => Ok(Priority::High),
            "urgent" => Ok(Priority::Urgent),
            _ => Err("Must be one of low, normal, high, urgent".into()),
        }
    }
}

/// Who works a task: Talon's own runtime, or external workers that claim it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Executor {
    External,
    Runtime,
}

impl Executor {
    /// Who works a task created without `executor`: Talon's runtime when the agent is deployed (it is
    /// serving), else external workers.
    pub const fn default_for(agent_deployed: bool) -> Executor {
        if agent_deployed { Executor::Runtime } else { Executor::External }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Executor::External => "external",
            Executor::Runtime => "runtime",
        }
    }
}

impl FromStr for Executor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "external" => Ok(Executor::External),
            "runtime" => Ok(Executor::Runtime),
            _ => Err("Must be external or runtime".into()),
        }
    }
}

/// A worker's hold on a running task: updates must carry the token, and the hold lapses at `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: TaskId,
    pub owner: UserId,
    pub agent_id: AgentId,
    /// The version pinned when the task was created.
    pub version_id: VersionId,
    pub title: String,
    pub description: String,
    pub priority: Priority,
    pub status: TaskStatus,
    pub executor: Executor,
    pub input: Value,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
    pub dedupe_key: Option<String>,
    pub lease: Option<Lease>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// The first retry of a runtime task waits this long; each further one waits twice as long as the one
/// before, up to `RETRY_BACKOFF_MAX`.
pub const RETRY_BACKOFF_BASE: std::time::Duration = std::time::Duration::from_secs(1);
pub const RETRY_BACKOFF_MAX: std::time::Duration = std::time::Duration::from_secs(300);

/// How long a task waits before its next attempt after attempt number `attempts` failed: 1 s, 2 s, 4 s, …
/// up to 5 minutes. An upstream's `Retry-After` lengthens the wait (never beyond the cap): retrying
/// before it would only be refused again.
pub fn retry_backoff(attempts: i32, retry_after: Option<std::time::Duration>) -> std::time::Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(16);
    let backoff = RETRY_BACKOFF_BASE.saturating_mul(1 << doublings);
    backoff.max(retry_after.unwrap_or_default()).min(RETRY_BACKOFF_MAX)
}

impl Task {
    /// A running task's transient failure: it goes back to `queued`, runnable after the backoff, with
    /// the error kept so that its reader sees why. `None` when it is not running or its attempts are
    /// spent (then it fails instead). Only Talon's runtime does this: a PATCH may never move a task from
    /// running to queued.
    pub fn retry_later(
        &self,
        at: DateTime<Utc>,
        error: impl Into<String>,
        retry_after: Option<std::time::Duration>,
    ) -> Option<Task> {
        if self.status != TaskStatus::Running || self.attempts >= self.max_attempts {
            return None;
        }
        let wait = chrono::Duration::from_std(retry_backoff(self.attempts, retry_after)).ok()?;
        Some(Task {
            status: TaskStatus::Queued,
            error: Some(error.into()),
            lease: None,
            run_at: at + wait,
            updated_at: at,
            ..self.clone()
        })
    }

    /// The task finished with `output`.
    pub fn complete(&self, at: DateTime<Utc>, output: Value) -> Result<Task, IllegalTransition> {
        let status = self.status.transition(TaskStatus::Completed)?;
        Ok(Task { status, output: Some(output), error: None, ..self.finished(at) })
    }

    /// The task failed for good with `error`.
    pub fn fail(&self, at: DateTime<Utc>, error: impl Into<String>) -> Result<Task, IllegalTransition> {
        let status = self.status.transition(TaskStatus::Failed)?;
        Ok(Task { status, error: Some(error.into()), ..self.finished(at) })
    }

    fn finished(&self, at: DateTime<Utc>) -> Task {
        Task { lease: None, completed_at: Some(at), updated_at: at, ..self.clone() }
    }

    /// The `data` of this task's events.
    pub fn event_data(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "agentId": self.agent_id.to_string(),
            "versionId": self.version_id.to_string(),
            "title": self.title,
            "status": self.status.as_str(),
            "attempts": self.attempts,
            "output": self.output,
            "error": self.error,
        })
    }
}

/// A new task's fields as the caller sent them, typed but not yet checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskDraft {
    pub title: String,
    pub description: Option<String>,
    pub priority: Option<Priority>,
    pub input: Option<Value>,
    pub max_attempts: Option<i64>,
    /// RFC 3339; checked here so that the message says what a timestamp must look like.
    pub run_at: Option<String>,
    pub dedupe_key: Option<String>,
}

/// A new task's fields, validated (the agent and version are resolved by the service).
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    pub title: String,
    pub description: String,
    pub priority: Priority,
    pub input: Value,
    pub max_attempts: i32,
    pub run_at: Option<DateTime<Utc>>,
    pub dedupe_key: Option<String>,
}

impl NewTask {
    /// Checks every field and reports every bad one at once.
    pub fn new(draft: TaskDraft) -> Result<NewTask, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let title = draft.title.trim();
        if title.is_empty() || title.chars().count() > TITLE_MAX_CHARS {
            errors.add("title", "Must be a string of 1 to 200 characters");
        }
        let description = draft.description.unwrap_or_default();
        if description.chars().count() > DESCRIPTION_MAX_CHARS {
            errors.add("description", "Must be a string of at most 10000 characters");
        }
        let input = draft.input.unwrap_or(Value::Object(Default::default()));
        if serde_json::to_vec(&input).map_or(true, |bytes| bytes.len() > INPUT_MAX_BYTES) {
            errors.add("input", "Must be at most 1 MB of JSON");
        }
        let max_attempts = match draft.max_attempts {
            None => DEFAULT_MAX_ATTEMPTS,
            Some(n) => match i32::try_from(n) {
                Ok(n) if (1..=MAX_ATTEMPTS_LIMIT).contains(&n) => n,
                _ => {
                    errors.add("maxAttempts", "Must be an integer from 1 to 100");
                    DEFAULT_MAX_ATTEMPTS
                }
            },
        };
        let run_at = draft.run_at.and_then(|at| match DateTime::parse_from_rfc3339(&at) {
            Ok(at) => Some(at.with_timezone(&Utc)),
            Err(_) => {
                errors.add("runAt", "Must be an RFC 3339 timestamp");
                None
            }
        });
        let dedupe_key = draft.dedupe_key;
        if dedupe_key.as_ref().is_some_and(|k| k.is_empty() || k.chars().count() > DEDUPE_KEY_MAX_CHARS) {
            errors.add("dedupeKey", "Must be a string of 1 to 255 characters");
        }
        errors.finish(NewTask {
            title: title.to_owned(),
            description,
            priority: draft.priority.unwrap_or(Priority::Normal),
            input,
            max_attempts,
            run_at,
            dedupe_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lifecycle() {
        use TaskStatus::*;
        assert_eq!(Queued.transition(Running), Ok(Running));
        assert_eq!(Running.transition(Completed), Ok(Completed));
        assert_eq!(Running.transition(Failed), Ok(Failed));
        assert_eq!(Queued.transition(Cancelled), Ok(Cancelled));
        assert_eq!(Running.transition(Cancelled), Ok(Cancelled));
        assert_eq!(Running.transition(Running), Ok(Running));
        for (from, to) in [
            (Queued, Completed),
            (Queued, Failed),
            (Completed, Running),
            (Cancelled, Queued),
            (Failed, Completed),
            (Completed, Cancelled),
        ] {
            let err = from.transition(to).unwrap_err();
            assert_eq!(err.to_string(), format!("a task cannot go from {from} to {to}"));
        }
    }

    fn running(attempts: i32, max_attempts: i32) -> Task {
        let at = DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        Task {
            id: TaskId::new(),
            owner: UserId::new(),
            agent_id: AgentId::new(),
            version_id: VersionId::new(),
            title: "t".into(),
            description: String::new(),
            priority: Priority::Normal,
            status: TaskStatus::Running,
            executor: Executor::Runtime,
            input: json!({}),
            output: None,
            error: None,
            attempts,
            max_attempts,
            run_at: at,
            dedupe_key: None,
            lease: Some(Lease { token: "lease_1".into(), expires_at: at + chrono::Duration::minutes(5) }),
            created_at: at,
            updated_at: at,
            started_at: Some(at),
            completed_at: None,
        }
    }

    #[test]
    fn retry_backoff_doubles_up_to_the_cap_and_honours_retry_after() {
        use std::time::Duration as D;
        let waits: Vec<u64> = (1..=4).map(|n| retry_backoff(n, None).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8]);
        assert_eq!(retry_backoff(0, None), RETRY_BACKOFF_BASE);
        assert_eq!(retry_backoff(50, None), RETRY_BACKOFF_MAX);
        assert_eq!(retry_backoff(1, Some(D::from_secs(3))), D::from_secs(3));
        assert_eq!(retry_backoff(4, Some(D::from_secs(3))), D::from_secs(8));
        assert_eq!(retry_backoff(1, Some(D::from_secs(86_400))), RETRY_BACKOFF_MAX);
    }

    #[test]
    fn a_running_task_with_attempts_left_is_queued_again_after_the_backoff() {
        let task = running(1, 3);
        let at = task.updated_at + chrono::Duration::seconds(10);
        let next = task.retry_later(at, "the provider answered 500", None).unwrap();
        assert_eq!(next.status, TaskStatus::Queued);
        assert_eq!(next.run_at, at + chrono::Duration::seconds(1));
        assert_eq!((next.lease, next.error.as_deref()), (None, Some("the provider answered 500")));
        assert_eq!((next.attempts, next.updated_at, next.started_at), (1, at, task.started_at));
        assert!(running(3, 3).retry_later(at, "x", None).is_none(), "attempts spent");
        let queued = Task { status: TaskStatus::Queued, ..running(1, 3) };
        assert!(queued.retry_later(at, "x", None).is_none(), "only a running task is retried");
        assert!(TaskStatus::Running.transition(TaskStatus::Queued).is_err(), "the public machine still refuses");
    }

    #[test]
    fn complete_and_fail_end_the_lease() {
        let task = running(1, 3);
        let at = task.updated_at + chrono::Duration::seconds(1);
        let done = task.complete(at, json!({"content": "hi"})).unwrap();
        assert_eq!((done.status, done.lease.clone(), done.completed_at), (TaskStatus::Completed, None, Some(at)));
        assert_eq!(done.output, Some(json!({"content": "hi"})));
        let failed = task.fail(at, "boom").unwrap();
        assert_eq!((failed.status, failed.error.as_deref()), (TaskStatus::Failed, Some("boom")));
        assert!(done.fail(at, "late").is_err(), "a finished task stays finished");
    }

    #[test]
    fn deployed_agents_default_to_the_runtime() {
        assert_eq!(Executor::default_for(true), Executor::Runtime);
        assert_eq!(Executor::default_for(false), Executor::External);
    }

    #[test]
    fn priorities_rank_in_order() {
        assert!(Priority::Urgent.rank() > Priority::High.rank());
        assert_eq!(Priority::from_rank(2), Some(Priority::High));
        assert!("critical".parse::<Priority>().is_err());
    }

    #[test]
    fn new_task_validation_reports_each_field() {
        let draft = TaskDraft {
            title: "  ".into(),
            max_attempts: Some(0),
            run_at: Some("tomorrow".into()),
            dedupe_key: Some(String::new()),
            ..Default::default()
        };
        let errors = NewTask::new(draft).unwrap_err();
        let fields: Vec<_> = errors.fields().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["title", "maxAttempts", "runAt", "dedupeKey"]);
        let huge = TaskDraft { title: "t".into(), max_attempts: Some(i64::from(i32::MAX) + 1), ..Default::default() };
        assert_eq!(NewTask::new(huge).unwrap_err().fields()[0].field, "maxAttempts");
    }

    #[test]
    fn input_is_limited_to_1_mb() {
        let big = "x".repeat(INPUT_MAX_BYTES);
        let draft = TaskDraft { title: "t".into(), input: Some(json!({"blob": big})), ..Default::default() };
        assert_eq!(NewTask::new(draft).unwrap_err().fields()[0].field, "input");
        let ok = TaskDraft { title: " t ".into(), input: Some(json!({"pr_number": 42})), ..Default::default() };
        let task = NewTask::new(ok).unwrap();
        assert_eq!(
            (task.priority, task.max_attempts, task.title.as_str()),
            (Priority::Normal, DEFAULT_MAX_ATTEMPTS, "t")
        );
        assert_eq!(task.input, json!({"pr_number": 42}));
    }
}
