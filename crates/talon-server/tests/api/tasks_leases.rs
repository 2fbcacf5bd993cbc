//! Who may change a task: a leased task only with its lease token (the owner's cancel aside), a running
//! task always under a lease, list filters by slug or id, and `dedupeKey` under concurrent completion.

use crate::common::{TestApp, assert_error};
use futures::future::join_all;
use serde_json::{Value, json};
use talon_store::Backend;

on_both_databases!(
    list_and_claim_take_an_agent_slug_or_id,
    a_leased_task_changes_only_with_its_token,
    patching_a_queued_task_to_running_grants_a_lease,
    the_owner_cancels_a_leased_task_without_its_token,
    dedupe_creators_racing_a_canceller_get_no_5xx,
);

async fn claim_one(app: &TestApp, token: &str, lease_seconds: i64) -> Value {
    let response = app.post("/api/tasks/claim", Some(token), json!({"leaseSeconds": lease_seconds})).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["data"][0].clone()
}

fn ids(list: &Value) -> Vec<&str> {
    list["data"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect()
}

async fn list_and_claim_take_an_agent_slug_or_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    let other = app.create_agent(&user.token, json!({"name": "Other", "prompt": "p"})).await;
    let mine = app.create_task(&user.token, json!({"agentId": "code-review-agent", "title": "by slug"})).await;
    app.create_task(&user.token, json!({"agentId": other["id"], "title": "other"})).await;
    let uuid = talon_domain::AgentId::parse(&agent).unwrap().as_uuid().to_string();
    for reference in ["code-review-agent", agent.as_str(), uuid.as_str()] {
        let list = app.get_json(&format!("/api/tasks?agentId={reference}"), &user.token).await;
        assert_eq!(ids(&list), [mine["id"].as_str().unwrap()], "agentId={reference}");
        assert_eq!(list["pagination"]["total"], 1);
    }

    // Another account's agent, by its slug or its id, is "not found" as everywhere else; so is no agent.
    let bob = app.register("bob@example.com").await;
    let bobs = app.create_agent(&bob.token, json!({"name": "Bobs Agent", "prompt": "p"})).await;
    app.create_task(&bob.token, json!({"agentId": bobs["id"], "title": "bob's"})).await;
    for reference in ["bobs-agent", bobs["id"].as_str().unwrap(), "no-such-agent"] {
        let body =
            assert_error(app.get(&format!("/api/tasks?agentId={reference}"), &user.token).await, 404, "NOT_FOUND")
                .await;
        assert_eq!(body["error"]["message"], "Agent not found", "agentId={reference}");
        let claim = app.post("/api/tasks/claim", Some(&user.token), json!({"agentId": reference})).await;
        assert_error(claim, 404, "NOT_FOUND").await;
    }
    // A claim narrows to one agent by slug as well.
    let claimed =
        app.post("/api/tasks/claim", Some(&user.token), json!({"agentId": "code-review-agent", "limit": 5})).await;
    let claimed: Value = claimed.json().await.unwrap();
    assert_eq!(ids(&claimed), [mine["id"].as_str().unwrap()]);
}

async fn a_leased_task_changes_only_with_its_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    let worker = app.api_key(&user, &["tasks:read", "tasks:write"]).await;
    let intruder = app.api_key(&user, &["tasks:read", "tasks:write"]).await;
    let task = app.create_task(&user.token, json!({"agentId": agent, "title": "t", "maxAttempts": 3})).await;
    let path = format!("/api/tasks/{}", task["id"].as_str().unwrap());
    let claimed = claim_one(&app, &worker, 1).await;
    let first_token = claimed["leaseToken"].as_str().unwrap().to_owned();

    // Another worker without the token can neither complete the task nor report on it.
    for body in [json!({"status": "completed", "output": {"stolen": true}}), json!({"output": {"step": 1}})] {
        let refused = assert_error(app.patch(&path, &intruder, body).await, 409, "CONFLICT").await;
        assert!(refused["error"]["message"].as_str().unwrap().contains("leaseToken"), "{refused}");
    }
    let unchanged = app.get_json(&path, &user.token).await;
    assert_eq!((unchanged["status"].as_str(), &unchanged["output"]), (Some("running"), &Value::Null));

    // The lease lapses and another claim takes the task: the first worker's token is refused, and
    // omitting it does not help.
    app.wait_for_task_status(&path, &user.token, "queued").await;
    let second = claim_one(&app, &intruder, 30).await;
    assert_eq!(second["id"], task["id"]);
    let stale = app.patch(&path, &worker, json!({"status": "completed", "leaseToken": first_token})).await;
    assert_error(stale, 409, "CONFLICT").await;
    let omitted = app.patch(&path, &worker, json!({"status": "completed"})).await;
    assert_error(omitted, 409, "CONFLICT").await;

    let done = app
        .patch(
            &path,
            &intruder,
            json!({"status": "completed", "leaseToken": second["leaseToken"], "output": {"ok": 1}}),
        )
        .await;
    assert_eq!(done.status(), 200);
    let done: Value = done.json().await.unwrap();
    assert_eq!((done["status"].as_str(), &done["leaseExpiresAt"]), (Some("completed"), &Value::Null));
}

async fn patching_a_queued_task_to_running_grants_a_lease(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    let task = app.create_task(&user.token, json!({"agentId": agent, "title": "t", "maxAttempts": 1})).await;
    let path = format!("/api/tasks/{}", task["id"].as_str().unwrap());
    let started = app.patch(&path, &user.token, json!({"status": "running", "leaseSeconds": 30})).await;
    assert_eq!(started.status(), 200);
    let started: Value = started.json().await.unwrap();
    assert_eq!((started["status"].as_str(), started["attempts"].as_i64()), (Some("running"), Some(1)));
    let token = started["leaseToken"].as_str().expect("a lease token").to_owned();
    assert!(token.starts_with("lease_"));
    let expires: chrono::DateTime<chrono::Utc> = started["leaseExpiresAt"].as_str().unwrap().parse().unwrap();
    let in_secs = (expires - chrono::Utc::now()).num_seconds();
    assert!((25..=30).contains(&in_secs), "lease of ~30 s, got {in_secs}");
    // Later updates show no token; without it the task does not change.
    assert_error(app.patch(&path, &user.token, json!({"status": "completed"})).await, 409, "CONFLICT").await;
    let progress = app.patch(&path, &user.token, json!({"leaseToken": token, "output": {"step": 1}})).await;
    let progress: Value = progress.json().await.unwrap();
    assert_eq!((progress["output"]["step"].as_i64(), &progress["leaseToken"]), (Some(1), &Value::Null));

    // A task started by PATCH is held to `maxAttempts` like a claimed one: its lapsed lease fails it.
    let short = app.create_task(&user.token, json!({"agentId": agent, "title": "short", "maxAttempts": 1})).await;
    let short_path = format!("/api/tasks/{}", short["id"].as_str().unwrap());
    let started = app.patch(&short_path, &user.token, json!({"status": "running", "leaseSeconds": 1})).await;
    assert_eq!(started.status(), 200);
    let failed = app.wait_for_task_status(&short_path, &user.token, "failed").await;
    assert_eq!(failed["error"], "Lease expired on attempt 1 of 1");
}

async fn the_owner_cancels_a_leased_task_without_its_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    let worker = app.api_key(&user, &["tasks:read", "tasks:write"]).await;
    let task = app.create_task(&user.token, json!({"agentId": agent, "title": "t"})).await;
    let path = format!("/api/tasks/{}", task["id"].as_str().unwrap());
    let claimed = claim_one(&app, &worker, 60).await;
    let cancelled = app.post(&format!("{path}/cancel"), Some(&user.token), json!({})).await;
    assert_eq!(cancelled.status(), 200);
    let cancelled: Value = cancelled.json().await.unwrap();
    assert_eq!((cancelled["status"].as_str(), &cancelled["leaseExpiresAt"]), (Some("cancelled"), &Value::Null));
    let late = app.patch(&path, &worker, json!({"status": "completed", "leaseToken": claimed["leaseToken"]})).await;
    assert_error(late, 409, "CONFLICT").await;
    assert_eq!(app.get_json(&path, &user.token).await["status"], "cancelled");
}

/// Creators racing a client that cancels the key's live task over and over: the key's holder may finish
/// between a creator's insert conflicting and its read of the holder. Every creator still gets the live
/// task (200) or a new one (201), never a 5xx.
async fn dedupe_creators_racing_a_canceller_get_no_5xx(backend: Backend) {
    let mut config = crate::common::test_config();
    config.plans = crate::common::plans(1_000_000, 10_000_000);
    let app = TestApp::spawn_with(backend, config).await;
    let (user, agent) = app.user_with_agent().await;
    let body = json!({"agentId": agent, "title": "nightly", "dedupeKey": "nightly-2026-11-30"});
    let creators = (0..16).map(|_| async {
        let mut seen = Vec::new();
        for _ in 0..40 {
            let response = app.post("/api/tasks", Some(&user.token), body.clone()).await;
            let status = response.status().as_u16();
            let task: Value = response.json().await.unwrap();
            assert!(matches!(status, 200 | 201), "{status}: {task}");
            assert_eq!(task["dedupeKey"], "nightly-2026-11-30");
            if status == 200 {
                assert!(matches!(task["status"].as_str(), Some("queued" | "running")), "{task}");
            }
            seen.push(status);
        }
        seen
    });
    let canceller = async {
        for _ in 0..200 {
            let response = app.post("/api/tasks", Some(&user.token), body.clone()).await;
            assert!(matches!(response.status().as_u16(), 200 | 201));
            let task: Value = response.json().await.unwrap();
            let path = format!("/api/tasks/{}/cancel", task["id"].as_str().unwrap());
            let status = app.post(&path, Some(&user.token), json!({})).await.status().as_u16();
            assert!(matches!(status, 200 | 409), "cancel: {status}");
        }
    };
    let (seen, ()) = tokio::join!(join_all(creators), canceller);
    let created = seen.iter().flatten().filter(|s| **s == 201).count();
    assert!(created > 0, "the key was free again after cancels");
}
