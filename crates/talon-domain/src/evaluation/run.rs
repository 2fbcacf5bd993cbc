//! An evaluation run: every case of a dataset answered by each chosen version as a runtime task, each
//! answer settled by the case's checks (some of which ask a judge agent, in a task of their own).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Case;
use super::check::{Check, CheckOutcome, JudgeVerdict};
use super::report::VersionSummary;
use crate::id::{AgentId, DatasetId, EvaluationId, TaskId, UserId, VersionId};
use crate::task::{Task, TaskStatus};

/// The most versions one evaluation compares.
pub const MAX_VERSIONS: usize = 5;
/// How many of an evaluation's tasks are in the queue at once unless the request says otherwise.
pub const DEFAULT_CONCURRENCY: u32 = 4;
/// The most of an evaluation's tasks in the queue at once.
pub const MAX_CONCURRENCY: u32 = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvaluationStatus {
    Running,
    Completed,
    Cancelled,
}

impl EvaluationStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            EvaluationStatus::Running => "running",
            EvaluationStatus::Completed => "completed",
            EvaluationStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for EvaluationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EvaluationStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "running" => Ok(EvaluationStatus::Running),
            "completed" => Ok(EvaluationStatus::Completed),
            "cancelled" => Ok(EvaluationStatus::Cancelled),
            other => Err(format!("unknown evaluation status `{other}`")),
        }
    }
}

/// One evaluation: the dataset as it was when the run began (its cases are kept with the run, so editing
/// the dataset never changes a run), the versions compared, and once completed, each version's summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub id: EvaluationId,
    pub owner: UserId,
    pub agent_id: AgentId,
    pub dataset_id: DatasetId,
    pub dataset_name: String,
    pub dataset_revision: i64,
    pub cases: Vec<Case>,
    pub versions: Vec<VersionId>,
    pub concurrency: u32,
    pub status: EvaluationStatus,
    /// One per version, in the order of `versions`; empty until the run completes.
    pub summaries: Vec<VersionSummary>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl Evaluation {
    /// The results a new run starts from: every case of every version, pending.
    pub fn pending_results(&self) -> Vec<CaseResult> {
        self.versions
            .iter()
            .flat_map(|version| {
                self.cases.iter().enumerate().map(|(index, case)| CaseResult::pending(self.id, *version, index, case))
            })
            .collect()
    }

    /// The case a result is of.
    pub fn case_of(&self, result: &CaseResult) -> Option<&Case> {
        usize::try_from(result.case_index).ok().and_then(|index| self.cases.get(index))
    }
}

/// Where one case of one version stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaseStatus {
    /// Its task is not created yet (the run's concurrency holds it back).
    Pending,
    /// Its task is in the queue or being answered.
    Running,
    /// Answered; its judge checks wait for their judges' tasks.
    Judging,
    Passed,
    Failed,
    /// No answer to check: the task failed or was cancelled, or a judge's did.
    Errored,
}

impl CaseStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Pending => "pending",
            CaseStatus::Running => "running",
            CaseStatus::Judging => "judging",
            CaseStatus::Passed => "passed",
            CaseStatus::Failed => "failed",
            CaseStatus::Errored => "errored",
        }
    }

    /// Passed, failed or errored: nothing more happens to it.
    pub const fn is_settled(self) -> bool {
        matches!(self, CaseStatus::Passed | CaseStatus::Failed | CaseStatus::Errored)
    }

    /// Waiting on a task of its own or of its judges.
    pub const fn is_in_flight(self) -> bool {
        matches!(self, CaseStatus::Running | CaseStatus::Judging)
    }
}

impl fmt::Display for CaseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CaseStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            CaseStatus::Pending,
            CaseStatus::Running,
            CaseStatus::Judging,
            CaseStatus::Passed,
            CaseStatus::Failed,
            CaseStatus::Errored,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
        .ok_or_else(|| format!("unknown case status `{s}`"))
    }
}

/// One case of one version: its task, the answer, and each check's outcome once settled.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseResult {
    pub evaluation_id: EvaluationId,
    pub version_id: VersionId,
    /// The case's position in the run's dataset.
    pub case_index: i64,
    pub case_name: String,
    pub status: CaseStatus,
    pub task_id: Option<TaskId>,
    /// The judges' tasks, one per judge check in the order of the case's checks, once asked.
    pub judge_task_ids: Vec<TaskId>,
    /// The answer's text.
    pub answer: Option<String>,
    /// One per check, in the case's order, once settled (an errored case has none).
    pub checks: Vec<CheckOutcome>,
    pub error: Option<String>,
    /// From the task's start to its completion, over its last attempt's start.
    pub latency_ms: Option<i64>,
    /// The answer's total tokens, as the task's output reports them.
    pub tokens: Option<i64>,
}

impl CaseResult {
    pub fn pending(evaluation_id: EvaluationId, version_id: VersionId, index: usize, case: &Case) -> Self {
        CaseResult {
            evaluation_id,
            version_id,
            case_index: index as i64,
            case_name: case.name.clone(),
            status: CaseStatus::Pending,
            task_id: None,
            judge_task_ids: Vec::new(),
            answer: None,
            checks: Vec::new(),
            error: None,
            latency_ms: None,
            tokens: None,
        }
    }

    /// The result once its task is created.
    pub fn started(&self, task: TaskId) -> Self {
        CaseResult { status: CaseStatus::Running, task_id: Some(task), ..self.clone() }
    }

    /// The result once its task has settled (`task` must be completed, failed or cancelled): errored
    /// without an answer; else the answer's checks, passed or failed at once, or judging when the case
    /// has judge checks (whose tasks the caller then creates, see `judged`).
    pub fn answered(&self, case: &Case, task: &Task) -> Self {
        let mut next = self.clone();
        next.latency_ms = match (task.started_at, task.completed_at) {
            (Some(start), Some(end)) => Some((end - start).num_milliseconds().max(0)),
            _ => None,
        };
        let output = task.output.as_ref();
        let answer = output.and_then(|o| o.get("content")).and_then(Value::as_str);
        next.tokens = output.and_then(|o| o.pointer("/usage/totalTokens")).and_then(Value::as_i64);
        let answer = match (task.status, answer) {
            (TaskStatus::Completed, Some(answer)) => answer.to_owned(),
            (TaskStatus::Completed, None) => {
                return CaseResult {
                    status: CaseStatus::Errored,
                    error: Some("The task's output holds no `content` to check".into()),
                    ..next
                };
            }
            (status, _) => {
                let error = task.error.clone().unwrap_or_else(|| format!("The task was {status}"));
                return CaseResult { status: CaseStatus::Errored, error: Some(error), ..next };
            }
        };
        next.checks = case.checks.iter().map(|check| check.evaluate(&answer)).collect();
        next.answer = Some(answer);
        let judged = case.checks.iter().any(|check| matches!(check, Check::Judge { .. }));
        next.status = if judged { CaseStatus::Judging } else { verdict(&next.checks) };
        next
    }

    /// The result once every judge task has settled: each judge check's outcome from its judge's answer
    /// (in the order of the case's judge checks), and the case's verdict. A judge whose task did not
    /// complete, or who answered neither pass nor fail, errors the case.
    pub fn judged(&self, case: &Case, judges: &[Task]) -> Self {
        let mut next = self.clone();
        let mut judges = judges.iter();
        for (check, outcome) in case.checks.iter().zip(next.checks.iter_mut()) {
            if !matches!(check, Check::Judge { .. }) {
                continue;
            }
            let Some(judge) = judges.next() else {
                return CaseResult {
                    status: CaseStatus::Errored,
                    error: Some("A judge was never asked".into()),
                    ..next
                };
            };
            let said = judge.output.as_ref().and_then(|o| o.get("content")).and_then(Value::as_str);
            let verdict = match (judge.status, said) {
                (TaskStatus::Completed, Some(said)) => super::check::parse_judge_verdict(said),
                (status, _) => {
                    Err(format!("The judge's task was {status}: {}", judge.error.as_deref().unwrap_or("no answer")))
                }
            };
            match verdict {
                Ok(JudgeVerdict { passed, reason }) => *outcome = CheckOutcome::judged(passed, reason),
                Err(error) => return CaseResult { status: CaseStatus::Errored, error: Some(error), ..next },
            }
        }
        next.status = verdict(&next.checks);
        next
    }
}

/// Passed when every check passed.
fn verdict(checks: &[CheckOutcome]) -> CaseStatus {
    if checks.iter().all(|c| c.passed) { CaseStatus::Passed } else { CaseStatus::Failed }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use serde_json::json;

    use super::*;
    use crate::task::{Executor, Priority};

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z").unwrap().with_timezone(&Utc) + Duration::seconds(seconds)
    }

    fn task(status: TaskStatus, output: Option<Value>, error: Option<&str>) -> Task {
        Task {
            id: TaskId::new(),
            owner: UserId::new(),
            agent_id: AgentId::new(),
            version_id: VersionId::new(),
            title: "case".into(),
            description: String::new(),
            priority: Priority::Normal,
            status,
            executor: Executor::Runtime,
            input: json!("What is 2 + 2?"),
            output,
            error: error.map(str::to_owned),
            attempts: 1,
            max_attempts: 3,
            run_at: at(0),
            dedupe_key: None,
            lease: None,
            created_at: at(0),
            updated_at: at(2),
            started_at: Some(at(0) + Duration::milliseconds(250)),
            completed_at: Some(at(2)),
        }
    }

    fn completed(content: &str) -> Task {
        task(TaskStatus::Completed, Some(json!({"content": content, "usage": {"totalTokens": 42}})), None)
    }

    fn case(checks: Vec<Check>) -> Case {
        Case { name: "adds".into(), input: json!("What is 2 + 2?"), checks }
    }

    fn contains(value: &str) -> Check {
        Check::Contains { value: value.into(), ignore_case: false }
    }

    fn judge() -> Check {
        Check::Judge { agent: "grader".into(), criteria: "Says four".into() }
    }

    fn running(case: &Case) -> CaseResult {
        CaseResult::pending(EvaluationId::new(), VersionId::new(), 0, case).started(TaskId::new())
    }

    fn evaluation(cases: Vec<Case>, versions: Vec<VersionId>) -> Evaluation {
        Evaluation {
            id: EvaluationId::new(),
            owner: UserId::new(),
            agent_id: AgentId::new(),
            dataset_id: DatasetId::new(),
            dataset_name: "smoke".into(),
            dataset_revision: 1,
            cases,
            versions,
            concurrency: DEFAULT_CONCURRENCY,
            status: EvaluationStatus::Running,
            summaries: Vec::new(),
            created_at: at(0),
            completed_at: None,
        }
    }

    #[test]
    fn a_run_starts_with_every_case_of_every_version_pending() {
        let (v1, v2) = (VersionId::new(), VersionId::new());
        let cases = vec![
            Case { name: "a".into(), ..case(vec![contains("4")]) },
            Case { name: "b".into(), ..case(vec![contains("4")]) },
            Case { name: "c".into(), ..case(vec![contains("4")]) },
        ];
        let run = evaluation(cases, vec![v1, v2]);
        let results = run.pending_results();
        let keys: Vec<(VersionId, i64, &str)> =
            results.iter().map(|r| (r.version_id, r.case_index, r.case_name.as_str())).collect();
        assert_eq!(keys, [(v1, 0, "a"), (v1, 1, "b"), (v1, 2, "c"), (v2, 0, "a"), (v2, 1, "b"), (v2, 2, "c")]);
        for result in &results {
            assert_eq!(result.evaluation_id, run.id);
            assert_eq!(result.status, CaseStatus::Pending);
            assert_eq!((result.task_id, result.answer.as_deref(), result.checks.len()), (None, None, 0));
            assert_eq!(run.case_of(result).map(|c| c.name.as_str()), Some(result.case_name.as_str()));
        }
        let stray = CaseResult { case_index: 3, ..results[0].clone() };
        assert_eq!(run.case_of(&stray), None);
        assert_eq!(run.case_of(&CaseResult { case_index: -1, ..results[0].clone() }), None);
    }

    #[test]
    fn starting_a_case_records_its_task() {
        let case = case(vec![contains("4")]);
        let pending = CaseResult::pending(EvaluationId::new(), VersionId::new(), 0, &case);
        let id = TaskId::new();
        let started = pending.started(id);
        assert_eq!((started.status, started.task_id), (CaseStatus::Running, Some(id)));
        assert!(started.status.is_in_flight() && !started.status.is_settled());
    }

    #[test]
    fn a_completed_answer_is_checked_at_once() {
        let case = case(vec![contains("4"), Check::Exact { value: "It is 4".into(), ignore_case: true }]);
        let result = running(&case).answered(&case, &completed(" it is 4 "));
        assert_eq!(result.status, CaseStatus::Passed);
        assert_eq!(result.answer.as_deref(), Some(" it is 4 "));
        assert_eq!((result.latency_ms, result.tokens), (Some(1750), Some(42)));
        assert_eq!(result.checks.len(), 2);
        assert!(result.checks.iter().all(|c| c.passed));
        assert_eq!(result.error, None);

        let result = running(&case).answered(&case, &completed("It is four"));
        assert_eq!(result.status, CaseStatus::Failed);
        assert_eq!(result.answer.as_deref(), Some("It is four"));
        let details: Vec<&str> = result.checks.iter().map(|c| c.detail.as_str()).collect();
        assert_eq!(details, ["The answer does not contain \"4\"", "The answer is not \"It is 4\""]);
        assert!(result.status.is_settled());
    }

    #[test]
    fn an_answer_without_usage_or_times_has_none() {
        let case = case(vec![contains("4")]);
        let task = Task {
            started_at: None,
            ..task(TaskStatus::Completed, Some(json!({"content": "4", "usage": {"inputTokens": 3}})), None)
        };
        let result = running(&case).answered(&case, &task);
        assert_eq!((result.status, result.latency_ms, result.tokens), (CaseStatus::Passed, None, None));
    }

    #[test]
    fn a_failed_task_errors_the_case() {
        let case = case(vec![contains("4")]);
        let result = running(&case).answered(&case, &task(TaskStatus::Failed, None, Some("the provider answered 500")));
        assert_eq!(result.status, CaseStatus::Errored);
        assert_eq!(result.error.as_deref(), Some("the provider answered 500"));
        assert_eq!((result.answer.as_deref(), result.checks.len()), (None, 0));

        let result = running(&case).answered(&case, &task(TaskStatus::Cancelled, None, None));
        assert_eq!(result.status, CaseStatus::Errored);
        assert_eq!(result.error.as_deref(), Some("The task was cancelled"));
    }

    #[test]
    fn a_completed_task_without_content_errors_the_case() {
        let case = case(vec![contains("4")]);
        for output in [None, Some(json!({"text": "4"})), Some(json!({"content": 4}))] {
            let result = running(&case).answered(&case, &task(TaskStatus::Completed, output.clone(), None));
            assert_eq!(result.status, CaseStatus::Errored, "{output:?}");
            assert_eq!(result.error.as_deref(), Some("The task's output holds no `content` to check"));
            assert!(result.checks.is_empty());
        }
    }

    fn judging(case: &Case, answer: &str) -> CaseResult {
        let result = running(case).answered(case, &completed(answer));
        assert_eq!(result.status, CaseStatus::Judging);
        assert!(result.status.is_in_flight());
        result
    }

    #[test]
    fn a_case_with_a_judge_waits_for_it() {
        let case = case(vec![contains("4"), judge()]);
        let result = judging(&case, "4");
        assert_eq!(result.answer.as_deref(), Some("4"));
        assert!(result.checks[0].passed);
        assert_eq!(result.checks[1].detail, "Waiting for the judge");
    }

    #[test]
    fn a_judge_passing_passes_the_case_with_its_reason() {
        let case = case(vec![contains("4"), judge()]);
        let result = judging(&case, "4").judged(&case, &[completed("PASS ok")]);
        assert_eq!(result.status, CaseStatus::Passed);
        assert_eq!(result.checks[1], CheckOutcome { kind: "judge".into(), passed: true, detail: "ok".into() });
        assert_eq!(result.checks[0].detail, "", "the plain check's outcome stays");
        assert_eq!((result.tokens, result.latency_ms), (Some(42), Some(1750)), "the answer's, not the judge's");
    }

    #[test]
    fn a_judge_failing_fails_the_case() {
        let case = case(vec![judge(), contains("4")]);
        let result = judging(&case, "4").judged(&case, &[completed("FAIL no")]);
        assert_eq!(result.status, CaseStatus::Failed);
        assert_eq!(result.checks[0], CheckOutcome { kind: "judge".into(), passed: false, detail: "no".into() });
        assert!(result.checks[1].passed);
    }

    #[test]
    fn a_plain_check_failing_fails_the_case_the_judge_passed() {
        let case = case(vec![contains("5"), judge()]);
        let result = judging(&case, "4").judged(&case, &[completed("PASS")]);
        assert_eq!(result.status, CaseStatus::Failed);
    }

    #[test]
    fn each_judge_check_reads_its_own_judge_in_order() {
        let case = case(vec![judge(), contains("4"), judge()]);
        let result = judging(&case, "4").judged(&case, &[completed("PASS first"), completed("FAIL second")]);
        assert_eq!(result.status, CaseStatus::Failed);
        let judged: Vec<(bool, &str)> = result.checks.iter().map(|c| (c.passed, c.detail.as_str())).collect();
        assert_eq!(judged, [(true, "first"), (true, ""), (false, "second")]);
    }

    #[test]
    fn an_unreadable_judge_errors_the_case() {
        let case = case(vec![judge()]);
        let result = judging(&case, "4").judged(&case, &[completed("Looks good to me")]);
        assert_eq!(result.status, CaseStatus::Errored);
        assert!(result.error.as_deref().unwrap().contains("neither PASS nor FAIL"), "{:?}", result.error);

        let no_content = task(TaskStatus::Completed, Some(json!({})), None);
        let result = judging(&case, "4").judged(&case, &[no_content]);
        assert_eq!(result.status, CaseStatus::Errored);
        assert_eq!(result.error.as_deref(), Some("The judge's task was completed: no answer"));
    }

    #[test]
    fn a_failed_judge_task_errors_the_case() {
        let case = case(vec![contains("4"), judge()]);
        let result = judging(&case, "4").judged(&case, &[task(TaskStatus::Failed, None, Some("judge timed out"))]);
        assert_eq!(result.status, CaseStatus::Errored);
        assert_eq!(result.error.as_deref(), Some("The judge's task was failed: judge timed out"));
        assert_eq!(result.answer.as_deref(), Some("4"), "the answer is kept");
    }

    #[test]
    fn a_missing_judge_errors_the_case() {
        let case = case(vec![judge(), judge()]);
        let result = judging(&case, "4").judged(&case, &[completed("PASS")]);
        assert_eq!(result.status, CaseStatus::Errored);
        assert_eq!(result.error.as_deref(), Some("A judge was never asked"));
    }

    #[test]
    fn statuses_read_back_from_their_names() {
        for status in [
            CaseStatus::Pending,
            CaseStatus::Running,
            CaseStatus::Judging,
            CaseStatus::Passed,
            CaseStatus::Failed,
            CaseStatus::Errored,
        ] {
            assert_eq!(status.to_string().parse::<CaseStatus>(), Ok(status));
            assert_eq!(serde_json::to_value(status).unwrap(), json!(status.as_str()));
        }
        assert!("done".parse::<CaseStatus>().is_err());
        for status in [EvaluationStatus::Running, EvaluationStatus::Completed, EvaluationStatus::Cancelled] {
            assert_eq!(status.to_string().parse::<EvaluationStatus>(), Ok(status));
        }
        assert!("Running".parse::<EvaluationStatus>().is_err());
    }
}
