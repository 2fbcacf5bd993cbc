//! Tasks worked by Talon's own runtime: a deployed agent's tasks are answered by the version they are
//! pinned to (through a mock upstream), completed with the answer, retried on passing upstream failures
//! and failed otherwise; replicas answer each task once; external claims never see runtime tasks.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::common::receiver::Receiver;
use crate::common::{TestApp, User, assert_error};
use futures::future::join_all;
use serde_json::{Value, json};
use talon_gateway::testing::{Upstream, upstream};
use talon_gateway::{ProviderConfig, ProviderKind};
use talon_server::ServerConfig;
use talon_store::Backend;
use talon_store::testing::TestDatabase;

on_both_databases!(
    a_runtime_task_completes_with_the_upstream_answer,
    the_pinned_version_answers_after_a_new_one_exists,
    the_executor_defaults_to_runtime_only_for_deployed_agents,
    a_refused_request_fails_the_task,
    upstream_500s_are_retried_until_attempts_run_out,
    task_events_reach_webhooks,
    two_replicas_answer_each_of_20_tasks_once,
    external_claims_never_receive_runtime_tasks,
);

fn config_with(up: &Upstream) -> ServerConfig {
    let mut config = crate::common::test_config();
    config.plans = crate::common::plans(1_000_000, 1_000_000);
    config.providers.push(ProviderConfig {
        name: "up".into(),
        kind: ProviderKind::Openai,
        base_url: up.base.clone(),
        api_key_env: None,
    });
    config
}

async fn app_with_upstream(backend: Backend) -> (TestApp, Upstream, User) {
    let up = upstream().await;
    let app = TestApp::spawn_with(backend, config_with(&up)).await;
    let user = app.register("you@example.com").await;
    (app, up, user)
}

/// Creates and deploys an agent; returns its JSON (as created).
async fn deployed_agent(app: &TestApp, user: &User, prompt: &str, model: &str) -> Value {
    let agent =
        app.create_agent(&user.token, json!({"name": "Worker", "prompt": prompt, "model": {"primary": model}})).await;
    let id = agent["id"].as_str().unwrap();
    let deployed = app.post(&format!("/api/agents/{id}/deploy"), Some(&user.token), json!({})).await;
    assert_eq!(deployed.status(), 200);
    agent
}

async fn new_task(app: &TestApp, user: &User, body: Value) -> Value {
    let response = app.post("/api/tasks", Some(&user.token), body).await;
    let status = response.status();
    let json: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{json}");
    json
}

/// Polls the task until it is completed, failed or cancelled (up to 20 s).
async fn settled(app: &TestApp, user: &User, task: &Value) -> Value {
    let path = format!("/api/tasks/{}", task["id"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = app.get_json(&path, &user.token).await;
        if ["completed", "failed", "cancelled"].contains(&got["status"].as_str().unwrap_or_default()) {
            return got;
        }
        assert!(Instant::now() < deadline, "the task never settled: {got}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The request the upstream received whose last message says `text`.
fn sent_with(up: &Upstream, text: &str) -> Value {
    let seen = up.seen.lock().unwrap();
    let found =
        seen.iter().find(|r| r["messages"].as_array().and_then(|m| m.last()).is_some_and(|m| m["content"] == text));
    found.cloned().unwrap_or_else(|| panic!("no upstream request ended with {text:?}"))
}

async fn a_runtime_task_completes_with_the_upstream_answer(backend: Backend) {
    let (app, up, user) = app_with_upstream(backend).await;
    let agent = deployed_agent(&app, &user, "You review code.", "up/ok").await;
    let task =
        new_task(&app, &user, json!({"agentId": agent["id"], "title": "Review", "input": {"prompt": "Review PR #42"}}))
            .await;
    assert_eq!(task["executor"], "runtime");
    let done = settled(&app, &user, &task).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["output"],
        json!({"content": "Hello from upstream", "model": "up/ok", "finishReason": "stop",
               "usage": {"promptTokens": 9, "completionTokens": 3, "totalTokens": 12, "estimated": false}})
    );
    assert_eq!((done["attempts"].as_i64(), &done["error"]), (Some(1), &Value::Null));
    assert!(done["startedAt"].is_string() && done["completedAt"].is_string());
    let sent = sent_with(&up, "Review PR #42");
    assert_eq!(sent["model"], "ok");
    assert_eq!(
        sent["messages"],
        json!([{"role": "system", "content": "You review code."}, {"role": "user", "content": "Review PR #42"}])
    );
    assert_eq!(up.seen.lock().unwrap().len(), 1, "answered once");

    // A conversation in the input goes upstream as it is.
    let conversation = json!([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                              {"role": "user", "content": "Now review PR #43"}]);
    let task =
        new_task(&app, &user, json!({"agentId": agent["id"], "title": "Chat", "input": {"messages": conversation}}))
            .await;
    assert_eq!(settled(&app, &user, &task).await["status"], "completed");
    let sent = sent_with(&up, "Now review PR #43");
    assert_eq!(sent["messages"][0], json!({"role": "system", "content": "You review code."}));
    assert_eq!(sent["messages"].as_array().unwrap()[1..], conversation.as_array().unwrap()[..]);

    // Runtime answers are accounted like chat answers (records are written in batches, moments later).
    let path = format!("/api/agents/{}/usage", agent["id"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let usage = app.get_json(&path, &user.token).await;
        if usage["total"]["requests"] == 2 {
            assert_eq!(usage["total"]["succeeded"], 2, "{usage}");
            break;
        }
        assert!(Instant::now() < deadline, "usage never reached 2: {usage}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn the_pinned_version_answers_after_a_new_one_exists(backend: Backend) {
    let (app, up, user) = app_with_upstream(backend).await;
    let agent = deployed_agent(&app, &user, "Version one.", "up/ok").await;
    let id = agent["id"].as_str().unwrap();
    let (status, v2) = app.new_version(&user.token, id, json!({"prompt": "Version two."})).await;
    assert_eq!(status, 201, "{v2}");
    let pinned = new_task(
        &app,
        &user,
        json!({"agentId": id, "title": "old", "versionId": agent["currentVersionId"], "input": "first"}),
    )
    .await;
    let current = new_task(&app, &user, json!({"agentId": id, "title": "new", "input": "second"})).await;
    assert_eq!(pinned["versionId"], agent["currentVersionId"]);
    assert_ne!(current["versionId"], agent["currentVersionId"]);
    for task in [&pinned, &current] {
        assert_eq!(settled(&app, &user, task).await["status"], "completed");
    }
    assert_eq!(sent_with(&up, "first")["messages"][0]["content"], "Version one.");
    assert_eq!(sent_with(&up, "second")["messages"][0]["content"], "Version two.");
}

async fn the_executor_defaults_to_runtime_only_for_deployed_agents(backend: Backend) {
    let (app, up, user) = app_with_upstream(backend).await;
    let idle =
        app.create_agent(&user.token, json!({"name": "Idle", "prompt": "p", "model": {"primary": "up/ok"}})).await;
    let external = new_task(&app, &user, json!({"agentId": idle["id"], "title": "t"})).await;
    assert_eq!(external["executor"], "external");

    // Explicitly `runtime` for an agent that is not deployed: accepted, then failed by the runtime.
    let explicit = new_task(&app, &user, json!({"agentId": idle["id"], "title": "t", "executor": "runtime"})).await;
    assert_eq!(explicit["executor"], "runtime");
    let failed = settled(&app, &user, &explicit).await;
    assert_eq!(failed["status"], "failed");
    assert!(failed["error"].as_str().unwrap().contains("idle, not deployed"), "{failed}");

    let agent = deployed_agent(&app, &user, "p", "up/ok").await;
    let runtime = new_task(&app, &user, json!({"agentId": agent["id"], "title": "t"})).await;
    assert_eq!(runtime["executor"], "runtime");
    let chosen = new_task(&app, &user, json!({"agentId": agent["id"], "title": "t", "executor": "external"})).await;
    assert_eq!(chosen["executor"], "external");
    let bad = app
        .post("/api/tasks", Some(&user.token), json!({"agentId": agent["id"], "title": "t", "executor": "robot"}))
        .await;
    assert_error(bad, 400, "VALIDATION_ERROR").await;

    // A stopped agent's runtime tasks fail, saying why.
    let id = agent["id"].as_str().unwrap();
    assert_eq!(settled(&app, &user, &runtime).await["status"], "completed");
    assert_eq!(app.post(&format!("/api/agents/{id}/stop"), Some(&user.token), json!({})).await.status(), 200);
    let late = new_task(&app, &user, json!({"agentId": id, "title": "t", "executor": "runtime"})).await;
    let failed = settled(&app, &user, &late).await;
    assert!(failed["error"].as_str().unwrap().contains("stopped, not deployed"), "{failed}");
    assert_eq!(up.seen.lock().unwrap().len(), 1, "only the deployed agent's task went upstream");
    let external_now = app.get_json(&format!("/api/tasks/{}", chosen["id"].as_str().unwrap()), &user.token).await;
    assert_eq!(external_now["status"], "queued", "the runtime leaves external tasks alone");
}

async fn a_refused_request_fails_the_task(backend: Backend) {
    let (app, up, user) = app_with_upstream(backend).await;
    let agent = deployed_agent(&app, &user, "p", "up/fail-400").await;
    let task = new_task(&app, &user, json!({"agentId": agent["id"], "title": "t", "input": {"x": 1}})).await;
    let failed = settled(&app, &user, &task).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["attempts"], 1);
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("400"), "{error}");
    assert_eq!(failed["output"], Value::Null);
    assert_eq!(up.seen.lock().unwrap().len(), 1, "a 400 is not retried");
    assert_eq!(sent_with(&up, r#"{"x":1}"#)["messages"][1]["role"], "user", "structured input is sent as JSON");
}

async fn upstream_500s_are_retried_until_attempts_run_out(backend: Backend) {
    let (app, up, user) = app_with_upstream(backend).await;
    let agent = deployed_agent(&app, &user, "p", "up/fail-500").await;
    let task = new_task(&app, &user, json!({"agentId": agent["id"], "title": "t", "maxAttempts": 2})).await;
    let failed = settled(&app, &user, &task).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["attempts"], 2);
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("500") && error.ends_with("(attempt 2 of 2)"), "{error}");
    assert_eq!(up.seen.lock().unwrap().len(), 2, "one request per attempt");
}

async fn task_events_reach_webhooks(backend: Backend) {
    let (app, _up, user) = app_with_upstream(backend).await;
    let receiver = Receiver::start().await;
    let events = json!(["task.started", "task.completed"]);
    let hook = app.post("/api/webhooks", Some(&user.token), json!({"url": receiver.url, "events": events})).await;
    assert_eq!(hook.status(), 201);
    let agent = deployed_agent(&app, &user, "p", "up/ok").await;
    let task = new_task(&app, &user, json!({"agentId": agent["id"], "title": "t", "input": "hi"})).await;
    let got = receiver.wait_for(2).await;
    let mut kinds: Vec<String> = got.iter().map(|r| r.json()["event"].as_str().unwrap().to_owned()).collect();
    kinds.sort();
    assert_eq!(kinds, ["task.completed", "task.started"]);
    let completed = got.iter().map(|r| r.json()).find(|b| b["event"] == "task.completed").unwrap();
    assert_eq!(completed["data"]["id"], task["id"]);
    assert_eq!(completed["data"]["status"], "completed");
    assert_eq!(completed["data"]["output"]["content"], "Hello from upstream");
}

async fn two_replicas_answer_each_of_20_tasks_once(backend: Backend) {
    let up = upstream().await;
    let first = TestApp::spawn_with(backend, config_with(&up)).await;
    let second = TestApp::start(TestDatabase::open(&first.db().url).await.unwrap(), config_with(&up)).await;
    let user = first.register("you@example.com").await;
    let agent = deployed_agent(&first, &user, "p", "up/ok").await;
    let created = join_all((0..20).map(|i| {
        let app = if i % 2 == 0 { &first } else { &second };
        new_task(app, &user, json!({"agentId": agent["id"], "title": format!("job {i}"), "input": format!("job {i}")}))
    }))
    .await;
    for task in &created {
        let done = settled(&first, &user, task).await;
        assert_eq!((done["status"].as_str(), done["attempts"].as_i64()), (Some("completed"), Some(1)), "{done}");
    }
    let seen = up.seen.lock().unwrap();
    assert_eq!(seen.len(), 20, "each task went upstream exactly once");
    let asked: HashSet<&str> = seen.iter().filter_map(|r| r["messages"][1]["content"].as_str()).collect();
    assert_eq!(asked.len(), 20);
}

async fn external_claims_never_receive_runtime_tasks(backend: Backend) {
    let up = upstream().await;
    let mut config = config_with(&up);
    // No runtime here, so the runtime tasks stay queued beside the external one.
    config.runtime_workers = 0;
    let app = TestApp::spawn_with(backend, config).await;
    let user = app.register("you@example.com").await;
    let agent = deployed_agent(&app, &user, "p", "up/ok").await;
    let mut runtime = Vec::new();
    for i in 0..5 {
        let task =
            new_task(&app, &user, json!({"agentId": agent["id"], "title": format!("rt {i}"), "priority": "urgent"}))
                .await;
        runtime.push(task);
    }
    let external = new_task(
        &app,
        &user,
        json!({"agentId": agent["id"], "title": "ext", "executor": "external", "priority": "low"}),
    )
    .await;
    let claimed = app.post("/api/tasks/claim", Some(&user.token), json!({"limit": 100})).await;
    let claimed: Value = claimed.json().await.unwrap();
    let ids: Vec<&Value> = claimed["data"].as_array().unwrap().iter().map(|t| &t["id"]).collect();
    assert_eq!(ids, [&external["id"]]);
    let waited = app.post("/api/tasks/claim", Some(&user.token), json!({"limit": 100, "waitSeconds": 1})).await;
    assert_eq!(waited.json::<Value>().await.unwrap()["data"], json!([]));
    for task in &runtime {
        let got = app.get_json(&format!("/api/tasks/{}", task["id"].as_str().unwrap()), &user.token).await;
        assert_eq!(got["status"], "queued");
    }
    assert!(up.seen.lock().unwrap().is_empty());
}
