//! A deployed agent goes to `error` after answers in a row failed upstream, from chat answers and
//! runtime tasks alike; client-side failures never count, a success resets the count, and a redeploy
//! brings the agent back.

use std::time::{Duration, Instant};

use crate::common::{TestApp, User, assert_error};
use serde_json::{Value, json};
use talon_gateway::testing::upstream;
use talon_store::Backend;

on_both_databases!(failing_answers_put_an_agent_in_error, failing_runtime_tasks_count_too);

async fn app(backend: Backend) -> TestApp {
    let up = upstream().await;
    let mut config = crate::common::config_with_upstream(&up.base);
    config.agent_error_after = 2;
    // The tests poll the agent's status.
    config.plans = crate::common::plans(1_000_000, 1_000_000);
    TestApp::spawn_with(backend, config).await
}

/// A deployed agent with API access on, answering with `model`.
async fn bot(app: &TestApp, user: &User, name: &str, model: &str) -> String {
    let agent = app.create_agent(&user.token, json!({"name": name, "prompt": "p", "model": {"primary": model}})).await;
    let id = agent["id"].as_str().unwrap().to_owned();
    app.patch(&format!("/api/agents/{id}"), &user.token, json!({"apiAccess": true})).await;
    assert_eq!(app.post(&format!("/api/agents/{id}/deploy"), Some(&user.token), json!({})).await.status(), 200);
    id
}

async fn status(app: &TestApp, user: &User, id: &str) -> String {
    app.get_json(&format!("/api/agents/{id}"), &user.token).await["status"].as_str().unwrap().to_owned()
}

/// Waits (up to 15 s) for the agent to reach `expected`.
async fn eventually_status(app: &TestApp, user: &User, id: &str, expected: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while status(app, user, id).await != expected {
        assert!(Instant::now() < deadline, "the agent never became {expected}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn ask(model: Option<&str>) -> Value {
    let mut body = json!({"messages": [{"role": "user", "content": "hi"}]});
    if let Some(model) = model {
        body["model"] = json!(model);
    }
    body
}

async fn failing_answers_put_an_agent_in_error(backend: Backend) {
    let app = app(backend).await;
    let user = app.register("you@example.com").await;
    let id = bot(&app, &user, "Flaky", "up/fail-500").await;
    let key = app.api_key(&user, &["chat"]).await;
    let path = format!("/api/v1/bot/{id}/chat");
    let fail = || async { assert_error(app.post(&path, Some(&key), ask(None)).await, 503, "container_error").await };

    // Failure, success (the echo model), failure: never two in a row.
    fail().await;
    assert_eq!(app.post(&path, Some(&key), ask(Some("test/echo"))).await.status(), 200);
    fail().await;
    // Upstream client errors (400) do not count, nor do refused requests of the caller.
    assert_error(app.post(&path, Some(&key), ask(Some("up/fail-400"))).await, 503, "container_error").await;
    assert_error(app.post(&path, Some(&key), json!({"messages": []})).await, 400, "invalid_request").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(status(&app, &user, &id).await, "deployed");

    // The second upstream failure in a row.
    fail().await;
    eventually_status(&app, &user, &id, "error").await;
    let listed = app.get_json("/api/v1/agents", &key).await;
    assert_eq!(listed["agents"][0]["status"], "error");
    let offline = assert_error(app.post(&path, Some(&key), ask(Some("test/echo"))).await, 503, "bot_offline").await;
    assert_eq!(offline["error"]["message"], "The bot is in an error state");

    // A redeploy brings it back, and each deployment counts its own failures.
    let redeploy = || async {
        assert_eq!(app.post(&format!("/api/agents/{id}/deploy"), Some(&user.token), json!({})).await.status(), 200);
    };
    redeploy().await;
    assert_eq!(app.post(&path, Some(&key), ask(Some("test/echo"))).await.status(), 200);
    fail().await;
    redeploy().await;
    fail().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(status(&app, &user, &id).await, "deployed");
}

async fn failing_runtime_tasks_count_too(backend: Backend) {
    let app = app(backend).await;
    let user = app.register("you@example.com").await;
    let id = bot(&app, &user, "Worker", "up/fail-500").await;
    let response =
        app.post("/api/tasks", Some(&user.token), json!({"agentId": id, "title": "t", "maxAttempts": 2})).await;
    assert_eq!(response.status(), 201);
    eventually_status(&app, &user, &id, "error").await;
}
