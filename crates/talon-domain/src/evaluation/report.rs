//! What an evaluation reports: per version, how many cases passed, failed or errored, the pass rate,
//! latency and tokens; the cases whose verdict differs between the versions; and the gate a label or a
//! deployment may require of a version.

use serde::{Deserialize, Serialize};

use super::run::{CaseResult, CaseStatus};
use crate::id::VersionId;
use crate::validation::ValidationErrors;

/// One version's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionSummary {
    pub version_id: VersionId,
    pub total: i64,
    pub passed: i64,
    pub failed: i64,
    pub errored: i64,
    /// Passed over total, from 0 to 1 (an errored case is not passed).
    pub pass_rate: f64,
    /// Over the answered cases; none when no case was answered.
    pub average_latency_ms: Option<f64>,
    pub total_tokens: i64,
}

/// A run's report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub summaries: Vec<VersionSummary>,
    /// The names of the cases that passed on some versions and not on others, in the dataset's order.
    pub differing: Vec<String>,
}

impl Report {
    /// The report of `results` for `versions`, in their order.
    pub fn of(versions: &[VersionId], results: &[CaseResult]) -> Report {
        let summaries = versions.iter().map(|version| summary(*version, results)).collect();
        let mut cases: Vec<(i64, &str)> = results.iter().map(|r| (r.case_index, r.case_name.as_str())).collect();
        cases.sort_unstable();
        cases.dedup();
        let differing = cases
            .into_iter()
            .filter(|(index, _)| {
                let mut verdicts = results
                    .iter()
                    .filter(|r| r.case_index == *index && versions.contains(&r.version_id))
                    .map(|r| r.status == CaseStatus::Passed);
                let first = verdicts.next();
                verdicts.any(|passed| Some(passed) != first)
            })
            .map(|(_, name)| name.to_owned())
            .collect();
        Report { summaries, differing }
    }
}

fn summary(version: VersionId, results: &[CaseResult]) -> VersionSummary {
    let mine: Vec<&CaseResult> = results.iter().filter(|r| r.version_id == version).collect();
    let count = |status| mine.iter().filter(|r| r.status == status).count() as i64;
    let (passed, failed, errored) = (count(CaseStatus::Passed), count(CaseStatus::Failed), count(CaseStatus::Errored));
    let total = mine.len() as i64;
    // A case errored without an answer (its task failed or was cancelled) keeps its task's latency, but
    // is not answered: it does not count.
    let latencies: Vec<i64> = mine.iter().filter(|r| r.answer.is_some()).filter_map(|r| r.latency_ms).collect();
    VersionSummary {
        version_id: version,
        total,
        passed,
        failed,
        errored,
        pass_rate: if total == 0 { 0.0 } else { passed as f64 / total as f64 },
        average_latency_ms: (!latencies.is_empty())
            .then(|| latencies.iter().sum::<i64>() as f64 / latencies.len() as f64),
        total_tokens: mine.iter().filter_map(|r| r.tokens).sum(),
    }
}

/// What a label or a deployment requires of a version: a completed evaluation of it on the current
/// revision of `dataset` whose pass rate is at least `min_pass_rate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Gate {
    pub dataset: String,
    pub min_pass_rate: f64,
}

/// Why a gate refused a version.
#[derive(Debug, Clone, PartialEq)]
pub struct GateRefusal {
    pub pass_rate: f64,
    pub min_pass_rate: f64,
    /// The cases the version did not pass, by name.
    pub failing: Vec<String>,
}

impl Gate {
    /// A gate as a request sends it; `field` is where the request holds it (`requireEvaluation`).
    pub fn new(dataset: String, min_pass_rate: f64, field: &str) -> Result<Gate, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if let Err(message) = super::validate_dataset_name(&dataset) {
            errors.add(format!("{field}.dataset"), message);
        }
        if !(0.0..=1.0).contains(&min_pass_rate) {
            errors.add(format!("{field}.minPassRate"), "Must be a number from 0 to 1");
        }
        errors.finish(Gate { dataset, min_pass_rate })
    }

    /// Lets `summary` through when its pass rate reaches the minimum; else the cases of `results` (the
    /// version's) that did not pass.
    pub fn admit(&self, summary: &VersionSummary, results: &[CaseResult]) -> Result<(), GateRefusal> {
        if summary.pass_rate >= self.min_pass_rate {
            return Ok(());
        }
        let failing = results
            .iter()
            .filter(|r| r.version_id == summary.version_id && r.status != CaseStatus::Passed)
            .map(|r| r.case_name.clone())
            .collect();
        Err(GateRefusal { pass_rate: summary.pass_rate, min_pass_rate: self.min_pass_rate, failing })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::EvaluationId;

    fn result(version: VersionId, index: i64, name: &str, status: CaseStatus) -> CaseResult {
        let answered = matches!(status, CaseStatus::Passed | CaseStatus::Failed);
        CaseResult {
            evaluation_id: EvaluationId::new(),
            version_id: version,
            case_index: index,
            case_name: name.into(),
            status,
            task_id: None,
            judge_task_ids: Vec::new(),
            answer: answered.then(|| "answer".to_owned()),
            checks: Vec::new(),
            error: None,
            latency_ms: None,
            tokens: None,
        }
    }

    fn timed(result: CaseResult, latency_ms: i64, tokens: i64) -> CaseResult {
        CaseResult { latency_ms: Some(latency_ms), tokens: Some(tokens), ..result }
    }

    /// Two versions over four cases: `a` passes on both, `b` only on v1, `c` fails on both, `d` only on
    /// v2 (v1 errored on it after its task had run for 9 s).
    fn results(v1: VersionId, v2: VersionId) -> Vec<CaseResult> {
        use CaseStatus::*;
        vec![
            timed(result(v2, 3, "d", Passed), 300, 30),
            timed(result(v1, 0, "a", Passed), 100, 10),
            timed(result(v1, 1, "b", Passed), 200, 20),
            timed(result(v1, 2, "c", Failed), 300, 30),
            timed(result(v1, 3, "d", Errored), 9000, 0),
            timed(result(v2, 0, "a", Passed), 100, 10),
            timed(result(v2, 1, "b", Failed), 100, 5),
            result(v2, 2, "c", Failed),
        ]
    }

    #[test]
    fn each_version_is_summarised() {
        let (v1, v2) = (VersionId::new(), VersionId::new());
        let report = Report::of(&[v1, v2], &results(v1, v2));
        assert_eq!(report.summaries.len(), 2);
        let first = &report.summaries[0];
        assert_eq!(first.version_id, v1);
        assert_eq!((first.total, first.passed, first.failed, first.errored), (4, 2, 1, 1));
        assert_eq!(first.pass_rate, 0.5);
        assert_eq!(first.average_latency_ms, Some(200.0), "over the answered cases only");
        assert_eq!(first.total_tokens, 60);
        let second = &report.summaries[1];
        assert_eq!(second.version_id, v2);
        assert_eq!((second.total, second.passed, second.failed, second.errored), (4, 2, 2, 0));
        assert_eq!(second.pass_rate, 0.5);
        assert_eq!(second.average_latency_ms, Some(500.0 / 3.0), "a case without a latency is not counted");
        assert_eq!(second.total_tokens, 45);
    }

    #[test]
    fn summaries_follow_the_order_of_the_versions() {
        let (v1, v2) = (VersionId::new(), VersionId::new());
        let report = Report::of(&[v2, v1], &results(v1, v2));
        let order: Vec<VersionId> = report.summaries.iter().map(|s| s.version_id).collect();
        assert_eq!(order, [v2, v1]);
    }

    #[test]
    fn a_version_without_answers_has_no_latency_and_a_zero_rate() {
        let (v1, v2) = (VersionId::new(), VersionId::new());
        let errored = vec![timed(result(v1, 0, "a", CaseStatus::Errored), 500, 0)];
        let report = Report::of(&[v1, v2], &errored);
        let first = &report.summaries[0];
        assert_eq!((first.total, first.errored, first.pass_rate), (1, 1, 0.0));
        assert_eq!(first.average_latency_ms, None, "no case was answered");
        let second = &report.summaries[1];
        assert_eq!((second.total, second.pass_rate, second.average_latency_ms), (0, 0.0, None));
    }

    #[test]
    fn differing_lists_the_cases_passed_on_one_version_only_in_dataset_order() {
        let (v1, v2) = (VersionId::new(), VersionId::new());
        let report = Report::of(&[v1, v2], &results(v1, v2));
        assert_eq!(report.differing, ["b", "d"], "not `a` (passed on both) nor `c` (failed on both)");
    }

    #[test]
    fn differing_ignores_versions_not_compared() {
        let (v1, v2) = (VersionId::new(), VersionId::new());
        let report = Report::of(&[v1], &results(v1, v2));
        assert!(report.differing.is_empty(), "{:?}", report.differing);
        assert_eq!(report.summaries.len(), 1);
    }

    #[test]
    fn failed_and_errored_do_not_differ() {
        let (v1, v2) = (VersionId::new(), VersionId::new());
        let results = vec![result(v1, 0, "a", CaseStatus::Failed), result(v2, 0, "a", CaseStatus::Errored)];
        assert!(Report::of(&[v1, v2], &results).differing.is_empty());
    }

    #[test]
    fn a_gate_checks_its_dataset_and_rate() {
        assert_eq!(
            Gate::new("smoke-tests_1".into(), 0.8, "requireEvaluation"),
            Ok(Gate { dataset: "smoke-tests_1".into(), min_pass_rate: 0.8 })
        );
        assert!(Gate::new("smoke".into(), 0.0, "requireEvaluation").is_ok());
        assert!(Gate::new("smoke".into(), 1.0, "requireEvaluation").is_ok());
        let fields = |dataset: &str, rate: f64| -> Vec<String> {
            Gate::new(dataset.into(), rate, "requireEvaluation")
                .unwrap_err()
                .into_fields()
                .into_iter()
                .map(|e| e.field)
                .collect()
        };
        assert_eq!(fields("Smoke Tests", 0.5), ["requireEvaluation.dataset"]);
        assert_eq!(fields("", 0.5), ["requireEvaluation.dataset"]);
        assert_eq!(fields("smoke", 1.01), ["requireEvaluation.minPassRate"]);
        assert_eq!(fields("smoke", -0.1), ["requireEvaluation.minPassRate"]);
        assert_eq!(fields("smoke", f64::NAN), ["requireEvaluation.minPassRate"]);
        assert_eq!(fields("a/b", 2.0), ["requireEvaluation.dataset", "requireEvaluation.minPassRate"]);
    }

    #[test]
    fn a_gate_admits_a_rate_reaching_the_minimum() {
        let (v1, v2) = (VersionId::new(), VersionId::new());
        let results = results(v1, v2);
        let report = Report::of(&[v1, v2], &results);
        let gate = Gate::new("smoke".into(), 0.5, "requireEvaluation").unwrap();
        assert_eq!(gate.admit(&report.summaries[0], &results), Ok(()), "a rate equal to the minimum");
        let lenient = Gate::new("smoke".into(), 0.25, "requireEvaluation").unwrap();
        assert_eq!(lenient.admit(&report.summaries[0], &results), Ok(()));
    }

    #[test]
    fn a_gate_refusal_names_the_versions_cases_not_passed() {
        let (v1, v2) = (VersionId::new(), VersionId::new());
        let results = results(v1, v2);
        let report = Report::of(&[v1, v2], &results);
        let gate = Gate::new("smoke".into(), 0.75, "requireEvaluation").unwrap();
        let refusal = gate.admit(&report.summaries[0], &results).unwrap_err();
        assert_eq!(refusal.pass_rate, 0.5);
        assert_eq!(refusal.min_pass_rate, 0.75);
        assert_eq!(refusal.failing, ["c", "d"], "the failed and the errored case of v1, not v2's `b`");
        let refusal = gate.admit(&report.summaries[1], &results).unwrap_err();
        assert_eq!(refusal.failing, ["b", "c"]);
    }
}
