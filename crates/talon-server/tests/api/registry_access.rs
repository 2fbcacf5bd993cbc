//! Who may call what: every registry endpoint refuses a key without its scope (403, naming the scope)
//! and treats another account's private agent as missing (404), changing nothing.

use crate::common::{TestApp, assert_error, code_review_agent};
use reqwest::Method;
use serde_json::{Value, json};
use talon_store::Backend;

on_both_databases!(
    every_endpoint_needs_its_scope,
    another_accounts_agent_is_404_everywhere,
    an_agent_restricted_key_reaches_only_its_agent,
    deployed_agents_api,
);

/// Every agent endpoint: (method, path with {id} and {ver}, body, scope it needs).
fn endpoints() -> Vec<(Method, &'static str, Value, &'static str)> {
    vec![
        (Method::GET, "/api/agents", Value::Null, "agents:read"),
        (Method::POST, "/api/agents", code_review_agent(), "agents:write"),
        (Method::GET, "/api/agents/{id}", Value::Null, "agents:read"),
        (Method::PATCH, "/api/agents/{id}", json!({"name": "taken over"}), "agents:write"),
        (Method::DELETE, "/api/agents/{id}?force=true", Value::Null, "agents:write"),
        (Method::POST, "/api/agents/{id}/fork", json!({"forkType": "exact_clone"}), "agents:write"),
        (Method::GET, "/api/agents/{id}/lineage", Value::Null, "agents:read"),
        (Method::POST, "/api/agents/{id}/deploy", json!({}), "agents:write"),
        (Method::POST, "/api/agents/{id}/stop", json!({}), "agents:write"),
        (Method::GET, "/api/agents/{id}/versions", Value::Null, "agents:read"),
        (Method::POST, "/api/agents/{id}/versions", json!({"prompt": "hijacked"}), "agents:write"),
        (Method::GET, "/api/agents/{id}/versions/compare?from={ver}&to={ver}", Value::Null, "agents:read"),
        (Method::GET, "/api/agents/{id}/versions/{ver}", Value::Null, "agents:read"),
        (Method::POST, "/api/agents/{id}/rollback", json!({"versionId": "{ver}"}), "agents:write"),
        (Method::GET, "/api/v1/agents", Value::Null, "agents:read"),
    ]
}

async fn call(
    app: &TestApp,
    method: &Method,
    path: &str,
    body: &Value,
    bearer: &str,
    id: &str,
    ver: &str,
) -> reqwest::Response {
    let path = path.replace("{id}", id).replace("{ver}", ver);
    let mut request = app.request(method.clone(), &path, Some(bearer));
    if !body.is_null() {
        let body: Value = serde_json::from_str(&body.to_string().replace("{ver}", ver)).unwrap();
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn every_endpoint_needs_its_scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("alice@example.com").await;
    let agent = app.create_agent(&user.token, code_review_agent()).await;
    let (id, ver) = (agent["id"].as_str().unwrap(), agent["currentVersionId"].as_str().unwrap());
    let unrelated = app.api_key(&user, &["tasks:read", "webhooks:write"]).await;
    let read_only = app.api_key(&user, &["agents:read"]).await;
    for (method, path, body, scope) in endpoints() {
        let response = call(&app, &method, path, &body, &unrelated, id, ver).await;
        let error = assert_error(response, 403, "FORBIDDEN").await;
        assert!(error["error"]["message"].as_str().unwrap().contains(scope), "{method} {path}: {error}");
        if scope == "agents:write" {
            let response = call(&app, &method, path, &body, &read_only, id, ver).await;
            assert_error(response, 403, "FORBIDDEN").await;
        }
    }
    let unchanged = app.get_json(&format!("/api/agents/{id}"), &read_only).await;
    assert_eq!(unchanged["name"], "Code Review Agent");
    assert_eq!(unchanged["currentVersionId"], ver);
    assert_eq!(unchanged["forkCount"], 0);
}

async fn another_accounts_agent_is_404_everywhere(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.register("alice@example.com").await;
    let bob = app.register("bob@example.com").await;
    let agent = app.create_agent(&alice.token, code_review_agent()).await;
    let (id, ver) = (agent["id"].as_str().unwrap(), agent["currentVersionId"].as_str().unwrap());
    let bob_key = app.api_key(&bob, &["agents:read", "agents:write"]).await;
    for bearer in [&bob.token, &bob_key] {
        for (method, path, body, _) in endpoints() {
            if !path.contains("{id}") {
                continue;
            }
            let response = call(&app, &method, path, &body, bearer, id, ver).await;
            assert_error(response, 404, "NOT_FOUND").await;
        }
    }
    let after = app.get_json(&format!("/api/agents/{id}"), &alice.token).await;
    assert_eq!(after["name"], "Code Review Agent");
    assert_eq!(after["status"], "idle");
    assert_eq!(after["currentVersionId"], ver);
    assert_eq!(app.get_json("/api/agents", &bob.token).await["data"], json!([]));
}

async fn an_agent_restricted_key_reaches_only_its_agent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("alice@example.com").await;
    let mine = app.create_agent(&user.token, json!({"name": "mine", "prompt": "p"})).await;
    let other = app.create_agent(&user.token, json!({"name": "other", "prompt": "p"})).await;
    let mine_id = mine["id"].as_str().unwrap();
    let created = app
        .post(
            "/api/api-keys",
            Some(&user.token),
            json!({"name": "bot key", "scopes": ["agents:read", "chat"], "agentId": mine_id}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["agentId"], mine_id);
    let key = created["key"].as_str().unwrap();
    assert_eq!(app.get_json(&format!("/api/agents/{mine_id}"), key).await["name"], "mine");
    let other_path = format!("/api/agents/{}", other["id"].as_str().unwrap());
    assert_error(app.get(&other_path, key).await, 404, "NOT_FOUND").await;
    let list = app.get_json("/api/agents", key).await;
    assert_eq!(list["pagination"]["total"], 1);

    let bob = app.register("bob@example.com").await;
    let foreign =
        app.post("/api/api-keys", Some(&bob.token), json!({"name": "k", "scopes": ["chat"], "agentId": mine_id})).await;
    let error = assert_error(foreign, 400, "VALIDATION_ERROR").await;
    assert_eq!(error["error"]["details"][0]["field"], "agentId");
}

async fn deployed_agents_api(backend: Backend) {
    let mut config = crate::common::test_config();
    config.plans = crate::common::plans(1000, 100_000);
    let app = TestApp::spawn_with(backend, config).await;
    let user = app.register("alice@example.com").await;
    let key = app.api_key(&user, &["agents:read"]).await;
    let support = app
        .create_agent(
            &user.token,
            json!({
                "name": "Support Bot",
                "description": "Handles customer support inquiries with access to the knowledge base",
                "prompt": "p",
                "model": {"primary": "local/k2.5-standard", "fallback": "local/m2.5-mini"}
            }),
        )
        .await;
    let sales = app
        .create_agent(
            &user.token,
            json!({"name": "Sales Assistant", "prompt": "p", "model": {"primary": "local/k2.5-reasoning"}}),
        )
        .await;
    app.create_agent(&user.token, json!({"name": "Never deployed", "prompt": "p"})).await;
    for agent in [&support, &sales] {
        app.post(&format!("/api/agents/{}/deploy", agent["id"].as_str().unwrap()), Some(&user.token), json!({})).await;
    }
    app.post(&format!("/api/agents/{}/stop", sales["id"].as_str().unwrap()), Some(&user.token), json!({})).await;

    let list = app.get_json("/api/v1/agents?limit=10&offset=0", &key).await;
    assert_eq!(list["total"], 2);
    assert_eq!(list["has_more"], false);
    let first = &list["agents"][0];
    let uuid = talon_domain::AgentId::parse(support["id"].as_str().unwrap()).unwrap().as_uuid().to_string();
    assert_eq!(first["agent_id"], uuid.as_str());
    assert_eq!(first["name"], "Support Bot");
    assert_eq!(first["slug"], "support-bot");
    assert_eq!(first["description"], "Handles customer support inquiries with access to the knowledge base");
    assert_eq!(first["status"], "deployed");
    assert_eq!(first["model"], json!({"primary": "local/k2.5-standard", "fallback": "local/m2.5-mini"}));
    assert!(first["deployed_at"].is_string());
    assert_eq!(list["agents"][1]["status"], "stopped");
    assert_eq!(list["agents"][1]["model"]["fallback"], Value::Null);
    // The UUID form reaches the agent on the registry surface too.
    assert_eq!(app.get_json(&format!("/api/agents/{uuid}"), &key).await["name"], "Support Bot");

    let page = app.get_json("/api/v1/agents?limit=1&offset=0", &key).await;
    assert_eq!((page["agents"].as_array().unwrap().len(), page["has_more"].as_bool()), (1, Some(true)));
    let page = app.get_json("/api/v1/agents?limit=1&offset=1", &key).await;
    assert_eq!(page["has_more"], false);
    for bad in ["limit=0", "limit=101", "offset=-1", "limit=x"] {
        assert_error(app.get(&format!("/api/v1/agents?{bad}"), &key).await, 400, "VALIDATION_ERROR").await;
    }
    assert_error(app.request(Method::GET, "/api/v1/agents", None).send().await.unwrap(), 401, "UNAUTHORIZED").await;
    let no_scope = app.api_key(&user, &["tasks:read"]).await;
    assert_error(app.get("/api/v1/agents", &no_scope).await, 403, "FORBIDDEN").await;
}
