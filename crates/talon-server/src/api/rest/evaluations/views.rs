//! Datasets and evaluations as the API shows them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use talon_domain::VersionId;
use talon_domain::evaluation::{CaseResult, CheckOutcome, Dataset, DatasetSummary, Evaluation, VersionSummary};
use utoipa::ToSchema;

use super::requests::CaseBody;
use crate::services::evaluations::EvaluationReport;

/// A dataset with its cases.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatasetView {
    id: String,
    agent_id: String,
    name: String,
    description: String,
    /// Counts the dataset's saves from 1; a gate accepts only evaluations of the current revision.
    revision: i64,
    cases: Vec<CaseBody>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Dataset> for DatasetView {
    fn from(d: Dataset) -> Self {
        DatasetView {
            id: d.id.to_string(),
            agent_id: d.agent_id.to_string(),
            name: d.name,
            description: d.description,
            revision: d.revision,
            cases: d.cases.into_iter().map(Into::into).collect(),
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// A dataset as a list shows it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatasetSummaryView {
    id: String,
    name: String,
    description: String,
    case_count: i64,
    revision: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<DatasetSummary> for DatasetSummaryView {
    fn from(d: DatasetSummary) -> Self {
        DatasetSummaryView {
            id: d.id.to_string(),
            name: d.name,
            description: d.description,
            case_count: d.case_count,
            revision: d.revision,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// The agent's datasets, by name.
#[derive(Serialize, ToSchema)]
pub struct DatasetList {
    pub data: Vec<DatasetSummaryView>,
}

/// One version's results.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionSummaryView {
    version_id: String,
    version_number: Option<i64>,
    total: i64,
    passed: i64,
    failed: i64,
    /// Cases without an answer to check: the task (or a judge's) failed or was cancelled.
    errored: i64,
    /// Passed over total, from 0 to 1.
    pass_rate: f64,
    /// Over the answered cases.
    average_latency_ms: Option<f64>,
    total_tokens: i64,
}

impl VersionSummaryView {
    fn new(s: &VersionSummary, numbers: &HashMap<VersionId, i64>) -> Self {
        VersionSummaryView {
            version_id: s.version_id.to_string(),
            version_number: numbers.get(&s.version_id).copied(),
            total: s.total,
            passed: s.passed,
            failed: s.failed,
            errored: s.errored,
            pass_rate: s.pass_rate,
            average_latency_ms: s.average_latency_ms,
            total_tokens: s.total_tokens,
        }
    }
}

/// A version an evaluation runs.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EvaluatedVersion {
    version_id: String,
    version_number: Option<i64>,
}

/// An evaluation as a list shows it: its summaries once completed.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EvaluationView {
    id: String,
    agent_id: String,
    dataset: String,
    dataset_revision: i64,
    /// `running`, `completed` or `cancelled`.
    #[schema(example = "completed")]
    status: String,
    concurrency: u32,
    versions: Vec<EvaluatedVersion>,
    /// One per version, in the order of `versions`; empty until the evaluation completes.
    summaries: Vec<VersionSummaryView>,
    created_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
}

impl EvaluationView {
    pub fn new(e: &Evaluation, numbers: &HashMap<VersionId, i64>) -> Self {
        EvaluationView {
            id: e.id.to_string(),
            agent_id: e.agent_id.to_string(),
            dataset: e.dataset_name.clone(),
            dataset_revision: e.dataset_revision,
            status: e.status.to_string(),
            concurrency: e.concurrency,
            versions: e
                .versions
                .iter()
                .map(|v| EvaluatedVersion { version_id: v.to_string(), version_number: numbers.get(v).copied() })
                .collect(),
            summaries: e.summaries.iter().map(|s| VersionSummaryView::new(s, numbers)).collect(),
            created_at: e.created_at,
            completed_at: e.completed_at,
        }
    }
}

/// A check's outcome.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckOutcomeView {
    /// The check's type.
    #[serde(rename = "type")]
    #[schema(example = "contains")]
    kind: String,
    passed: bool,
    /// Why it failed, or the judge's reason.
    detail: String,
}

impl From<CheckOutcome> for CheckOutcomeView {
    fn from(o: CheckOutcome) -> Self {
        CheckOutcomeView { kind: o.kind, passed: o.passed, detail: o.detail }
    }
}

/// One case on one version.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaseResultView {
    version_id: String,
    /// `pending`, `running`, `judging`, `passed`, `failed` or `errored`.
    #[schema(example = "passed")]
    status: String,
    /// The task that answered it.
    task_id: Option<String>,
    /// The judges' tasks, one per judge check.
    judge_task_ids: Vec<String>,
    /// The answer's text.
    answer: Option<String>,
    /// One per check, in the case's order, once settled.
    checks: Vec<CheckOutcomeView>,
    /// Why there is no answer to check (errored).
    error: Option<String>,
    latency_ms: Option<i64>,
    tokens: Option<i64>,
}

impl From<CaseResult> for CaseResultView {
    fn from(r: CaseResult) -> Self {
        CaseResultView {
            version_id: r.version_id.to_string(),
            status: r.status.to_string(),
            task_id: r.task_id.map(|t| t.to_string()),
            judge_task_ids: r.judge_task_ids.iter().map(ToString::to_string).collect(),
            answer: r.answer,
            checks: r.checks.into_iter().map(Into::into).collect(),
            error: r.error,
            latency_ms: r.latency_ms,
            tokens: r.tokens,
        }
    }
}

/// A case of the dataset with its result on each version, in the order of `versions`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaseReportView {
    name: String,
    /// Passed on some versions and not on others.
    differs: bool,
    results: Vec<CaseResultView>,
}

/// An evaluation with its report: the summaries (so far, while it runs), the cases whose verdict
/// differs between versions, and every case's results.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EvaluationReportView {
    #[serde(flatten)]
    evaluation: EvaluationView,
    /// Cases settled so far, over all versions.
    settled: i64,
    /// Cases to settle, over all versions.
    total: i64,
    /// The names of the cases that passed on some versions and not on others.
    differing: Vec<String>,
    cases: Vec<CaseReportView>,
}

impl From<EvaluationReport> for EvaluationReportView {
    fn from(r: EvaluationReport) -> Self {
        let EvaluationReport { mut evaluation, results, report, numbers } = r;
        // The report is computed from the results, as the stored summaries were when the run completed;
        // while it runs (or once cancelled) it is what has settled so far.
        evaluation.summaries = report.summaries.clone();
        let settled = results.iter().filter(|r| r.status.is_settled()).count() as i64;
        let total = results.len() as i64;
        let position = |v: &VersionId| evaluation.versions.iter().position(|x| x == v).unwrap_or(usize::MAX);
        let mut by_case: Vec<Vec<CaseResult>> = vec![Vec::new(); evaluation.cases.len()];
        for result in results {
            if let Some(slot) = usize::try_from(result.case_index).ok().and_then(|i| by_case.get_mut(i)) {
                slot.push(result);
            }
        }
        let cases = evaluation
            .cases
            .iter()
            .zip(by_case)
            .map(|(case, mut results)| {
                results.sort_by_key(|r| position(&r.version_id));
                CaseReportView {
                    name: case.name.clone(),
                    differs: report.differing.contains(&case.name),
                    results: results.into_iter().map(Into::into).collect(),
                }
            })
            .collect();
        EvaluationReportView {
            evaluation: EvaluationView::new(&evaluation, &numbers),
            settled,
            total,
            differing: report.differing,
            cases,
        }
    }
}
