//! An evaluation's report as text: a row per version, then the cases whose verdict differs between
//! the versions, then each version's failing cases with why (the first failed check, or the error).

use serde_json::Value;

use super::datasets::{one_line, plural};
use super::percent;
use crate::output::{self, ACCENT, ADDED, DIM, HEADER, REMOVED, Table, paint};

/// A version of the report as shown: `v3`, or its id when the number is unknown (a deleted version).
fn version_name(version_number: &Value, version_id: &Value) -> String {
    match version_number.as_i64() {
        Some(n) => format!("v{n}"),
        None => output::cell(version_id),
    }
}

/// The report, as lines (without colour when the output is no terminal).
pub fn render(report: &Value) -> String {
    let mut out = Vec::new();
    let status = output::cell(&report["status"]);
    let styled = match status.as_str() {
        "completed" => paint(ADDED, &status),
        "cancelled" => paint(REMOVED, &status),
        _ => paint(ACCENT, &status),
    };
    out.push(format!(
        "{} {} of dataset {} (revision {}): {styled}, {}/{} settled",
        paint(HEADER, "evaluation"),
        output::cell(&report["id"]),
        output::cell(&report["dataset"]),
        output::cell(&report["datasetRevision"]),
        output::cell(&report["settled"]),
        output::cell(&report["total"]),
    ));
    out.push(String::new());

    let mut table =
        Table::new(["VERSION", "PASSED", "FAILED", "ERRORED", "TOTAL", "PASS RATE", "AVG LATENCY", "TOKENS"]);
    for summary in report["summaries"].as_array().into_iter().flatten() {
        table.row(vec![
            version_name(&summary["versionNumber"], &summary["versionId"]),
            output::cell(&summary["passed"]),
            output::cell(&summary["failed"]),
            output::cell(&summary["errored"]),
            output::cell(&summary["total"]),
            summary["passRate"].as_f64().map_or_else(|| "-".into(), percent),
            summary["averageLatencyMs"].as_f64().map_or_else(|| "-".into(), |ms| format!("{ms:.0} ms")),
            output::cell(&summary["totalTokens"]),
        ]);
    }
    out.push(table.render());

    // Which version each result belongs to, by id, for the case lines.
    let names: Vec<(String, String)> = report["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| (output::cell(&v["versionId"]), version_name(&v["versionNumber"], &v["versionId"])))
        .collect();
    let name_of = |id: &Value| {
        let id = output::cell(id);
        names.iter().find(|(v, _)| *v == id).map_or(id, |(_, name)| name.clone())
    };
    let cases: Vec<&Value> = report["cases"].as_array().into_iter().flatten().collect();

    let differing: Vec<&&Value> = cases.iter().filter(|c| c["differs"] == Value::Bool(true)).collect();
    if names.len() > 1 {
        out.push(String::new());
        if differing.is_empty() {
            out.push(paint(DIM, "no case differs between the versions"));
        } else {
            out.push(paint(HEADER, format!("{} differing case{}:", differing.len(), plural(differing.len()))));
            for case in differing {
                let verdicts: Vec<String> = case["results"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| format!("{} {}", name_of(&r["versionId"]), verdict(&r["status"])))
                    .collect();
                out.push(format!("  {}  {}", paint(ACCENT, output::cell(&case["name"])), verdicts.join(", ")));
            }
        }
    }

    for (id, name) in &names {
        let failing: Vec<(String, &Value)> = cases
            .iter()
            .filter_map(|case| {
                let result = case["results"].as_array()?.iter().find(|r| r["versionId"].as_str() == Some(id))?;
                matches!(result["status"].as_str(), Some("failed" | "errored"))
                    .then(|| (output::cell(&case["name"]), result))
            })
            .collect();
        if failing.is_empty() {
            continue;
        }
        out.push(String::new());
        out.push(paint(HEADER, format!("failing on {name} ({}):", failing.len())));
        for (case, result) in failing {
            out.push(format!("  {}  {}{}", paint(ACCENT, case), verdict(&result["status"]), why(result)));
        }
    }
    out.join("\n")
}

fn verdict(value: &Value) -> String {
    let status = output::cell(value);
    match status.as_str() {
        "passed" => paint(ADDED, status),
        "failed" | "errored" => paint(REMOVED, status),
        _ => paint(DIM, status),
    }
}

/// Why a result did not pass: its first failed check (type and detail), or its error.
fn why(result: &Value) -> String {
    let failed = result["checks"].as_array().into_iter().flatten().find(|c| c["passed"] == Value::Bool(false));
    match (failed, result["error"].as_str()) {
        (Some(check), _) => {
            format!(
                " ({}): {}",
                output::cell(&check["type"]),
                one_line(check["detail"].as_str().unwrap_or_default(), 200)
            )
        }
        (None, Some(error)) => format!(": {}", one_line(error, 200)),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn report() -> Value {
        json!({
            "id": "eval_1", "dataset": "smoke", "datasetRevision": 2, "status": "completed",
            "settled": 4, "total": 4,
            "versions": [{"versionId": "ver_a", "versionNumber": 1}, {"versionId": "ver_b", "versionNumber": 2}],
            "summaries": [
                {"versionId": "ver_a", "versionNumber": 1, "total": 2, "passed": 2, "failed": 0, "errored": 0,
                 "passRate": 1.0, "averageLatencyMs": 12.4, "totalTokens": 40},
                {"versionId": "ver_b", "versionNumber": 2, "total": 2, "passed": 0, "failed": 1, "errored": 1,
                 "passRate": 0.0, "averageLatencyMs": null, "totalTokens": 0}],
            "differing": ["greets", "totals"],
            "cases": [
                {"name": "greets", "differs": true, "results": [
                    {"versionId": "ver_a", "status": "passed", "checks": [{"type": "contains", "passed": true, "detail": ""}]},
                    {"versionId": "ver_b", "status": "failed", "checks": [
                        {"type": "regex", "passed": true, "detail": ""},
                        {"type": "contains", "passed": false, "detail": "The answer does not contain \"hello\""}]}]},
                {"name": "totals", "differs": true, "results": [
                    {"versionId": "ver_a", "status": "passed", "checks": []},
                    {"versionId": "ver_b", "status": "errored", "checks": [], "error": "The model failed"}]}]
        })
    }

    #[test]
    fn a_report_shows_versions_differing_and_failing_cases() {
        let text = anstream::adapter::strip_str(&render(&report())).to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "evaluation eval_1 of dataset smoke (revision 2): completed, 4/4 settled");
        assert!(lines[3].starts_with("v1") && lines[3].contains("100%") && lines[3].contains("12 ms"), "{text}");
        assert!(lines[4].starts_with("v2") && lines[4].contains(" 0%") && lines[4].contains(" - "), "{text}");
        assert!(
            text.contains("2 differing cases:\n  greets  v1 passed, v2 failed\n  totals  v1 passed, v2 errored"),
            "{text}"
        );
        assert!(text.contains("failing on v2 (2):"), "{text}");
        // The first check that failed, not the first check.
        assert!(text.contains("  greets  failed (contains): The answer does not contain \"hello\""), "{text}");
        assert!(text.contains("  totals  errored: The model failed"), "{text}");
        assert!(!text.contains("failing on v1"), "{text}");
    }

    #[test]
    fn one_version_has_no_differing_cases_to_show() {
        let mut one = report();
        one["versions"] = json!([{"versionId": "ver_a", "versionNumber": 1}]);
        let text = anstream::adapter::strip_str(&render(&one)).to_string();
        assert!(!text.contains("differ"), "{text}");
    }
}
