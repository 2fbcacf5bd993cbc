//! Evaluations: datasets of cases (an input, as a task's, and checks on the answer) kept per agent, runs
//! of every case against chosen versions of the agent, the report comparing them, and the gate that
//! lets a label or a deployment move only to a version whose evaluation passed.

mod check;
mod report;
mod run;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use check::{Check, CheckOutcome, JUDGE_MAX_CRITERIA_CHARS, JudgeVerdict, judge_input, parse_judge_verdict};
pub use report::{Gate, GateRefusal, Report, VersionSummary};
pub use run::{
    CaseResult, CaseStatus, DEFAULT_CONCURRENCY, Evaluation, EvaluationStatus, MAX_CONCURRENCY, MAX_VERSIONS,
};

use crate::id::{AgentId, DatasetId, UserId};
use crate::validation::ValidationErrors;

/// The most cases a dataset holds.
pub const MAX_CASES: usize = 200;
/// The most checks one case holds.
pub const MAX_CHECKS: usize = 10;
/// The most datasets one agent holds.
pub const MAX_DATASETS: usize = 100;
const NAME_MAX_CHARS: usize = 64;
const CASE_NAME_MAX_CHARS: usize = 200;
const DESCRIPTION_MAX_CHARS: usize = 2000;

/// An agent's dataset: named cases run together by an evaluation. `revision` counts its saves from 1, so
/// a gate can tell an evaluation of the dataset as it is from one of an older revision.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub id: DatasetId,
    pub owner: UserId,
    pub agent_id: AgentId,
    pub name: String,
    pub description: String,
    pub cases: Vec<Case>,
    pub revision: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A dataset as a list shows it: without its cases.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetSummary {
    pub id: DatasetId,
    pub agent_id: AgentId,
    pub name: String,
    pub description: String,
    pub case_count: i64,
    pub revision: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One case: what the agent is asked (a task's input: a string, `{"messages"}` or any JSON) and what its
/// answer must satisfy (every check).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Case {
    pub name: String,
    pub input: Value,
    pub checks: Vec<Check>,
}

/// A dataset's name: 1 to 64 of `a-z`, `0-9`, `-` and `_`.
pub fn validate_dataset_name(name: &str) -> Result<(), &'static str> {
    let well_formed = !name.is_empty()
        && name.len() <= NAME_MAX_CHARS
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if well_formed { Ok(()) } else { Err("Must be 1 to 64 characters of a-z, 0-9, - and _") }
}

/// Checks a dataset's description and cases as a request sends them, every rule broken reported against
/// `description`, `cases`, `cases[i].name` or `cases[i].checks[j].…`. A case's input is checked by the
/// caller, with the rules a task's input follows.
pub fn validate_cases(description: &str, cases: &[Case]) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    if description.chars().count() > DESCRIPTION_MAX_CHARS {
        errors.add("description", format!("Must be at most {DESCRIPTION_MAX_CHARS} characters"));
    }
    if cases.is_empty() || cases.len() > MAX_CASES {
        errors.add("cases", format!("Must hold 1 to {MAX_CASES} cases"));
    }
    for (index, case) in cases.iter().enumerate() {
        let name = case.name.trim();
        if name.is_empty() || case.name.chars().count() > CASE_NAME_MAX_CHARS || case.name.contains('\0') {
            errors.add(format!("cases[{index}].name"), format!("Must be 1 to {CASE_NAME_MAX_CHARS} characters"));
        } else if cases[..index].iter().any(|earlier| earlier.name == case.name) {
            errors.add(format!("cases[{index}].name"), "Must differ from every other case's name");
        }
        if case.checks.is_empty() || case.checks.len() > MAX_CHECKS {
            errors.add(format!("cases[{index}].checks"), format!("Must hold 1 to {MAX_CHECKS} checks"));
        }
        for (position, check) in case.checks.iter().enumerate() {
            for (field, message) in check.problems() {
                errors.add(format!("cases[{index}].checks[{position}].{field}"), message);
            }
        }
    }
    errors.finish(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn contains(value: &str) -> Check {
        Check::Contains { value: value.into(), ignore_case: false }
    }

    fn case(name: &str, checks: Vec<Check>) -> Case {
        Case { name: name.into(), input: json!("What is 2 + 2?"), checks }
    }

    fn fields(description: &str, cases: &[Case]) -> Vec<String> {
        validate_cases(description, cases).unwrap_err().into_fields().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_well_formed_dataset_passes() {
        let cases = [case("adds", vec![contains("4")]), case("subtracts", vec![contains("0"), contains("zero")])];
        assert_eq!(validate_cases("Arithmetic", &cases), Ok(()));
        assert_eq!(validate_cases("", &cases), Ok(()));
    }

    #[test]
    fn a_dataset_holds_1_to_200_cases() {
        assert_eq!(fields("", &[]), ["cases"]);
        let many: Vec<Case> = (0..=MAX_CASES).map(|i| case(&format!("case {i}"), vec![contains("x")])).collect();
        assert_eq!(fields("", &many), ["cases"]);
        assert_eq!(validate_cases("", &many[..MAX_CASES]), Ok(()));
    }

    #[test]
    fn case_names_are_required_and_distinct() {
        let cases = [
            case("adds", vec![contains("4")]),
            case("  ", vec![contains("4")]),
            case("adds", vec![contains("4")]),
            case(&"n".repeat(CASE_NAME_MAX_CHARS + 1), vec![contains("4")]),
            case("nul\0", vec![contains("4")]),
        ];
        let errors = validate_cases("", &cases).unwrap_err();
        let found: Vec<(&str, &str)> = errors.fields().iter().map(|e| (e.field.as_str(), e.message.as_str())).collect();
        assert_eq!(
            found,
            [
                ("cases[1].name", "Must be 1 to 200 characters"),
                ("cases[2].name", "Must differ from every other case's name"),
                ("cases[3].name", "Must be 1 to 200 characters"),
                ("cases[4].name", "Must be 1 to 200 characters"),
            ]
        );
    }

    #[test]
    fn a_case_holds_1_to_10_checks() {
        let many = vec![contains("x"); MAX_CHECKS + 1];
        assert_eq!(fields("", &[case("a", many)]), ["cases[0].checks"]);
        assert_eq!(fields("", &[case("a", vec![contains("x")]), case("b", vec![])]), ["cases[1].checks"]);
        assert_eq!(validate_cases("", &[case("a", vec![contains("x"); MAX_CHECKS])]), Ok(()));
    }

    #[test]
    fn each_checks_problems_are_reported_at_its_place() {
        let cases = [
            case("fine", vec![contains("x")]),
            case(
                "broken",
                vec![
                    contains("x"),
                    Check::Regex { pattern: "(".into() },
                    Check::Numeric { path: "$.total".into(), expected: 1.0, tolerance: -1.0 },
                    Check::Judge { agent: "grader".into(), criteria: String::new() },
                ],
            ),
        ];
        assert_eq!(
            fields("", &cases),
            ["cases[1].checks[1].pattern", "cases[1].checks[2].tolerance", "cases[1].checks[3].criteria"]
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let description = "d".repeat(DESCRIPTION_MAX_CHARS + 1);
        let cases = [case("", vec![Check::Exact { value: String::new(), ignore_case: false }])];
        assert_eq!(fields(&description, &cases), ["description", "cases[0].name", "cases[0].checks[0].value"]);
    }

    #[test]
    fn dataset_names() {
        for name in ["smoke", "regression-2025_q1", "a", &"a".repeat(NAME_MAX_CHARS)] {
            assert_eq!(validate_dataset_name(name), Ok(()), "{name}");
        }
        for name in ["", "Smoke", "smoke tests", "smoke.v2", "café", &"a".repeat(NAME_MAX_CHARS + 1)] {
            assert_eq!(validate_dataset_name(name), Err("Must be 1 to 64 characters of a-z, 0-9, - and _"), "{name}");
        }
    }

    #[test]
    fn a_case_round_trips_through_json() {
        let wire = json!({
            "name": "adds",
            "input": {"messages": [{"role": "user", "content": "2 + 2?"}]},
            "checks": [{"type": "regex", "pattern": "\\b4\\b"}]
        });
        let case: Case = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(case.checks, [Check::Regex { pattern: r"\b4\b".into() }]);
        assert_eq!(serde_json::to_value(&case).unwrap(), wire);
    }
}
