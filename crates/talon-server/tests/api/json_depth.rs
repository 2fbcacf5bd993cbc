//! Free JSON in a body (an agent's config, a tool's parameters, a task's input and output) nests at most as
//! deep as the OpenAPI document spells out: one level more is refused with 400 naming the field, and
//! nothing is written. Regression: a batch complete took an output deeper than the document allows.

use crate::common::{TestApp, assert_error};
use serde_json::{Value, json};
use talon_store::Backend;

on_both_databases!(too_deep_json_is_400_naming_the_field_and_changes_nothing, the_document_spells_out_the_same_depth,);

/// How many arrays and objects a free object field may hold inside its own keys (the document's
/// `JsonValue`).
const DEPTH: usize = 8;

/// `levels` arrays and objects, alternating, around a scalar.
fn nested(levels: usize) -> Value {
    (0..levels).fold(json!("leaf"), |inner, level| if level % 2 == 0 { json!([inner]) } else { json!({"k": inner}) })
}

async fn field_of(response: reqwest::Response) -> String {
    let error = assert_error(response, 400, "VALIDATION_ERROR").await;
    error["error"]["details"][0]["field"].as_str().unwrap().to_owned()
}

async fn too_deep_json_is_400_naming_the_field_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    let token = &user.token;
    let head = app.get_json(&format!("/api/agents/{agent}"), token).await["currentVersionId"].clone();

    let too_deep = json!({"k": nested(DEPTH + 1)});
    let response =
        app.post("/api/agents", Some(token), json!({"name": "Deep", "prompt": "p", "config": too_deep})).await;
    assert_eq!(field_of(response).await, "config");
    let body = json!({"prompt": "p2", "tools": [{"name": "t", "parameters": too_deep}]});
    let response = app.post(&format!("/api/agents/{agent}/versions"), Some(token), body).await;
    assert_eq!(assert_error(response, 400, "VALIDATION_ERROR").await["error"]["details"][0]["field"], "tools[0]");
    let response =
        app.post("/api/tasks", Some(token), json!({"agentId": agent, "title": "t", "input": too_deep})).await;
    assert_eq!(field_of(response).await, "input");
    assert_eq!(app.get_json("/api/agents", token).await["pagination"]["total"], 1);
    assert_eq!(app.get_json(&format!("/api/agents/{agent}"), token).await["currentVersionId"], head);
    assert_eq!(app.get_json("/api/tasks", token).await["pagination"]["total"], 0);

    // At the limit, everything is taken and kept as sent.
    let at_limit = json!({"k": nested(DEPTH)});
    let task = app.create_task(token, json!({"agentId": agent, "title": "t", "input": at_limit})).await;
    assert_eq!(task["input"], at_limit);
    let id = task["id"].as_str().unwrap();
    let claimed = app.post("/api/tasks/claim", Some(token), json!({"limit": 1})).await.json::<Value>().await.unwrap();
    let lease = claimed["data"][0]["leaseToken"].as_str().unwrap().to_owned();

    let response = app
        .post(
            "/api/tasks/complete",
            Some(token),
            json!({"tasks": [{"id": id, "leaseToken": lease, "output": too_deep}]}),
        )
        .await;
    assert_eq!(field_of(response).await, "tasks[0].output");
    let response = app
        .patch(
            &format!("/api/tasks/{id}"),
            token,
            json!({"status": "completed", "output": too_deep, "leaseToken": lease}),
        )
        .await;
    assert_eq!(field_of(response).await, "output");
    assert_eq!(app.get_json(&format!("/api/tasks/{id}"), token).await["status"], "running");

    let response = app
        .post(
            "/api/tasks/complete",
            Some(token),
            json!({"tasks": [{"id": id, "leaseToken": lease, "output": at_limit}]}),
        )
        .await;
    let body = response.json::<Value>().await.unwrap();
    assert_eq!(body["data"][0]["ok"], true, "{body}");
    let stored = app.get_json(&format!("/api/tasks/{id}"), token).await;
    assert_eq!((&stored["status"], &stored["output"]), (&json!("completed"), &at_limit));
}

/// The document's `JsonValue` is `DEPTH` levels of arrays and objects around `JsonScalar`.
async fn the_document_spells_out_the_same_depth(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc: Value = reqwest::get(app.url("/openapi.json")).await.unwrap().json().await.unwrap();
    let schemas = &doc["components"]["schemas"];
    let mut levels = 0;
    let mut name = "JsonValue".to_owned();
    while name != "JsonScalar" {
        let choices = schemas[&name]["anyOf"].as_array().unwrap_or_else(|| panic!("{name}: {}", schemas[&name]));
        let array = choices.iter().find(|c| c["type"] == "array").unwrap();
        name = array["items"]["$ref"].as_str().unwrap().trim_start_matches("#/components/schemas/").to_owned();
        levels += 1;
        assert!(levels <= 64, "the levels do not end in JsonScalar");
    }
    assert_eq!(levels, DEPTH);
    let task = &schemas["CreateTaskRequest"]["properties"]["input"];
    assert_eq!(task["patternProperties"]["^[^\\x00]*$"]["$ref"], "#/components/schemas/JsonValue", "{task}");
}
