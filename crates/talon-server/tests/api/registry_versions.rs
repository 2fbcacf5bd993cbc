//! Versions as the spec's "Versions" section shows them: history, new versions with diffs, compare,
//! rollback, no-op versions and optimistic concurrency.

use crate::common::{TestApp, assert_error};
use futures::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};
use talon_store::Backend;

on_both_databases!(
    spec_version_walkthrough,
    unspecified_parts_carry_over,
    a_version_that_changes_nothing_is_not_created,
    expected_version_id_and_if_match_guard_concurrent_edits,
    twenty_concurrent_versions_get_consecutive_numbers,
    compare_across_a_fork_and_its_parent,
    version_validation_and_lookups,
);

async fn agent_with_five_versions(app: &TestApp, token: &str) -> (String, Vec<String>) {
    let agent = app
        .create_agent(
            token,
            json!({"name": "Support Assistant", "prompt": "v1", "config": {"temperature": 0.7, "maxTokens": 2000}}),
        )
        .await;
    let id = agent["id"].as_str().unwrap().to_owned();
    let mut versions = vec![agent["currentVersionId"].as_str().unwrap().to_owned()];
    for i in 2..=5 {
        let (status, body) =
            app.new_version(token, &id, json!({"prompt": format!("v{i}"), "commitMessage": format!("step {i}")})).await;
        assert_eq!(status, 201);
        versions.push(body["id"].as_str().unwrap().to_owned());
    }
    (id, versions)
}

async fn spec_version_walkthrough(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let (id, versions) = agent_with_five_versions(&app, &user.token).await;

    // Create New Version, as the spec sends it.
    let (status, v6) = app
        .new_version(
            &user.token,
            &id,
            json!({
                "prompt": "Updated prompt with improvements...",
                "config": {"temperature": 0.5, "maxTokens": 3000},
                "commitMessage": "Reduced temperature for consistency"
            }),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(v6["versionNumber"], 6);
    assert_eq!(v6["parentVersionId"], versions[4].as_str());
    assert_eq!(
        v6["diffFromParent"]["config"],
        json!({"changed": {"temperature": {"from": 0.7, "to": 0.5}, "maxTokens": {"from": 2000, "to": 3000}}})
    );
    assert_eq!(v6["diffFromParent"]["prompt"]["added"], 1);
    assert_eq!(v6["diffFromParent"]["prompt"]["removed"], 1);

    // List Versions: newest first, with createdBy.
    let list = app.get_json(&format!("/api/agents/{id}/versions?page=1&limit=20"), &user.token).await;
    let first = &list["data"][0];
    assert_eq!(first["versionNumber"], 6);
    assert_eq!(first["commitMessage"], "Reduced temperature for consistency");
    assert_eq!(first["createdBy"], json!({"id": user.id, "email": "you@example.com"}));
    for field in ["id", "prompt", "createdAt"] {
        assert!(first.get(field).is_some());
    }
    let numbers: Vec<i64> =
        list["data"].as_array().unwrap().iter().map(|v| v["versionNumber"].as_i64().unwrap()).collect();
    assert_eq!(numbers, [6, 5, 4, 3, 2, 1]);
    let paged = app.get_json(&format!("/api/agents/{id}/versions?page=2&limit=4"), &user.token).await;
    assert_eq!(paged["data"].as_array().unwrap().len(), 2);
    assert_eq!(paged["pagination"]["total"], 6);

    // Compare Versions.
    let v6_id = v6["id"].as_str().unwrap();
    let compare =
        app.get_json(&format!("/api/agents/{id}/versions/compare?from={}&to={v6_id}", versions[4]), &user.token).await;
    assert_eq!(compare["from"], json!({"id": versions[4], "versionNumber": 5}));
    assert_eq!(compare["to"], json!({"id": v6_id, "versionNumber": 6}));
    assert_eq!(compare["diff"]["config"]["changed"]["temperature"], json!({"from": 0.7, "to": 0.5}));
    let same = app.get_json(&format!("/api/agents/{id}/versions/compare?from={v6_id}&to={v6_id}"), &user.token).await;
    assert_eq!(same["diff"], json!({}));

    // Rollback to Version.
    let rollback =
        app.post(&format!("/api/agents/{id}/rollback"), Some(&user.token), json!({"versionId": versions[4]})).await;
    assert_eq!(rollback.status(), 201);
    let rollback: Value = rollback.json().await.unwrap();
    assert!(rollback["id"].as_str().unwrap().starts_with("ver_"));
    assert_eq!(rollback["versionNumber"], 7);
    assert_eq!(rollback["commitMessage"], "Rollback to version 5");
    assert_eq!(rollback["prompt"], "v5");
    let got = app.get_json(&format!("/api/agents/{id}/versions/{}", versions[4]), &user.token).await;
    assert_eq!(got["versionNumber"], 5, "history is kept");
    assert_eq!(got["contentHash"], rollback["contentHash"]);
    let agent = app.get_json(&format!("/api/agents/{id}"), &user.token).await;
    assert_eq!(agent["currentVersion"]["versionNumber"], 7);
}

async fn unspecified_parts_carry_over(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let agent = app.create_agent(&user.token, crate::common::code_review_agent()).await;
    let id = agent["id"].as_str().unwrap();
    let (_, v2) =
        app.new_version(&user.token, id, json!({"model": {"primary": "local/llama3", "fallback": "test/echo"}})).await;
    assert_eq!(v2["prompt"], "You are an expert code reviewer...");
    assert_eq!(v2["tools"], agent["currentVersion"]["tools"]);
    assert_eq!(v2["config"], json!({"temperature": 0.3, "maxTokens": 4000}));
    assert_eq!(v2["model"], json!({"primary": "local/llama3", "fallback": "test/echo"}));
    assert_eq!(v2["diffFromParent"]["model"]["primary"], json!({"from": "test/echo", "to": "local/llama3"}));
    assert_eq!(v2["commitMessage"], "Update model");
}

async fn a_version_that_changes_nothing_is_not_created(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let agent = app.create_agent(&user.token, crate::common::code_review_agent()).await;
    let id = agent["id"].as_str().unwrap();
    let (status, same) = app
        .new_version(
            &user.token,
            id,
            json!({"prompt": "You are an expert code reviewer...", "config": {"maxTokens": 4000, "temperature": 0.3}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(same["id"], agent["currentVersionId"]);
    assert_eq!(same["diffFromParent"], json!({}));
    let list = app.get_json(&format!("/api/agents/{id}/versions"), &user.token).await;
    assert_eq!(list["pagination"]["total"], 1);
    // Rolling back to the current content is also a no-op.
    let rollback = app
        .post(&format!("/api/agents/{id}/rollback"), Some(&user.token), json!({"versionId": agent["currentVersionId"]}))
        .await;
    assert_eq!(rollback.status(), 200);
}

async fn expected_version_id_and_if_match_guard_concurrent_edits(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let agent = app.create_agent(&user.token, json!({"name": "a", "prompt": "v1"})).await;
    let id = agent["id"].as_str().unwrap();
    let v1 = agent["currentVersionId"].as_str().unwrap();
    let (status, v2) = app.new_version(&user.token, id, json!({"prompt": "v2", "expectedVersionId": v1})).await;
    assert_eq!(status, 201);
    let v2_id = v2["id"].as_str().unwrap();
    let (status, body) = app.new_version(&user.token, id, json!({"prompt": "v3", "expectedVersionId": v1})).await;
    assert_eq!(status, 409);
    assert_eq!(body["error"]["code"], "CONFLICT");
    assert!(body["error"]["message"].as_str().unwrap().contains(v2_id), "names the current version: {body}");
    let stale = app
        .request(Method::POST, &format!("/api/agents/{id}/versions"), Some(&user.token))
        .header("if-match", format!("\"{v1}\""))
        .json(&json!({"prompt": "v3"}))
        .send()
        .await
        .unwrap();
    assert_error(stale, 409, "CONFLICT").await;
    let fresh = app
        .request(Method::POST, &format!("/api/agents/{id}/versions"), Some(&user.token))
        .header("if-match", v2_id)
        .json(&json!({"prompt": "v3"}))
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), 201);
}

async fn twenty_concurrent_versions_get_consecutive_numbers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let agent = app.create_agent(&user.token, json!({"name": "a", "prompt": "v1"})).await;
    let id = agent["id"].as_str().unwrap();
    let posts = (0..20).map(|i| app.new_version(&user.token, id, json!({"prompt": format!("concurrent {i}")})));
    let results = join_all(posts).await;
    let mut numbers: Vec<i64> = results
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 201, "{body}");
            body["versionNumber"].as_i64().unwrap()
        })
        .collect();
    numbers.sort();
    assert_eq!(numbers, (2..=21).collect::<Vec<_>>());
    // Each version's parent is the one numbered just before it: a straight history.
    let list = app.get_json(&format!("/api/agents/{id}/versions?limit=100"), &user.token).await;
    let versions = list["data"].as_array().unwrap();
    for pair in versions.windows(2) {
        assert_eq!(pair[0]["parentVersionId"], pair[1]["id"]);
    }
}

async fn compare_across_a_fork_and_its_parent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let parent = app
        .create_agent(&user.token, json!({"name": "p", "prompt": "Hello\nWorld\n", "config": {"temperature": 0.7}}))
        .await;
    let pid = parent["id"].as_str().unwrap();
    let fork = app
        .post(
            &format!("/api/agents/{pid}/fork"),
            Some(&user.token),
            json!({"forkType": "tool_mutation", "config": {"temperature": 0.1}}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    let fid = fork["id"].as_str().unwrap();
    let from = parent["currentVersionId"].as_str().unwrap();
    let to = fork["currentVersionId"].as_str().unwrap();
    for base in [pid, fid] {
        let compare =
            app.get_json(&format!("/api/agents/{base}/versions/compare?from={from}&to={to}"), &user.token).await;
        assert_eq!(compare["diff"], json!({"config": {"changed": {"temperature": {"from": 0.7, "to": 0.1}}}}));
    }
    // A version outside the tree is not found.
    let stranger = app.create_agent(&user.token, json!({"name": "s", "prompt": "s"})).await;
    let outside = stranger["currentVersionId"].as_str().unwrap();
    assert_error(
        app.get(&format!("/api/agents/{pid}/versions/compare?from={from}&to={outside}"), &user.token).await,
        404,
        "NOT_FOUND",
    )
    .await;
    let missing = assert_error(
        app.get(&format!("/api/agents/{pid}/versions/compare?from={from}"), &user.token).await,
        400,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(missing["error"]["details"][0]["field"], "to");
}

async fn version_validation_and_lookups(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let agent = app.create_agent(&user.token, json!({"name": "a", "prompt": "v1"})).await;
    let id = agent["id"].as_str().unwrap();
    let (status, body) =
        app.new_version(&user.token, id, json!({"tools": [{"name": "bad name"}], "config": {"temperature": -1}})).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["details"].as_array().unwrap().len(), 2);
    let (status, _) = app.new_version(&user.token, id, json!({"commitMessage": "nothing"})).await;
    assert_eq!(status, 200, "a version without content changes nothing and returns the current one");
    let (status, body) =
        app.new_version(&user.token, id, json!({"model": {"primary": "nowhere/gpt", "fallback": "local/x"}})).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["details"][0]["field"], "model.primary");
    assert_eq!(body["error"]["details"].as_array().unwrap().len(), 1, "local/ is configured");
    let unknown = app
        .post("/api/agents", Some(&user.token), json!({"name": "n", "prompt": "p", "model": {"primary": "gpt-4o"}}))
        .await;
    let body = assert_error(unknown, 400, "VALIDATION_ERROR").await;
    assert_eq!(body["error"]["details"][0]["field"], "model.primary");
    assert_error(app.get(&format!("/api/agents/{id}/versions/ver_nope"), &user.token).await, 404, "NOT_FOUND").await;
    let other = app.create_agent(&user.token, json!({"name": "b", "prompt": "b"})).await;
    let other_version = other["currentVersionId"].as_str().unwrap();
    assert_error(app.get(&format!("/api/agents/{id}/versions/{other_version}"), &user.token).await, 404, "NOT_FOUND")
        .await;
    let rollback =
        app.post(&format!("/api/agents/{id}/rollback"), Some(&user.token), json!({"versionId": other_version})).await;
    assert_error(rollback, 404, "NOT_FOUND").await;
    assert_error(
        app.post(&format!("/api/agents/{id}/rollback"), Some(&user.token), json!({})).await,
        400,
        "VALIDATION_ERROR",
    )
    .await;
}
