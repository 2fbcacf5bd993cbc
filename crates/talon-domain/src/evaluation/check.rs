//! The checks a case makes of an answer, and the judge: another agent asked whether an answer meets
//! the case's criteria, replying PASS or FAIL with a reason.

use regex::RegexBuilder;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The longest regular expression a check holds, and what its compiled form may take.
const MAX_PATTERN_CHARS: usize = 1000;
const REGEX_SIZE_LIMIT: usize = 1 << 20;
const MAX_PATH_CHARS: usize = 500;
const MAX_JUDGE_REF_CHARS: usize = 200;
pub const JUDGE_MAX_CRITERIA_CHARS: usize = 4000;
/// How much of an answer, a value or a judge's reply a failed check's detail quotes.
const QUOTE_CHARS: usize = 120;

/// A check of an answer's text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum Check {
    /// The answer, without the whitespace at its ends, is `value` (in any case with `ignoreCase`).
    Exact {
        value: String,
        #[serde(default)]
        ignore_case: bool,
    },
    /// The answer holds `value` (in any case with `ignoreCase`).
    Contains {
        value: String,
        #[serde(default)]
        ignore_case: bool,
    },
    /// Some part of the answer matches `pattern` (Rust's `regex` syntax; no look-around).
    Regex { pattern: String },
    /// The answer is JSON valid against `schema` (references to other documents are not fetched).
    JsonSchema { schema: Value },
    /// The answer is JSON whose one value at `path` (JSONPath, RFC 9535) is a number within `tolerance`
    /// of `expected`.
    Numeric { path: String, expected: f64, tolerance: f64 },
    /// The agent `agent` (its slug or id, optionally `@version` or `@label`) judges the answer against
    /// `criteria`.
    Judge { agent: String, criteria: String },
}

/// A check's outcome, in the order of the case's checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckOutcome {
    /// The check's type, as its `type` reads.
    #[serde(rename = "type")]
    pub kind: String,
    pub passed: bool,
    /// Why it failed, or the judge's reason; empty when a plain check passed.
    pub detail: String,
}

impl CheckOutcome {
    fn of(check: &Check, passed: bool, detail: impl Into<String>) -> Self {
        CheckOutcome {
            kind: check.kind().to_owned(),
            passed,
            detail: if passed { String::new() } else { detail.into() },
        }
    }

    /// A judge's verdict: its reason is kept whether it passed or not.
    pub fn judged(passed: bool, reason: String) -> Self {
        CheckOutcome { kind: "judge".into(), passed, detail: reason }
    }
}

/// A judge's reply, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JudgeVerdict {
    pub passed: bool,
    pub reason: String,
}

impl Check {
    /// The check's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Check::Exact { .. } => "exact",
            Check::Contains { .. } => "contains",
            Check::Regex { .. } => "regex",
            Check::JsonSchema { .. } => "jsonSchema",
            Check::Numeric { .. } => "numeric",
            Check::Judge { .. } => "judge",
        }
    }

    /// What is wrong with the check as written, as (field, message): an empty value, a pattern, schema
    /// or path that does not compile, a tolerance below zero, a judge without criteria.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        match self {
            Check::Exact { value, .. } | Check::Contains { value, .. } => {
                if value.is_empty() {
                    problems.push(("value", "Must not be empty".to_owned()));
                }
            }
            Check::Regex { pattern } => {
                if pattern.chars().count() > MAX_PATTERN_CHARS {
                    problems.push(("pattern", format!("Must be at most {MAX_PATTERN_CHARS} characters")));
                } else if let Err(e) = compiled(pattern) {
                    problems.push(("pattern", format!("Is not a valid regular expression: {e}")));
                }
            }
            Check::JsonSchema { schema } => {
                if let Err(e) = jsonschema::validator_for(schema) {
                    problems.push(("schema", format!("Is not a valid JSON Schema: {e}")));
                }
            }
            Check::Numeric { path, expected, tolerance } => {
                if path.chars().count() > MAX_PATH_CHARS {
                    problems.push(("path", format!("Must be at most {MAX_PATH_CHARS} characters")));
                } else if let Err(e) = serde_json_path::JsonPath::parse(path) {
                    problems.push(("path", format!("Is not a JSONPath (RFC 9535) such as `$.total`: {e}")));
                }
                if !expected.is_finite() {
                    problems.push(("expected", "Must be a finite number".to_owned()));
                }
                if !tolerance.is_finite() || *tolerance < 0.0 {
                    problems.push(("tolerance", "Must be a number of 0 or more".to_owned()));
                }
            }
            Check::Judge { agent, criteria } => {
                if agent.is_empty() || agent.chars().count() > MAX_JUDGE_REF_CHARS {
                    problems.push(("agent", "Must name an agent: its slug or id, optionally @version".to_owned()));
                }
                if criteria.trim().is_empty() || criteria.chars().count() > JUDGE_MAX_CRITERIA_CHARS {
                    problems.push(("criteria", format!("Must be 1 to {JUDGE_MAX_CRITERIA_CHARS} characters")));
                }
            }
        }
        problems
    }

    /// The check's outcome for `answer`. A judge check cannot be decided here: it reads as failed,
    /// waiting for its judge, until `CheckOutcome::judged` replaces it.
    pub fn evaluate(&self, answer: &str) -> CheckOutcome {
        match self {
            Check::Exact { value, ignore_case } => {
                let (answer, value) = (answer.trim(), value.trim());
                let same = if *ignore_case { answer.to_lowercase() == value.to_lowercase() } else { answer == value };
                CheckOutcome::of(self, same, format!("The answer is not \"{}\"", quote(value)))
            }
            Check::Contains { value, ignore_case } => {
                let holds = if *ignore_case {
                    answer.to_lowercase().contains(&value.to_lowercase())
                } else {
                    answer.contains(value)
                };
                CheckOutcome::of(self, holds, format!("The answer does not contain \"{}\"", quote(value)))
            }
            Check::Regex { pattern } => match compiled(pattern) {
                Ok(regex) => CheckOutcome::of(
                    self,
                    regex.is_match(answer),
                    format!("The answer does not match /{}/", quote(pattern)),
                ),
                Err(e) => CheckOutcome::of(self, false, format!("The pattern does not compile: {e}")),
            },
            Check::JsonSchema { schema } => {
                let document = match json_answer(answer) {
                    Ok(document) => document,
                    Err(detail) => return CheckOutcome::of(self, false, detail),
                };
                match jsonschema::validator_for(schema) {
                    Ok(validator) => {
                        let errors: Vec<String> = validator
                            .iter_errors(&document)
                            .take(3)
                            .map(|e| {
                                let at = e.instance_path().to_string();
                                if at.is_empty() { e.to_string() } else { format!("{at}: {e}") }
                            })
                            .collect();
                        CheckOutcome::of(self, errors.is_empty(), format!("Not valid: {}", errors.join("; ")))
                    }
                    Err(e) => CheckOutcome::of(self, false, format!("The schema does not compile: {e}")),
                }
            }
            Check::Numeric { path, expected, tolerance } => {
                let (passed, detail) = numeric(answer, path, *expected, *tolerance);
                CheckOutcome::of(self, passed, detail)
            }
            Check::Judge { .. } => {
                CheckOutcome { kind: "judge".into(), passed: false, detail: "Waiting for the judge".into() }
            }
        }
    }
}

fn compiled(pattern: &str) -> Result<regex::Regex, regex::Error> {
    RegexBuilder::new(pattern).size_limit(REGEX_SIZE_LIMIT).build()
}

/// The answer as JSON: the whole text, or the body of a fenced code block around it (models often
/// fence the JSON they are asked for).
fn json_answer(answer: &str) -> Result<Value, String> {
    let text = answer.trim();
    let unfenced = text
        .strip_prefix("```")
        .and_then(|rest| rest.strip_suffix("```"))
        .map(|body| body.trim_start_matches(|c: char| c.is_ascii_alphanumeric()).trim());
    serde_json::from_str(unfenced.unwrap_or(text)).map_err(|e| format!("The answer is not JSON: {e}"))
}

/// Whether the one number at `path` in the answer is within `tolerance` of `expected`, and why not.
fn numeric(answer: &str, path: &str, expected: f64, tolerance: f64) -> (bool, String) {
    let document = match json_answer(answer) {
        Ok(document) => document,
        Err(detail) => return (false, detail),
    };
    let path_text = path;
    let path = match serde_json_path::JsonPath::parse(path) {
        Ok(path) => path,
        Err(e) => return (false, format!("The path does not parse: {e}")),
    };
    let found = path.query(&document).all();
    let value = match found.as_slice() {
        [one] => *one,
        [] => return (false, format!("Nothing is at {path_text}")),
        many => return (false, format!("{path_text} finds {} values, not one", many.len())),
    };
    let Some(actual) = value.as_f64() else {
        return (false, format!("{path_text} is {}, not a number", quote(&value.to_string())));
    };
    let within = (actual - expected).abs() <= tolerance;
    (within, format!("{path_text} is {actual}, not within {tolerance} of {expected}"))
}

/// The input of a judge's task: the criteria, what the agent was asked and what it answered, and how
/// to reply.
pub fn judge_input(criteria: &str, asked: &Value, answer: &str) -> Value {
    let asked = match asked {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    Value::String(format!(
        "You judge whether an AI agent's answer meets the criteria below.\n\n\
         Criteria:\n{criteria}\n\n\
         The agent was asked:\n{asked}\n\n\
         The agent answered:\n{answer}\n\n\
         Reply with PASS or FAIL on the first line, then the reason on the next."
    ))
}

/// A judge's reply read as a verdict: its first word (after any markdown emphasis) is PASS or FAIL in
/// any case, the rest is the reason; or a JSON object `{"verdict": "pass" | "fail", "reason"}`.
pub fn parse_judge_verdict(reply: &str) -> Result<JudgeVerdict, String> {
    let text = reply.trim();
    if let Ok(Value::Object(object)) = serde_json::from_str::<Value>(text) {
        let verdict = object.get("verdict").and_then(Value::as_str).map(str::to_ascii_lowercase);
        let reason = object.get("reason").and_then(Value::as_str).unwrap_or_default().to_owned();
        return match verdict.as_deref() {
            Some("pass") => Ok(JudgeVerdict { passed: true, reason }),
            Some("fail") => Ok(JudgeVerdict { passed: false, reason }),
            _ => Err(format!("The judge's JSON has no verdict of \"pass\" or \"fail\": {}", quote(text))),
        };
    }
    let body = text.trim_start_matches(|c: char| matches!(c, '*' | '#' | '`' | '"' | '\'' | '_') || c.is_whitespace());
    let word_end = body.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(body.len());
    let passed = match body[..word_end].to_ascii_lowercase().as_str() {
        "pass" | "passed" => true,
        "fail" | "failed" => false,
        _ => return Err(format!("The judge answered neither PASS nor FAIL: \"{}\"", quote(text))),
    };
    let reason = body[word_end..]
        .trim_start_matches(|c: char| {
            matches!(c, '*' | '`' | '"' | '\'' | '_' | ':' | '-' | '.' | ',') || c.is_whitespace()
        })
        .trim_end()
        .to_owned();
    Ok(JudgeVerdict { passed, reason })
}

/// `text`, cut to `QUOTE_CHARS` characters with an ellipsis that says so.
fn quote(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(QUOTE_CHARS).collect();
    if chars.next().is_some() { format!("{head}…") } else { head }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn exact(value: &str, ignore_case: bool) -> Check {
        Check::Exact { value: value.into(), ignore_case }
    }

    fn contains(value: &str, ignore_case: bool) -> Check {
        Check::Contains { value: value.into(), ignore_case }
    }

    fn regex(pattern: &str) -> Check {
        Check::Regex { pattern: pattern.into() }
    }

    fn numeric(path: &str, expected: f64, tolerance: f64) -> Check {
        Check::Numeric { path: path.into(), expected, tolerance }
    }

    fn schema() -> Check {
        Check::JsonSchema {
            schema: json!({
                "type": "object",
                "required": ["n"],
                "properties": {"n": {"type": "integer"}}
            }),
        }
    }

    fn fields(check: &Check) -> Vec<&'static str> {
        check.problems().into_iter().map(|(field, _)| field).collect()
    }

    fn passes(check: &Check, answer: &str) {
        let outcome = check.evaluate(answer);
        assert!(outcome.passed, "{check:?} on {answer:?}: {}", outcome.detail);
        assert_eq!(outcome.detail, "", "a passed plain check has no detail");
        assert_eq!(outcome.kind, check.kind());
    }

    fn fails(check: &Check, answer: &str) -> String {
        let outcome = check.evaluate(answer);
        assert!(!outcome.passed, "{check:?} should fail on {answer:?}");
        assert_eq!(outcome.kind, check.kind());
        outcome.detail
    }

    #[test]
    fn exact_compares_the_trimmed_answer() {
        passes(&exact("Paris", false), "Paris");
        passes(&exact("Paris", false), "  Paris\n");
        assert_eq!(fails(&exact("Paris", false), "paris"), "The answer is not \"Paris\"");
        assert_eq!(fails(&exact("Paris", false), "Paris, France"), "The answer is not \"Paris\"");
        passes(&exact("Paris", true), " PARIS ");
        assert_eq!(fails(&exact("Paris", true), "Lyon"), "The answer is not \"Paris\"");
    }

    #[test]
    fn contains_finds_the_value_anywhere() {
        passes(&contains("42", false), "The answer is 42.");
        assert_eq!(fails(&contains("Answer", false), "the answer"), "The answer does not contain \"Answer\"");
        passes(&contains("Answer", true), "THE ANSWER IS");
        assert_eq!(fails(&contains("Answer", true), "nothing here"), "The answer does not contain \"Answer\"");
    }

    #[test]
    fn a_long_value_is_quoted_cut() {
        let value = "v".repeat(QUOTE_CHARS + 5);
        let detail = fails(&contains(&value, false), "x");
        assert_eq!(detail, format!("The answer does not contain \"{}…\"", "v".repeat(QUOTE_CHARS)));
    }

    #[test]
    fn an_empty_value_is_a_problem() {
        assert_eq!(fields(&exact("", false)), ["value"]);
        assert_eq!(fields(&contains("", true)), ["value"]);
        assert!(exact("x", false).problems().is_empty());
    }

    #[test]
    fn regex_matches_some_part_of_the_answer() {
        passes(&regex(r"\d{3}-\d{4}"), "Call 555-1234 today");
        assert_eq!(fails(&regex(r"^\d+$"), "12a"), r"The answer does not match /^\d+$/");
        assert!(regex(r"^\d+$").problems().is_empty());
    }

    #[test]
    fn an_invalid_pattern_is_a_problem_and_fails() {
        let check = regex("(unclosed");
        let problems = check.problems();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].0, "pattern");
        assert!(problems[0].1.starts_with("Is not a valid regular expression"), "{}", problems[0].1);
        assert!(fails(&check, "anything").starts_with("The pattern does not compile"));
        assert_eq!(fields(&regex("(?=look-ahead)")), ["pattern"], "no look-around");
    }

    #[test]
    fn a_pattern_is_limited_in_length_and_compiled_size() {
        let long = "a".repeat(MAX_PATTERN_CHARS + 1);
        let problems = regex(&long).problems();
        assert_eq!(problems, [("pattern", format!("Must be at most {MAX_PATTERN_CHARS} characters"))]);
        let huge = r"\w{1000}";
        assert!(huge.len() <= MAX_PATTERN_CHARS);
        let problems = regex(huge).problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, "pattern");
        assert!(problems[0].1.contains("size limit"), "{}", problems[0].1);
        assert!(fails(&regex(huge), "a").starts_with("The pattern does not compile"));
    }

    #[test]
    fn json_schema_validates_the_answer() {
        passes(&schema(), r#"{"n": 3}"#);
        passes(&schema(), "```json\n{\"n\": 3}\n```");
        passes(&schema(), "```\n{\"n\": 3}\n```");
        assert!(schema().problems().is_empty());
    }

    #[test]
    fn json_schema_refuses_an_answer_that_is_not_json() {
        let detail = fails(&schema(), "n is 3");
        assert!(detail.starts_with("The answer is not JSON: "), "{detail}");
    }

    #[test]
    fn a_failed_validation_names_the_instance_path() {
        let detail = fails(&schema(), r#"{"n": "three"}"#);
        assert!(detail.starts_with("Not valid: /n: "), "{detail}");
        assert!(detail.contains("integer"), "{detail}");
        let detail = fails(&schema(), "{}");
        assert!(detail.starts_with("Not valid: "), "{detail}");
        assert!(detail.contains("\"n\""), "{detail}");
    }

    #[test]
    fn an_invalid_schema_is_a_problem_and_fails() {
        let check = Check::JsonSchema { schema: json!({"type": "nope"}) };
        let problems = check.problems();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].0, "schema");
        assert!(problems[0].1.starts_with("Is not a valid JSON Schema: "), "{}", problems[0].1);
        assert!(fails(&check, "{}").starts_with("The schema does not compile: "));
    }

    #[test]
    fn numeric_reads_one_number_at_the_path() {
        passes(&numeric("$.total", 10.0, 0.5), r#"{"total": 10.4}"#);
        passes(&numeric("$.total", 10.0, 0.0), r#"{"total": 10}"#);
        passes(&numeric("$.total", 10.0, 0.5), "```json\n{\"total\": 9.5}\n```");
        passes(&numeric("$.items[0].price", 2.5, 0.0), r#"{"items": [{"price": 2.5}]}"#);
        assert_eq!(fails(&numeric("$.total", 10.0, 0.5), r#"{"total": 11}"#), "$.total is 11, not within 0.5 of 10");
        assert_eq!(
            fails(&numeric("$.total", 10.0, 0.0), r#"{"total": 10.25}"#),
            "$.total is 10.25, not within 0 of 10"
        );
    }

    #[test]
    fn numeric_needs_exactly_one_number() {
        let check = numeric("$.total", 1.0, 0.0);
        assert_eq!(fails(&check, r#"{"sum": 1}"#), "Nothing is at $.total");
        assert_eq!(fails(&check, r#"{"total": "1"}"#), "$.total is \"1\", not a number");
        assert_eq!(fails(&check, r#"{"total": null}"#), "$.total is null, not a number");
        let many = numeric("$.items[*]", 1.0, 0.0);
        assert_eq!(fails(&many, r#"{"items": [1, 1]}"#), "$.items[*] finds 2 values, not one");
        assert!(fails(&check, "one").starts_with("The answer is not JSON: "));
    }

    #[test]
    fn numeric_problems() {
        assert!(numeric("$.total", 1.0, 0.0).problems().is_empty());
        assert_eq!(fields(&numeric("$.total", 1.0, -0.1)), ["tolerance"]);
        assert_eq!(fields(&numeric("$.total", 1.0, f64::NAN)), ["tolerance"]);
        assert_eq!(fields(&numeric("$.total", f64::INFINITY, 0.0)), ["expected"]);
        assert_eq!(fields(&numeric("total[", 1.0, 0.0)), ["path"]);
        assert_eq!(fields(&numeric(&format!("$.{}", "a".repeat(MAX_PATH_CHARS)), 1.0, 0.0)), ["path"]);
        assert_eq!(fields(&numeric("nope", 1.0, -1.0)), ["path", "tolerance"]);
        let problems = numeric("total", 1.0, 0.0).problems();
        assert!(problems[0].1.starts_with("Is not a JSONPath"), "{}", problems[0].1);
    }

    #[test]
    fn judge_problems() {
        let judge = |agent: &str, criteria: &str| Check::Judge { agent: agent.into(), criteria: criteria.into() };
        assert!(judge("grader@prod", "Polite and correct").problems().is_empty());
        assert_eq!(fields(&judge("grader", "")), ["criteria"]);
        assert_eq!(fields(&judge("grader", "  \n ")), ["criteria"]);
        assert_eq!(fields(&judge("grader", &"c".repeat(JUDGE_MAX_CRITERIA_CHARS + 1))), ["criteria"]);
        assert_eq!(fields(&judge("", "ok")), ["agent"]);
        assert_eq!(fields(&judge(&"a".repeat(MAX_JUDGE_REF_CHARS + 1), "")), ["agent", "criteria"]);
    }

    #[test]
    fn a_judge_check_waits_for_its_judge() {
        let outcome = Check::Judge { agent: "grader".into(), criteria: "ok".into() }.evaluate("anything");
        assert_eq!(
            outcome,
            CheckOutcome { kind: "judge".into(), passed: false, detail: "Waiting for the judge".into() }
        );
        assert_eq!(CheckOutcome::judged(true, "fine".into()).detail, "fine", "a judge's reason is kept on a pass");
    }

    fn verdict(reply: &str) -> (bool, String) {
        let verdict = parse_judge_verdict(reply).unwrap_or_else(|e| panic!("{reply:?}: {e}"));
        (verdict.passed, verdict.reason)
    }

    #[test]
    fn judge_verdicts_are_read_from_the_first_word() {
        assert_eq!(verdict("PASS"), (true, String::new()));
        assert_eq!(verdict("pass: because"), (true, "because".into()));
        assert_eq!(verdict("**FAIL** - wrong"), (false, "wrong".into()));
        assert_eq!(verdict("Passed."), (true, String::new()));
        assert_eq!(verdict("  FAIL\nThe total is off by one.\n"), (false, "The total is off by one.".into()));
        assert_eq!(verdict("## Failed, missing the date"), (false, "missing the date".into()));
    }

    #[test]
    fn judge_verdicts_are_read_from_json() {
        assert_eq!(verdict(r#"{"verdict":"fail","reason":"x"}"#), (false, "x".into()));
        assert_eq!(verdict(r#"{"verdict":"PASS"}"#), (true, String::new()));
        let error = parse_judge_verdict(r#"{"verdict":"maybe","reason":"x"}"#).unwrap_err();
        assert!(error.contains("no verdict of \"pass\" or \"fail\""), "{error}");
    }

    #[test]
    fn a_reply_that_is_neither_pass_nor_fail_is_an_error() {
        for reply in ["I think it is fine", "", "PASSABLE", "Failure"] {
            let error = parse_judge_verdict(reply).unwrap_err();
            assert!(error.contains("neither PASS nor FAIL"), "{reply:?}: {error}");
        }
        let error = parse_judge_verdict("garbage").unwrap_err();
        assert_eq!(error, "The judge answered neither PASS nor FAIL: \"garbage\"");
    }

    #[test]
    fn judge_input_holds_the_criteria_the_question_and_the_answer() {
        let Value::String(text) = judge_input("Must be polite", &json!("Say hi"), "Hello there") else {
            panic!("a judge's input is text");
        };
        assert!(text.contains("Criteria:\nMust be polite\n"), "{text}");
        assert!(text.contains("The agent was asked:\nSay hi\n"), "{text}");
        assert!(text.contains("The agent answered:\nHello there\n"), "{text}");
        assert!(text.contains("PASS or FAIL"), "{text}");
        let Value::String(text) = judge_input("c", &json!({"messages": [{"role": "user"}]}), "a") else {
            panic!("a judge's input is text");
        };
        assert!(text.contains(r#"{"messages":[{"role":"user"}]}"#), "{text}");
    }

    #[test]
    fn checks_round_trip_through_json() {
        let wire = json!({"type": "contains", "value": "x", "ignoreCase": true});
        let check: Check = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(check, contains("x", true));
        assert_eq!(serde_json::to_value(&check).unwrap(), wire);
        let check: Check = serde_json::from_value(json!({"type": "exact", "value": "y"})).unwrap();
        assert_eq!(check, exact("y", false), "ignoreCase defaults to false");
        let check: Check = serde_json::from_value(json!({"type": "jsonSchema", "schema": {"type": "object"}})).unwrap();
        assert_eq!(check.kind(), "jsonSchema");
        let check: Check =
            serde_json::from_value(json!({"type": "numeric", "path": "$.a", "expected": 1, "tolerance": 0.5})).unwrap();
        assert_eq!(check, numeric("$.a", 1.0, 0.5));
    }

    #[test]
    fn unknown_fields_and_types_are_refused() {
        let extra = json!({"type": "contains", "value": "x", "ignoreCase": true, "caseSensitive": false});
        assert!(serde_json::from_value::<Check>(extra).is_err());
        let snake = json!({"type": "contains", "value": "x", "ignore_case": true});
        assert!(serde_json::from_value::<Check>(snake).is_err());
        assert!(serde_json::from_value::<Check>(json!({"type": "fuzzy", "value": "x"})).is_err());
        assert!(serde_json::from_value::<Check>(json!({"value": "x"})).is_err());
    }
}
