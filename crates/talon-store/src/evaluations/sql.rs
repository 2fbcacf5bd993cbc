//! `EvaluationStore` for every store, in SQL both databases run.

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::evaluation::{CaseResult, Dataset, DatasetSummary, Evaluation, EvaluationStatus};
use talon_domain::event::Event;
use talon_domain::{AgentId, EvaluationId, TaskId, VersionId};
use uuid::Uuid;

use super::EvaluationStore;
use super::rows::{
    DATASET_COLUMNS, DatasetRow, DatasetSummaryRow, EVALUATION_COLUMNS, EncodedEvaluation, EncodedResult,
    EvaluationRow, RESULT_COLUMN_COUNT, RESULT_COLUMNS, ResultRow, bind_dataset, bind_evaluation, bind_result, json,
};
use crate::db::{Portable, outbox, placeholders, run};
use crate::page::Order;
use crate::{Page, StoreError, Window};

/// Results per statement: 12 bound values each, well under either database's bound on variables.
const RESULTS_PER_INSERT: usize = 50;
/// Task links per statement: 2 bound values each.
const TASKS_PER_INSERT: usize = 250;

const INSERT_DATASET: &str = "INSERT INTO datasets (id, user_id, agent_id, name, description, cases, revision, \
     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (agent_id, name) DO NOTHING";
const DELETE_DATASET: &str = "DELETE FROM datasets WHERE agent_id = $1 AND name = $2";

const INSERT_EVALUATION: &str = "INSERT INTO evaluations (id, user_id, agent_id, dataset_id, dataset_name, \
     dataset_revision, cases, versions, concurrency, status, summaries, created_at, completed_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
const EVALUATION_VERSIONS: &str = "SELECT versions FROM evaluations WHERE id = $1";
const COUNT_EVALUATIONS: &str = "SELECT COUNT(*) FROM evaluations WHERE agent_id = $1";
const RELEASE_EVALUATION: &str = "UPDATE evaluations SET leased_until = NULL WHERE id = $1";

/// The lease is taken by the outer `WHERE` as much as by the pick: a replica whose pick raced another's
/// finds, once the other commits, a lease no longer free, and its PostgreSQL update skips that row.
const LEASE_FREE: &str = "status = 'running' AND (leased_until IS NULL OR leased_until < $2)";

/// `$1`..`$12` in `RESULT_COLUMNS` order: the key is the first three.
const SAVE_RESULT: &str = "UPDATE evaluation_results SET case_name = $4, status = $5, task_id = $6, \
     judge_task_ids = $7, answer = $8, checks = $9, error = $10, latency_ms = $11, tokens = $12 \
     WHERE evaluation_id = $1 AND version_id = $2 AND case_index = $3";

const COMPLETE_EVALUATION: &str = "UPDATE evaluations SET status = $1, summaries = $2, completed_at = $3, \
     leased_until = NULL WHERE id = $4 AND status = 'running'";
const CANCEL_EVALUATION: &str = "UPDATE evaluations SET status = 'cancelled', completed_at = $1, \
     leased_until = NULL WHERE id = $2 AND status = 'running'";
const EVALUATION_OF_TASK: &str = "SELECT evaluation_id FROM evaluation_tasks WHERE task_id = $1";

/// A `LIKE` pattern finding `version` in an evaluation's `versions` (a JSON array of prefixed ids), its
/// `_` escaped so that it matches itself only.
fn version_pattern(version: VersionId) -> String {
    format!("%\"{}\"%", version.to_string().replace('_', "\\_"))
}

/// `results` ordered by case, then by the position of their version in `versions`.
fn in_report_order(mut results: Vec<CaseResult>, versions: &[VersionId]) -> Vec<CaseResult> {
    let position = |version: &VersionId| versions.iter().position(|v| v == version).unwrap_or(versions.len());
    results.sort_by_key(|r| (r.case_index, position(&r.version_id)));
    results
}

#[async_trait]
impl<S: Portable> EvaluationStore for S {
    async fn insert_dataset(&self, dataset: &Dataset, event: &Event) -> Result<bool, StoreError> {
        let cases = json("dataset cases", &dataset.cases)?;
        let mut tx = self.db().begin().await?;
        let inserted = run!(tx.conn(), |c| {
            bind_dataset(sqlx::query(INSERT_DATASET), dataset, cases).execute(c).await.map(|d| d.rows_affected())
        })?;
        if inserted == 0 {
            return Ok(false);
        }
        outbox::record(&mut tx, std::slice::from_ref(event)).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn replace_dataset(&self, dataset: &Dataset, event: &Event) -> Result<Option<Dataset>, StoreError> {
        let cases = json("dataset cases", &dataset.cases)?;
        let statement = format!(
            "UPDATE datasets SET description = $1, cases = $2, updated_at = $3, revision = revision + 1 \
             WHERE agent_id = $4 AND name = $5 RETURNING {DATASET_COLUMNS}"
        );
        let mut tx = self.db().begin().await?;
        let row: Option<DatasetRow> = run!(tx.conn(), |c| {
            sqlx::query_as(&statement)
                .bind(dataset.description.as_str())
                .bind(cases)
                .bind(dataset.updated_at)
                .bind(*dataset.agent_id.as_uuid())
                .bind(dataset.name.as_str())
                .fetch_optional(c)
                .await
        })?;
        let Some(row) = row else {
            return Ok(None);
        };
        let stored = Dataset::try_from(row)?;
        outbox::record(&mut tx, std::slice::from_ref(event)).await?;
        tx.commit().await?;
        Ok(Some(stored))
    }

    async fn dataset(&self, agent: AgentId, name: &str) -> Result<Option<Dataset>, StoreError> {
        let statement = format!("SELECT {DATASET_COLUMNS} FROM datasets WHERE agent_id = $1 AND name = $2");
        let row: Option<DatasetRow> = run!(self.db().reader(), |e| {
            sqlx::query_as(&statement).bind(*agent.as_uuid()).bind(name).fetch_optional(e).await
        })?;
        row.map(TryInto::try_into).transpose()
    }

    async fn datasets(&self, agent: AgentId) -> Result<Vec<DatasetSummary>, StoreError> {
        let statement = format!(
            "SELECT id, agent_id, name, description, {} AS case_count, revision, created_at, updated_at \
             FROM datasets WHERE agent_id = $1 ORDER BY name",
            self.db().dialect().dataset_case_count
        );
        let rows: Vec<DatasetSummaryRow> =
            run!(self.db().reader(), |e| sqlx::query_as(&statement).bind(*agent.as_uuid()).fetch_all(e).await)?;
        Ok(rows.into_iter().map(DatasetSummary::from).collect())
    }

    async fn delete_dataset(&self, agent: AgentId, name: &str, event: &Event) -> Result<bool, StoreError> {
        Ok(outbox::delete_named(self.db(), DELETE_DATASET, agent, name, event).await?)
    }

    async fn insert_evaluation(
        &self,
        evaluation: &Evaluation,
        results: &[CaseResult],
        event: &Event,
    ) -> Result<(), StoreError> {
        let encoded = EncodedEvaluation::of(evaluation)?;
        let encoded_results = results.iter().map(EncodedResult::of).collect::<Result<Vec<_>, _>>()?;
        let mut tx = self.db().begin().await?;
        run!(tx.conn(), |c| {
            bind_evaluation(sqlx::query(INSERT_EVALUATION), evaluation, encoded).execute(c).await.map(|_| ())
        })?;
        let mut encoded_results = encoded_results.into_iter();
        for chunk in results.chunks(RESULTS_PER_INSERT) {
            let statement = format!(
                "INSERT INTO evaluation_results ({RESULT_COLUMNS}) VALUES {}",
                placeholders(&tx, chunk.len(), RESULT_COLUMN_COUNT)
            );
            let encoded: Vec<EncodedResult> = encoded_results.by_ref().take(chunk.len()).collect();
            run!(tx.conn(), |c| {
                let mut query = sqlx::query(&statement);
                for (result, encoded) in chunk.iter().zip(encoded) {
                    query = bind_result(query, result, encoded);
                }
                query.execute(c).await.map(|_| ())
            })?;
        }
        outbox::record(&mut tx, std::slice::from_ref(event)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn evaluation(&self, id: EvaluationId) -> Result<Option<Evaluation>, StoreError> {
        let statement = format!("SELECT {EVALUATION_COLUMNS} FROM evaluations WHERE id = $1");
        let row: Option<EvaluationRow> =
            run!(self.db().reader(), |e| sqlx::query_as(&statement).bind(*id.as_uuid()).fetch_optional(e).await)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn case_results(&self, id: EvaluationId) -> Result<Vec<CaseResult>, StoreError> {
        let versions: Option<String> = run!(self.db().reader(), |e| {
            sqlx::query_scalar(EVALUATION_VERSIONS).bind(*id.as_uuid()).fetch_optional(e).await
        })?;
        let Some(versions) = versions else {
            return Ok(Vec::new());
        };
        let versions: Vec<VersionId> = serde_json::from_str(&versions)
            .map_err(|e| StoreError::Corrupt(format!("evaluation {id} versions: {e}")))?;
        let statement =
            format!("SELECT {RESULT_COLUMNS} FROM evaluation_results WHERE evaluation_id = $1 ORDER BY case_index");
        let rows: Vec<ResultRow> =
            run!(self.db().reader(), |e| sqlx::query_as(&statement).bind(*id.as_uuid()).fetch_all(e).await)?;
        let results = rows.into_iter().map(TryInto::try_into).collect::<Result<Vec<_>, StoreError>>()?;
        Ok(in_report_order(results, &versions))
    }

    async fn list_evaluations(&self, agent: AgentId, window: Window) -> Result<Page<Evaluation>, StoreError> {
        let total: i64 = run!(self.db().reader(), |e| {
            sqlx::query_scalar(COUNT_EVALUATIONS).bind(*agent.as_uuid()).fetch_one(e).await
        })?;
        // Ids are time-ordered (UUIDv7), so newest first is by id, which the agent's index orders.
        let windowed = window.sql("id", Order::Descending, 2);
        let extra = windowed.condition.map(|c| format!(" AND {c}")).unwrap_or_default();
        let select =
            format!("SELECT {EVALUATION_COLUMNS} FROM evaluations WHERE agent_id = $1{extra} {}", windowed.tail);
        let rows: Vec<EvaluationRow> = run!(self.db().reader(), |e| {
            window.bind(sqlx::query_as(&select).bind(*agent.as_uuid())).fetch_all(e).await
        })?;
        let items = rows.into_iter().map(TryInto::try_into).collect::<Result<_, StoreError>>()?;
        Ok(window.page(items, total, windowed.reversed))
    }

    async fn lease_evaluations(
        &self,
        at: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Evaluation>, StoreError> {
        let statement = format!(
            "UPDATE evaluations SET leased_until = $1 \
             WHERE id IN (SELECT id FROM evaluations WHERE {LEASE_FREE} ORDER BY id LIMIT $3) AND {LEASE_FREE} \
             RETURNING {EVALUATION_COLUMNS}"
        );
        let rows: Vec<EvaluationRow> = run!(self.db().writer(), |e| {
            sqlx::query_as(&statement).bind(until).bind(at).bind(limit).fetch_all(e).await
        })?;
        let mut leased = rows.into_iter().map(TryInto::try_into).collect::<Result<Vec<Evaluation>, _>>()?;
        leased.sort_by_key(|evaluation| evaluation.id);
        Ok(leased)
    }

    async fn release_evaluation(&self, id: EvaluationId) -> Result<(), StoreError> {
        run!(self.db().writer(), |e| {
            sqlx::query(RELEASE_EVALUATION).bind(*id.as_uuid()).execute(e).await.map(|_| ())
        })?;
        Ok(())
    }

    async fn save_case_results(&self, results: &[CaseResult]) -> Result<(), StoreError> {
        let encoded = results.iter().map(EncodedResult::of).collect::<Result<Vec<_>, _>>()?;
        // A result is saved again as its judges answer: each task is linked once.
        let tasks: BTreeSet<(Uuid, Uuid)> = results
            .iter()
            .flat_map(|r| {
                r.task_id.iter().chain(&r.judge_task_ids).map(move |t| (*t.as_uuid(), *r.evaluation_id.as_uuid()))
            })
            .collect();
        let tasks: Vec<(Uuid, Uuid)> = tasks.into_iter().collect();
        let mut tx = self.db().begin().await?;
        for (result, encoded) in results.iter().zip(encoded) {
            run!(tx.conn(), |c| bind_result(sqlx::query(SAVE_RESULT), result, encoded).execute(c).await.map(|_| ()))?;
        }
        for chunk in tasks.chunks(TASKS_PER_INSERT) {
            let statement = format!(
                "INSERT INTO evaluation_tasks (task_id, evaluation_id) VALUES {} ON CONFLICT (task_id) DO NOTHING",
                placeholders(&tx, chunk.len(), 2)
            );
            run!(tx.conn(), |c| {
                let mut query = sqlx::query(&statement);
                for (task, evaluation) in chunk {
                    query = query.bind(*task).bind(*evaluation);
                }
                query.execute(c).await.map(|_| ())
            })?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn complete_evaluation(&self, evaluation: &Evaluation, events: &[Event]) -> Result<bool, StoreError> {
        let summaries = json("evaluation summaries", &evaluation.summaries)?;
        let mut tx = self.db().begin().await?;
        let changed = run!(tx.conn(), |c| {
            sqlx::query(COMPLETE_EVALUATION)
                .bind(evaluation.status.as_str())
                .bind(summaries)
                .bind(evaluation.completed_at)
                .bind(*evaluation.id.as_uuid())
                .execute(c)
                .await
                .map(|d| d.rows_affected())
        })?;
        if changed == 0 {
            return Ok(false);
        }
        outbox::record(&mut tx, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn cancel_evaluation(&self, id: EvaluationId, at: DateTime<Utc>, event: &Event) -> Result<bool, StoreError> {
        let mut tx = self.db().begin().await?;
        let changed = run!(tx.conn(), |c| {
            sqlx::query(CANCEL_EVALUATION).bind(at).bind(*id.as_uuid()).execute(c).await.map(|d| d.rows_affected())
        })?;
        if changed == 0 {
            return Ok(false);
        }
        outbox::record(&mut tx, std::slice::from_ref(event)).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn latest_evaluation_of(
        &self,
        agent: AgentId,
        dataset: &str,
        version: VersionId,
    ) -> Result<Option<Evaluation>, StoreError> {
        // Newest by when it began (its id), as the list orders them. The version is found in the run's
        // own list rather than in its results, which a run of no case would lack.
        let statement = format!(
            "SELECT {EVALUATION_COLUMNS} FROM evaluations WHERE agent_id = $1 AND dataset_name = $2 \
             AND status = '{}' AND versions LIKE $3 ESCAPE '\\' ORDER BY id DESC LIMIT 1",
            EvaluationStatus::Completed.as_str()
        );
        let row: Option<EvaluationRow> = run!(self.db().reader(), |e| {
            sqlx::query_as(&statement)
                .bind(*agent.as_uuid())
                .bind(dataset)
                .bind(version_pattern(version))
                .fetch_optional(e)
                .await
        })?;
        row.map(TryInto::try_into).transpose()
    }

    async fn evaluation_of_task(&self, task: TaskId) -> Result<Option<EvaluationId>, StoreError> {
        let id: Option<Uuid> = run!(self.db().reader(), |e| {
            sqlx::query_scalar(EVALUATION_OF_TASK).bind(*task.as_uuid()).fetch_optional(e).await
        })?;
        Ok(id.map(EvaluationId::from_uuid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_pattern_matches_only_its_quoted_id() {
        let version = VersionId::new();
        let pattern = version_pattern(version);
        assert!(pattern.starts_with("%\"ver\\_") && pattern.ends_with("\"%"));
        assert_eq!(pattern.matches('_').count(), 1);
    }

    #[test]
    fn results_come_by_case_then_by_the_order_of_the_versions() {
        let (first, second) = (VersionId::new(), VersionId::new());
        let result = |version, index| CaseResult {
            evaluation_id: EvaluationId::new(),
            version_id: version,
            case_index: index,
            case_name: format!("case {index}"),
            status: talon_domain::evaluation::CaseStatus::Pending,
            task_id: None,
            judge_task_ids: Vec::new(),
            answer: None,
            checks: Vec::new(),
            error: None,
            latency_ms: None,
            tokens: None,
        };
        let ordered = in_report_order(vec![result(first, 1), result(first, 0), result(second, 0)], &[second, first]);
        let keys: Vec<_> = ordered.iter().map(|r| (r.case_index, r.version_id)).collect();
        assert_eq!(keys, [(0, second), (0, first), (1, first)]);
    }
}
