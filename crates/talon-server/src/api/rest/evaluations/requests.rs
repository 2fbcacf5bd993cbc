//! The bodies of the dataset and evaluation requests, and the `requireEvaluation` gate that label moves
//! and deployments may carry; each turns into the domain's types here.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use talon_domain::evaluation::{Case, Check, Gate};
use utoipa::ToSchema;

use crate::api::error::ApiError;
use crate::api::extract::{Bounded, free_json};
use crate::api::rest::agent_inputs::VersionSelector;
use crate::services::ServiceError;
use crate::services::evaluations::{DatasetInput, StartEvaluation};

/// `POST /api/agents/{id}/datasets`: a new dataset.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "smoke", "description": "Answers we rely on", "cases": [
    {"name": "greets", "input": {"prompt": "Say hello"}, "checks": [{"type": "contains", "value": "hello", "ignoreCase": true}]},
    {"name": "totals", "input": {"prompt": "Sum 2 and 40 as {\"total\": n}"},
     "checks": [{"type": "numeric", "path": "$.total", "expected": 42, "tolerance": 0}]}]}))]
pub struct CreateDatasetRequest {
    /// 1 to 64 of `a-z`, `0-9`, `-` and `_`; unique among the agent's datasets.
    #[schema(pattern = "^[a-z0-9_-]{1,64}$")]
    pub name: String,
    /// At most 2000 characters.
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// 1 to 200 cases with distinct names.
    #[schema(min_items = 1, max_items = 200)]
    pub cases: Vec<CaseBody>,
}

/// `PUT /api/agents/{id}/datasets/{name}`: the dataset's whole content (its next revision).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"cases": [{"name": "greets", "input": {"prompt": "Say hello"},
    "checks": [{"type": "regex", "pattern": "(?i)\\bhello\\b"}]}]}))]
pub struct PutDatasetRequest {
    /// At most 2000 characters.
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// 1 to 200 cases with distinct names.
    #[schema(min_items = 1, max_items = 200)]
    pub cases: Vec<CaseBody>,
}

/// A dataset's content as the service takes it.
pub fn dataset_input(description: Option<String>, cases: Vec<CaseBody>) -> DatasetInput {
    DatasetInput { description: description.unwrap_or_default(), cases: cases.into_iter().map(Into::into).collect() }
}

/// One case: what the agent is asked and what its answer must satisfy (every check).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseBody {
    /// 1 to 200 characters, unique in the dataset.
    #[schema(min_length = 1, max_length = 200, pattern = "^[^\\x00]*[^\\s\\x00][^\\x00]*$")]
    pub name: String,
    /// As a task's input (at most 1 MB): a string (one user message), `{"prompt"}` or `{"message"}`,
    /// `{"messages": [{role, content}]}`, or any JSON (sent as its text).
    #[serde(deserialize_with = "free_json::object")]
    #[schema(value_type = Object)]
    pub input: Value,
    /// 1 to 10 checks.
    #[schema(min_items = 1, max_items = 10)]
    pub checks: Vec<CheckBody>,
}

impl From<CaseBody> for Case {
    fn from(case: CaseBody) -> Self {
        Case { name: case.name, input: case.input, checks: case.checks.into_iter().map(Into::into).collect() }
    }
}

impl From<Case> for CaseBody {
    fn from(case: Case) -> Self {
        CaseBody { name: case.name, input: case.input, checks: case.checks.into_iter().map(Into::into).collect() }
    }
}

/// A check of the answer's text.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum CheckBody {
    /// The answer, without whitespace at its ends, is `value`.
    #[serde(rename_all = "camelCase")]
    Exact {
        #[schema(min_length = 1)]
        value: String,
        #[serde(default)]
        ignore_case: bool,
    },
    /// The answer holds `value`.
    #[serde(rename_all = "camelCase")]
    Contains {
        #[schema(min_length = 1)]
        value: String,
        #[serde(default)]
        ignore_case: bool,
    },
    /// Part of the answer matches `pattern` (Rust `regex` syntax: no look-around or backreferences).
    Regex {
        #[schema(min_length = 1, max_length = 1000)]
        pattern: String,
    },
    /// The answer (or the body of a code fence around it) is JSON valid against `schema`; references
    /// to other documents are not fetched.
    JsonSchema { schema: JsonSchemaDocument },
    /// The answer is JSON whose one value at `path` (JSONPath, RFC 9535) is a number within
    /// `tolerance` of `expected`.
    Numeric {
        #[schema(min_length = 1, max_length = 500, example = "$.total")]
        path: String,
        expected: f64,
        #[schema(minimum = 0)]
        tolerance: f64,
    },
    /// Another agent of yours (`slug` or id, optionally `@version` or `@label`) answers PASS or FAIL with
    /// a reason, given the criteria, the input and the answer.
    Judge {
        #[schema(min_length = 1, max_length = 200, example = "strict-judge@production")]
        agent: String,
        #[schema(min_length = 1, max_length = 4000)]
        criteria: String,
    },
}

impl From<CheckBody> for Check {
    fn from(check: CheckBody) -> Self {
        match check {
            CheckBody::Exact { value, ignore_case } => Check::Exact { value, ignore_case },
            CheckBody::Contains { value, ignore_case } => Check::Contains { value, ignore_case },
            CheckBody::Regex { pattern } => Check::Regex { pattern },
            CheckBody::JsonSchema { schema } => Check::JsonSchema { schema: schema.0 },
            CheckBody::Numeric { path, expected, tolerance } => Check::Numeric { path, expected, tolerance },
            CheckBody::Judge { agent, criteria } => Check::Judge { agent, criteria },
        }
    }
}

impl From<Check> for CheckBody {
    fn from(check: Check) -> Self {
        match check {
            Check::Exact { value, ignore_case } => CheckBody::Exact { value, ignore_case },
            Check::Contains { value, ignore_case } => CheckBody::Contains { value, ignore_case },
            Check::Regex { pattern } => CheckBody::Regex { pattern },
            Check::JsonSchema { schema } => CheckBody::JsonSchema { schema: JsonSchemaDocument(schema) },
            Check::Numeric { path, expected, tolerance } => CheckBody::Numeric { path, expected, tolerance },
            Check::Judge { agent, criteria } => CheckBody::Judge { agent, criteria },
        }
    }
}

/// A JSON Schema document (draft 2020-12 unless its `$schema` says otherwise), as free JSON. A named
/// schema of its own, so that generated clients give the check's `schema` one model.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[schema(value_type = Object, example = json!({"type": "object", "required": ["total"]}))]
pub struct JsonSchemaDocument(#[serde(deserialize_with = "free_json::object")] Value);

/// `POST /api/agents/{id}/evaluations`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"dataset": "smoke", "versions": ["production", 4], "concurrency": 4}))]
pub struct StartEvaluationRequest {
    /// The dataset's name.
    #[schema(pattern = "^[a-z0-9_-]{1,64}$")]
    pub dataset: String,
    /// 1 to 5 distinct versions of the agent: ids, numbers or labels.
    #[schema(min_items = 1, max_items = 5)]
    pub versions: Vec<VersionSelector>,
    /// How many of its tasks are in the queue at once, 1 to 16 (4 when absent).
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 16)]
    pub concurrency: Option<Bounded<1, 16>>,
}

impl StartEvaluationRequest {
    /// The service's request; a version text that can name no version is 404 naming its place.
    pub fn into_start(self) -> Result<StartEvaluation, ApiError> {
        let mut versions = Vec::with_capacity(self.versions.len());
        for (index, selector) in self.versions.into_iter().enumerate() {
            let version = match selector {
                VersionSelector::Id(text) => talon_domain::agent::VersionRef::parse(&text),
                VersionSelector::Number(n) => talon_domain::agent::VersionRef::number(n.get()),
            };
            let unknown = || ServiceError::NotFoundAt { what: "Version", field: format!("versions[{index}]") };
            versions.push(version.ok_or_else(unknown)?);
        }
        Ok(StartEvaluation { dataset: self.dataset, versions, concurrency: self.concurrency.map(|c| c.get()) })
    }
}

/// What a version must have passed before a label points at it or a deployment serves it: a completed
/// evaluation on the current revision of `dataset` with a pass rate of at least `minPassRate`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"dataset": "smoke", "minPassRate": 0.9}))]
pub struct RequireEvaluation {
    #[schema(pattern = "^[a-z0-9_-]{1,64}$")]
    pub dataset: String,
    /// From 0 to 1.
    #[schema(minimum = 0, maximum = 1)]
    pub min_pass_rate: f64,
}

impl RequireEvaluation {
    pub fn into_gate(self) -> Result<Gate, ApiError> {
        Gate::new(self.dataset, self.min_pass_rate, "requireEvaluation").map_err(ApiError::validation)
    }
}
