//! Chat accounting: every answer is recorded (agent, version, key, model, fallback, tokens, latency,
//! time to first token, outcome) and `GET /api/agents/:id/usage` summarises it per version; `/metrics`
//! exposes the chat figures.

use std::time::Duration;

use crate::common::{TestApp, assert_error, config_with_upstream};
use reqwest::Method;
use serde_json::{Value, json};
use talon_gateway::testing::upstream;
use talon_store::Backend;

on_both_databases!(usage_is_summarised_per_version, usage_is_the_owners_alone, chat_metrics_are_exposed);

fn ask(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "count these four words"}]})
}

/// Reads the summary until it counts `requests` answers (records are written moments after each).
async fn usage_once(app: &TestApp, path: &str, bearer: &str, requests: u64) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let usage = app.get_json(path, bearer).await;
        if usage["total"]["requests"] == requests {
            return usage;
        }
        assert!(tokio::time::Instant::now() < deadline, "usage never reached {requests}: {usage}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn usage_is_summarised_per_version(backend: Backend) {
    let up = upstream().await;
    let app = TestApp::spawn_with(backend, config_with_upstream(&up.base)).await;
    let user = app.register("you@example.com").await;
    let agent = app
        .create_agent(&user.token, json!({"name": "Counter", "prompt": "p", "model": {"primary": "test/echo"}}))
        .await;
    let id = agent["id"].as_str().unwrap().to_owned();
    app.post(&format!("/api/agents/{id}/deploy"), Some(&user.token), json!({})).await;
    let (status, _) =
        app.new_version(&user.token, &id, json!({"model": {"primary": "up/fail-500", "fallback": "up/ok"}})).await;
    assert_eq!(status, 201);
    let key = app.api_key(&user, &["chat", "agents:read"]).await;
    for (model, stream) in [("counter@1", false), ("counter@1", true), ("counter@2", false)] {
        let response = app.post("/v1/chat/completions", Some(&key), ask(model, stream)).await;
        assert_eq!(response.status(), 200);
        response.text().await.unwrap();
    }
    let usage = usage_once(&app, &format!("/api/agents/{id}/usage"), &key, 3).await;
    assert_eq!(usage["agentId"], id.as_str());
    let versions = usage["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{usage}");
    let (v1, v2) = (&versions[0], &versions[1]);
    assert_eq!((v1["version"].as_i64(), v2["version"].as_i64()), (Some(1), Some(2)));
    assert_eq!(
        (v1["requests"].as_u64(), v1["succeeded"].as_u64(), v1["fallbacks"].as_u64()),
        (Some(2), Some(2), Some(0))
    );
    // The echo reports no usage: tokens are estimated from the words (4 each way) and the prompt.
    assert_eq!(v1["completionTokens"], 8, "{v1}");
    assert!(v1["promptTokens"].as_u64().unwrap() >= 8, "{v1}");
    // Version 2's primary failed with 500, its fallback answered and reported its own usage.
    assert_eq!((v2["requests"].as_u64(), v2["fallbacks"].as_u64()), (Some(1), Some(1)), "{v2}");
    assert_eq!(
        (v2["promptTokens"].as_u64(), v2["completionTokens"].as_u64(), v2["totalTokens"].as_u64()),
        (Some(9), Some(3), Some(12))
    );
    for v in versions {
        assert!(v["avgLatencyMs"].as_f64().unwrap() > 0.0, "{v}");
        assert!(v["avgTimeToFirstTokenMs"].as_f64().unwrap() <= v["maxLatencyMs"].as_f64().unwrap(), "{v}");
    }
    assert_eq!(usage["total"]["requests"], 3);
    assert_eq!(usage["total"]["totalTokens"], v1["totalTokens"].as_u64().unwrap() + 12);

    // A failure is accounted too: the echo cannot fail, so point a request at a model that does.
    let failing = app
        .post(
            "/api/v1/chat",
            Some(&key),
            json!({"agent": "counter", "model": "up/fail-400", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(failing.status(), 503);
    let usage = usage_once(&app, &format!("/api/agents/{id}/usage"), &key, 4).await;
    assert_eq!(usage["total"]["failed"], 1, "{usage}");

    // The period bounds the summary.
    let at = |hours| {
        (chrono::Utc::now() + chrono::Duration::hours(hours)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let later = app.get_json(&format!("/api/agents/{id}/usage?from={}&to={}", at(1), at(2)), &key).await;
    assert_eq!((later["total"]["requests"].as_u64(), later["versions"].as_array().map(Vec::len)), (Some(0), Some(0)));
}

async fn usage_is_the_owners_alone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let agent = app.create_agent(&user.token, json!({"name": "Mine", "prompt": "p"})).await;
    let id = agent["id"].as_str().unwrap();
    let other = app.register("other@example.com").await;
    assert_error(app.get(&format!("/api/agents/{id}/usage"), &other.token).await, 404, "NOT_FOUND").await;
    let chat_only = app.api_key(&user, &["chat"]).await;
    assert_error(app.get(&format!("/api/agents/{id}/usage"), &chat_only).await, 403, "FORBIDDEN").await;
    let bad = app.get(&format!("/api/agents/{id}/usage?from=yesterday&to=2026-01-01T00:00:00Z"), &user.token).await;
    let body = assert_error(bad, 400, "VALIDATION_ERROR").await;
    assert_eq!(body["error"]["details"][0]["field"], "from");
    let reversed = app
        .get(&format!("/api/agents/{id}/usage?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z"), &user.token)
        .await;
    assert_eq!(reversed.status(), 200, "a `from` after `to` is an empty period");
    let none = app.get_json(&format!("/api/agents/{id}/usage"), &user.token).await;
    assert_eq!(none["versions"], json!([]));
    assert_eq!(none["total"]["requests"], 0);
}

async fn chat_metrics_are_exposed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    app.create_agent(&user.token, json!({"name": "Metered", "prompt": "p"})).await;
    app.post("/api/agents/metered/deploy", Some(&user.token), json!({})).await;
    let response = app.post("/v1/chat/completions", Some(&user.token), ask("metered", true)).await;
    response.text().await.unwrap();
    let text = app.request(Method::GET, "/metrics", None).send().await.unwrap().text().await.unwrap();
    for metric in [
        r#"talon_chat_requests_total{source="chat",outcome="ok",fallback="false"}"#,
        "talon_chat_duration_seconds_bucket",
        "talon_chat_time_to_first_token_seconds_bucket",
        "talon_chat_overhead_seconds_bucket",
        r#"talon_chat_tokens_total{kind="completion"}"#,
    ] {
        assert!(text.contains(metric), "{metric} missing from:\n{text}");
    }
}
