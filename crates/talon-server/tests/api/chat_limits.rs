//! Chat limits: per-agent request rate (`bot_rate_limited`), account and agent concurrency
//! (`concurrent_limit`) with permits held until the answer ends or the caller goes away, shared by
//! replicas through Redis; and the chat timeout (504 `timeout`).

use std::time::Duration;

use crate::common::{REDIS_URL, TestApp, User, assert_error, config_with_upstream, plans_with, redis_namespace};
use serde_json::{Value, json};
use talon_gateway::testing::upstream;
use talon_server::ServerConfig;
use talon_server::limits::Plan;
use talon_store::Backend;

on_both_databases!(
    concurrency_is_exact_and_released_when_the_caller_goes_away,
    the_account_budget_spans_its_agents,
    agent_rate_limited_with_retry_after,
    replicas_share_concurrency_through_redis,
    json_answers_time_out_with_504,
    a_silent_upstream_times_out_and_a_slow_one_falls_back,
    a_slow_first_token_gets_keep_alive_comments,
    a_stream_nobody_reads_gives_its_place_back,
);

fn config(base: &str, plan: Plan) -> ServerConfig {
    let mut config = config_with_upstream(base);
    config.plans = plans_with(plan);
    config
}

/// A deployed agent with API access on, answering with `model`; returns its id.
async fn bot(app: &TestApp, user: &User, name: &str, model: &str) -> String {
    let agent = app.create_agent(&user.token, json!({"name": name, "prompt": "p", "model": {"primary": model}})).await;
    let id = agent["id"].as_str().unwrap().to_owned();
    assert_eq!(app.patch(&format!("/api/agents/{id}"), &user.token, json!({"apiAccess": true})).await.status(), 200);
    assert_eq!(app.post(&format!("/api/agents/{id}/deploy"), Some(&user.token), json!({})).await.status(), 200);
    id
}

fn ask(stream: bool) -> Value {
    json!({"messages": [{"role": "user", "content": "hold on"}], "stream": stream})
}

/// Starts a streamed answer and returns the open response once its headers arrived.
async fn open_stream(app: &TestApp, bot: &str, key: &str) -> reqwest::Response {
    let response = app.post(&format!("/api/v1/bot/{bot}/chat"), Some(key), ask(true)).await;
    assert_eq!(response.status(), 200, "{:?}", response.headers());
    response
}

async fn concurrency_is_exact_and_released_when_the_caller_goes_away(backend: Backend) {
    let up = upstream().await;
    let plan = Plan { agent_concurrent_chats: 2, account_concurrent_chats: 100, ..Plan::default() };
    let app = TestApp::spawn_with(backend, config(&up.base, plan)).await;
    let user = app.register("you@example.com").await;
    let id = bot(&app, &user, "Dripper", "up/drip").await;
    let key = app.api_key(&user, &["chat", "agents:read"]).await;

    // Ten callers at once against a budget of two: exactly two are answered.
    let path = format!("/api/v1/bot/{id}/chat");
    let attempts = futures::future::join_all((0..10).map(|_| app.post(&path, Some(&key), ask(true)))).await;
    let (mut held, mut refused) = (Vec::new(), Vec::new());
    for response in attempts {
        match response.status().as_u16() {
            200 => held.push(response),
            _ => refused.push(response),
        }
    }
    assert_eq!((held.len(), refused.len()), (2, 8));
    let body = assert_error(refused.pop().unwrap(), 429, "concurrent_limit").await;
    assert_eq!(body["error"]["retry_after"], 1);

    // The OpenAI surface refuses in its own shape.
    let openai = app
        .post(
            "/v1/chat/completions",
            Some(&key),
            json!({"model": "dripper", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(openai.status(), 429);
    assert_eq!(openai.headers()["retry-after"], "1");
    let openai: Value = openai.json().await.unwrap();
    assert_eq!(openai["error"]["type"], "rate_limit_error");
    assert_eq!(openai["error"]["code"], "concurrent_limit");

    // The caller of one answer goes away (the drip would last 10 s): its permit comes back at once.
    let mut first = held.pop().unwrap();
    assert!(first.chunk().await.unwrap().is_some(), "the answer is streaming");
    drop(first);
    drop(admitted_again(&app, &id, &key).await);
    drop(held);

    // Every abandoned answer is accounted as such.
    let usage = eventually(|| async {
        let usage = app.get_json(&format!("/api/agents/{id}/usage"), &key).await;
        (usage["total"]["clientClosed"] == 3).then_some(usage)
    })
    .await;
    assert_eq!(usage["total"]["succeeded"], 0, "{usage}");
}

/// A streamed answer, once a place in the budget has come back.
async fn admitted_again(app: &TestApp, bot: &str, key: &str) -> reqwest::Response {
    eventually(|| async {
        let response = app.post(&format!("/api/v1/bot/{bot}/chat"), Some(key), ask(true)).await;
        (response.status() == 200).then_some(response)
    })
    .await
}

/// Polls `attempt` until it yields a value (up to 5 s, well inside the drip's 10 s).
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(attempt: impl Fn() -> F) -> T {
    // Generous: the whole suite shares two cores, and this only bounds how long a failure takes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = attempt().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "not within 20 s");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn the_account_budget_spans_its_agents(backend: Backend) {
    let up = upstream().await;
    let plan = Plan { agent_concurrent_chats: 5, account_concurrent_chats: 2, ..Plan::default() };
    let app = TestApp::spawn_with(backend, config(&up.base, plan)).await;
    let user = app.register("you@example.com").await;
    let a = bot(&app, &user, "A", "up/drip").await;
    let b = bot(&app, &user, "B", "up/drip").await;
    let key = app.api_key(&user, &["chat"]).await;
    let _first = open_stream(&app, &a, &key).await;
    let _second = open_stream(&app, &b, &key).await;
    let refused = app.post(&format!("/api/v1/bot/{b}/chat"), Some(&key), ask(true)).await;
    assert_error(refused, 429, "concurrent_limit").await;

    // Another account has a budget of its own.
    let other = app.register("other@example.com").await;
    let theirs = bot(&app, &other, "C", "up/drip").await;
    let other_key = app.api_key(&other, &["chat"]).await;
    let _third = open_stream(&app, &theirs, &other_key).await;
}

async fn agent_rate_limited_with_retry_after(backend: Backend) {
    crate::common::wait_for_fresh_minute().await;
    let up = upstream().await;
    let plan = Plan { agent_chats_per_minute: 3, ..Plan::default() };
    let app = TestApp::spawn_with(backend, config(&up.base, plan)).await;
    let user = app.register("you@example.com").await;
    let id = bot(&app, &user, "Busy", "test/echo").await;
    let other = bot(&app, &user, "Quiet", "test/echo").await;
    // Three keys: the agent's budget is counted whichever key asks.
    let keys = [app.api_key(&user, &["chat"]).await, app.api_key(&user, &["chat"]).await];
    for key in [&keys[0], &keys[1], &keys[0]] {
        let response = app.post(&format!("/api/v1/bot/{id}/chat"), Some(key), ask(false)).await;
        assert_eq!(response.status(), 200);
    }
    let limited = app.post(&format!("/api/v1/bot/{id}/chat"), Some(&keys[1]), ask(false)).await;
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    let body = assert_error(limited, 429, "bot_rate_limited").await;
    assert_eq!(body["error"]["retry_after"], retry_after);
    assert!((1..=60).contains(&retry_after));
    let openai = app
        .post(
            "/v1/chat/completions",
            Some(&keys[0]),
            json!({"model": "busy", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(openai.status(), 429);
    assert_eq!(openai.json::<Value>().await.unwrap()["error"]["code"], "bot_rate_limited");
    // Other agents keep their own budget.
    assert_eq!(app.post(&format!("/api/v1/bot/{other}/chat"), Some(&keys[1]), ask(false)).await.status(), 200);
}

async fn replicas_share_concurrency_through_redis(backend: Backend) {
    let up = upstream().await;
    let namespace = redis_namespace();
    let plan = Plan { agent_concurrent_chats: 2, ..Plan::default() };
    let shared = || {
        let mut config = config(&up.base, plan);
        config.redis_url = Some(REDIS_URL.to_owned());
        config.redis_namespace = namespace.clone();
        config
    };
    let first = TestApp::spawn_with(backend, shared()).await;
    let user = first.register("you@example.com").await;
    let id = bot(&first, &user, "Shared", "up/drip").await;
    let key = first.api_key(&user, &["chat"]).await;
    let db = talon_store::testing::TestDatabase::open(&first.db().url).await.unwrap();
    let second = TestApp::start(db, shared()).await;

    let one = open_stream(&first, &id, &key).await;
    let _two = open_stream(&second, &id, &key).await;
    for app in [&first, &second] {
        assert_error(app.post(&format!("/api/v1/bot/{id}/chat"), Some(&key), ask(true)).await, 429, "concurrent_limit")
            .await;
    }
    drop(one);
    drop(admitted_again(&second, &id, &key).await);
}

async fn json_answers_time_out_with_504(backend: Backend) {
    let up = upstream().await;
    let mut config = config_with_upstream(&up.base);
    config.chat_timeout = Duration::from_millis(400);
    let app = TestApp::spawn_with(backend, config).await;
    let user = app.register("you@example.com").await;
    let slow = bot(&app, &user, "Slow", "up/slow").await;
    let drip = bot(&app, &user, "Drip", "up/drip").await;
    let key = app.api_key(&user, &["chat", "agents:read"]).await;
    // No first token in time, and a first token but no end in time: both are 504.
    for id in [&slow, &drip] {
        let response = app.post(&format!("/api/v1/bot/{id}/chat"), Some(&key), ask(false)).await;
        assert_error(response, 504, "timeout").await;
    }
    let openai = app
        .post(
            "/v1/chat/completions",
            Some(&key),
            json!({"model": "slow", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(openai.status(), 504);
    assert_eq!(openai.json::<Value>().await.unwrap()["error"]["code"], "timeout");
    // A stream must start within the timeout too, but has no overall deadline: one that starts at once
    // and lasts longer than the timeout is answered in full.
    let streamed = app.post(&format!("/api/v1/bot/{slow}/chat"), Some(&key), ask(true)).await;
    assert_error(streamed, 504, "timeout").await;
    let long = bot(&app, &user, "Long", "up/chunks-64").await;
    let streamed = app.post(&format!("/api/v1/bot/{long}/chat"), Some(&key), ask(true)).await;
    assert_eq!(streamed.status(), 200);
    assert!(streamed.text().await.unwrap().ends_with("data: [DONE]\n\n"));
    let usage = eventually(|| async {
        let usage = app.get_json(&format!("/api/agents/{slow}/usage"), &key).await;
        (usage["total"]["requests"] == 3).then_some(usage)
    })
    .await;
    assert_eq!(usage["total"]["failed"].as_u64(), Some(3), "{usage}");
}

async fn a_silent_upstream_times_out_and_a_slow_one_falls_back(backend: Backend) {
    let up = upstream().await;
    let mut config = config_with_upstream(&up.base);
    // Each model may take 300 ms to start; the whole answer has 1.5 s.
    config.first_token_timeout = Duration::from_millis(300);
    config.chat_timeout = Duration::from_millis(1500);
    let app = TestApp::spawn_with(backend, config).await;
    let user = app.register("you@example.com").await;
    let silent = bot(&app, &user, "Silent", "up/silent").await;
    let key = app.api_key(&user, &["chat"]).await;
    // Nothing ever comes: 504 `timeout`, JSON or stream, on both chat routes and on /v1.
    for stream in [false, true] {
        let response = app.post(&format!("/api/v1/bot/{silent}/chat"), Some(&key), ask(stream)).await;
        assert_error(response, 504, "timeout").await;
    }
    let agents = app
        .post("/api/v1/chat", Some(&key), json!({"agent": "silent", "messages": [{"role": "user", "content": "x"}]}))
        .await;
    assert_error(agents, 504, "timeout").await;
    let openai = app
        .post(
            "/v1/chat/completions",
            Some(&key),
            json!({"model": "silent", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(openai.status(), 504);
    assert_eq!(openai.json::<Value>().await.unwrap()["error"]["code"], "timeout");

    // A primary slow to start hands over to the fallback, well within the chat timeout.
    let agent = app
        .create_agent(
            &user.token,
            json!({"name": "Slow start", "prompt": "p", "model": {"primary": "up/slow", "fallback": "up/ok"}}),
        )
        .await;
    let id = agent["id"].as_str().unwrap();
    app.patch(&format!("/api/agents/{id}"), &user.token, json!({"apiAccess": true})).await;
    app.post(&format!("/api/agents/{id}/deploy"), Some(&user.token), json!({})).await;
    for stream in [false, true] {
        let response = app.post(&format!("/api/v1/bot/{id}/chat"), Some(&key), ask(stream)).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-talon-model"], "up/ok");
        assert!(response.text().await.unwrap().contains("upstream"));
    }
}

async fn a_slow_first_token_gets_keep_alive_comments(backend: Backend) {
    let up = upstream().await;
    let mut config = config_with_upstream(&up.base);
    config.sse_keep_alive = Duration::from_millis(200);
    let app = TestApp::spawn_with(backend, config).await;
    let user = app.register("you@example.com").await;
    bot(&app, &user, "Slow", "up/slow").await;
    let key = app.api_key(&user, &["chat"]).await;
    let response = app
        .post(
            "/v1/chat/completions",
            Some(&key),
            json!({"model": "slow", "stream": true, "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.starts_with(": keep-alive\n\n"), "{text}");
    assert!(text.contains("Hello") && text.ends_with("data: [DONE]\n\n"), "{text}");
    // A quick answer has none.
    bot(&app, &user, "Quick", "up/ok").await;
    let quick = app
        .post(
            "/v1/chat/completions",
            Some(&key),
            json!({"model": "quick", "stream": true, "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert!(!quick.text().await.unwrap().contains("keep-alive"));
}

async fn a_stream_nobody_reads_gives_its_place_back(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let up = upstream().await;
    // The probes below come quickly, and must be refused for the agent's one place only, never for a
    // per-minute budget (the key's, the agent's).
    let plan = Plan {
        agent_concurrent_chats: 1,
        key_requests_per_minute: 1_000_000,
        agent_chats_per_minute: 1_000_000,
        ..Plan::default()
    };
    let mut config = config(&up.base, plan);
    // Long enough that a probe on a loaded machine still sees the place taken before it is given back.
    config.stream_write_timeout = Duration::from_secs(4);
    let app = TestApp::spawn_with(backend, config).await;
    let user = app.register("you@example.com").await;
    let id = bot(&app, &user, "Flood", "up/flood").await;
    let key = app.api_key(&user, &["chat"]).await;
    // A client that asks for a long stream and never reads a byte, with a small receive buffer.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(app.addr).await.unwrap();
    let body = ask(true).to_string();
    let head = format!(
        "POST /api/v1/bot/{id}/chat HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        app.addr,
        body.len()
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    // Its status line first, so that the stream holds the place before any probe asks for it (a probe
    // sent sooner could take the place first and have the stream refused). The body stays unread.
    let mut received = Vec::new();
    while !received.windows(4).any(|w| w == b"\r\n\r\n") {
        let mut chunk = [0u8; 256];
        let n = stalled.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the connection closed before the response head");
        received.extend_from_slice(&chunk[..n]);
    }
    assert!(received.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&received));
    // A quick answer from the same agent (the echo model), to probe its one place.
    let probe = || async {
        let body = json!({"messages": [{"role": "user", "content": "probe"}], "model": "test/echo"});
        app.post(&format!("/api/v1/bot/{id}/chat"), Some(&key), body).await.status().as_u16()
    };
    // Its place is taken while the answer flows into the buffers...
    eventually(|| async { (probe().await == 429).then_some(()) }).await;
    // ...and comes back once a chunk has waited for it longer than the write timeout, though the
    // connection is still open.
    eventually(|| async { (probe().await == 200).then_some(()) }).await;
    drop(stalled);
}
