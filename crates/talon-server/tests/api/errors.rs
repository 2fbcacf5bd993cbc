//! The error envelope for every status the API returns, including framework and server failures.

use crate::common::{PASSWORD, TestApp, assert_error, plans, test_config, wait_for_fresh_minute};
use reqwest::Method;
use serde_json::json;
use talon_store::Backend;

on_both_databases!(
    status_400_401_403_404_405_409,
    status_413_by_content_length_and_by_stream,
    status_422_and_429,
    status_500_hides_the_database_error,
    request_id_is_echoed_or_generated,
);

async fn status_400_401_403_404_405_409(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("alice@example.com").await;
    let key = app.api_key(&user, &["agents:read"]).await;

    assert_error(app.post("/api/auth/register", None, json!({"email": "x"})).await, 400, "VALIDATION_ERROR").await;
    assert_error(app.get("/api/auth/me", "nope").await, 401, "UNAUTHORIZED").await;
    assert_error(app.get("/api/api-keys", &key).await, 403, "FORBIDDEN").await;
    assert_error(app.get("/api/does-not-exist", &user.token).await, 404, "NOT_FOUND").await;
    let wrong_method = app.request(Method::PUT, "/api/auth/login", None).send().await.unwrap();
    assert_error(wrong_method, 405, "METHOD_NOT_ALLOWED").await;
    let agent = json!({"name": "A", "slug": "taken", "prompt": "p"});
    assert_eq!(app.post("/api/agents", Some(&user.token), agent.clone()).await.status(), 201);
    assert_error(app.post("/api/agents", Some(&user.token), agent).await, 409, "CONFLICT").await;
}

async fn status_413_by_content_length_and_by_stream(backend: Backend) {
    let mut config = test_config();
    config.max_body_bytes = 1024;
    let app = TestApp::spawn_with(backend, config).await;
    let big = json!({"email": "a@example.com", "password": "x".repeat(2048)}).to_string();

    let declared = app
        .request(Method::POST, "/api/auth/register", None)
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(declared.headers()["connection"], "close", "the unread body leaves the connection unusable");
    assert_error(declared, 413, "PAYLOAD_TOO_LARGE").await;

    // No Content-Length: the limit applies while the body streams in.
    let chunks: Vec<Result<String, std::io::Error>> =
        big.as_bytes().chunks(256).map(|c| Ok(String::from_utf8(c.to_vec()).unwrap())).collect();
    let streamed = app
        .request(Method::POST, "/api/auth/register", None)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_error(streamed, 413, "PAYLOAD_TOO_LARGE").await;
    let login = app.post("/api/auth/login", None, json!({"email": "a@example.com", "password": PASSWORD})).await;
    assert_error(login, 401, "UNAUTHORIZED").await;
}

async fn status_422_and_429(backend: Backend) {
    let mut config = test_config();
    config.plans = plans(3, 1000);
    let app = TestApp::spawn_with(backend, config).await;
    let user = app.register("alice@example.com").await;
    wait_for_fresh_minute().await;

    let first = app
        .request(Method::POST, "/api/api-keys", Some(&user.token))
        .header("idempotency-key", "abc")
        .json(&json!({"name": "one", "scopes": ["chat"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    let reused = app
        .request(Method::POST, "/api/api-keys", Some(&user.token))
        .header("idempotency-key", "abc")
        .json(&json!({"name": "two", "scopes": ["chat"]}))
        .send()
        .await
        .unwrap();
    assert_error(reused, 422, "IDEMPOTENCY_KEY_REUSED").await;

    assert_eq!(app.get("/api/auth/me", &user.token).await.status(), 200, "the third of three");
    let limited = app.get("/api/auth/me", &user.token).await;
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_error(limited, 429, "RATE_LIMITED").await;
}

async fn status_500_hides_the_database_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("alice@example.com").await;
    app.break_database(backend).await;
    let response = app.get("/api/auth/me", &user.token).await;
    let body = assert_error(response, 500, "INTERNAL_ERROR").await;
    let text = body.to_string().to_lowercase();
    for leak in ["users", "table", "sqlite", "postgres", "relation"] {
        assert!(!text.contains(leak), "500 body leaks `{leak}`: {body}");
    }
}

async fn request_id_is_echoed_or_generated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let echoed =
        app.request(Method::GET, "/healthz", None).header("x-request-id", "client-abc.123").send().await.unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "client-abc.123");
    let replaced =
        app.request(Method::GET, "/healthz", None).header("x-request-id", "bad id with spaces").send().await.unwrap();
    let id = replaced.headers()["x-request-id"].to_str().unwrap();
    assert!(id.starts_with("req_"), "{id}");
    let error = app.request(Method::GET, "/nowhere", None).header("x-request-id", "trace-1").send().await.unwrap();
    let body = assert_error(error, 404, "NOT_FOUND").await;
    assert_eq!(body["error"]["requestId"], "trace-1");
}
