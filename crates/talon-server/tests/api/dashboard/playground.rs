//! The playground: its page lists the account's deployed agents, and `POST /playground/stream` answers
//! through the chat service as server-sent events (`delta`… then `done` with the model and version).

use std::time::Duration;

use serde_json::{Value, json};
use talon_store::Backend;

use super::Browser;
use crate::common::{TestApp, User};

on_both_databases!(
    the_playground_lists_deployed_agents_only,
    an_answer_streams_in_and_ends_with_the_model_and_version,
    a_pinned_version_answers,
    a_stream_request_without_the_token_or_with_a_bad_body_is_refused,
    another_accounts_agent_is_not_found_and_nothing_is_recorded,
);

/// Registers `email` through the API and signs in a browser: the user (for API calls) and the browser.
pub async fn signed_in(app: &TestApp, email: &str) -> (User, Browser) {
    let user = app.register(email).await;
    let browser = Browser::sign_in(app, email).await;
    (user, browser)
}

/// Creates an agent (on `test/echo`, the model an agent without one gets) and deploys it if asked:
/// its id.
pub async fn agent(app: &TestApp, user: &User, name: &str, deploy: bool) -> String {
    let agent = app.create_agent(&user.token, json!({"name": name, "prompt": "Repeat after me."})).await;
    let id = agent["id"].as_str().unwrap().to_owned();
    if deploy {
        let response = app.post(&format!("/api/agents/{id}/deploy"), Some(&user.token), json!({})).await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }
    id
}

/// Asks through the playground: the status, the content type, and the body.
pub async fn ask(browser: &Browser, agent: &str, version: Value, text: &str) -> (u16, String, String) {
    let body = json!({"agent": agent, "version": version, "messages": [{"role": "user", "content": text}]});
    let response = browser.post_json("/playground/stream", &body).await;
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    (status, content_type, response.text().await.unwrap())
}

/// The `data:` events of a stream, as JSON.
fn events(body: &str) -> Vec<Value> {
    body.split("\n\n")
        .filter_map(|frame| frame.strip_prefix("data: "))
        .map(|data| serde_json::from_str(data).unwrap_or_else(|e| panic!("{data}: {e}")))
        .collect()
}

/// The streamed answer and its last event.
fn answer(body: &str) -> (String, Value) {
    let events = events(body);
    let (done, deltas) = events.split_last().expect("at least the done event");
    let text = deltas.iter().map(|e| e["delta"].as_str().unwrap_or_else(|| panic!("a delta: {e}"))).collect();
    (text, done.clone())
}

/// Waits until the agent's usage counts `requests` answers (records are written moments after each).
pub async fn wait_for_usage(app: &TestApp, user: &User, agent: &str, requests: u64) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let usage = app.get_json(&format!("/api/agents/{agent}/usage"), &user.token).await;
        if usage["total"]["requests"] == requests {
            return usage;
        }
        assert!(tokio::time::Instant::now() < deadline, "usage never reached {requests}: {usage}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn the_playground_lists_deployed_agents_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, browser) = signed_in(&app, "alice@example.com").await;
    let page = browser.get("/playground").await;
    assert_eq!(page.status, 200);
    assert!(page.contains("no deployed agent") && page.contains(r#"href="/agents""#), "{}", page.html);
    assert!(!page.contains(r#"id="playground""#), "no form without an agent");

    agent(&app, &alice, "Echo Bot", true).await;
    agent(&app, &alice, "Other Bot", true).await;
    agent(&app, &alice, "Idle Bot", false).await;
    let page = browser.get("/playground?agent=other-bot&version=2").await;
    assert_eq!(page.status, 200);
    for part in [
        r#"id="playground""#,
        r#"<label for="playground-agent">Agent</label>"#,
        r#"<label for="playground-version">Version (optional)</label>"#,
        r#"<label for="playground-message">Message</label>"#,
        r#"name="message""#,
        r#"<button type="submit">Send</button>"#,
        r#"id="chat-log""#,
        r#"role="log""#,
        r#"aria-live="polite""#,
        r#"id="chat-status""#,
        r#"role="status""#,
        r#"<option value="echo-bot">"#,
        r#"<option value="other-bot" selected>"#,
        r#"value="2""#,
    ] {
        assert!(page.contains(part), "{part} in {}", page.html);
    }
    assert!(!page.contains("idle-bot"), "an agent that is not deployed is not offered");
    assert!(!page.contains("alert"), "{}", page.html);
    // An agent that cannot answer is named as such.
    let page = browser.get("/playground?agent=idle-bot").await;
    assert!(page.contains("is not one of your deployed agents"), "{}", page.html);
    // Another account sees none of them.
    let (_, bob) = signed_in(&app, "bob@example.com").await;
    let page = bob.get("/playground").await;
    assert!(!page.contains("echo-bot") && page.contains("no deployed agent"));
}

async fn an_answer_streams_in_and_ends_with_the_model_and_version(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, browser) = signed_in(&app, "alice@example.com").await;
    let id = agent(&app, &alice, "Echo Bot", true).await;
    let (status, content_type, body) = ask(&browser, "echo-bot", Value::Null, "hello there, streaming world").await;
    assert_eq!(status, 200, "{body}");
    assert!(content_type.starts_with("text/event-stream"), "{content_type}");
    let events = events(&body);
    assert!(events.len() >= 5, "a delta per word, then done: {body}");
    let (text, done) = answer(&body);
    assert_eq!(text, "hello there, streaming world");
    assert_eq!(done["done"], true, "{done}");
    assert_eq!(done["model"], "test/echo");
    assert_eq!(done["version"], 1);
    assert!(done["latencyMs"].is_u64(), "{done}");
    // The agent may be named by its id too, and a conversation goes on.
    let body = json!({"agent": id, "version": null, "messages": [
        {"role": "user", "content": "first"}, {"role": "assistant", "content": "first"},
        {"role": "user", "content": "second"}]});
    let response = browser.post_json("/playground/stream", &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(answer(&response.text().await.unwrap()).0, "second");
    // Each answer is accounted like any chat answer.
    let usage = wait_for_usage(&app, &alice, &id, 2).await;
    assert_eq!(usage["total"]["succeeded"], 2, "{usage}");
}

async fn a_pinned_version_answers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, browser) = signed_in(&app, "alice@example.com").await;
    let id = agent(&app, &alice, "Echo Bot", true).await;
    let (status, _) = app.new_version(&alice.token, &id, json!({"prompt": "Repeat, twice."})).await;
    assert_eq!(status, 201);
    for version in [1, 2] {
        let (status, _, body) = ask(&browser, "echo-bot", json!(version), "pinned").await;
        assert_eq!(status, 200, "{body}");
        let (text, done) = answer(&body);
        assert_eq!((text.as_str(), done["version"].as_i64()), ("pinned", Some(version)), "{body}");
    }
    let (status, content_type, body) = ask(&browser, "echo-bot", json!(9), "no such version").await;
    assert_eq!(status, 404, "{body}");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert!(body.contains("No such agent or version"), "{body}");
}

async fn a_stream_request_without_the_token_or_with_a_bad_body_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, browser) = signed_in(&app, "alice@example.com").await;
    let id = agent(&app, &alice, "Echo Bot", true).await;
    let client = reqwest::Client::new();
    let body = json!({"agent": "echo-bot", "version": null, "messages": [{"role": "user", "content": "hi"}]});
    let url = format!("{}/playground/stream", app.base);
    let response = client.post(&url).header("cookie", &browser.cookie).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 403, "no token");
    let response = client
        .post(&url)
        .header("cookie", &browser.cookie)
        .header("x-csrf-token", &browser.csrf)
        .header("origin", "http://evil.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403, "from another site");
    let response = client.post(&url).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 401, "no session");
    for (bad, says) in [
        (json!({"agent": "echo-bot", "messages": []}), "messages"),
        (json!({"agent": "echo-bot", "version": "two", "messages": [{"role": "user", "content": "x"}]}), "version"),
        (json!({"agent": "echo-bot", "messages": [{"role": "robot", "content": "x"}]}), "role"),
    ] {
        let response = browser.post_json("/playground/stream", &bad).await;
        assert_eq!(response.status(), 400, "{bad}");
        let text = response.text().await.unwrap();
        assert!(text.contains(says) && !text.contains("<html"), "{bad}: {text}");
    }
    // Nothing was asked of the agent.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let usage = app.get_json(&format!("/api/agents/{id}/usage"), &alice.token).await;
    assert_eq!(usage["total"]["requests"], 0, "{usage}");
}

async fn another_accounts_agent_is_not_found_and_nothing_is_recorded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (bob, _) = signed_in(&app, "bob@example.com").await;
    let bobs = agent(&app, &bob, "Bob Bot", true).await;
    let (alice, browser) = signed_in(&app, "alice@example.com").await;
    for reference in ["bob-bot", bobs.as_str()] {
        let (status, content_type, body) = ask(&browser, reference, Value::Null, "hi").await;
        assert_eq!(status, 404, "{reference}: {body}");
        assert!(content_type.starts_with("text/plain"), "{content_type}");
    }
    // An agent of one's own that is not deployed does not answer either.
    agent(&app, &alice, "Idle Bot", false).await;
    let (status, _, body) = ask(&browser, "idle-bot", Value::Null, "hi").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("deploy it"), "{body}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let usage = app.get_json(&format!("/api/agents/{bobs}/usage"), &bob.token).await;
    assert_eq!(usage["total"]["requests"], 0, "{usage}");
}
