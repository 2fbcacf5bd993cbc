//! Labels (`PUT/GET/DELETE /api/agents/:id/labels/:label`, `slug@label` wherever a version is named) and
//! canary splits (`POST /api/agents/:id/deploy {"split"}`, promote, abort, `usage/compare`).

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use talon_store::Backend;

use crate::common::receiver::Receiver;
use crate::common::{TestApp, User, assert_error, plans_with, test_config};

on_both_databases!(
    labels_are_moved_listed_and_deleted,
    labels_are_checked_and_private,
    label_moves_reach_webhooks,
    labels_name_versions_everywhere,
    splits_are_checked_promoted_and_aborted,
    a_split_spreads_users_by_weight_and_keeps_each_on_one_arm,
);

/// An account with an echo agent of two versions (prompts "one" and "two"), deployed: its slug and id.
async fn agent_with_two_versions(app: &TestApp, user: &User) -> (String, String) {
    let agent = app
        .create_agent(&user.token, json!({"name": "Support Bot", "prompt": "one", "model": {"primary": "test/echo"}}))
        .await;
    let id = agent["id"].as_str().unwrap().to_owned();
    let (status, body) = app.new_version(&user.token, &id, json!({"prompt": "two"})).await;
    assert_eq!(status, 201, "{body}");
    let deployed = app.post(&format!("/api/agents/{id}/deploy"), Some(&user.token), json!({})).await;
    assert_eq!(deployed.status(), 200);
    (agent["slug"].as_str().unwrap().to_owned(), id)
}

async fn put(app: &TestApp, path: &str, bearer: &str, body: Value) -> reqwest::Response {
    app.request(Method::PUT, path, Some(bearer)).json(&body).send().await.unwrap()
}

async fn put_ok(app: &TestApp, path: &str, bearer: &str, body: Value) -> Value {
    let response = put(app, path, bearer, body).await;
    let status = response.status();
    let json: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "PUT {path}: {json}");
    json
}

async fn version_id(app: &TestApp, bearer: &str, agent: &str, number: i64) -> String {
    let version = app.get_json(&format!("/api/agents/{agent}/versions/{number}"), bearer).await;
    version["id"].as_str().unwrap().to_owned()
}

fn account(user: &User) -> talon_domain::UserId {
    talon_domain::UserId::parse(&user.id).unwrap()
}

fn ask(model: &str, user: Option<&str>) -> Value {
    let mut body = json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    if let Some(user) = user {
        body["user"] = json!(user);
    }
    body
}

/// The version that answered a chat completion (`X-Talon-Agent-Version`).
async fn answered_by(app: &TestApp, key: &str, body: Value) -> i64 {
    let response = app.post("/v1/chat/completions", Some(key), body).await;
    assert_eq!(response.status(), 200);
    let version = response.headers()["x-talon-agent-version"].to_str().unwrap().parse().unwrap();
    response.bytes().await.unwrap();
    version
}

async fn labels_are_moved_listed_and_deleted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let (_, id) = agent_with_two_versions(&app, &user).await;
    let (v1, v2) = (version_id(&app, &user.token, &id, 1).await, version_id(&app, &user.token, &id, 2).await);
    let path = format!("/api/agents/{id}/labels/production");

    let moved = put_ok(&app, &path, &user.token, json!({"versionId": 1})).await;
    assert_eq!(
        (moved["name"].as_str(), moved["versionId"].as_str(), moved["version"].as_i64()),
        (Some("production"), Some(v1.as_str()), Some(1))
    );
    assert_eq!(moved["movedBy"], user.id.as_str());
    let moved = put_ok(&app, &path, &user.token, json!({"versionId": v2})).await;
    assert_eq!(moved["version"], 2);
    // A label may be moved to wherever another label points.
    let staging =
        put_ok(&app, &format!("/api/agents/{id}/labels/staging"), &user.token, json!({"versionId": "production"}))
            .await;
    assert_eq!(staging["versionId"], v2.as_str());
    put_ok(&app, &format!("/api/agents/{id}/labels/staging"), &user.token, json!({"version": 1})).await;

    let listed = app.get_json(&format!("/api/agents/{id}/labels"), &user.token).await;
    let names: Vec<(&str, i64)> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["name"].as_str().unwrap(), l["version"].as_i64().unwrap()))
        .collect();
    assert_eq!(names, vec![("production", 2), ("staging", 1)]);
    let agent = app.get_json(&format!("/api/agents/{id}"), &user.token).await;
    assert_eq!(agent["labels"].as_array().unwrap().len(), 2, "{agent}");
    assert_eq!(agent["split"], Value::Null);

    let deleted = app.delete(&path, &user.token).await;
    assert_eq!(deleted.status(), 204);
    let again = assert_error(app.delete(&path, &user.token).await, 404, "NOT_FOUND").await;
    assert!(again["error"]["message"].as_str().unwrap().contains("production"), "{again}");
    let listed = app.get_json(&format!("/api/agents/{id}/labels"), &user.token).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);

    // Each move and the deletion wrote its event, with the version the label left.
    let events = app.state.store.events_for(account(&user)).await.unwrap();
    let moves: Vec<&Value> = events.iter().filter(|e| e.kind == "agent.label_moved").map(|e| &e.data).collect();
    assert_eq!(moves.len(), 4);
    assert_eq!(
        (moves[0]["previousVersionId"].clone(), moves[1]["previousVersionId"].as_str()),
        (Value::Null, Some(v1.as_str()))
    );
    assert_eq!(moves[1]["versionId"], v2.as_str());
    assert_eq!(moves[1]["label"], "production");
    assert_eq!(moves[1]["agent"], id.as_str());
    assert_eq!(events.iter().filter(|e| e.kind == "agent.label_deleted").count(), 1);
}

async fn labels_are_checked_and_private(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let (_, id) = agent_with_two_versions(&app, &user).await;
    let base = format!("/api/agents/{id}/labels");
    for bad in ["Prod", "123", "a_b", &"x".repeat(33)] {
        let body = assert_error(
            put(&app, &format!("{base}/{bad}"), &user.token, json!({"versionId": 1})).await,
            400,
            "VALIDATION_ERROR",
        )
        .await;
        assert_eq!(body["error"]["details"][0]["field"], "label", "{bad}: {body}");
    }
    assert_error(put(&app, &format!("{base}/prod"), &user.token, json!({})).await, 400, "VALIDATION_ERROR").await;
    assert_error(put(&app, &format!("{base}/prod"), &user.token, json!({"versionId": 9})).await, 404, "NOT_FOUND")
        .await;
    let unknown = assert_error(
        put(&app, &format!("{base}/prod"), &user.token, json!({"versionId": "nope"})).await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert!(unknown["error"]["message"].as_str().unwrap().contains("`nope`"), "{unknown}");
    // A version of another agent is no version of this one.
    let other = app.create_agent(&user.token, json!({"name": "Other", "prompt": "p"})).await;
    let foreign = other["currentVersionId"].as_str().unwrap();
    assert_error(
        put(&app, &format!("{base}/prod"), &user.token, json!({"versionId": foreign})).await,
        404,
        "NOT_FOUND",
    )
    .await;
    let listed = app.get_json(&base, &user.token).await;
    assert_eq!(listed["data"], json!([]), "nothing was written");

    // Another account sees no such agent; keys need the scopes.
    put_ok(&app, &format!("{base}/prod"), &user.token, json!({"versionId": 1})).await;
    let stranger = app.register("stranger@example.com").await;
    assert_error(put(&app, &format!("{base}/prod"), &stranger.token, json!({"versionId": 1})).await, 404, "NOT_FOUND")
        .await;
    assert_error(app.get(&base, &stranger.token).await, 404, "NOT_FOUND").await;
    assert_error(app.delete(&format!("{base}/prod"), &stranger.token).await, 404, "NOT_FOUND").await;
    let reader = app.api_key(&user, &["agents:read"]).await;
    assert_error(put(&app, &format!("{base}/prod"), &reader, json!({"versionId": 2})).await, 403, "FORBIDDEN").await;
    assert_error(app.delete(&format!("{base}/prod"), &reader).await, 403, "FORBIDDEN").await;
    assert_eq!(app.get_json(&base, &reader).await["data"][0]["version"], 1);
    let chatter = app.api_key(&user, &["chat"]).await;
    assert_error(app.get(&base, &chatter).await, 403, "FORBIDDEN").await;
}

async fn label_moves_reach_webhooks(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let (_, id) = agent_with_two_versions(&app, &user).await;
    let receiver = Receiver::start().await;
    let events = json!(["agent.label_moved", "agent.label_deleted"]);
    let hook = app.post("/api/webhooks", Some(&user.token), json!({"url": receiver.url, "events": events})).await;
    assert_eq!(hook.status(), 201);
    let path = format!("/api/agents/{id}/labels/production");
    put_ok(&app, &path, &user.token, json!({"versionId": 1})).await;
    put_ok(&app, &path, &user.token, json!({"versionId": 2})).await;
    assert_eq!(app.delete(&path, &user.token).await.status(), 204);
    let got = receiver.wait_for(3).await;
    let mut bodies: Vec<Value> = got.iter().map(|r| r.json()).collect();
    bodies.sort_by_key(|b| b["timestamp"].as_str().unwrap_or_default().to_owned());
    let kinds: Vec<&str> = bodies.iter().map(|b| b["event"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "agent.label_moved").count(), 2, "{bodies:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "agent.label_deleted").count(), 1, "{bodies:?}");
    let second = bodies.iter().find(|b| b["data"]["versionNumber"] == 2).unwrap();
    assert_eq!(second["data"]["label"], "production");
    assert_eq!(second["data"]["previousVersionId"], version_id(&app, &user.token, &id, 1).await.as_str());
}

async fn labels_name_versions_everywhere(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let (slug, id) = agent_with_two_versions(&app, &user).await;
    put_ok(&app, &format!("/api/agents/{id}/labels/production"), &user.token, json!({"versionId": 1})).await;
    put_ok(&app, &format!("/api/agents/{id}/labels/staging"), &user.token, json!({"versionId": 2})).await;
    let key = app.api_key(&user, &["chat", "agents:read", "agents:write", "tasks:write"]).await;

    // The OpenAI surface and the chat API.
    assert_eq!(answered_by(&app, &key, ask(&format!("{slug}@production"), None)).await, 1);
    assert_eq!(answered_by(&app, &key, ask(&format!("{slug}@staging"), None)).await, 2);
    assert_eq!(answered_by(&app, &key, ask(&slug, None)).await, 2, "unpinned: the deployment");
    let missing = app.post("/v1/chat/completions", Some(&key), ask(&format!("{slug}@nope"), None)).await;
    assert_eq!(missing.status(), 404);
    let chat = json!({"agent": format!("{slug}@production"), "messages": [{"role": "user", "content": "hi"}]});
    let response = app.post("/api/v1/chat", Some(&key), chat).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-talon-agent-version"], "1");

    // Tasks, by `versionId` or `version`.
    let (v1, v2) = (version_id(&app, &key, &id, 1).await, version_id(&app, &key, &id, 2).await);
    let task = app.create_task(&key, json!({"agentId": slug, "title": "t", "versionId": "production"})).await;
    assert_eq!(task["versionId"], v1.as_str());
    let task = app.create_task(&key, json!({"agentId": slug, "title": "t", "version": "staging"})).await;
    assert_eq!(task["versionId"], v2.as_str());
    let task = app.create_task(&key, json!({"agentId": slug, "title": "t", "version": 1})).await;
    assert_eq!(task["versionId"], v1.as_str());
    let unknown = app.post("/api/tasks", Some(&key), json!({"agentId": slug, "title": "t", "versionId": "nope"})).await;
    assert_error(unknown, 404, "NOT_FOUND").await;
    let both = app
        .post("/api/tasks", Some(&key), json!({"agentId": slug, "title": "t", "versionId": "nope", "version": 1}))
        .await;
    assert_error(both, 400, "VALIDATION_ERROR").await;
    let batch = json!({"tasks": [{"agentId": slug, "title": "a", "versionId": "staging"}, {"agentId": slug, "title": "b", "versionId": "production"}]});
    let batch = app.post("/api/tasks/batch", Some(&key), batch).await;
    let batch: Value = batch.json().await.unwrap();
    assert_eq!(batch["data"][0]["versionId"], v2.as_str(), "{batch}");
    assert_eq!(batch["data"][1]["versionId"], v1.as_str(), "{batch}");

    // Compare, a version by label, and rollback to a label.
    let compared = app.get_json(&format!("/api/agents/{id}/versions/compare?from=production&to=staging"), &key).await;
    assert_eq!(
        (compared["from"]["versionNumber"].as_i64(), compared["to"]["versionNumber"].as_i64()),
        (Some(1), Some(2)),
        "{compared}"
    );
    let got = app.get_json(&format!("/api/agents/{id}/versions/staging"), &key).await;
    assert_eq!(got["versionNumber"], 2);
    let missing = app.get(&format!("/api/agents/{id}/versions/compare?from=production&to=nope"), &key).await;
    assert_error(missing, 404, "NOT_FOUND").await;
    let rolled = app.post(&format!("/api/agents/{id}/rollback"), Some(&key), json!({"versionId": "production"})).await;
    let rolled: Value = rolled.json().await.unwrap();
    assert_eq!(rolled["commitMessage"], "Rollback to version 1", "{rolled}");
    // Deploy pinned to a label: resolved now, so moving the label later does not move the deployment.
    let deployed = app.post(&format!("/api/agents/{id}/deploy"), Some(&key), json!({"versionId": "production"})).await;
    let deployed: Value = deployed.json().await.unwrap();
    assert_eq!(deployed["deployedVersionId"], v1.as_str());
}

async fn splits_are_checked_promoted_and_aborted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let (slug, id) = agent_with_two_versions(&app, &user).await;
    let (v1, v2) = (version_id(&app, &user.token, &id, 1).await, version_id(&app, &user.token, &id, 2).await);
    let deploy = format!("/api/agents/{id}/deploy");
    let token = user.token.as_str();
    put_ok(&app, &format!("/api/agents/{id}/labels/canary"), token, json!({"versionId": 2})).await;
    let pinned = app.post(&deploy, Some(token), json!({"version": 1})).await;
    assert_eq!(pinned.status(), 200);

    for (split, field) in [
        (json!([{"versionId": 1, "weight": 100}]), "split"),
        (json!([{"versionId": 1, "weight": 60}, {"versionId": 2, "weight": 30}]), "split"),
        (json!([{"versionId": 1, "weight": 50}, {"versionId": v1, "weight": 50}]), "split[1].versionId"),
        (json!([{"versionId": 1, "weight": 0}, {"versionId": 2, "weight": 100}]), "split[0].weight"),
        (json!([{"versionId": 1, "weight": 50.5}, {"versionId": 2, "weight": 49.5}]), "split[0].weight"),
    ] {
        let body =
            assert_error(app.post(&deploy, Some(token), json!({"split": split})).await, 400, "VALIDATION_ERROR").await;
        assert_eq!(body["error"]["details"][0]["field"], field, "{body}");
    }
    let both = json!({"version": 1, "split": [{"versionId": 1, "weight": 50}, {"versionId": 2, "weight": 50}]});
    assert_error(app.post(&deploy, Some(token), both).await, 400, "VALIDATION_ERROR").await;
    let unknown = json!({"split": [{"versionId": 1, "weight": 50}, {"versionId": "nope", "weight": 50}]});
    assert_error(app.post(&deploy, Some(token), unknown).await, 404, "NOT_FOUND").await;
    assert_eq!(app.get_json(&format!("/api/agents/{id}"), token).await["split"], Value::Null, "nothing was written");
    let reader = app.api_key(&user, &["agents:read"]).await;
    let split = json!({"split": [{"versionId": 1, "weight": 90}, {"versionId": "canary", "weight": 10}]});
    assert_error(app.post(&deploy, Some(&reader), split.clone()).await, 403, "FORBIDDEN").await;
    let stranger = app.register("stranger@example.com").await;
    assert_error(app.post(&deploy, Some(&stranger.token), split.clone()).await, 404, "NOT_FOUND").await;
    assert_error(app.post(&format!("{deploy}/abort"), Some(&stranger.token), json!({})).await, 404, "NOT_FOUND").await;

    // A split (a label stands for its version), then abort: back to the version pinned before.
    let deployed: Value = app.post(&deploy, Some(token), split.clone()).await.json().await.unwrap();
    assert_eq!(deployed["split"]["arms"], json!([{"versionId": v1, "weight": 90}, {"versionId": v2, "weight": 10}]));
    assert_eq!(deployed["split"]["previousVersionId"], v1.as_str());
    assert_eq!(deployed["deployedVersionId"], v1.as_str(), "the heaviest arm");
    let shown = app.get_json(&format!("/api/agents/{id}"), token).await;
    assert_eq!(shown["split"], deployed["split"]);
    let events = app.state.store.events_for(account(&user)).await.unwrap();
    let last = events.iter().rev().find(|e| e.kind == "agent.deployed").unwrap();
    assert_eq!(last.data["split"], deployed["split"]["arms"], "{:?}", last.data);
    let key = app.api_key(&user, &["chat"]).await;
    let versions: Vec<i64> =
        futures::future::join_all((0..40).map(|i| answered_by(&app, &key, ask(&slug, Some(&format!("u{i}")))))).await;
    assert!(versions.iter().all(|v| *v == 1 || *v == 2) && versions.contains(&1), "{versions:?}");

    let aborted: Value = app.post(&format!("{deploy}/abort"), Some(token), json!({})).await.json().await.unwrap();
    assert_eq!((aborted["deployedVersionId"].as_str(), &aborted["split"]), (Some(v1.as_str()), &Value::Null));
    assert_error(app.post(&format!("{deploy}/abort"), Some(token), json!({})).await, 409, "CONFLICT").await;
    for i in 0..20 {
        assert_eq!(answered_by(&app, &key, ask(&slug, Some(&format!("u{i}")))).await, 1);
    }

    // Split again, re-split (abort still goes back to version 1), then promote the canary.
    app.post(&deploy, Some(token), split).await;
    let resplit = json!({"split": [{"versionId": 1, "weight": 50}, {"versionId": 2, "weight": 50}]});
    let resplit: Value = app.post(&deploy, Some(token), resplit).await.json().await.unwrap();
    assert_eq!(resplit["split"]["previousVersionId"], v1.as_str());
    let promoted = app.post(&format!("{deploy}/promote"), Some(token), json!({"versionId": "canary"})).await;
    let promoted: Value = promoted.json().await.unwrap();
    assert_eq!((promoted["deployedVersionId"].as_str(), &promoted["split"]), (Some(v2.as_str()), &Value::Null));
    for i in 0..20 {
        assert_eq!(answered_by(&app, &key, ask(&slug, Some(&format!("u{i}")))).await, 2);
    }
    assert_error(app.post(&format!("{deploy}/promote"), Some(token), json!({})).await, 400, "VALIDATION_ERROR").await;
    // A plain deploy ends a split too. (JSON Schema counts 50.0 as an integer, and so does the server.)
    let whole = app
        .post(
            &deploy,
            Some(token),
            json!({"split": [{"versionId": 1, "weight": 50.0}, {"versionId": 2, "weight": 50}]}),
        )
        .await;
    assert_eq!(whole.status(), 200);
    let plain: Value = app.post(&deploy, Some(token), json!({})).await.json().await.unwrap();
    assert_eq!((&plain["split"], &plain["deployedVersionId"]), (&Value::Null, &Value::Null));
}

/// 10,000 chat requests through a 90/10 split, each from another end user: each arm within ±1.5 points
/// of its weight; the same user always on the same arm; and the usage comparison counts them per arm.
async fn a_split_spreads_users_by_weight_and_keeps_each_on_one_arm(backend: Backend) {
    const REQUESTS: usize = 10_000;
    let mut config = test_config();
    config.plans = plans_with(talon_server::limits::Plan {
        key_requests_per_minute: 1_000_000,
        account_requests_per_day: 1_000_000,
        agent_chats_per_minute: 1_000_000,
        account_concurrent_chats: 1_000,
        agent_concurrent_chats: 1_000,
        ..Default::default()
    });
    let app = TestApp::spawn_with(backend, config).await;
    let user = app.register("you@example.com").await;
    let (slug, id) = agent_with_two_versions(&app, &user).await;
    put_ok(&app, &format!("/api/agents/{id}/labels/production"), &user.token, json!({"versionId": 1})).await;
    put_ok(&app, &format!("/api/agents/{id}/labels/staging"), &user.token, json!({"versionId": 2})).await;
    let split = json!({"split": [{"versionId": "production", "weight": 90}, {"versionId": "staging", "weight": 10}]});
    assert_eq!(app.post(&format!("/api/agents/{id}/deploy"), Some(&user.token), split).await.status(), 200);
    let key = app.api_key(&user, &["chat", "agents:read"]).await;

    let started = std::time::Instant::now();
    let answers: Vec<(usize, i64)> = futures::stream::iter(0..REQUESTS)
        .map(|i| {
            let (app, key, slug) = (&app, &key, &slug);
            async move { (i, answered_by(app, key, ask(slug, Some(&format!("end-user-{i}")))).await) }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    eprintln!("{REQUESTS} chat requests in {:?}", started.elapsed());
    let by_user: HashMap<usize, i64> = answers.into_iter().collect();
    let canary = by_user.values().filter(|v| **v == 2).count();
    let share = canary as f64 * 100.0 / REQUESTS as f64;
    assert!((share - 10.0).abs() <= 1.5, "canary share {share} %");
    assert!(((100.0 - share) - 90.0).abs() <= 1.5);

    // The same user, again and again, on the chat API too: always the arm it landed on.
    for i in (0..REQUESTS).step_by(97) {
        let expected = by_user[&i];
        assert_eq!(answered_by(&app, &key, ask(&slug, Some(&format!("end-user-{i}")))).await, expected, "user {i}");
        let chat =
            json!({"agent": slug, "user": format!("end-user-{i}"), "messages": [{"role": "user", "content": "hi"}]});
        let response = app.post("/api/v1/chat", Some(&key), chat).await;
        assert_eq!(response.headers()["x-talon-agent-version"].to_str().unwrap(), expected.to_string(), "user {i}");
    }
    // Without `user`, the API key keeps the caller on one arm.
    let by_key = answered_by(&app, &key, ask(&slug, None)).await;
    for _ in 0..10 {
        assert_eq!(answered_by(&app, &key, ask(&slug, None)).await, by_key);
    }

    // Per arm: what each version served (records land moments after each answer).
    let path = format!("/api/agents/{id}/usage/compare?from=production&to=staging");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let (mut from, mut to);
    loop {
        let compared = app.get_json(&path, &key).await;
        (from, to) = (compared["from"].clone(), compared["to"].clone());
        if from["requests"].as_u64().unwrap() + to["requests"].as_u64().unwrap() >= (REQUESTS + 11) as u64 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{compared}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!((from["version"].as_i64(), to["version"].as_i64()), (Some(1), Some(2)));
    assert!(to["requests"].as_u64().unwrap() >= canary as u64, "{to}");
    assert_eq!((from["failed"].as_u64(), to["failed"].as_u64()), (Some(0), Some(0)));
    assert!(from["avgLatencyMs"].as_f64().unwrap() > 0.0 && from["completionTokens"].as_u64().unwrap() > 0);
    let by_number = app.get_json(&format!("/api/agents/{id}/usage/compare?from=1&to=2"), &key).await;
    assert_eq!(by_number["to"]["version"], 2);
    assert_error(app.get(&format!("/api/agents/{id}/usage/compare?from=1&to=nope"), &key).await, 404, "NOT_FOUND")
        .await;
    assert_error(app.get(&format!("/api/agents/{id}/usage/compare?from=1"), &key).await, 400, "VALIDATION_ERROR").await;
}
