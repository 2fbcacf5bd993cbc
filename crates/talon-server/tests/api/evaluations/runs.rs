//! Evaluations run: every case against each version as runtime tasks of an agent that is not deployed,
//! the report per version and per case, judges deciding their checks, at most `concurrency` tasks in
//! flight, cancelling, `evaluation.completed` to webhooks, the audit log, and the checks on a start.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use talon_store::Backend;

use super::{Scripted, WRONG_CASES, agent, config, dataset, evaluate, finished, read, smoke, start, version};
use crate::common::receiver::Receiver;
use crate::common::{TestApp, assert_error};

on_both_databases!(
    an_evaluation_reports_each_version_case_by_case,
    evaluation_events_reach_webhooks_and_the_audit_log,
    a_judge_agent_decides_its_checks,
    concurrency_bounds_the_tasks_in_flight,
    cancelling_stops_an_evaluation,
    starting_is_checked,
);

/// The tasks of the agent's evaluation on `dataset`, as `GET /api/tasks` lists them (the list shows no
/// dedupe key; the title names the dataset).
async fn tasks_of(app: &TestApp, token: &str, agent: &str, dataset: &str) -> Vec<Value> {
    let prefix = format!("Evaluation on {dataset}: ");
    let listed = app.get_json(&format!("/api/tasks?agentId={agent}&limit=100"), token).await;
    let tasks = listed["data"].as_array().unwrap().iter();
    tasks.filter(|t| t["title"].as_str().is_some_and(|k| k.starts_with(&prefix))).cloned().collect()
}

/// A case's result on the `index`th version of the report.
fn result<'a>(report: &'a Value, case: &str, index: usize) -> &'a Value {
    let cases = report["cases"].as_array().unwrap();
    let found = cases.iter().find(|c| c["name"] == case).unwrap_or_else(|| panic!("no case {case}: {report}"));
    &found["results"][index]
}

async fn an_evaluation_reports_each_version_case_by_case(backend: Backend) {
    let (app, up, user, id) = smoke(backend).await;
    let token = user.token.as_str();
    let v1 = app.get_json(&format!("/api/agents/{id}/versions/1"), token).await["id"].clone();
    let v2 = app.get_json(&format!("/api/agents/{id}/versions/2"), token).await["id"].clone();

    let started = start(&app, token, &id, json!({"dataset": "smoke", "versions": [1, 2]})).await;
    assert_eq!(
        (&started["status"], &started["dataset"], &started["datasetRevision"], &started["concurrency"]),
        (&json!("running"), &json!("smoke"), &json!(1), &json!(4)),
        "{started}"
    );
    assert_eq!(
        started["versions"],
        json!([{"versionId": v1, "versionNumber": 1}, {"versionId": v2, "versionNumber": 2}])
    );
    assert_eq!((started["settled"].as_i64(), started["total"].as_i64()), (Some(0), Some(10)));
    let report = finished(&app, token, &id, &started).await;
    assert_eq!(report["status"], "completed", "{report}");
    assert!(report["completedAt"].is_string());
    assert_eq!((report["settled"].as_i64(), report["total"].as_i64()), (Some(10), Some(10)));

    // Per version: version 1 passes every case, version 2 three fewer.
    let summaries = report["summaries"].as_array().unwrap();
    let fields = ["versionId", "versionNumber", "total", "passed", "failed", "errored", "passRate", "totalTokens"];
    let counts: Vec<Value> = summaries.iter().map(|s| fields.iter().map(|f| s[*f].clone()).collect()).collect();
    assert_eq!(counts, [json!([v1, 1, 5, 5, 0, 0, 1.0, 50]), json!([v2, 2, 5, 2, 3, 0, 0.4, 50])], "{report}");
    for summary in summaries {
        // The upstream waits 30 ms before each answer.
        assert!(summary["averageLatencyMs"].as_f64().unwrap() >= 25.0, "{summary}");
    }
    assert_eq!(report["differing"], json!(WRONG_CASES));

    // Per case: each version's answer, each check's outcome and why it failed.
    let names: Vec<&str> = report["cases"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["greets", "capital", "phone", "json", "total"]);
    for case in report["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        assert_eq!(case["differs"], WRONG_CASES.contains(&name), "{case}");
        assert_eq!((&case["results"][0]["versionId"], &case["results"][1]["versionId"]), (&v1, &v2));
    }
    let greets = result(&report, "greets", 1);
    assert_eq!((&greets["status"], &greets["answer"]), (&json!("passed"), &json!("Hello there!")));
    assert_eq!(
        greets["checks"],
        json!([{"type": "contains", "passed": true, "detail": ""}, {"type": "regex", "passed": true, "detail": ""}])
    );
    assert_eq!(result(&report, "capital", 0)["answer"], "Paris");
    let capital = result(&report, "capital", 1);
    assert_eq!((&capital["status"], &capital["answer"]), (&json!("failed"), &json!("Lyon")));
    assert_eq!(capital["checks"], json!([{"type": "exact", "passed": false, "detail": "The answer is not \"Paris\""}]));
    let json_case = result(&report, "json", 1);
    assert_eq!(
        (&json_case["checks"][0]["type"], &json_case["checks"][0]["passed"]),
        (&json!("jsonSchema"), &json!(false))
    );
    let detail = json_case["checks"][0]["detail"].as_str().unwrap();
    assert!(detail.starts_with("Not valid: /name") && detail.contains("string"), "{detail}");
    assert_eq!(result(&report, "json", 0)["checks"][0]["passed"], true, "{report}");
    assert_eq!(result(&report, "total", 0)["checks"][0], json!({"type": "numeric", "passed": true, "detail": ""}));
    assert_eq!(result(&report, "total", 1)["checks"][0]["detail"], "$.total is 41, not within 0.5 of 42");
    assert_eq!(result(&report, "phone", 1)["status"], "passed");

    // Each result is a task of its own, worked by the runtime with the version it evaluates.
    let prefix = format!("evaluation:{}:", report["id"].as_str().unwrap());
    let mut task_ids = Vec::new();
    for case in report["cases"].as_array().unwrap() {
        for result in case["results"].as_array().unwrap() {
            assert_eq!(
                (&result["tokens"], &result["error"], &result["judgeTaskIds"]),
                (&json!(10), &Value::Null, &json!([]))
            );
            assert!(result["latencyMs"].as_i64().unwrap() >= 25, "{result}");
            let task_id = result["taskId"].as_str().unwrap();
            let task = app.get_json(&format!("/api/tasks/{task_id}"), token).await;
            assert_eq!(
                (&task["status"], &task["executor"], &task["agentId"], &task["versionId"], &task["attempts"]),
                (&json!("completed"), &json!("runtime"), &json!(id), &result["versionId"], &json!(1)),
                "{task}"
            );
            assert_eq!(task["output"]["content"], result["answer"]);
            assert!(task["dedupeKey"].as_str().unwrap().starts_with(&prefix), "{task}");
            task_ids.push(task_id.to_owned());
        }
    }
    task_ids.sort();
    task_ids.dedup();
    assert_eq!(task_ids.len(), 10);
    assert_eq!(up.requests(), 10, "each case asked of each version once");

    // The list shows it with its summaries; the agent was never deployed.
    let listed = app.get_json(&format!("/api/agents/{id}/evaluations"), token).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!((&listed["data"][0]["id"], &listed["data"][0]["status"]), (&report["id"], &json!("completed")));
    assert_eq!(listed["data"][0]["summaries"], report["summaries"]);
    assert!(listed["data"][0].get("cases").is_none());
    assert_eq!(app.get_json(&format!("/api/agents/{id}"), token).await["status"], "idle");
}

async fn evaluation_events_reach_webhooks_and_the_audit_log(backend: Backend) {
    let (app, _up, user, id) = smoke(backend).await;
    let receiver = Receiver::start().await;
    let hook = app
        .post("/api/webhooks", Some(&user.token), json!({"url": receiver.url, "events": ["evaluation.completed"]}))
        .await;
    let (status, hook) = read(hook).await;
    assert_eq!(status, 201, "{hook}");
    let report = evaluate(&app, &user.token, &id, "smoke", json!([1, 2])).await;

    let got = receiver.wait_for(1).await;
    assert_eq!(got.len(), 1, "one delivery");
    let verifier = standardwebhooks::Webhook::new(hook["secret"].as_str().unwrap()).unwrap();
    verifier.verify(&got[0].body, &got[0].headers).expect("a signed delivery");
    let body = got[0].json();
    assert_eq!(body["event"], "evaluation.completed");
    let data = &body["data"];
    assert_eq!((&data["id"], &data["agent"], &data["dataset"]), (&report["id"], &json!(id), &json!("smoke")));
    assert_eq!(data["datasetRevision"], 1);
    let versions: Vec<(i64, f64, i64, i64)> = data["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let n = |k: &str| v[k].as_i64().unwrap();
            (n("versionNumber"), v["passRate"].as_f64().unwrap(), n("passed"), n("total"))
        })
        .collect();
    assert_eq!(versions, [(1, 1.0, 5, 5), (2, 0.4, 2, 5)], "{body}");
    assert_eq!(data["differing"], json!(WRONG_CASES));

    let audit = app.get_json("/api/audit?limit=100", &user.token).await;
    let entries = audit["data"].as_array().unwrap();
    let find = |action: &str| {
        entries.iter().find(|e| e["action"] == action).unwrap_or_else(|| panic!("no {action}: {audit}")).clone()
    };
    let created = find("dataset.created");
    assert_eq!((&created["resource"]["type"], &created["resource"]["id"]), (&json!("dataset"), &json!("smoke")));
    assert_eq!((&created["agentId"], &created["actor"]["type"]), (&json!(id), &json!("session")));
    let started = find("evaluation.started");
    assert_eq!((&started["resource"]["type"], &started["resource"]["id"]), (&json!("evaluation"), &report["id"]));
    assert_eq!((&started["agentId"], &started["actor"]["type"]), (&json!(id), &json!("session")));
    let completed = find("evaluation.completed");
    assert_eq!((&completed["resource"]["id"], &completed["actor"]["type"]), (&report["id"], &json!("system")));
}

async fn a_judge_agent_decides_its_checks(backend: Backend) {
    let up = Scripted::start(Duration::ZERO, |system, user| {
        let text = match system {
            "judge" if user.contains("The agent answered:\nGlad to help") => "PASS: fine",
            "judge" => "FAIL: wrong",
            _ if user == "Be polite" => "Glad to help",
            _ => "Go away",
        };
        text.to_owned()
    })
    .await;
    let app = TestApp::spawn_with(backend, config(&up)).await;
    let user = app.register("you@example.com").await;
    let token = user.token.as_str();
    let (judge, judge_slug) = agent(&app, &user, "Strict Judge", "judge").await;
    let (id, _) = agent(&app, &user, "Helper", "helper").await;
    let criteria = "Is the answer polite?";
    let cases = json!([
        {"name": "polite", "input": "Be polite",
         "checks": [{"type": "contains", "value": "help"},
                    {"type": "judge", "agent": judge_slug, "criteria": criteria}]},
        {"name": "rude", "input": "Be rude",
         "checks": [{"type": "judge", "agent": format!("{judge_slug}@1"), "criteria": criteria}]},
    ]);
    dataset(&app, token, &id, json!({"name": "manners", "cases": cases})).await;
    let report = evaluate(&app, token, &id, "manners", json!([1])).await;

    let polite = result(&report, "polite", 0);
    assert_eq!(polite["status"], "passed", "{report}");
    assert_eq!(
        polite["checks"],
        json!([{"type": "contains", "passed": true, "detail": ""}, {"type": "judge", "passed": true, "detail": "fine"}])
    );
    let rude = result(&report, "rude", 0);
    assert_eq!(rude["status"], "failed", "{report}");
    assert_eq!(rude["checks"], json!([{"type": "judge", "passed": false, "detail": "wrong"}]));
    let summary = &report["summaries"][0];
    assert_eq!((summary["passed"].as_i64(), summary["failed"].as_i64()), (Some(1), Some(1)));

    // Each judge answered in a task of its own, given the criteria and the answer.
    for (case, answer, verdict) in [(polite, "Glad to help", "PASS: fine"), (rude, "Go away", "FAIL: wrong")] {
        let judges = case["judgeTaskIds"].as_array().unwrap();
        assert_eq!(judges.len(), 1, "{case}");
        assert_ne!(judges[0], case["taskId"]);
        let task = app.get_json(&format!("/api/tasks/{}", judges[0].as_str().unwrap()), token).await;
        assert_eq!(
            (&task["agentId"], &task["status"], &task["executor"]),
            (&json!(judge), &json!("completed"), &json!("runtime"))
        );
        assert_eq!(task["output"]["content"], verdict);
        let asked = task["input"].as_str().unwrap();
        assert!(asked.contains(criteria) && asked.contains(answer), "{asked}");
    }
    assert_eq!(up.requests(), 4, "two answers and two judgements");
}

async fn concurrency_bounds_the_tasks_in_flight(backend: Backend) {
    let up = Scripted::start(Duration::from_millis(400), |_, user| user.to_owned()).await;
    let app = TestApp::spawn_with(backend, config(&up)).await;
    let user = app.register("you@example.com").await;
    let token = user.token.as_str();
    let (id, _) = agent(&app, &user, "Slow", "p").await;
    let cases: Vec<Value> = ["one", "two", "three", "four"]
        .iter()
        .map(|word| json!({"name": word, "input": word, "checks": [{"type": "exact", "value": word}]}))
        .collect();
    dataset(&app, token, &id, json!({"name": "slow", "cases": cases})).await;
    let started = start(&app, token, &id, json!({"dataset": "slow", "versions": [1], "concurrency": 1})).await;
    assert_eq!(started["concurrency"], 1);

    let path = format!("/api/agents/{id}/evaluations/{}", started["id"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut most = 0;
    let report = loop {
        let tasks = tasks_of(&app, token, &id, "slow").await;
        let in_flight = tasks.iter().filter(|t| t["status"] == "queued" || t["status"] == "running").count();
        most = most.max(in_flight);
        let report = app.get_json(&path, token).await;
        if report["status"] != "running" {
            break report;
        }
        assert!(Instant::now() < deadline, "the evaluation never finished: {report}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    };
    assert_eq!(most, 1, "at most one task in the queue at once, and one seen");
    assert_eq!(report["status"], "completed", "{report}");
    assert_eq!(report["summaries"][0]["passed"], 4, "{report}");
    assert_eq!((up.requests(), up.most_in_flight()), (4, 1));
}

async fn cancelling_stops_an_evaluation(backend: Backend) {
    // One runtime slot and an upstream that takes 20 s: one task runs and the others wait in the queue.
    let up = Scripted::start(Duration::from_secs(20), |_, user| user.to_owned()).await;
    let mut config = config(&up);
    config.runtime_workers = 1;
    let app = TestApp::spawn_with(backend, config).await;
    let user = app.register("you@example.com").await;
    let token = user.token.as_str();
    let (id, _) = agent(&app, &user, "Stuck", "p").await;
    let cases: Vec<Value> = (0..5)
        .map(|i| {
            let checks = json!([{"type": "contains", "value": "say"}]);
            json!({"name": format!("case {i}"), "input": format!("say {i}"), "checks": checks})
        })
        .collect();
    dataset(&app, token, &id, json!({"name": "stuck", "cases": cases})).await;
    let started = start(&app, token, &id, json!({"dataset": "stuck", "versions": [1], "concurrency": 3})).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let tasks = tasks_of(&app, token, &id, "stuck").await;
        let running = tasks.iter().filter(|t| t["status"] == "running").count();
        let queued = tasks.iter().filter(|t| t["status"] == "queued").count();
        if (running, queued) == (1, 2) && up.requests() == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "never one running and two queued: {tasks:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let path = format!("/api/agents/{id}/evaluations/{}", started["id"].as_str().unwrap());
    let (status, cancelled) = read(app.post(&format!("{path}/cancel"), Some(token), json!({})).await).await;
    assert_eq!((status, &cancelled["status"]), (200, &json!("cancelled")), "{cancelled}");
    let tasks = tasks_of(&app, token, &id, "stuck").await;
    let statuses: Vec<&str> = tasks.iter().map(|t| t["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["cancelled"; 3], "its queued and running tasks are cancelled");

    // The driver creates no more of its tasks.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(tasks_of(&app, token, &id, "stuck").await.len(), 3);
    let report = app.get_json(&path, token).await;
    assert_eq!(report["status"], "cancelled", "{report}");
    assert_eq!(report["summaries"][0]["passed"], 0, "{report}");
    assert_error(app.post(&format!("{path}/cancel"), Some(token), json!({})).await, 409, "CONFLICT").await;
    assert_eq!(up.requests(), 1);
}

async fn starting_is_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let token = user.token.as_str();
    let agent =
        app.create_agent(token, json!({"name": "Echo", "prompt": "p", "model": {"primary": "test/echo"}})).await;
    let id = agent["id"].as_str().unwrap();
    assert_eq!(version(&app, &user, id, "q").await, 2);
    let foreign = app.create_agent(token, json!({"name": "Other", "prompt": "p"})).await;
    let cases = json!([{"name": "echoes", "input": "ping", "checks": [{"type": "contains", "value": "ping"}]}]);
    dataset(&app, token, id, json!({"name": "smoke", "cases": cases})).await;
    let path = format!("/api/agents/{id}/evaluations");
    let with = |versions: Value, concurrency: Value| {
        let mut body = json!({"dataset": "smoke", "versions": versions});
        body["concurrency"] = concurrency;
        body
    };
    let refused = [
        (json!({"dataset": "nope", "versions": [1]}), 404, "dataset"),
        (with(json!([1, 1]), json!(2)), 400, "versions[1]"),
        (with(json!([1, agent["currentVersionId"]]), json!(2)), 400, "versions[1]"),
        (with(json!([1, 2, 3, 4, 5, 6]), json!(2)), 400, "versions"),
        (with(json!([]), json!(2)), 400, "versions"),
        (with(json!([1]), json!(0)), 400, "concurrency"),
        (with(json!([1]), json!(17)), 400, "concurrency"),
        (with(json!([1, 9]), json!(2)), 404, "versions[1]"),
        (with(json!([foreign["currentVersionId"]]), json!(2)), 404, "versions[0]"),
    ];
    for (body, status, field) in refused {
        let code = if status == 404 { "NOT_FOUND" } else { "VALIDATION_ERROR" };
        let error = assert_error(app.post(&path, Some(token), body.clone()).await, status, code).await;
        let fields: Vec<&str> =
            error["error"]["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
        assert_eq!(fields, [field], "{body}: {error}");
    }
    // An unknown label is 404 too (its details name no field: see the report).
    assert_error(app.post(&path, Some(token), with(json!([1, "nope"]), json!(2))).await, 404, "NOT_FOUND").await;
    assert_eq!(app.get_json(&path, token).await["data"], json!([]), "nothing was started");
    let report = start(&app, token, id, with(json!([2, 1]), json!(16))).await;
    let numbers: Vec<i64> =
        report["versions"].as_array().unwrap().iter().map(|v| v["versionNumber"].as_i64().unwrap()).collect();
    assert_eq!((numbers, &report["concurrency"]), (vec![2, 1], &json!(16)));
}
