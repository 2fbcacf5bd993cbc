//! The shapes the registry accepts beside its own: OpenAI-shaped tools, a model as one string, versions
//! named by number; and what a request that changes nothing returns.

use crate::common::{TestApp, assert_error};
use serde_json::{Value, json};
use talon_store::Backend;

on_both_databases!(
    openai_shaped_tools_are_stored_natively_everywhere_tools_are_accepted,
    malformed_openai_tools_are_400_naming_the_field,
    a_model_string_is_stored_as_primary_without_fallback,
    an_unchanged_request_returns_the_head_with_its_real_diff,
    versions_are_named_by_number_as_well_as_id,
);

fn search_params() -> Value {
    json!({"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]})
}

fn native_tool() -> Value {
    json!({"name": "search", "description": "Search the web", "parameters": search_params()})
}

fn openai_tool() -> Value {
    json!({"type": "function", "function": {"name": "search", "description": "Search the web", "parameters": search_params()}})
}

async fn openai_shaped_tools_are_stored_natively_everywhere_tools_are_accepted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;

    let native =
        app.create_agent(&user.token, json!({"name": "Native", "prompt": "p", "tools": [native_tool()]})).await;
    let openai =
        app.create_agent(&user.token, json!({"name": "OpenAI", "prompt": "p", "tools": [openai_tool()]})).await;
    assert_eq!(openai["currentVersion"]["tools"], json!([native_tool()]));
    assert_eq!(openai["currentVersion"]["contentHash"], native["currentVersion"]["contentHash"]);

    // A new version in the OpenAI shape of the tools the agent already has changes nothing.
    let id = native["id"].as_str().unwrap();
    let (status, same) = app.new_version(&user.token, id, json!({"tools": [openai_tool()]})).await;
    assert_eq!(status, 200, "{same}");
    assert_eq!(same["versionNumber"], 1);
    // A second tool in the OpenAI shape is a real change, stored natively.
    let lookup = json!({"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}});
    let (status, v2) = app.new_version(&user.token, id, json!({"tools": [openai_tool(), lookup]})).await;
    assert_eq!(status, 201, "{v2}");
    assert_eq!(v2["tools"][1], json!({"name": "lookup", "description": "", "parameters": {"type": "object"}}));
    assert_eq!(v2["diffFromParent"]["tools"]["added"], json!(["lookup"]));

    // tool_mutation forks take either shape too.
    let other = json!({"type": "function", "function": {"name": "fetch", "description": "Fetch a URL"}});
    let response = app
        .post(
            &format!("/api/agents/{id}/fork"),
            Some(&user.token),
            json!({"forkType": "tool_mutation", "tools": [other]}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let fork: Value = response.json().await.unwrap();
    assert_eq!(
        fork["currentVersion"]["tools"],
        json!([{"name": "fetch", "description": "Fetch a URL", "parameters": {}}])
    );
}

async fn malformed_openai_tools_are_400_naming_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let body = json!({"name": "Bad", "prompt": "p", "tools": [
        native_tool(),
        {"type": "code_interpreter"},
        {"type": "function", "function": {"name": "has space"}},
        {"type": "function", "function": {"name": "x", "parameters": "none"}},
    ]});
    let error = assert_error(app.post("/api/agents", Some(&user.token), body).await, 400, "VALIDATION_ERROR").await;
    let fields: Vec<&str> =
        error["error"]["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(
        fields,
        ["tools[1].type", "tools[1].function", "tools[2].function.name", "tools[3].function.parameters"]
    );
    assert_eq!(app.get_json("/api/agents", &user.token).await["data"], json!([]));
}

async fn a_model_string_is_stored_as_primary_without_fallback(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let short = app.create_agent(&user.token, json!({"name": "Short", "prompt": "p", "model": "local/llama3"})).await;
    assert_eq!(short["currentVersion"]["model"], json!({"primary": "local/llama3", "fallback": null}));
    let long = app
        .create_agent(&user.token, json!({"name": "Long", "prompt": "p", "model": {"primary": "local/llama3"}}))
        .await;
    assert_eq!(short["currentVersion"]["contentHash"], long["currentVersion"]["contentHash"]);

    // As a new version: the object form of the same model is no change; another string is.
    let id = short["id"].as_str().unwrap();
    let (status, _) =
        app.new_version(&user.token, id, json!({"model": {"primary": "local/llama3", "fallback": null}})).await;
    assert_eq!(status, 200);
    let (status, v2) = app.new_version(&user.token, id, json!({"model": "test/echo"})).await;
    assert_eq!(status, 201, "{v2}");
    assert_eq!(v2["model"], json!({"primary": "test/echo", "fallback": null}));

    // An unknown provider is still refused, and so is a model that is neither string nor object.
    let unknown =
        app.post(&format!("/api/agents/{id}/versions"), Some(&user.token), json!({"model": "nowhere/x"})).await;
    assert_error(unknown, 400, "VALIDATION_ERROR").await;
    let wrong = app.post(&format!("/api/agents/{id}/versions"), Some(&user.token), json!({"model": 7})).await;
    let error = assert_error(wrong, 400, "VALIDATION_ERROR").await;
    assert_eq!(error["error"]["details"][0]["field"], "model");
}

async fn an_unchanged_request_returns_the_head_with_its_real_diff(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let agent =
        app.create_agent(&user.token, json!({"name": "A", "prompt": "one", "config": {"temperature": 0.7}})).await;
    let id = agent["id"].as_str().unwrap();
    let (status, v2) = app
        .new_version(&user.token, id, json!({"prompt": "two", "config": {"temperature": 0.5}, "commitMessage": "m"}))
        .await;
    assert_eq!(status, 201);
    let (status, again) = app.new_version(&user.token, id, json!({"prompt": "two", "commitMessage": "again"})).await;
    assert_eq!(status, 200);
    assert_eq!(again["id"], v2["id"]);
    assert_eq!(again["diffFromParent"], v2["diffFromParent"]);
    assert_eq!(again["diffFromParent"]["config"]["changed"]["temperature"], json!({"from": 0.7, "to": 0.5}));

    // Rolling back to the head is no change either, with the same diff.
    let response =
        app.post(&format!("/api/agents/{id}/rollback"), Some(&user.token), json!({"versionId": v2["id"]})).await;
    assert_eq!(response.status(), 200);
    let rolled: Value = response.json().await.unwrap();
    assert_eq!(rolled["diffFromParent"], v2["diffFromParent"]);

    // Version 1 has no parent: its diff is empty.
    let fresh = app.create_agent(&user.token, json!({"name": "B", "prompt": "only"})).await;
    let (status, same) = app.new_version(&user.token, fresh["id"].as_str().unwrap(), json!({"prompt": "only"})).await;
    assert_eq!(status, 200);
    assert_eq!(same["diffFromParent"], json!({}));
}

async fn versions_are_named_by_number_as_well_as_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let agent = app.create_agent(&user.token, json!({"name": "Numbered", "prompt": "v1"})).await;
    let id = agent["id"].as_str().unwrap();
    let mut ids = vec![agent["currentVersionId"].as_str().unwrap().to_owned()];
    for i in 2..=3 {
        let (status, v) = app.new_version(&user.token, id, json!({"prompt": format!("v{i}")})).await;
        assert_eq!(status, 201);
        ids.push(v["id"].as_str().unwrap().to_owned());
    }

    let by_number = app.get_json(&format!("/api/agents/{id}/versions/compare?from=1&to=3"), &user.token).await;
    let by_id =
        app.get_json(&format!("/api/agents/{id}/versions/compare?from={}&to={}", ids[0], ids[2]), &user.token).await;
    assert_eq!(by_number, by_id);
    assert_eq!(by_number["from"], json!({"id": ids[0], "versionNumber": 1}));
    // Numbers and ids mix; the slug works as the agent.
    let mixed = app.get_json(&format!("/api/agents/numbered/versions/compare?from={}&to=3", ids[0]), &user.token).await;
    assert_eq!(mixed, by_id);

    assert_eq!(app.get_json(&format!("/api/agents/{id}/versions/2"), &user.token).await["id"], ids[1].as_str());
    for missing in ["4", "0", "-1"] {
        let response = app.get(&format!("/api/agents/{id}/versions/{missing}"), &user.token).await;
        assert_error(response, 404, "NOT_FOUND").await;
    }
    let response = app.get(&format!("/api/agents/{id}/versions/compare?from=1&to=9"), &user.token).await;
    assert_error(response, 404, "NOT_FOUND").await;

    // Rollback by number, as `versionId` or `version`.
    let response = app.post(&format!("/api/agents/{id}/rollback"), Some(&user.token), json!({"version": 1})).await;
    assert_eq!(response.status(), 201);
    let v4: Value = response.json().await.unwrap();
    assert_eq!((v4["versionNumber"].as_i64(), v4["prompt"].as_str()), (Some(4), Some("v1")));
    assert_eq!(v4["commitMessage"], "Rollback to version 1");
    let response = app.post(&format!("/api/agents/{id}/rollback"), Some(&user.token), json!({"versionId": 2})).await;
    assert_eq!(response.status(), 201);
    let v5: Value = response.json().await.unwrap();
    assert_eq!(v5["prompt"], "v2");
    let response = app.post(&format!("/api/agents/{id}/rollback"), Some(&user.token), json!({"version": "two"})).await;
    assert_error(response, 400, "VALIDATION_ERROR").await;

    // A fork's numbers are its own; its parent's versions are still reachable by id.
    let response = app
        .post(
            &format!("/api/agents/{id}/fork"),
            Some(&user.token),
            json!({"forkType": "prompt_mutation", "prompt": "forked"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let fork: Value = response.json().await.unwrap();
    let fork_id = fork["id"].as_str().unwrap();
    let cross =
        app.get_json(&format!("/api/agents/{fork_id}/versions/compare?from={}&to=1", ids[0]), &user.token).await;
    assert_eq!(cross["from"]["id"], ids[0].as_str());
    assert_eq!(cross["to"]["id"], fork["currentVersionId"]);
    let response = app.get(&format!("/api/agents/{fork_id}/versions/compare?from=1&to=2"), &user.token).await;
    assert_error(response, 404, "NOT_FOUND").await;
}
