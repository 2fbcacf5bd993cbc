//! `/v1/chat/completions` and `/v1/models`: deployed agents answer as OpenAI models.

use crate::common::{TestApp, User};
use reqwest::Method;
use serde_json::{Value, json};
use talon_gateway::testing::{Upstream, upstream};
use talon_store::Backend;

on_both_databases!(
    json_completion_from_the_echo_provider,
    streamed_completion_ends_with_done,
    the_version_is_what_goes_upstream,
    fallback_and_cut_streams,
    version_pins_and_models_list,
    errors_come_in_openai_shape,
    model_objects_and_unknown_urls,
    one_choice_and_usage_in_its_own_chunk,
    a_multibyte_error_body_still_falls_back,
);

async fn app_with_upstream(backend: Backend) -> (TestApp, Upstream) {
    let up = upstream().await;
    (TestApp::spawn_with(backend, crate::common::config_with_upstream(&up.base)).await, up)
}

/// A deployed agent and a key with the `chat` scope.
async fn deployed(app: &TestApp, user: &User, body: Value) -> (Value, String) {
    let agent = app.create_agent(&user.token, body).await;
    let id = agent["id"].as_str().unwrap();
    let response = app.post(&format!("/api/agents/{id}/deploy"), Some(&user.token), json!({})).await;
    assert_eq!(response.status(), 200);
    (agent, app.api_key(user, &["chat"]).await)
}

async fn complete(app: &TestApp, key: &str, body: Value) -> reqwest::Response {
    app.post("/v1/chat/completions", Some(key), body).await
}

/// Parses an SSE body into its `data:` payloads.
fn events(text: &str) -> Vec<String> {
    text.split("\n\n").filter_map(|e| e.strip_prefix("data: ")).map(str::to_owned).collect()
}

async fn json_completion_from_the_echo_provider(backend: Backend) {
    let (app, _) = app_with_upstream(backend).await;
    let user = app.register("you@example.com").await;
    let (_, key) = deployed(&app, &user, json!({"name": "Support Bot", "prompt": "You help."})).await;
    let response = complete(
        &app,
        &key,
        json!({"model": "support-bot", "messages": [{"role": "user", "content": "Hello there friend"}]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-talon-model"], "test/echo");
    assert_eq!(response.headers()["x-talon-agent-version"], "1");
    assert_eq!(response.headers()["x-talon-test-provider"], "true");
    let body: Value = response.json().await.unwrap();
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"], json!({"role": "assistant", "content": "Hello there friend"}));
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    let usage = &body["usage"];
    assert_eq!(
        usage["total_tokens"],
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );
}

async fn streamed_completion_ends_with_done(backend: Backend) {
    let (app, _) = app_with_upstream(backend).await;
    let user = app.register("you@example.com").await;
    let (_, key) = deployed(&app, &user, json!({"name": "Support Bot", "prompt": "You help."})).await;
    let response = complete(
        &app,
        &key,
        json!({"model": "support-bot", "stream": true, "messages": [{"role": "user", "content": "one two three"}]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let events = events(&response.text().await.unwrap());
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    assert_eq!(chunks[0]["object"], "chat.completion.chunk");
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "one two three");
    assert!(chunks.len() >= 4, "word by word, then the finish");
}

async fn the_version_is_what_goes_upstream(backend: Backend) {
    let (app, up) = app_with_upstream(backend).await;
    let user = app.register("you@example.com").await;
    let body = json!({
        "name": "Reviewer", "prompt": "You review code.",
        "tools": [{"name": "github_api", "description": "GitHub", "parameters": {"type": "object"}}],
        "config": {"temperature": 0.3, "maxTokens": 400},
        "model": {"primary": "up/ok"}
    });
    let (_, key) = deployed(&app, &user, body).await;
    let response = complete(
        &app,
        &key,
        json!({"model": "reviewer", "messages": [{"role": "user", "content": "Review this"}], "user": "customer-1"}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-talon-model"], "up/ok");
    assert!(response.headers().get("x-talon-test-provider").is_none());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "Hello from upstream");
    assert_eq!(body["usage"]["total_tokens"], 12);
    let sent = up.seen.lock().unwrap()[0].clone();
    assert_eq!(sent["model"], "ok");
    assert_eq!(
        sent["messages"],
        json!([
            {"role": "system", "content": "You review code."},
            {"role": "user", "content": "Review this"}
        ])
    );
    assert_eq!(
        sent["tools"],
        json!([{"type": "function", "function": {"name": "github_api", "description": "GitHub", "parameters": {"type": "object"}}}])
    );
    assert_eq!((sent["temperature"].as_f64(), sent["max_tokens"].as_u64()), (Some(0.3), Some(400)));
    assert_eq!(sent["user"], "customer-1");
}

async fn fallback_and_cut_streams(backend: Backend) {
    let (app, _) = app_with_upstream(backend).await;
    let user = app.register("you@example.com").await;
    let (_, key) = deployed(
        &app,
        &user,
        json!({"name": "Fallback", "prompt": "p", "model": {"primary": "up/fail-500", "fallback": "up/ok"}}),
    )
    .await;
    let response =
        complete(&app, &key, json!({"model": "fallback", "messages": [{"role": "user", "content": "hi"}]})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-talon-model"], "up/ok");

    app.create_agent(
        &user.token,
        json!({"name": "Cut", "prompt": "p", "model": {"primary": "up/cut", "fallback": "up/ok"}}),
    )
    .await;
    app.post("/api/agents/cut/deploy", Some(&user.token), json!({})).await;
    let streamed =
        complete(&app, &key, json!({"model": "cut", "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
            .await;
    assert_eq!(streamed.headers()["x-talon-model"], "up/cut", "no fallback once content started");
    let events = events(&streamed.text().await.unwrap());
    assert!(!events.iter().any(|e| e == "[DONE]"), "a cut stream never claims to be done");
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "upstream_error");
    let gathered = complete(&app, &key, json!({"model": "cut", "messages": [{"role": "user", "content": "hi"}]})).await;
    assert_eq!(gathered.status(), 502, "never a truncated answer dressed as success");
}

async fn version_pins_and_models_list(backend: Backend) {
    let (app, _) = app_with_upstream(backend).await;
    let user = app.register("you@example.com").await;
    let (agent, key) = deployed(&app, &user, json!({"name": "Pinned", "prompt": "v1"})).await;
    app.new_version(&user.token, agent["id"].as_str().unwrap(), json!({"prompt": "v2"})).await;
    let ask =
        |model: &str| complete(&app, &key, json!({"model": model, "messages": [{"role": "user", "content": "x"}]}));
    assert_eq!(ask("pinned").await.headers()["x-talon-agent-version"], "2", "follows the current version");
    assert_eq!(ask("pinned@1").await.headers()["x-talon-agent-version"], "1");
    assert_eq!(ask("pinned@9").await.status(), 404);

    app.create_agent(&user.token, json!({"name": "Idle one", "prompt": "p"})).await;
    let models =
        app.request(Method::GET, "/v1/models", Some(&key)).send().await.unwrap().json::<Value>().await.unwrap();
    assert_eq!(models["object"], "list");
    let ids: Vec<&str> = models["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["pinned"]);
}

async fn errors_come_in_openai_shape(backend: Backend) {
    let (app, _) = app_with_upstream(backend).await;
    let user = app.register("you@example.com").await;
    let (_, key) = deployed(&app, &user, json!({"name": "Bot", "prompt": "p"})).await;
    let openai_error = |response: reqwest::Response, status: u16, kind: &'static str| async move {
        assert_eq!(response.status(), status);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["type"], kind, "{body}");
        assert!(body["error"]["message"].is_string());
        body
    };
    let missing =
        complete(&app, &key, json!({"model": "nobody", "messages": [{"role": "user", "content": "x"}]})).await;
    let body = openai_error(missing, 404, "invalid_request_error").await;
    assert_eq!(body["error"]["code"], "model_not_found");
    let bad = complete(&app, &key, json!({"model": "bot", "messages": []})).await;
    let body = openai_error(bad, 400, "invalid_request_error").await;
    assert_eq!(body["error"]["param"], "messages");
    let role = complete(&app, &key, json!({"model": "bot", "messages": [{"role": "wizard", "content": "x"}]})).await;
    openai_error(role, 400, "invalid_request_error").await;
    openai_error(complete(&app, "tln_bad", json!({"model": "bot", "messages": []})).await, 401, "authentication_error")
        .await;
    let no_chat = app.api_key(&user, &["agents:read"]).await;
    openai_error(
        complete(&app, &no_chat, json!({"model": "bot", "messages": [{"role": "user", "content": "x"}]})).await,
        403,
        "permission_error",
    )
    .await;
    app.post("/api/agents/bot/stop", Some(&user.token), json!({})).await;
    let stopped = complete(&app, &key, json!({"model": "bot", "messages": [{"role": "user", "content": "x"}]})).await;
    openai_error(stopped, 404, "invalid_request_error").await;
    // Another account's agent is not a model for this key.
    let other = app.register("other@example.com").await;
    let (_, other_key) = deployed(&app, &other, json!({"name": "Theirs", "prompt": "p"})).await;
    openai_error(
        complete(&app, &other_key, json!({"model": "bot", "messages": [{"role": "user", "content": "x"}]})).await,
        404,
        "invalid_request_error",
    )
    .await;
}

async fn model_objects_and_unknown_urls(backend: Backend) {
    let (app, _) = app_with_upstream(backend).await;
    let user = app.register("you@example.com").await;
    let (_, key) = deployed(&app, &user, json!({"name": "Bot", "prompt": "p"})).await;
    let model = app.get_json("/v1/models/bot", &key).await;
    assert_eq!(model["id"], "bot");
    assert_eq!(model["object"], "model");
    assert!(model["created"].is_i64());
    assert_eq!(model["owned_by"], "talon");
    assert_eq!(app.get_json("/v1/models/bot@1", &key).await["id"], "bot@1");
    let missing = app.get("/v1/models/nobody", &key).await;
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    assert_eq!(body["error"]["code"], "model_not_found", "{body}");
    assert!(body["error"].as_object().unwrap().contains_key("param"), "{body}");
    // Unknown paths and wrong methods, as OpenAI answers them.
    for (method, path, status) in [
        (Method::GET, "/v1/embeddingz", 404),
        (Method::POST, "/v1/nothing/here", 404),
        (Method::GET, "/v1/chat/completions", 405),
        (Method::DELETE, "/v1/models", 405),
    ] {
        let response = app.request(method.clone(), path, Some(&key)).send().await.unwrap();
        assert_eq!(response.status(), status, "{method} {path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
        assert!(body["error"]["message"].is_string(), "{body}");
        assert_eq!(body["error"]["code"], Value::Null, "{body}");
        assert!(body["error"].as_object().unwrap().contains_key("param"), "{body}");
    }
}

async fn one_choice_and_usage_in_its_own_chunk(backend: Backend) {
    let (app, _) = app_with_upstream(backend).await;
    let user = app.register("you@example.com").await;
    let (_, key) = deployed(&app, &user, json!({"name": "Up", "prompt": "p", "model": {"primary": "up/ok"}})).await;
    let ask = |extra: Value| {
        let mut body = json!({"model": "up", "messages": [{"role": "user", "content": "x"}]});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        complete(&app, &key, body)
    };
    for n in [json!(2), json!(0), json!(1.5)] {
        let response = ask(json!({"n": n})).await;
        assert_eq!(response.status(), 400);
        assert_eq!(response.json::<Value>().await.unwrap()["error"]["param"], "n");
    }
    assert_eq!(ask(json!({"n": 1})).await.status(), 200);
    assert_eq!(ask(json!({"n": 1.0})).await.status(), 200, "1.0 is the integer 1");
    let without_stream = ask(json!({"stream_options": {"include_usage": true}})).await;
    assert_eq!(without_stream.status(), 400);

    // With include_usage: every content chunk without usage, then one chunk with `choices: []` and
    // the usage, then [DONE].
    let text = ask(json!({"stream": true, "stream_options": {"include_usage": true}})).await.text().await.unwrap();
    let with_usage = events(&text);
    assert_eq!(with_usage.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> =
        with_usage[..with_usage.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    let (usage, content) = chunks.split_last().unwrap();
    assert_eq!(usage["choices"], json!([]), "{usage}");
    assert_eq!(usage["usage"]["total_tokens"], 12);
    assert_eq!(usage["object"], "chat.completion.chunk");
    assert!(content.iter().all(|c| c.get("usage").is_none() && c["choices"].as_array().unwrap().len() == 1));
    // Without it: no usage anywhere, as OpenAI sends it.
    let text = ask(json!({"stream": true})).await.text().await.unwrap();
    let plain = events(&text);
    assert!(plain[..plain.len() - 1].iter().all(|e| !e.contains("usage") && !e.contains("\"choices\":[]")), "{text}");
}

async fn a_multibyte_error_body_still_falls_back(backend: Backend) {
    let (app, _) = app_with_upstream(backend).await;
    let user = app.register("you@example.com").await;
    // The primary's 503 has `é` across byte 1024 of its body, where the kept part is cut.
    let (_, key) = deployed(
        &app,
        &user,
        json!({"name": "Accents", "prompt": "p", "model": {"primary": "up/fail-503-utf8", "fallback": "up/ok"}}),
    )
    .await;
    let response =
        complete(&app, &key, json!({"model": "accents", "messages": [{"role": "user", "content": "hi"}]})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-talon-model"], "up/ok");
}
