//! `talon datasets`, `talon eval`, `talon evals` and the `--require-eval` gate on label moves, deploys
//! and promotes. `test/echo` answers with the user's message whatever the prompt, so the version that
//! does not pass names a model no provider serves: its cases error.

use serde_json::{Value, json};

use super::{ClientEnv, text, write};

/// An agent `echoer` with v1 on `test/echo` and v2 on a model nobody serves.
fn echoer(env: &ClientEnv) {
    env.ok(&["init", "--name", "Echoer"]);
    env.ok(&["push", "echoer"]);
    let manifest = std::fs::read_to_string(env.path("echoer/talon.toml")).unwrap();
    let broken = manifest.replace("test/echo", "test/broken");
    assert_ne!(manifest, broken, "{manifest}");
    std::fs::write(env.path("echoer/talon.toml"), broken).unwrap();
    env.ok(&["push", "echoer"]);
}

/// Two cases `test/echo` passes: a substring, and a number at a JSONPath of the echoed JSON.
fn smoke() -> Value {
    json!({"description": "What echo must do", "cases": [
        {"name": "greets", "input": "hello there", "checks": [{"type": "contains", "value": "hello"}]},
        {"name": "totals", "input": {"prompt": "{\"total\": 42}"},
         "checks": [{"type": "numeric", "path": "$.total", "expected": 42, "tolerance": 0}]}]})
}

fn push_dataset(env: &ClientEnv, name: &str, body: &Value) -> String {
    let file = format!("{name}.json");
    write(&env.path(&file), &body.to_string());
    env.ok(&["datasets", "push", "echoer", name, &file])
}

#[test]
fn datasets_are_pushed_listed_shown_and_deleted() {
    let env = ClientEnv::start();
    echoer(&env);
    let created = push_dataset(&env, "smoke", &smoke());
    assert!(created.contains("dataset smoke: created (2 cases)"), "{created}");
    let replaced = push_dataset(&env, "smoke", &smoke());
    assert!(replaced.contains("dataset smoke: replaced, revision 2 (2 cases)"), "{replaced}");

    let listed = env.ok(&["datasets", "list", "echoer"]);
    let row = listed.lines().nth(1).unwrap_or_default();
    assert!(row.starts_with("smoke") && row.contains(" 2 ") && row.contains("What echo must do"), "{listed}");
    let shown = env.ok(&["datasets", "show", "echoer", "smoke"]);
    assert!(shown.contains("revision 2, 2 cases"), "{shown}");
    assert!(
        shown.lines().any(|l| l.starts_with("greets") && l.contains("hello there") && l.contains("contains \"hello\""))
    );
    assert!(shown.contains("numeric $.total = 42 ± 0"), "{shown}");

    // What `show --json` prints is pushed back as the next revision.
    let json = env.json(&["datasets", "show", "echoer", "smoke"]);
    assert_eq!(json["cases"].as_array().unwrap().len(), 2);
    std::fs::write(env.path("shown.json"), json.to_string()).unwrap();
    assert!(env.ok(&["datasets", "push", "echoer", "smoke", "shown.json"]).contains("revision 3"));
    // A file for another dataset, one that is no JSON, a check the server refuses: exit 1, nothing saved.
    let out = env.run(&["datasets", "push", "echoer", "other", "shown.json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("names dataset \"smoke\""), "{}", text(&out.stderr));
    write(&env.path("bad.json"), "{\"cases\": [");
    assert_eq!(env.run(&["datasets", "push", "echoer", "bad", "bad.json"]).status.code(), Some(1));
    let bad = json!({"cases": [{"name": "x", "input": "y", "checks": [{"type": "regex", "pattern": "("}]}]});
    write(&env.path("bad.json"), &bad.to_string());
    let out = env.run(&["datasets", "push", "echoer", "bad", "bad.json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cases[0].checks[0]"), "{}", text(&out.stderr));
    assert_eq!(env.json(&["datasets", "list", "echoer"])["data"].as_array().unwrap().len(), 1);

    assert!(env.ok(&["datasets", "delete", "echoer", "smoke"]).contains("deleted dataset smoke"));
    assert_eq!(env.run(&["datasets", "show", "echoer", "smoke"]).status.code(), Some(1));
    assert!(env.json(&["datasets", "list", "echoer"])["data"].as_array().unwrap().is_empty());
}

#[test]
fn an_evaluation_reports_each_version_and_gates_labels_deploys_and_promotes() {
    let env = ClientEnv::start();
    echoer(&env);
    push_dataset(&env, "smoke", &smoke());

    // v2 answers nothing: the evaluation completes, its cases errored, so the command exits 1.
    let out = env.run(&["eval", "echoer", "--dataset", "smoke", "1", "2", "--concurrency", "2"]);
    let (report, errors) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{errors}\n{report}");
    assert!(errors.contains("2 case results errored"), "{errors}");
    assert!(report.contains("of dataset smoke (revision 1): completed, 4/4 settled"), "{report}");
    let row = |version: &str| report.lines().find(|l| l.starts_with(version)).unwrap_or_default().to_owned();
    let v1: Vec<String> = row("v1 ").split_whitespace().map(str::to_owned).collect();
    assert_eq!(v1[..6], ["v1", "2", "0", "0", "2", "100%"], "{report}");
    let v2: Vec<String> = row("v2 ").split_whitespace().map(str::to_owned).collect();
    assert_eq!(v2[..6], ["v2", "0", "0", "2", "2", "0%"], "{report}");
    assert!(
        report.contains("2 differing cases:\n  greets  v1 passed, v2 errored\n  totals  v1 passed, v2 errored"),
        "{report}"
    );
    assert!(report.contains("failing on v2 (2):"), "{report}");
    assert!(report.contains("  greets  errored: ") && report.contains("test/broken"), "{report}");
    assert!(!report.contains("failing on v1"), "{report}");

    // A failed check is shown with its detail; failed checks alone still exit 0.
    let strict = json!({"cases": [
        {"name": "greets", "input": "hello", "checks": [{"type": "exact", "value": "hello"}]},
        {"name": "apologises", "input": "no way", "checks": [
            {"type": "contains", "value": "no"}, {"type": "contains", "value": "sorry"}]}]});
    push_dataset(&env, "strict", &strict);
    let report = env.ok(&["eval", "echoer@1", "--dataset", "strict"]);
    assert!(report.lines().any(|l| l.starts_with("v1") && l.contains("50%")), "{report}");
    assert!(!report.contains("differ"), "one version: {report}");
    assert!(
        report.contains("failing on v1 (1):\n  apologises  failed (contains): The answer does not contain \"sorry\""),
        "{report}"
    );

    // The gate: v2 is refused, naming its failing cases one a line; v1 passes and the label keeps it.
    let out = env.run(&["agents", "label", "echoer", "production", "2", "--require-eval", "smoke:0.9"]);
    let refused = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{refused}");
    assert!(refused.contains("Version 2 passed 0% of dataset `smoke`, below the required 90%"), "{refused}");
    assert!(refused.contains("HTTP 409"), "{refused}");
    assert!(refused.contains("\n  Case `greets` did not pass") && refused.contains("\n  Case `totals` did not pass"));
    let moved = env.ok(&["agents", "label", "echoer", "production", "1", "--require-eval", "smoke:0.9"]);
    assert!(moved.contains("echoer@production now names v1 (requires smoke ≥ 90%)"), "{moved}");
    let labels = env.ok(&["agents", "labels", "echoer"]);
    assert!(labels.lines().any(|l| l.starts_with("production") && l.ends_with("smoke ≥ 90%")), "{labels}");
    // Without a flag the requirement stays; `--no-require-eval` removes it.
    let out = env.run(&["agents", "label", "echoer", "production", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(env.ok(&["agents", "label", "echoer", "production", "2", "--no-require-eval"]).contains("names v2\n"));
    let labels = env.json(&["agents", "labels", "echoer"]);
    assert!(labels["data"][0]["requireEvaluation"].is_null(), "{labels}");
    // A dataset revised since the evaluation: v1 must be evaluated again.
    push_dataset(&env, "smoke", &smoke());
    let out = env.run(&["agents", "label", "echoer", "staging", "1", "--require-eval", "smoke:0.9"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("revision 1"), "{}", text(&out.stderr));
    assert_eq!(env.run(&["eval", "echoer", "--dataset", "smoke", "1", "2"]).status.code(), Some(1), "v2 errored");

    // Deploy and promote carry the gate too.
    let out = env.run(&["deploy", "echoer@2", "--require-eval", "smoke:0.9"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("Case `greets` did not pass"), "{}", text(&out.stderr));
    assert!(env.ok(&["deploy", "echoer@1", "--require-eval", "smoke:1"]).contains("serves v1 (pinned)"));
    env.ok(&["split", "echoer", "1=50", "2=50"]);
    let out = env.run(&["promote", "echoer", "2", "--require-eval", "smoke:90%"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(env.ok(&["promote", "echoer", "1", "--require-eval", "smoke:0.9"]).contains("serves v1 alone"));
    let out = env.run(&["split", "echoer", "1=50", "2=50", "--require-eval", "smoke:0.9"]);
    assert_eq!(out.status.code(), Some(1), "an arm, v2, does not pass: {}", text(&out.stderr));

    // Requirements that are no DATASET:RATE are usage errors, sent nowhere.
    for bad in ["smoke", "smoke:1.5", "Smoke:0.9", "smoke:most"] {
        let out = env.run(&["agents", "label", "echoer", "production", "1", "--require-eval", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("DATASET:RATE"), "{bad}: {}", text(&out.stderr));
    }
    let out = env.run(&["deploy", "echoer@1", "--require-eval", "smoke"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out =
        env.run(&["agents", "label", "echoer", "production", "1", "--require-eval", "smoke:1", "--no-require-eval"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));

    // The evaluations, newest first, with their rates; one shown again as the API has it.
    let listed = env.ok(&["evals", "list", "echoer"]);
    let rows: Vec<&str> = listed.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{listed}");
    assert!(rows[0].contains("smoke@2") && rows[0].contains("completed") && rows[0].contains("v1 100%, v2 0%"));
    assert!(rows[2].contains("smoke@1") && rows[2].contains("v1 100%, v2 0%"), "{listed}");
    let page = env.json(&["evals", "list", "echoer", "--limit", "1"]);
    let id = page["data"][0]["id"].as_str().unwrap().to_owned();
    let shown = env.json(&["evals", "show", "echoer", &id]);
    assert_eq!((shown["status"].as_str(), shown["settled"].as_i64()), (Some("completed"), Some(4)), "{shown}");
    let older = env.ok(&["evals", "list", "echoer", "--limit", "1", "--after", &id]);
    assert!(older.contains("strict@1") && older.contains("--after"), "{older}");
}

#[test]
fn an_evaluation_started_without_waiting_is_cancelled() {
    let env = ClientEnv::start();
    echoer(&env);
    // Enough cases, one at a time, that it is still running when cancelled.
    let cases: Vec<Value> = (0..30)
        .map(|i| json!({"name": format!("case {i}"), "input": "hi", "checks": [{"type": "contains", "value": "hi"}]}))
        .collect();
    push_dataset(&env, "many", &json!({"cases": cases}));

    let id = env.ok(&["eval", "echoer", "--dataset", "many", "--no-wait", "--concurrency", "1", "1"]).trim().to_owned();
    assert!(id.starts_with("eval_"), "{id}");
    let cancelled = env.ok(&["evals", "cancel", "echoer", &id]);
    assert!(cancelled.starts_with(&format!("cancelled evaluation {id} (")), "{cancelled}");
    let report = env.ok(&["evals", "show", "echoer", &id]);
    assert!(report.contains(": cancelled, "), "{report}");
    let out = env.run(&["evals", "cancel", "echoer", &id]);
    assert_eq!(out.status.code(), Some(1), "not running any more: {}", text(&out.stderr));

    // Without versions, the head is evaluated.
    let started = env.json(&["eval", "echoer", "--dataset", "many", "--no-wait"]);
    assert_eq!(started["versions"][0]["versionNumber"], 2, "{started}");
    let out = env.run(&["eval", "echoer", "--dataset", "missing", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let out = env.run(&["eval", "echoer", "--dataset", "many", "1", "--concurrency", "17"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}
