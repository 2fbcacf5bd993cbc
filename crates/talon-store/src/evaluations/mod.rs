//! Evaluations: an agent's datasets of cases, and runs of them against chosen versions, with each case's
//! result per version and the tasks a run created. A run keeps the cases it began with, so a dataset may
//! change or go while its runs stay readable; a running one is driven by the replica holding its lease.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::evaluation::{CaseResult, Dataset, DatasetSummary, Evaluation};
use talon_domain::event::Event;
use talon_domain::{AgentId, EvaluationId, TaskId, VersionId};

use crate::{Page, StoreError, Window};

mod rows;
mod sql;

#[async_trait]
pub trait EvaluationStore {
    /// Inserts a new dataset with its event, in one transaction; `false` (nothing written) when the
    /// agent already has a dataset by that name.
    async fn insert_dataset(&self, dataset: &Dataset, event: &Event) -> Result<bool, StoreError>;

    /// Replaces the description and cases of the agent's dataset named `dataset.name`, sets updated_at,
    /// and raises its revision by one, with its event; returns the dataset as stored (its id,
    /// created_at and new revision); `None` (nothing written) when there is no such dataset.
    async fn replace_dataset(&self, dataset: &Dataset, event: &Event) -> Result<Option<Dataset>, StoreError>;

    async fn dataset(&self, agent: AgentId, name: &str) -> Result<Option<Dataset>, StoreError>;

    /// The agent's datasets by name, without their cases (case_count computed).
    async fn datasets(&self, agent: AgentId) -> Result<Vec<DatasetSummary>, StoreError>;

    /// Deletes it with its event; `false` (no event) when there was none.
    async fn delete_dataset(&self, agent: AgentId, name: &str, event: &Event) -> Result<bool, StoreError>;

    /// Inserts a running evaluation, its pending results and its event, in one transaction.
    async fn insert_evaluation(
        &self,
        evaluation: &Evaluation,
        results: &[CaseResult],
        event: &Event,
    ) -> Result<(), StoreError>;

    async fn evaluation(&self, id: EvaluationId) -> Result<Option<Evaluation>, StoreError>;

    /// Its results by case_index, then by the order of the evaluation's `versions`.
    async fn case_results(&self, id: EvaluationId) -> Result<Vec<CaseResult>, StoreError>;

    /// The agent's evaluations, newest first, a window at a time (as other lists page).
    async fn list_evaluations(&self, agent: AgentId, window: Window) -> Result<Page<Evaluation>, StoreError>;

    /// Running evaluations whose lease is free (NULL or before `at`), at most `limit`, each leased
    /// until `until` by this call (a compare-and-set, so two replicas never drive one evaluation at once).
    async fn lease_evaluations(
        &self,
        at: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Evaluation>, StoreError>;

    /// Frees the lease.
    async fn release_evaluation(&self, id: EvaluationId) -> Result<(), StoreError>;

    /// Writes each result over the stored one with its key (evaluation, version, case), and records its
    /// task and judge tasks in `evaluation_tasks`, in one transaction.
    async fn save_case_results(&self, results: &[CaseResult]) -> Result<(), StoreError>;

    /// Marks a still-running evaluation completed (its status, summaries and completed_at as given) and
    /// frees its lease, with `events`, in one transaction; `false` (nothing written) if it was no
    /// longer running.
    async fn complete_evaluation(&self, evaluation: &Evaluation, events: &[Event]) -> Result<bool, StoreError>;

    /// Marks a running evaluation cancelled at `at`, with its event; `false` if it was not running.
    async fn cancel_evaluation(&self, id: EvaluationId, at: DateTime<Utc>, event: &Event) -> Result<bool, StoreError>;

    /// The newest completed evaluation of `agent` on the dataset named `dataset` that ran `version`.
    async fn latest_evaluation_of(
        &self,
        agent: AgentId,
        dataset: &str,
        version: VersionId,
    ) -> Result<Option<Evaluation>, StoreError>;

    /// The evaluation a task (a case's or a judge's) belongs to.
    async fn evaluation_of_task(&self, task: TaskId) -> Result<Option<EvaluationId>, StoreError>;
}
