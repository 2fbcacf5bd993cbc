//! Dataset, evaluation and result rows, their conversion into domain types, and the argument lists of
//! the statements that write them. Lists and cases are JSON text on both databases.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use talon_domain::evaluation::{CaseResult, Dataset, DatasetSummary, Evaluation};
use talon_domain::{AgentId, DatasetId, EvaluationId, TaskId, UserId, VersionId};
use uuid::Uuid;

use crate::StoreError;
use crate::db::Bind;
use crate::error::corrupt;

pub(super) const DATASET_COLUMNS: &str =
    "id, user_id, agent_id, name, description, cases, revision, created_at, updated_at";

pub(super) const EVALUATION_COLUMNS: &str = "id, user_id, agent_id, dataset_id, dataset_name, dataset_revision, \
     cases, versions, concurrency, status, summaries, created_at, completed_at";

pub(super) const RESULT_COLUMNS: &str = "evaluation_id, version_id, case_index, case_name, status, task_id, \
     judge_task_ids, answer, checks, error, latency_ms, tokens";
pub(super) const RESULT_COLUMN_COUNT: usize = 12;

/// A value as the JSON text its column holds. Encoding these types cannot fail short of a bug (a map
/// with keys that are not strings); if it ever does, the write fails rather than storing a row that
/// would no longer read back.
pub(super) fn json<T: Serialize + ?Sized>(what: &str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("{what} cannot be encoded: {e}")))
}

fn parsed<T: DeserializeOwned>(what: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(what)(e.to_string()))
}

#[derive(sqlx::FromRow)]
pub(super) struct DatasetRow {
    id: Uuid,
    user_id: Uuid,
    agent_id: Uuid,
    name: String,
    description: String,
    cases: String,
    revision: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<DatasetRow> for Dataset {
    type Error = StoreError;
    fn try_from(row: DatasetRow) -> Result<Self, StoreError> {
        Ok(Dataset {
            cases: parsed(&format!("dataset {} cases", row.id), &row.cases)?,
            id: DatasetId::from_uuid(row.id),
            owner: UserId::from_uuid(row.user_id),
            agent_id: AgentId::from_uuid(row.agent_id),
            name: row.name,
            description: row.description,
            revision: row.revision,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct DatasetSummaryRow {
    id: Uuid,
    agent_id: Uuid,
    name: String,
    description: String,
    case_count: i64,
    revision: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<DatasetSummaryRow> for DatasetSummary {
    fn from(row: DatasetSummaryRow) -> Self {
        DatasetSummary {
            id: DatasetId::from_uuid(row.id),
            agent_id: AgentId::from_uuid(row.agent_id),
            name: row.name,
            description: row.description,
            case_count: row.case_count,
            revision: row.revision,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// Binds a dataset's values in `DATASET_COLUMNS` order; `cases` is its cases as `json` encoded them.
pub(super) fn bind_dataset<'q, Q: Bind<'q>>(query: Q, dataset: &Dataset, cases: String) -> Q {
    query
        .bind(*dataset.id.as_uuid())
        .bind(*dataset.owner.as_uuid())
        .bind(*dataset.agent_id.as_uuid())
        .bind(dataset.name.clone())
        .bind(dataset.description.clone())
        .bind(cases)
        .bind(dataset.revision)
        .bind(dataset.created_at)
        .bind(dataset.updated_at)
}

#[derive(sqlx::FromRow)]
pub(super) struct EvaluationRow {
    id: Uuid,
    user_id: Uuid,
    agent_id: Uuid,
    dataset_id: Uuid,
    dataset_name: String,
    dataset_revision: i64,
    cases: String,
    versions: String,
    concurrency: i32,
    status: String,
    summaries: String,
    created_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
}

impl TryFrom<EvaluationRow> for Evaluation {
    type Error = StoreError;
    fn try_from(row: EvaluationRow) -> Result<Self, StoreError> {
        let what = |column: &str| format!("evaluation {} {column}", row.id);
        Ok(Evaluation {
            cases: parsed(&what("cases"), &row.cases)?,
            versions: parsed(&what("versions"), &row.versions)?,
            concurrency: u32::try_from(row.concurrency).map_err(|e| corrupt(&what("concurrency"))(e.to_string()))?,
            status: row.status.parse().map_err(corrupt(&what("status")))?,
            summaries: parsed(&what("summaries"), &row.summaries)?,
            id: EvaluationId::from_uuid(row.id),
            owner: UserId::from_uuid(row.user_id),
            agent_id: AgentId::from_uuid(row.agent_id),
            dataset_id: DatasetId::from_uuid(row.dataset_id),
            dataset_name: row.dataset_name,
            dataset_revision: row.dataset_revision,
            created_at: row.created_at,
            completed_at: row.completed_at,
        })
    }
}

/// An evaluation's JSON columns and concurrency, encoded before anything is written.
pub(super) struct EncodedEvaluation {
    cases: String,
    versions: String,
    concurrency: i32,
    summaries: String,
}

impl EncodedEvaluation {
    pub(super) fn of(evaluation: &Evaluation) -> Result<Self, StoreError> {
        Ok(EncodedEvaluation {
            cases: json("evaluation cases", &evaluation.cases)?,
            versions: json("evaluation versions", &evaluation.versions)?,
            concurrency: i32::try_from(evaluation.concurrency)
                .map_err(|e| StoreError::Corrupt(format!("evaluation concurrency cannot be stored: {e}")))?,
            summaries: json("evaluation summaries", &evaluation.summaries)?,
        })
    }
}

/// Binds an evaluation's values in `EVALUATION_COLUMNS` order.
pub(super) fn bind_evaluation<'q, Q: Bind<'q>>(query: Q, evaluation: &Evaluation, encoded: EncodedEvaluation) -> Q {
    query
        .bind(*evaluation.id.as_uuid())
        .bind(*evaluation.owner.as_uuid())
        .bind(*evaluation.agent_id.as_uuid())
        .bind(*evaluation.dataset_id.as_uuid())
        .bind(evaluation.dataset_name.clone())
        .bind(evaluation.dataset_revision)
        .bind(encoded.cases)
        .bind(encoded.versions)
        .bind(encoded.concurrency)
        .bind(evaluation.status.as_str())
        .bind(encoded.summaries)
        .bind(evaluation.created_at)
        .bind(evaluation.completed_at)
}

#[derive(sqlx::FromRow)]
pub(super) struct ResultRow {
    evaluation_id: Uuid,
    version_id: Uuid,
    case_index: i64,
    case_name: String,
    status: String,
    task_id: Option<Uuid>,
    judge_task_ids: String,
    answer: Option<String>,
    checks: String,
    error: Option<String>,
    latency_ms: Option<i64>,
    tokens: Option<i64>,
}

impl TryFrom<ResultRow> for CaseResult {
    type Error = StoreError;
    fn try_from(row: ResultRow) -> Result<Self, StoreError> {
        let what = |column: &str| format!("evaluation {} case {} {column}", row.evaluation_id, row.case_index);
        Ok(CaseResult {
            status: row.status.parse().map_err(corrupt(&what("status")))?,
            judge_task_ids: parsed(&what("judge tasks"), &row.judge_task_ids)?,
            checks: parsed(&what("checks"), &row.checks)?,
            evaluation_id: EvaluationId::from_uuid(row.evaluation_id),
            version_id: VersionId::from_uuid(row.version_id),
            case_index: row.case_index,
            case_name: row.case_name,
            task_id: row.task_id.map(TaskId::from_uuid),
            answer: row.answer,
            error: row.error,
            latency_ms: row.latency_ms,
            tokens: row.tokens,
        })
    }
}

/// A result's JSON columns, encoded before anything is written.
pub(super) struct EncodedResult {
    judge_task_ids: String,
    checks: String,
}

impl EncodedResult {
    pub(super) fn of(result: &CaseResult) -> Result<Self, StoreError> {
        Ok(EncodedResult {
            judge_task_ids: json("judge tasks", &result.judge_task_ids)?,
            checks: json("check outcomes", &result.checks)?,
        })
    }
}

/// Binds a result's values in `RESULT_COLUMNS` order: its key first.
pub(super) fn bind_result<'q, Q: Bind<'q>>(query: Q, result: &CaseResult, encoded: EncodedResult) -> Q {
    query
        .bind(*result.evaluation_id.as_uuid())
        .bind(*result.version_id.as_uuid())
        .bind(result.case_index)
        .bind(result.case_name.clone())
        .bind(result.status.as_str())
        .bind(result.task_id.map(|t| *t.as_uuid()))
        .bind(encoded.judge_task_ids)
        .bind(result.answer.clone())
        .bind(encoded.checks)
        .bind(result.error.clone())
        .bind(result.latency_ms)
        .bind(result.tokens)
}
