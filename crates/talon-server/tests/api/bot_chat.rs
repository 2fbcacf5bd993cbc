//! The chat API of chat-api.txt (`/api/v1/bot/{botId}/chat`) and the deployed-agents chat
//! (`/api/v1/chat`): answers in OpenAI shapes, and every documented error code with its status.

use crate::common::{TestApp, User, assert_error};
use reqwest::Method;
use serde_json::{Value, json};
use talon_gateway::testing::upstream;
use talon_store::{Backend, Deployment};

on_both_databases!(
    the_documented_request_and_responses,
    every_documented_error_code,
    cors_preflight_is_answered,
    rate_limited_with_retry_after,
    deployed_agents_chat_statuses,
    an_unexpected_failure_is_internal_error,
    a_chat_key_discovers_agents,
    upstream_failures_relay_nothing_of_the_upstream,
);

/// A bot with API access on, deployed, and a key with the `chat` scope.
async fn bot(app: &TestApp, user: &User, body: Value) -> (String, String) {
    let agent = app.create_agent(&user.token, body).await;
    let id = agent["id"].as_str().unwrap().to_owned();
    assert_eq!(app.patch(&format!("/api/agents/{id}"), &user.token, json!({"apiAccess": true})).await.status(), 200);
    assert_eq!(app.post(&format!("/api/agents/{id}/deploy"), Some(&user.token), json!({})).await.status(), 200);
    (id, app.api_key(user, &["chat"]).await)
}

fn hello() -> Value {
    json!({"messages": [{"role": "user", "content": "Hello, what can you do?"}], "stream": false, "user": "customer-123"})
}

async fn the_documented_request_and_responses(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let (id, key) = bot(&app, &user, json!({"name": "Helper", "prompt": "You help."})).await;
    for bot_id in [id.as_str(), "helper"] {
        let response = app.post(&format!("/api/v1/bot/{bot_id}/chat"), Some(&key), hello()).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
        assert_eq!(body["object"], "chat.completion");
        assert_eq!(body["choices"][0]["index"], 0);
        assert_eq!(body["choices"][0]["message"], json!({"role": "assistant", "content": "Hello, what can you do?"}));
        assert_eq!(body["choices"][0]["finish_reason"], "stop");
        for field in ["prompt_tokens", "completion_tokens", "total_tokens"] {
            assert!(body["usage"][field].is_u64(), "{field}");
        }
    }
    let streamed = app
        .post(
            &format!("/api/v1/bot/{id}/chat"),
            Some(&key),
            json!({"messages": [{"role": "user", "content": "I can help"}], "stream": true}),
        )
        .await;
    assert!(streamed.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let text = streamed.text().await.unwrap();
    let events: Vec<&str> = text.split("\n\n").filter_map(|e| e.strip_prefix("data: ")).collect();
    assert_eq!(*events.last().unwrap(), "[DONE]");
    let content: String = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str::<Value>(e).unwrap())
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(content, "I can help");
}

async fn every_documented_error_code(backend: Backend) {
    let up = upstream().await;
    let app = TestApp::spawn_with(backend, crate::common::config_with_upstream(&up.base)).await;
    let user = app.register("you@example.com").await;
    let (id, key) = bot(&app, &user, json!({"name": "Helper", "prompt": "p"})).await;
    let path = format!("/api/v1/bot/{id}/chat");

    let anonymous = app.request(Method::POST, &path, None).json(&hello()).send().await.unwrap();
    assert_error(anonymous, 401, "missing_api_key").await;
    let basic = app
        .request(Method::POST, &path, None)
        .header("authorization", "Basic abc")
        .json(&hello())
        .send()
        .await
        .unwrap();
    assert_error(basic, 401, "missing_api_key").await;
    assert_error(app.post(&path, Some("tln_typo"), hello()).await, 401, "invalid_api_key_format").await;
    let unknown = talon_domain::ApiKeySecret::generate();
    assert_error(app.post(&path, Some(unknown.expose()), hello()).await, 401, "invalid_api_key").await;
    // The scheme is case-insensitive: a bad key under `bearer` is still a bad key, not a missing one.
    let lowercase = app
        .request(Method::POST, &path, None)
        .header("authorization", format!("bearer {}", unknown.expose()))
        .json(&hello())
        .send()
        .await
        .unwrap();
    assert_error(lowercase, 401, "invalid_api_key").await;

    for bad in [
        json!({"messages": []}),
        json!({"messages": [{"role": "wizard", "content": "x"}]}),
        json!({"messages": [{"role": "user", "content": 5}]}),
        json!({}),
    ] {
        assert_error(app.post(&path, Some(&key), bad).await, 400, "invalid_request").await;
    }
    let too_large = json!({"messages": [{"role": "user", "content": "x".repeat(100 * 1024)}]}).to_string();
    assert!(too_large.len() > 100 * 1024);
    let (status, body) = raw_post(&app, &path, &key, &too_large).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], "request_too_large");

    let other = app.register("other@example.com").await;
    let (_, other_key) = bot(&app, &other, json!({"name": "Theirs", "prompt": "p"})).await;
    assert_error(app.post(&path, Some(&other_key), hello()).await, 404, "bot_not_found").await;
    assert_error(app.post("/api/v1/bot/nobody/chat", Some(&other_key), hello()).await, 404, "bot_not_found").await;
    let no_chat = app.api_key(&other, &["agents:read"]).await;
    assert_error(app.post("/api/v1/bot/theirs/chat", Some(&no_chat), hello()).await, 403, "insufficient_scope").await;

    let user_key = app.api_key(&user, &["chat"]).await;
    app.patch(&format!("/api/agents/{id}"), &user.token, json!({"apiAccess": false})).await;
    assert_error(app.post(&path, Some(&user_key), hello()).await, 403, "api_not_enabled").await;
    app.patch(&format!("/api/agents/{id}"), &user.token, json!({"apiAccess": true})).await;
    app.post(&format!("/api/agents/{id}/stop"), Some(&user.token), json!({})).await;
    let offline = assert_error(app.post(&path, Some(&user_key), hello()).await, 503, "bot_offline").await;
    assert_eq!(offline["error"]["message"], "The bot is stopped");

    let (_, _) = bot(&app, &user, json!({"name": "Broken", "prompt": "p", "model": {"primary": "up/fail-500"}})).await;
    assert_error(app.post("/api/v1/bot/broken/chat", Some(&user_key), hello()).await, 503, "container_error").await;
    let with_model = json!({"messages": [{"role": "user", "content": "x"}], "model": "nowhere/x"});
    assert_error(app.post("/api/v1/bot/broken/chat", Some(&user_key), with_model).await, 400, "invalid_request").await;
    let overridden = app
        .post(
            "/api/v1/bot/broken/chat",
            Some(&user_key),
            json!({"messages": [{"role": "user", "content": "x"}], "model": "test/echo"}),
        )
        .await;
    assert_eq!(overridden.status(), 200, "the model override answers");
    assert_eq!(overridden.headers()["x-talon-model"], "test/echo");
}

/// A POST over a raw connection. The server answers an oversized body from its Content-Length before
/// reading it and may close the connection while the client still writes; a raw client still reads
/// the answer, where an HTTP library may report the closed connection instead.
async fn raw_post(app: &TestApp, path: &str, key: &str, body: &str) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        app.addr,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let _ = stream.write_all(body.as_bytes()).await; // may fail once the server has answered
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let json = text.split("\r\n\r\n").nth(1).and_then(|b| serde_json::from_str(b).ok()).unwrap_or(Value::Null);
    (status, json)
}

async fn rate_limited_with_retry_after(backend: Backend) {
    let mut config = crate::common::test_config();
    // The session spends 4 of its own 5 on set-up; the key has 5 of its own.
    config.plans = crate::common::plans(5, 10_000);
    let app = TestApp::spawn_with(backend, config).await;
    let user = app.register("you@example.com").await;
    let (id, key) = bot(&app, &user, json!({"name": "Limits", "prompt": "p"})).await;
    crate::common::wait_for_fresh_minute().await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(app.post(&format!("/api/v1/bot/{id}/chat"), Some(&key), hello()).await.status().as_u16());
    }
    assert_eq!(statuses, [200; 5]);
    let limited = app.post(&format!("/api/v1/bot/{id}/chat"), Some(&key), hello()).await;
    let body = assert_error(limited, 429, "rate_limited").await;
    assert!(body["error"]["retry_after"].as_u64().is_some_and(|s| (1..=60).contains(&s)));
}

async fn cors_preflight_is_answered(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let preflight = app
        .request(Method::OPTIONS, "/api/v1/bot/anything/chat", None)
        .header("origin", "https://shop.example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let methods = preflight.headers()["access-control-allow-methods"].to_str().unwrap().to_ascii_uppercase();
    assert!(methods.contains("POST"));
    let headers = preflight.headers()["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(headers.contains("authorization") && headers.contains("content-type"));
}

async fn deployed_agents_chat_statuses(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let agent = app.create_agent(&user.token, json!({"name": "Support Bot", "prompt": "p"})).await;
    let key = app.api_key(&user, &["chat"]).await;
    let ask = || {
        app.post(
            "/api/v1/chat",
            Some(&key),
            json!({"agent": "support-bot", "messages": [{"role": "user", "content": "hi"}]}),
        )
    };
    let idle = assert_error(ask().await, 404, "bot_offline").await;
    assert_eq!(idle["error"]["message"], "The bot is not deployed");
    app.post("/api/agents/support-bot/deploy", Some(&user.token), json!({})).await;
    let answered = ask().await;
    assert_eq!(answered.status(), 200);
    assert_eq!(answered.json::<Value>().await.unwrap()["choices"][0]["message"]["content"], "hi");
    app.post("/api/agents/support-bot/stop", Some(&user.token), json!({})).await;
    assert_error(ask().await, 404, "bot_offline").await;
    // The runtime marks an agent that fails as `error`.
    let id = talon_domain::AgentId::parse(agent["id"].as_str().unwrap()).unwrap();
    let error =
        Deployment { status: talon_domain::agent::AgentStatus::Error, deployed_version_id: None, deployed_at: None };
    let event =
        talon_domain::event::Event::new(talon_domain::UserId::parse(&user.id).unwrap(), "agent.updated", json!({}));
    app.db().store.set_deployment(id, error, chrono::Utc::now(), &event).await.unwrap();
    // Written behind the server's back: dropped from its agent cache as the runtime's own write is.
    app.state.caches.invalidate(talon_server::services::cache::Invalidation::Agent(id));
    let error = assert_error(ask().await, 502, "bot_offline").await;
    assert_eq!(error["error"]["message"], "The bot is in an error state");
    // The same codes as the bot route for everything else.
    assert_error(
        app.post(
            "/api/v1/chat",
            Some(&key),
            json!({"agent": "nobody", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await,
        404,
        "bot_not_found",
    )
    .await;
    let missing = app.post("/api/v1/chat", Some(&key), json!({"messages": [{"role": "user", "content": "hi"}]})).await;
    assert_error(missing, 400, "invalid_request").await;
}

async fn an_unexpected_failure_is_internal_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let (id, key) = bot(&app, &user, json!({"name": "Helper", "prompt": "p"})).await;
    // The database goes away: the server cannot even look the key up.
    app.db().store.close().await;
    let body =
        assert_error(app.post(&format!("/api/v1/bot/{id}/chat"), Some(&key), hello()).await, 500, "internal_error")
            .await;
    assert!(!body["error"]["message"].as_str().unwrap().contains("pool"), "no internals leak: {body}");
}

async fn a_chat_key_discovers_agents(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let (_, key) = bot(&app, &user, json!({"name": "Helper", "prompt": "p"})).await;
    let listed = app.get_json("/api/v1/agents", &key).await;
    assert_eq!(listed["agents"][0]["slug"], "helper");
    let tasks_only = app.api_key(&user, &["tasks:read"]).await;
    assert_eq!(app.get("/api/v1/agents", &tasks_only).await.status(), 403);
}

async fn upstream_failures_relay_nothing_of_the_upstream(backend: Backend) {
    let up = upstream().await;
    let app = TestApp::spawn_with(backend, crate::common::config_with_upstream(&up.base)).await;
    let user = app.register("you@example.com").await;
    let (_, key) =
        bot(&app, &user, json!({"name": "Broken", "prompt": "p", "model": {"primary": "up/fail-500"}})).await;
    let (_, _) = bot(&app, &user, json!({"name": "Away", "prompt": "p", "model": {"primary": "local/x"}})).await;
    let (_, _) = bot(&app, &user, json!({"name": "Cut", "prompt": "p", "model": {"primary": "up/cut"}})).await;
    for (bot_id, path) in
        [("broken", "/api/v1/bot/broken/chat"), ("away", "/api/v1/bot/away/chat"), ("cut", "/api/v1/bot/cut/chat")]
    {
        for response in [
            app.post(path, Some(&key), hello()).await,
            app.post(
                "/api/v1/chat",
                Some(&key),
                json!({"agent": bot_id, "messages": [{"role": "user", "content": "x"}]}),
            )
            .await,
        ] {
            let body = assert_error(response, 503, "container_error").await;
            let message = body["error"]["message"].as_str().unwrap();
            assert!(!message.contains("boom") && !message.contains("127.0.0.1"), "{body}");
        }
    }
    for model in ["broken", "away", "cut"] {
        let response = app
            .post(
                "/v1/chat/completions",
                Some(&key),
                json!({"model": model, "messages": [{"role": "user", "content": "x"}]}),
            )
            .await;
        assert_eq!(response.status(), 502);
        let body: Value = response.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(!message.contains("boom") && !message.contains("127.0.0.1"), "{body}");
    }
    // A stream cut part-way ends with an error event that says nothing of the upstream either.
    let streamed = app
        .post(
            "/api/v1/bot/cut/chat",
            Some(&key),
            json!({"messages": [{"role": "user", "content": "x"}], "stream": true}),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(streamed.contains("upstream_error") && !streamed.contains("[DONE]"), "{streamed}");
    assert!(!streamed.contains("provider ended"), "{streamed}");
}
