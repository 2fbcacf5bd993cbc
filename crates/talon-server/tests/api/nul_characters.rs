//! A NUL character (`\u0000`) anywhere in a JSON body is refused with 400 naming the field, on both
//! databases, before anything is written (PostgreSQL text cannot hold one); so is a NUL in a slug.

use crate::common::{TestApp, assert_error};
use serde_json::{Value, json};
use talon_store::Backend;

on_both_databases!(
    nul_in_agent_and_version_bodies_is_400_naming_the_field,
    nul_in_task_bodies_is_400_and_a_worker_can_still_fail_the_task,
    nul_in_a_path_slug_is_404,
);

async fn field_of(response: reqwest::Response) -> String {
    let error = assert_error(response, 400, "VALIDATION_ERROR").await;
    error["error"]["details"][0]["field"].as_str().unwrap().to_owned()
}

async fn nul_in_agent_and_version_bodies_is_400_naming_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    for (body, field) in [
        (json!({"name": "a\u{0}b", "prompt": "p"}), "name"),
        (json!({"name": "A", "description": "\u{0}", "prompt": "p"}), "description"),
        (json!({"name": "A", "prompt": "p\u{0}"}), "prompt"),
        (json!({"name": "A", "prompt": "p", "capabilities": ["ok", "x\u{0}"]}), "capabilities[1]"),
        (json!({"name": "A", "prompt": "p", "config": {"style": "\u{0}"}}), "config.style"),
        (json!({"name": "A", "prompt": "p", "tools": [{"name": "t", "description": "\u{0}"}]}), "tools[0].description"),
        (json!({"name": "A", "prompt": "p", "commitMessage": "\u{0}"}), "commitMessage"),
    ] {
        assert_eq!(field_of(app.post("/api/agents", Some(&user.token), body).await).await, field);
    }
    assert_eq!(app.get_json("/api/agents", &user.token).await["data"], json!([]));

    let agent = app.create_agent(&user.token, json!({"name": "A", "prompt": "p"})).await;
    let id = agent["id"].as_str().unwrap();
    let response =
        app.post(&format!("/api/agents/{id}/versions"), Some(&user.token), json!({"prompt": "x\u{0}"})).await;
    assert_eq!(field_of(response).await, "prompt");
    let response =
        app.post(&format!("/api/agents/{id}/versions"), Some(&user.token), json!({"config": {"k\u{0}": 1}})).await;
    assert_eq!(field_of(response).await, "config.k\\u0000");
    let response = app.patch(&format!("/api/agents/{id}"), &user.token, json!({"name": "\u{0}"})).await;
    assert_eq!(field_of(response).await, "name");
    let response = app
        .post(
            &format!("/api/agents/{id}/fork"),
            Some(&user.token),
            json!({"forkType": "prompt_mutation", "prompt": "\u{0}"}),
        )
        .await;
    assert_eq!(field_of(response).await, "prompt");
    let versions = app.get_json(&format!("/api/agents/{id}/versions"), &user.token).await;
    assert_eq!(versions["pagination"]["total"], 1);
}

async fn nul_in_task_bodies_is_400_and_a_worker_can_still_fail_the_task(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let agent = app.create_agent(&user.token, crate::common::code_review_agent()).await;
    let agent_id = agent["id"].as_str().unwrap();
    let response = app
        .post("/api/tasks", Some(&user.token), json!({"agentId": agent_id, "title": "t\u{0}", "input": {"a": 1}}))
        .await;
    assert_eq!(field_of(response).await, "title");
    let response = app
        .post("/api/tasks", Some(&user.token), json!({"agentId": agent_id, "title": "t", "input": {"a": ["\u{0}"]}}))
        .await;
    assert_eq!(field_of(response).await, "input.a[0]");

    let response = app
        .post("/api/tasks", Some(&user.token), json!({"agentId": agent_id, "title": "t", "executor": "external"}))
        .await;
    assert_eq!(response.status(), 201);
    let task: Value = response.json().await.unwrap();
    let path = format!("/api/tasks/{}", task["id"].as_str().unwrap());
    let response = app.patch(&path, &user.token, json!({"status": "running"})).await;
    assert_eq!(response.status(), 200);
    let lease = response.json::<Value>().await.unwrap()["leaseToken"].clone();
    let failed = json!({"status": "failed", "leaseToken": lease, "error": "boom\u{0}"});
    let response = app.patch(&path, &user.token, failed).await;
    assert_eq!(field_of(response).await, "error");
    assert_eq!(app.get_json(&path, &user.token).await["status"], "running");
    let failed = json!({"status": "failed", "leaseToken": lease, "error": "boom"});
    let response = app.patch(&path, &user.token, failed).await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.get_json(&path, &user.token).await["error"], "boom");
}

async fn nul_in_a_path_slug_is_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    app.create_agent(&user.token, json!({"name": "A", "prompt": "p"})).await;
    for path in ["/api/agents/a%00b", "/api/agents/a%00b/versions", "/api/agents/a%00b/lineage"] {
        assert_error(app.get(path, &user.token).await, 404, "NOT_FOUND").await;
    }
    let response = app.get("/api/tasks?agentId=a%00b", &user.token).await;
    assert_error(response, 404, "NOT_FOUND").await;
}
