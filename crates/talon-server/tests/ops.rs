//! Operations endpoints: health, readiness, metrics, the OpenAPI document and the docs page.

mod common;

use common::TestApp;
use reqwest::Method;
use serde_json::Value;
use talon_store::Backend;

on_both_databases!(health_and_readiness, metrics_count_requests_by_route, openapi_and_docs_are_served_locally,);

async fn health_and_readiness(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let health: Value = app.request(Method::GET, "/healthz", None).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    let ready = app.request(Method::GET, "/readyz", None).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["database"], backend.as_str());

    app.db().store.close().await;
    let down = app.request(Method::GET, "/readyz", None).send().await.unwrap();
    common::assert_error(down, 503, "SERVICE_UNAVAILABLE").await;
}

async fn metrics_count_requests_by_route(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("alice@example.com").await;
    let text = app.request(Method::GET, "/metrics", None).send().await.unwrap().text().await.unwrap();
    assert!(
        text.contains(r#"talon_http_requests_total{method="POST",route="/api/auth/register",status="202"}"#),
        "{text}"
    );
    assert!(text.contains("talon_http_request_duration_seconds_bucket"), "latency is a histogram");
}

async fn openapi_and_docs_are_served_locally(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc: Value = app.request(Method::GET, "/openapi.json", None).send().await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/me",
        "/api/auth/logout",
        "/api/auth/sessions/revoke-all",
        "/api/api-keys",
        "/api/api-keys/{id}",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} documented");
    }

    let page = app.request(Method::GET, "/docs/", None).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "the docs page is Swagger UI");
    assert!(!html.contains("https://") && !html.contains("http://"), "no asset comes from a CDN");
    let script = app.request(Method::GET, "/docs/swagger-ui-bundle.js", None).send().await.unwrap();
    assert_eq!(script.status(), 200, "assets are embedded");
}
