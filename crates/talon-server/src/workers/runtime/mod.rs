//! Talon's own runtime: it works the tasks whose `executor` is `runtime`. Each is answered by the
//! agent version it is pinned to, with the task's input as the conversation (see `input`), and completed
//! with the answer, or retried, or failed (see `TaskService::fail_from_runtime`).
//!
//! One loop per server claims tasks while it has free slots (`runtime_workers` of them) and answers each
//! in its own tokio task. Claims are leased like an external worker's: if this server dies mid-answer,
//! the lease lapses and the task goes back to the queue for another attempt.

mod answer;
mod input;

use std::sync::Arc;
use std::time::Duration;

use talon_domain::task::Task;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::state::AppState;

/// How long a claim holds a task: longer than an answer may take (`answer::ANSWER_TIMEOUT`).
pub const LEASE: Duration = Duration::from_secs(300);
/// An idle runtime without the bus looks again this often, for tasks queued on other replicas (tasks
/// queued on this server, and on others through the bus, wake it at once; see `Signal::poll_every`).
pub const POLL_EVERY: Duration = Duration::from_millis(500);

/// Runs until `stop` is cancelled, then claims nothing more and waits for the answers in flight. If the
/// server goes before they finish, their leases lapse and the tasks are retried.
pub async fn run(state: AppState, stop: CancellationToken) {
    let workers = state.settings.runtime_workers;
    if workers == 0 {
        return;
    }
    let slots = Arc::new(Semaphore::new(workers));
    let queued = state.tasks.queued_signal();
    let mut answering = JoinSet::new();
    loop {
        // Wait for a free slot before claiming: a claimed task starts at once, never waits in line here
        // while its lease runs.
        let first = tokio::select! {
            () = stop.cancelled() => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        while answering.try_join_next().is_some() {}
        let woken = queued.listen();
        let free = 1 + slots.available_permits() as i64;
        let tasks = match state.tasks.claim_runtime(free, LEASE).await {
            Ok(tasks) => tasks,
            Err(e) => {
                tracing::warn!(error = %e, "could not claim runtime tasks");
                Vec::new()
            }
        };
        if tasks.is_empty() {
            drop(first);
            tokio::select! {
                () = stop.cancelled() => break,
                _ = woken.wait(queued.poll_every(POLL_EVERY)) => continue,
            }
        }
        let mut permit = Some(first);
        for task in tasks {
            // At most `free` tasks were claimed and only this loop takes slots, so one is free.
            let slot = match permit.take() {
                Some(slot) => slot,
                None => match slots.clone().acquire_owned().await {
                    Ok(slot) => slot,
                    Err(_) => break,
                },
            };
            answering.spawn(work(state.clone(), task, slot));
        }
    }
    while answering.join_next().await.is_some() {}
}

/// Answers one claimed task and records the outcome. Logs name the task, never its input or output.
async fn work(state: AppState, task: Task, _slot: OwnedSemaphorePermit) {
    let outcome = answer::answer(&state, &task).await;
    let transient = outcome.as_ref().err().map(|f| f.transient);
    let settled = match outcome {
        Ok(output) => state.tasks.complete_from_runtime(&task, output).await,
        Err(failure) => state.tasks.fail_from_runtime(&task, failure).await,
    };
    match settled {
        Ok(Some(next)) => {
            tracing::info!(task = %task.id, agent = %task.agent_id, attempt = task.attempts, status = %next.status,
                transient_failure = ?transient, "runtime task settled")
        }
        Ok(None) => tracing::info!(task = %task.id, "runtime task changed while it was answered (cancelled, or its \
            lease lapsed); its answer is dropped"),
        Err(e) => tracing::warn!(task = %task.id, error = %e, "could not record a runtime task's outcome"),
    }
}
