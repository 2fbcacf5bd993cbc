//! The request log: one line per request with its route template, status, request id and account, a 5xx
//! at `warn` with its cause, and never a credential.

use crate::common::{TestApp, logs};
use reqwest::Method;
use serde_json::{Value, json};
use talon_store::Backend;

on_both_databases!(
    a_request_is_one_line_with_route_status_and_account,
    refused_and_unknown_requests_are_logged_without_the_credential,
    a_5xx_is_logged_at_warn_with_its_cause,
);

/// The request log lines of the request with this id.
fn lines_for(request_id: &str) -> Vec<Value> {
    logs::lines().into_iter().filter(|event| event["fields"]["request_id"] == request_id).collect()
}

fn the_line_for(request_id: &str) -> Value {
    let lines = lines_for(request_id);
    assert_eq!(lines.len(), 1, "one line for {request_id}: {lines:?}");
    lines.into_iter().next().unwrap_or_default()
}

async fn a_request_is_one_line_with_route_status_and_account(backend: Backend) {
    logs::capture();
    let app = TestApp::spawn(backend).await;
    let user = app.register("alice@example.com").await;
    let key = app.api_key(&user, &["agents:read", "agents:write"]).await;
    let agent = app.create_agent(&key, json!({"name": "Logged", "prompt": "p"})).await;
    let id = agent["id"].as_str().unwrap();

    let request_id = format!("log-ok-{backend:?}");
    let response = app
        .request(Method::GET, &format!("/api/agents/{id}?access_token=query-secret"), Some(&key))
        .header("x-request-id", &request_id)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let line = the_line_for(&request_id);
    assert_eq!(line["level"], "INFO", "{line}");
    let fields = &line["fields"];
    assert_eq!(fields["method"], "GET", "{line}");
    assert_eq!(fields["route"], "/api/agents/{id}", "the route template, not the path: {line}");
    assert_eq!(fields["status"], 200, "{line}");
    assert_eq!(fields["account_id"], user.id.as_str(), "{line}");
    assert!(fields["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{line}");

    let logged = logs::text();
    assert!(!logged.contains(&key), "the API key reached the log");
    assert!(!logged.contains(&user.token), "the session token reached the log");
    assert!(!logged.contains("query-secret"), "the query string reached the log");
}

async fn refused_and_unknown_requests_are_logged_without_the_credential(backend: Backend) {
    logs::capture();
    let app = TestApp::spawn(backend).await;
    // Well-formed, so the lookup runs; unknown, so it is refused.
    let unknown_key = "tln_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA000000";
    let refused = format!("log-401-{backend:?}");
    let response = app
        .request(Method::GET, "/api/auth/me", Some(unknown_key))
        .header("x-request-id", &refused)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let line = the_line_for(&refused);
    assert_eq!(line["level"], "INFO", "{line}");
    assert_eq!(line["fields"]["route"], "/api/auth/me", "{line}");
    assert_eq!(line["fields"]["status"], 401, "{line}");
    assert!(line["fields"].get("account_id").is_none(), "no account for a refused caller: {line}");
    assert!(!logs::text().contains(unknown_key), "the refused key reached the log");

    let unknown = format!("log-404-{backend:?}");
    let response =
        app.request(Method::GET, "/api/nothing/here", None).header("x-request-id", &unknown).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let line = the_line_for(&unknown);
    assert_eq!(line["fields"]["status"], 404, "{line}");
    assert_eq!(line["fields"]["route"], "unmatched", "{line}");
}

async fn a_5xx_is_logged_at_warn_with_its_cause(backend: Backend) {
    logs::capture();
    let app = TestApp::spawn(backend).await;
    let user = app.register("alice@example.com").await;
    app.break_database(backend).await;
    let failed = format!("log-500-{backend:?}");
    let response = app
        .request(Method::GET, "/api/auth/me", Some(&user.token))
        .header("x-request-id", &failed)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let body: Value = response.json().await.unwrap();
    assert!(!body.to_string().contains("users"), "the body hides the cause: {body}");

    let line = the_line_for(&failed);
    assert_eq!(line["level"], "WARN", "{line}");
    assert_eq!(line["fields"]["status"], 500, "{line}");
    assert_eq!(line["fields"]["route"], "/api/auth/me", "{line}");
    let cause = line["fields"]["cause"].as_str().unwrap_or_default();
    assert!(cause.contains("users"), "the database's complaint is logged: {line}");
    assert!(!logs::text().contains(&user.token), "the session token reached the log");
}
