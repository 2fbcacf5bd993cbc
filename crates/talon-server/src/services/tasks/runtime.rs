//! The task transitions Talon's runtime makes: claiming runtime tasks of every account, and completing,
//! failing or retrying them. They go through the same compare-and-swap and events as a worker's PATCH.

use std::time::Duration;

use serde_json::Value;
use talon_domain::task::{Lease, Task};
use talon_domain::time::now;

use super::{TaskService, lease_token};
use crate::services::{ServiceError, Signal};

/// Why the runtime could not answer a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeFailure {
    /// What the task's `error` says: never secrets, never the task's input.
    pub error: String,
    /// Asking again later may succeed (the upstream was unreachable, rate limited, failing or slow).
    pub transient: bool,
    /// The upstream's `Retry-After`, if it sent one.
    pub retry_after: Option<Duration>,
}

impl RuntimeFailure {
    pub fn permanent(error: impl Into<String>) -> Self {
        Self { error: error.into(), transient: false, retry_after: None }
    }

    pub fn transient(error: impl Into<String>, retry_after: Option<Duration>) -> Self {
        Self { error: error.into(), transient: true, retry_after }
    }
}

impl TaskService {
    /// Rings whenever a task becomes claimable in this process (created, or returned to the queue).
    pub fn queued_signal(&self) -> Signal {
        self.queued.clone()
    }

    /// Claims up to `limit` runnable runtime tasks of any account, each leased for `lease_for`.
    pub async fn claim_runtime(&self, limit: i64, lease_for: Duration) -> Result<Vec<Task>, ServiceError> {
        let at = now();
        let lease_for = chrono::Duration::from_std(lease_for).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let lease = Lease { token: lease_token(), expires_at: at + lease_for };
        let tasks = self.store.claim_runtime_tasks(limit, &lease, at).await?;
        if !tasks.is_empty() {
            self.outbox.ring();
        }
        Ok(tasks)
    }

    /// Completes a claimed task with the runtime's answer. `None` when the task changed meanwhile
    /// (cancelled, or its lease lapsed and it went back to the queue): the answer is then dropped.
    pub async fn complete_from_runtime(&self, claimed: &Task, output: Value) -> Result<Option<Task>, ServiceError> {
        let next = claimed.complete(now(), output).map_err(|e| ServiceError::Conflict(e.to_string()))?;
        self.write_from_runtime(claimed, next).await
    }

    /// Settles a claimed task the runtime could not answer: a transient failure with attempts left goes
    /// back to the queue after a backoff; anything else fails the task. `None` as for completing.
    pub async fn fail_from_runtime(
        &self,
        claimed: &Task,
        failure: RuntimeFailure,
    ) -> Result<Option<Task>, ServiceError> {
        let at = now();
        let retried =
            if failure.transient { claimed.retry_later(at, &failure.error, failure.retry_after) } else { None };
        let next = match retried {
            Some(next) => next,
            None if failure.transient => {
                let error = format!("{} (attempt {} of {})", failure.error, claimed.attempts, claimed.max_attempts);
                claimed.fail(at, error).map_err(|e| ServiceError::Conflict(e.to_string()))?
            }
            None => claimed.fail(at, failure.error).map_err(|e| ServiceError::Conflict(e.to_string()))?,
        };
        self.write_from_runtime(claimed, next).await
    }

    async fn write_from_runtime(&self, claimed: &Task, next: Task) -> Result<Option<Task>, ServiceError> {
        let lease = claimed.lease.as_ref().map(|l| l.token.as_str());
        Ok(self.write(&next, claimed.status, lease).await?.then_some(next))
    }
}
