//! Each surface answers every error in its own shape, whoever produced it (a handler, a rejected body,
//! the body limit, an idempotent replay): the envelope on `/api`, OpenAI's shape on `/v1`, the chat
//! API's codes on `/api/v1/chat` and `/api/v1/bot/{id}/chat`. And the request types: OpenAI's ignores
//! what it does not use, the chat API's refuses what its reference does not list.

use crate::common::{TestApp, User, assert_error, test_config};
use reqwest::{Method, Response};
use serde_json::{Value, json};
use talon_store::Backend;

on_both_databases!(
    malformed_json_in_each_surface_shape,
    body_limits_in_each_surface_shape,
    no_error_on_api_is_in_another_shape,
    idempotent_replays_keep_the_surface_shape,
    unknown_fields_on_the_chat_api_are_invalid_request,
    openai_ignores_parameters_it_does_not_use,
    the_document_states_each_surface_shape,
);

/// A deployed agent with API access, and a key with the `chat` scope.
async fn bot(app: &TestApp, user: &User) -> (String, String) {
    let agent = app.create_agent(&user.token, json!({"name": "Helper", "prompt": "p"})).await;
    let id = agent["id"].as_str().unwrap().to_owned();
    assert_eq!(app.patch(&format!("/api/agents/{id}"), &user.token, json!({"apiAccess": true})).await.status(), 200);
    assert_eq!(app.post(&format!("/api/agents/{id}/deploy"), Some(&user.token), json!({})).await.status(), 200);
    (id, app.api_key(user, &["chat"]).await)
}

async fn raw(app: &TestApp, path: &str, bearer: &str, body: impl Into<reqwest::Body>) -> Response {
    app.request(Method::POST, path, Some(bearer))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// An error in OpenAI's shape, and nothing of the envelope.
async fn assert_openai_error(response: Response, status: u16, kind: &str) -> Value {
    assert_eq!(response.status(), status);
    assert!(response.headers().get("x-request-id").is_some());
    let body: Value = response.json().await.unwrap();
    let error = body["error"].as_object().unwrap_or_else(|| panic!("{body}"));
    let mut keys: Vec<&str> = error.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["code", "message", "param", "type"], "{body}");
    assert_eq!(error["type"], kind, "{body}");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    body
}

async fn malformed_json_in_each_surface_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let (id, key) = bot(&app, &user).await;
    let malformed = r#"{"model": "helper", "messages": ["#;

    let openai =
        assert_openai_error(raw(&app, "/v1/chat/completions", &key, malformed).await, 400, "invalid_request_error")
            .await;
    assert_eq!(openai["error"]["code"], "bad_request", "{openai}");
    assert!(openai["error"]["message"].as_str().unwrap().starts_with("Malformed JSON"), "{openai}");

    for path in [format!("/api/v1/bot/{id}/chat"), "/api/v1/chat".to_owned()] {
        let body = assert_error(raw(&app, &path, &key, malformed).await, 400, "invalid_request").await;
        assert!(body["error"]["message"].as_str().unwrap().starts_with("Malformed JSON"), "{body}");
    }
    // A body of another type than JSON, on each surface.
    let text = app
        .request(Method::POST, "/v1/chat/completions", Some(&key))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_openai_error(text, 415, "invalid_request_error").await;
    let text = app
        .request(Method::POST, "/api/v1/chat", Some(&key))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_error(text, 415, "invalid_request").await;
    assert_error(raw(&app, "/api/agents", &user.token, malformed).await, 400, "BAD_REQUEST").await;
}

async fn body_limits_in_each_surface_shape(backend: Backend) {
    let mut config = test_config();
    config.max_body_bytes = 1024;
    let app = TestApp::spawn_with(backend, config).await;
    let user = app.register("you@example.com").await;
    let (id, key) = bot(&app, &user).await;
    let big = json!({"model": "helper", "messages": [{"role": "user", "content": "x".repeat(2048)}]}).to_string();

    // By Content-Length, before reading.
    let declared = raw(&app, "/v1/chat/completions", &key, big.clone()).await;
    assert_eq!(declared.headers()["connection"], "close");
    let body = assert_openai_error(declared, 413, "invalid_request_error").await;
    assert_eq!(body["error"]["code"], "payload_too_large");

    // While streaming in, without a Content-Length.
    let streamed = |path: String| {
        let chunks: Vec<Result<String, std::io::Error>> =
            big.as_bytes().chunks(256).map(|c| Ok(String::from_utf8(c.to_vec()).unwrap())).collect();
        let request = app
            .request(Method::POST, &path, Some(&key))
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)));
        async move { request.send().await.unwrap() }
    };
    assert_openai_error(streamed("/v1/chat/completions".to_owned()).await, 413, "invalid_request_error").await;
    let chat = streamed(format!("/api/v1/bot/{id}/chat")).await;
    assert_eq!(chat.headers()["connection"], "close");
    assert_error(chat, 413, "request_too_large").await;
    assert_error(streamed("/api/v1/chat".to_owned()).await, 413, "request_too_large").await;
}

async fn no_error_on_api_is_in_another_shape(backend: Backend) {
    let mut config = test_config();
    config.max_body_bytes = 1024;
    let app = TestApp::spawn_with(backend, config).await;
    let user = app.register("you@example.com").await;
    let (id, key) = bot(&app, &user).await;
    let read_only = app.api_key(&user, &["agents:read"]).await;
    let big = json!({"name": "x".repeat(2048), "prompt": "p"}).to_string();
    let responses = [
        app.post("/api/agents", Some(&user.token), json!({"name": "", "colour": "blue"})).await,
        raw(&app, "/api/agents", &user.token, "{").await,
        raw(&app, "/api/agents", &user.token, big).await,
        app.post("/api/agents", Some("tln_bad"), json!({})).await,
        app.post("/api/agents", Some(&read_only), json!({"name": "A", "prompt": "p"})).await,
        app.get("/api/agents/nobody", &user.token).await,
        app.get("/api/nowhere", &user.token).await,
        app.request(Method::PUT, "/api/auth/login", None).send().await.unwrap(),
        app.request(Method::DELETE, "/api/agents", Some(&user.token)).send().await.unwrap(),
        // Paths next to the chat surfaces that are not theirs.
        app.get("/v1", &key).await,
        app.get("/api/v1/bot", &key).await,
        app.post("/api/v1/chat/more", Some(&key), json!({})).await,
        app.post(&format!("/api/v1/bot/{id}"), Some(&key), json!({})).await,
        app.get(&format!("/api/agents/{id}/versions/x"), &user.token).await,
    ];
    for response in responses {
        let status = response.status().as_u16();
        let header_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
        let body: Value = response.json().await.unwrap();
        assert!((400..500).contains(&status), "{status} {body}");
        let error = body["error"].as_object().unwrap_or_else(|| panic!("{body}"));
        let mut keys: Vec<&str> = error.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["code", "details", "message", "requestId"], "{body}");
        let code = error["code"].as_str().unwrap();
        assert!(code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'), "a REST code: {body}");
        assert_eq!(error["requestId"], header_id.as_str());
    }
}

async fn idempotent_replays_keep_the_surface_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let (id, key) = bot(&app, &user).await;
    // One idempotency key per path: a key names one request.
    let send = |path: &str, body: Value| {
        app.request(Method::POST, path, Some(&key)).header("idempotency-key", format!("retry{path}")).json(&body).send()
    };
    let empty = json!({"model": "helper", "messages": []});
    for attempt in 0..2 {
        let response = send("/v1/chat/completions", empty.clone()).await.unwrap();
        assert_eq!(response.headers().get("idempotent-replayed").is_some(), attempt == 1);
        let body = assert_openai_error(response, 400, "invalid_request_error").await;
        assert_eq!(body["error"]["param"], "messages");
    }
    let path = format!("/api/v1/bot/{id}/chat");
    for attempt in 0..2 {
        let response = send(&path, json!({"messages": []})).await.unwrap();
        assert_eq!(response.headers().get("idempotent-replayed").is_some(), attempt == 1);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_request", "{body}");
        assert_eq!(body["error"]["details"][0]["field"], "messages", "{body}");
    }
}

async fn unknown_fields_on_the_chat_api_are_invalid_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let (id, key) = bot(&app, &user).await;
    let fields = |body: &Value| -> Vec<String> {
        let mut fields: Vec<String> = body["error"]["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["field"].as_str().unwrap().to_owned())
            .collect();
        fields.sort();
        fields
    };
    let path = format!("/api/v1/bot/{id}/chat");
    let extra = json!({"messages": [{"role": "user", "content": "x", "name": "ann"}], "temperature": 0.2,
        "stream": "yes"});
    let body = assert_error(app.post(&path, Some(&key), extra).await, 400, "invalid_request").await;
    assert_eq!(fields(&body), ["messages[0].name", "stream", "temperature"], "{body}");
    let tool = json!({"messages": [{"role": "tool", "content": "42"}]});
    let body = assert_error(app.post(&path, Some(&key), tool).await, 400, "invalid_request").await;
    assert_eq!(fields(&body), ["messages[0].role"], "{body}");
    assert_eq!(body["error"]["details"][0]["message"], "Must be user, assistant or system");
    let agents = json!({"agent": "helper", "messages": [{"role": "user", "content": "x"}], "top_p": 1});
    let body = assert_error(app.post("/api/v1/chat", Some(&key), agents).await, 400, "invalid_request").await;
    assert_eq!(fields(&body), ["top_p"], "{body}");
    // Refused before anything was asked of a model: nothing was used.
    let usage = app.get_json(&format!("/api/agents/{id}/usage"), &user.token).await;
    assert_eq!(usage["total"]["requests"], 0, "{usage}");
    // The documented fields are all taken.
    let documented = json!({"messages": [{"role": "system", "content": "Be brief"}, {"role": "user", "content": "x"}],
        "stream": false, "model": "test/echo", "user": "customer-123"});
    assert_eq!(app.post(&path, Some(&key), documented).await.status(), 200);
}

async fn openai_ignores_parameters_it_does_not_use(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let (_, key) = bot(&app, &user).await;
    let body = json!({
        "model": "helper",
        "messages": [
            {"role": "system", "content": "Be brief"},
            {"role": "user", "content": "What is six times seven?"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                "function": {"name": "multiply", "arguments": "{\"a\":6,\"b\":7}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "42"},
            {"role": "user", "content": "thanks"}
        ],
        "top_p": 0.9, "frequency_penalty": 0, "presence_penalty": 0, "seed": 7, "logit_bias": {},
        "response_format": {"type": "text"}, "parallel_tool_calls": true, "max_completion_tokens": 64,
    });
    let response = app.post("/v1/chat/completions", Some(&key), body).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["object"], "chat.completion");
    // What it uses is checked, every fault at once.
    let wrong = json!({"model": "helper", "messages": [{"role": "wizard", "content": "x"}], "temperature": "hot",
        "top_p": "ignored"});
    let response = app.post("/v1/chat/completions", Some(&key), wrong).await;
    let body = assert_openai_error(response, 400, "invalid_request_error").await;
    assert_eq!(body["error"]["code"], "validation_error");
    assert!(["messages[0].role", "temperature"].contains(&body["error"]["param"].as_str().unwrap()), "{body}");
}

/// The document states each surface's request body and error shape.
async fn the_document_states_each_surface_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc: Value = app.request(Method::GET, "/openapi.json", None).send().await.unwrap().json().await.unwrap();
    let operation = |path: &str| doc["paths"][path]["post"].clone();
    let schema_of = |operation: &Value, status: &str| {
        operation["responses"][status]["content"]["application/json"]["schema"]["$ref"].as_str().map(str::to_owned)
    };
    let request_of = |operation: &Value| {
        operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str().map(str::to_owned)
    };
    let completions = operation("/v1/chat/completions");
    assert_eq!(request_of(&completions).as_deref(), Some("#/components/schemas/ChatCompletionRequest"));
    for status in ["400", "401", "403", "404", "429", "500", "502", "504"] {
        assert_eq!(schema_of(&completions, status).as_deref(), Some("#/components/schemas/OpenAiError"), "{status}");
    }
    for (path, request) in [("/api/v1/bot/{bot_id}/chat", "BotChatRequest"), ("/api/v1/chat", "AgentChatRequest")] {
        let chat = operation(path);
        assert_eq!(request_of(&chat), Some(format!("#/components/schemas/{request}")));
        for status in ["400", "401", "403", "404", "413", "429", "500", "503", "504"] {
            assert_eq!(
                schema_of(&chat, status).as_deref(),
                Some("#/components/schemas/ChatApiError"),
                "{path} {status}"
            );
        }
    }
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["ChatApiMessage"]["properties"]["role"]["enum"], json!(["user", "assistant", "system"]));
    assert_eq!(schemas["Role"]["enum"], json!(["system", "user", "assistant", "tool"]));
    assert!(schemas["OpenAiError"]["properties"]["error"].is_object());
    assert!(schemas["ChatApiErrorBody"]["properties"]["retry_after"].is_object());
}
