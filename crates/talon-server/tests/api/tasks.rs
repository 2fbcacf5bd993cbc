//! Tasks as the spec's "Tasks" section shows them, the lifecycle, and the claim queue.

use std::collections::HashSet;

use crate::common::{TestApp, User, assert_error};
use futures::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};
use talon_domain::UserId;
use talon_store::Backend;
use talon_store::testing::TestDatabase;

on_both_databases!(
    spec_create_list_get_update,
    illegal_transitions_are_409_naming_both_states,
    cancel_queued_and_running_tasks,
    claims_follow_priority_then_age_and_lease,
    stale_lease_tokens_are_409_and_leases_expire,
    dedupe_key_returns_the_live_task,
    tasks_pin_the_version_they_were_created_for,
    future_tasks_are_not_claimable_yet,
    a_waiting_claim_is_woken_by_a_new_task,
    two_hundred_claimers_take_each_of_1000_tasks_once,
    two_replicas_never_hand_out_the_same_task,
    another_accounts_task_is_404_and_scopes_are_enforced,
    task_changes_are_recorded_in_the_outbox,
    an_agent_with_running_tasks_is_not_deleted_without_force,
);

async fn claim(app: &TestApp, token: &str, body: Value) -> Vec<Value> {
    let response = app.post("/api/tasks/claim", Some(token), body).await;
    let status = response.status();
    let json: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{json}");
    json["data"].as_array().unwrap().clone()
}

async fn spec_create_list_get_update(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    let current_version = app.get_json(&format!("/api/agents/{agent}"), &user.token).await["currentVersionId"].clone();
    let task = app
        .create_task(
            &user.token,
            json!({
                "agentId": agent,
                "title": "Review PR #42",
                "description": "Review the authentication changes",
                "priority": "high",
                "input": {"pr_number": 42, "repository": "myorg/myrepo"}
            }),
        )
        .await;
    let id = task["id"].as_str().unwrap();
    assert!(id.starts_with("task_"));
    assert_eq!(task["agentId"], agent.as_str());
    assert_eq!(task["versionId"], current_version);
    assert_eq!(task["title"], "Review PR #42");
    assert_eq!(task["status"], "queued");
    assert_eq!(task["priority"], "high");
    assert!(task["createdAt"].is_string());

    let running = app
        .patch(
            &format!("/api/tasks/{id}"),
            &user.token,
            json!({"status": "running", "output": {"partial_result": "Processing..."}}),
        )
        .await;
    assert_eq!(running.status(), 200);
    let running: Value = running.json().await.unwrap();
    assert_eq!(running["status"], "running");
    assert!(running["startedAt"].is_string());
    assert_eq!(running["output"], json!({"partial_result": "Processing..."}));

    let list = app.get_json(&format!("/api/tasks?status=running&agentId={agent}"), &user.token).await;
    let item = &list["data"][0];
    assert_eq!(item["id"], id);
    assert_eq!(item["title"], "Review PR #42");
    assert_eq!(item["status"], "running");
    assert_eq!(item["startedAt"], running["startedAt"]);
    assert_eq!(item["agent"], json!({"id": agent, "name": "Code Review Agent"}));
    assert_eq!(app.get_json("/api/tasks?status=completed", &user.token).await["data"], json!([]));
    assert_error(app.get("/api/tasks?status=done", &user.token).await, 400, "VALIDATION_ERROR").await;

    // Starting it by PATCH leases it like a claim; the token is needed from then on.
    let token = running["leaseToken"].as_str().unwrap();
    let output = json!({"review": "Looks good, approved", "suggestions": []});
    let done = app
        .patch(
            &format!("/api/tasks/{id}"),
            &user.token,
            json!({"status": "completed", "output": output, "leaseToken": token}),
        )
        .await;
    assert_eq!(done.status(), 200);
    let got = app.get_json(&format!("/api/tasks/{id}"), &user.token).await;
    assert_eq!(got["status"], "completed");
    assert_eq!(got["priority"], "high");
    assert_eq!(got["input"], json!({"pr_number": 42, "repository": "myorg/myrepo"}));
    assert_eq!(got["output"], output);
    assert!(got["startedAt"].is_string() && got["completedAt"].is_string());
    assert_eq!(got["attempts"], 1);

    let bad = app
        .post("/api/tasks", Some(&user.token), json!({"agentId": agent, "priority": "asap", "input": "x".repeat(10)}))
        .await;
    let body = assert_error(bad, 400, "VALIDATION_ERROR").await;
    let mut fields: Vec<&str> =
        body["error"]["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["priority", "title"]);
    let big = app
        .post(
            "/api/tasks",
            Some(&user.token),
            json!({"agentId": agent, "title": "t", "input": {"blob": "x".repeat(1024 * 1024)}}),
        )
        .await;
    assert_error(big, 400, "VALIDATION_ERROR").await;
}

async fn illegal_transitions_are_409_naming_both_states(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    let task = app.create_task(&user.token, json!({"agentId": agent, "title": "t"})).await;
    let path = format!("/api/tasks/{}", task["id"].as_str().unwrap());
    let body = assert_error(app.patch(&path, &user.token, json!({"status": "completed"})).await, 409, "CONFLICT").await;
    assert_eq!(body["error"]["message"], "a task cannot go from queued to completed");
    let running: Value = app.patch(&path, &user.token, json!({"status": "running"})).await.json().await.unwrap();
    let token = &running["leaseToken"];
    app.patch(&path, &user.token, json!({"status": "failed", "error": "boom", "leaseToken": token})).await;
    let body = assert_error(app.patch(&path, &user.token, json!({"status": "running"})).await, 409, "CONFLICT").await;
    assert_eq!(body["error"]["message"], "a task cannot go from failed to running");
    let got = app.get_json(&path, &user.token).await;
    assert_eq!((got["status"].as_str(), got["error"].as_str()), (Some("failed"), Some("boom")));
    assert_error(app.patch(&path, &user.token, json!({"status": "paused"})).await, 400, "VALIDATION_ERROR").await;
}

async fn cancel_queued_and_running_tasks(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    for start_running in [false, true] {
        let task = app.create_task(&user.token, json!({"agentId": agent, "title": "t"})).await;
        let id = task["id"].as_str().unwrap();
        if start_running {
            app.patch(&format!("/api/tasks/{id}"), &user.token, json!({"status": "running"})).await;
        }
        let cancelled = app.post(&format!("/api/tasks/{id}/cancel"), Some(&user.token), json!({})).await;
        assert_eq!(cancelled.status(), 200);
        let cancelled: Value = cancelled.json().await.unwrap();
        assert_eq!(cancelled["status"], "cancelled");
        assert!(cancelled["completedAt"].is_string());
        let again = app.post(&format!("/api/tasks/{id}/cancel"), Some(&user.token), json!({})).await;
        assert_error(again, 409, "CONFLICT").await;
    }
}

async fn claims_follow_priority_then_age_and_lease(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    let key = app.api_key(&user, &["tasks:read", "tasks:write"]).await;
    let mut ids = Vec::new();
    for (title, priority) in
        [("low", "low"), ("normal-1", "normal"), ("urgent", "urgent"), ("normal-2", "normal"), ("high", "high")]
    {
        ids.push(app.create_task(&key, json!({"agentId": agent, "title": title, "priority": priority})).await);
    }
    let claimed = claim(&app, &key, json!({"limit": 3, "leaseSeconds": 30})).await;
    let titles: Vec<&str> = claimed.iter().map(|t| t["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["urgent", "high", "normal-1"]);
    for task in &claimed {
        assert_eq!(task["status"], "running");
        assert_eq!(task["attempts"], 1);
        assert!(task["leaseToken"].as_str().unwrap().starts_with("lease_"));
        let expires: chrono::DateTime<chrono::Utc> = task["leaseExpiresAt"].as_str().unwrap().parse().unwrap();
        let in_secs = (expires - chrono::Utc::now()).num_seconds();
        assert!((25..=30).contains(&in_secs), "lease of ~30 s, got {in_secs}");
    }
    let rest = claim(&app, &key, json!({"limit": 10, "agentId": agent})).await;
    let titles: Vec<&str> = rest.iter().map(|t| t["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["normal-2", "low"]);
    assert!(claim(&app, &key, json!({})).await.is_empty(), "nothing left");
    assert_error(app.post("/api/tasks/claim", Some(&key), json!({"limit": 0})).await, 400, "VALIDATION_ERROR").await;
    assert_error(
        app.post("/api/tasks/claim", Some(&key), json!({"leaseSeconds": 99999})).await,
        400,
        "VALIDATION_ERROR",
    )
    .await;
}

async fn stale_lease_tokens_are_409_and_leases_expire(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    let task = app.create_task(&user.token, json!({"agentId": agent, "title": "t", "maxAttempts": 2})).await;
    let path = format!("/api/tasks/{}", task["id"].as_str().unwrap());

    let first = claim(&app, &user.token, json!({"leaseSeconds": 1})).await;
    let first_token = first[0]["leaseToken"].as_str().unwrap().to_owned();
    // Progress with the token extends the lease.
    let progress = app
        .patch(&path, &user.token, json!({"leaseToken": first_token, "leaseSeconds": 2, "output": {"step": 1}}))
        .await;
    assert_eq!(progress.status(), 200);
    // Let it lapse: the task returns to the queue with its attempt counted.
    let requeued = app.wait_for_task_status(&path, &user.token, "queued").await;
    assert_eq!((requeued["status"].as_str(), requeued["attempts"].as_i64()), (Some("queued"), Some(1)));

    let second = claim(&app, &user.token, json!({"leaseSeconds": 1})).await;
    assert_eq!(second[0]["attempts"], 2);
    let stale = app.patch(&path, &user.token, json!({"leaseToken": first_token, "status": "completed"})).await;
    let body = assert_error(stale, 409, "CONFLICT").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("lease"));

    // The second lease lapses too: attempts are spent, so the task fails with the reason.
    let failed = app.wait_for_task_status(&path, &user.token, "failed").await;
    assert_eq!(failed["error"], "Lease expired on attempt 2 of 2");
    assert!(claim(&app, &user.token, json!({})).await.is_empty());
}

async fn dedupe_key_returns_the_live_task(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    let body = json!({"agentId": agent, "title": "nightly report", "dedupeKey": "report-2026-11-23"});
    let first = app.create_task(&user.token, body.clone()).await;
    let again = app.post("/api/tasks", Some(&user.token), body.clone()).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"]);
    let path = format!("/api/tasks/{}", first["id"].as_str().unwrap());
    let running: Value = app.patch(&path, &user.token, json!({"status": "running"})).await.json().await.unwrap();
    let while_running = app.post("/api/tasks", Some(&user.token), body.clone()).await;
    assert_eq!(while_running.json::<Value>().await.unwrap()["id"], first["id"]);
    app.patch(&path, &user.token, json!({"status": "completed", "leaseToken": running["leaseToken"]})).await;
    let after = app.create_task(&user.token, body).await;
    assert_ne!(after["id"], first["id"], "a finished task no longer holds the key");
}

async fn tasks_pin_the_version_they_were_created_for(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    let v1 = app.get_json(&format!("/api/agents/{agent}"), &user.token).await["currentVersionId"].clone();
    let task = app.create_task(&user.token, json!({"agentId": agent, "title": "t"})).await;
    app.new_version(&user.token, &agent, json!({"prompt": "v2"})).await;
    let got = app.get_json(&format!("/api/tasks/{}", task["id"].as_str().unwrap()), &user.token).await;
    assert_eq!(got["versionId"], v1);
    let pinned = app.create_task(&user.token, json!({"agentId": agent, "versionId": v1, "title": "t"})).await;
    assert_eq!(pinned["versionId"], v1);
    let other = app.create_agent(&user.token, json!({"name": "other", "prompt": "p"})).await;
    let wrong = app
        .post(
            "/api/tasks",
            Some(&user.token),
            json!({"agentId": agent, "versionId": other["currentVersionId"], "title": "t"}),
        )
        .await;
    assert_error(wrong, 404, "NOT_FOUND").await;
}

async fn future_tasks_are_not_claimable_yet(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    app.create_task(&user.token, json!({"agentId": agent, "title": "later", "runAt": later})).await;
    assert!(claim(&app, &user.token, json!({})).await.is_empty());
    let soon = (chrono::Utc::now() + chrono::Duration::milliseconds(300)).to_rfc3339();
    app.create_task(&user.token, json!({"agentId": agent, "title": "soon", "runAt": soon})).await;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let claimed = claim(&app, &user.token, json!({"limit": 10})).await;
    assert_eq!(claimed.iter().map(|t| t["title"].as_str().unwrap()).collect::<Vec<_>>(), ["soon"]);
}

async fn a_waiting_claim_is_woken_by_a_new_task(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    let waiting = claim(&app, &user.token, json!({"waitSeconds": 30}));
    let producer = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        app.create_task(&user.token, json!({"agentId": agent, "title": "arrives later"})).await
    };
    let (claimed, created) = tokio::join!(waiting, producer);
    assert_eq!(claimed.len(), 1, "the waiting claim received the task");
    assert_eq!(claimed[0]["id"], created["id"]);
    let empty = claim(&app, &user.token, json!({"waitSeconds": 1})).await;
    assert!(empty.is_empty(), "an empty queue answers once the wait is over");
    let bad = app.post("/api/tasks/claim", Some(&user.token), json!({"waitSeconds": 31})).await;
    assert_error(bad, 400, "VALIDATION_ERROR").await;
}

/// Creates `n` tasks over HTTP, 50 at a time, returning their ids.
async fn seed_tasks(app: &TestApp, user: &User, agent: &str, n: usize) -> HashSet<String> {
    let mut ids = HashSet::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(50) {
        let made = join_all(
            chunk.iter().map(|i| app.create_task(&user.token, json!({"agentId": agent, "title": format!("job {i}")}))),
        )
        .await;
        ids.extend(made.into_iter().map(|t| t["id"].as_str().unwrap().to_owned()));
    }
    ids
}

/// `workers` concurrent claimers, spread over `apps`, claim until the queue is empty.
async fn drain(apps: &[&TestApp], token: &str, workers: usize) -> Vec<String> {
    let runs = (0..workers).map(|w| {
        let app = apps[w % apps.len()];
        async move {
            let mut mine = Vec::new();
            loop {
                let batch = claim(app, token, json!({"limit": 5, "leaseSeconds": 300})).await;
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.iter().map(|t| t["id"].as_str().unwrap().to_owned()));
            }
        }
    });
    join_all(runs).await.into_iter().flatten().collect()
}

fn assert_each_once(claimed: &[String], expected: &HashSet<String>) {
    let unique: HashSet<String> = claimed.iter().cloned().collect();
    assert_eq!(unique.len(), claimed.len(), "a task was handed out twice");
    assert_eq!(&unique, expected, "every task was claimed");
}

async fn two_hundred_claimers_take_each_of_1000_tasks_once(backend: Backend) {
    let mut config = crate::common::test_config();
    config.plans = crate::common::plans(1_000_000, 1_000_000);
    let app = TestApp::spawn_with(backend, config).await;
    let (user, agent) = app.user_with_agent().await;
    let ids = seed_tasks(&app, &user, &agent, 1000).await;
    let claimed = drain(&[&app], &user.token, 200).await;
    assert_each_once(&claimed, &ids);
}

async fn two_replicas_never_hand_out_the_same_task(backend: Backend) {
    let mut config = crate::common::test_config();
    config.plans = crate::common::plans(1_000_000, 1_000_000);
    let first = TestApp::spawn_with(backend, config.clone()).await;
    let second = TestApp::start(TestDatabase::open(&first.db().url).await.unwrap(), config).await;
    let (user, agent) = first.user_with_agent().await;
    let ids = seed_tasks(&first, &user, &agent, 300).await;
    let claimed = drain(&[&first, &second], &user.token, 40).await;
    assert_each_once(&claimed, &ids);
}

async fn another_accounts_task_is_404_and_scopes_are_enforced(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, agent) = app.user_with_agent().await;
    let bob = app.register("bob@example.com").await;
    let task = app.create_task(&alice.token, json!({"agentId": agent, "title": "t"})).await;
    let id = task["id"].as_str().unwrap();
    let path = format!("/api/tasks/{id}");
    assert_error(app.get(&path, &bob.token).await, 404, "NOT_FOUND").await;
    assert_error(app.patch(&path, &bob.token, json!({"status": "running"})).await, 404, "NOT_FOUND").await;
    assert_error(app.post(&format!("{path}/cancel"), Some(&bob.token), json!({})).await, 404, "NOT_FOUND").await;
    assert_eq!(app.get_json("/api/tasks", &bob.token).await["data"], json!([]));
    assert!(claim(&app, &bob.token, json!({"limit": 10})).await.is_empty(), "Bob cannot claim Alice's work");
    let into_alices_agent = app.post("/api/tasks", Some(&bob.token), json!({"agentId": agent, "title": "t"})).await;
    assert_error(into_alices_agent, 404, "NOT_FOUND").await;
    assert_eq!(app.get_json(&path, &alice.token).await["status"], "queued", "unchanged");

    let read_only = app.api_key(&alice, &["tasks:read"]).await;
    let no_tasks = app.api_key(&alice, &["agents:read"]).await;
    for (method, url, body, scope) in [
        (Method::GET, "/api/tasks".to_owned(), Value::Null, "tasks:read"),
        (Method::GET, path.clone(), Value::Null, "tasks:read"),
        (Method::POST, "/api/tasks".to_owned(), json!({"agentId": agent, "title": "t"}), "tasks:write"),
        (Method::PATCH, path.clone(), json!({"status": "running"}), "tasks:write"),
        (Method::POST, format!("{path}/cancel"), json!({}), "tasks:write"),
        (Method::POST, "/api/tasks/claim".to_owned(), json!({}), "tasks:write"),
    ] {
        let key = if scope == "tasks:write" { &read_only } else { &no_tasks };
        let mut request = app.request(method, &url, Some(key));
        if !body.is_null() {
            request = request.json(&body);
        }
        let body = assert_error(request.send().await.unwrap(), 403, "FORBIDDEN").await;
        assert!(body["error"]["message"].as_str().unwrap().contains(scope));
    }
    assert_eq!(app.get_json(&path, &alice.token).await["status"], "queued", "unchanged");
}

async fn task_changes_are_recorded_in_the_outbox(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    let a = app.create_task(&user.token, json!({"agentId": agent, "title": "a"})).await;
    let b = app.create_task(&user.token, json!({"agentId": agent, "title": "b"})).await;
    let c = app.create_task(&user.token, json!({"agentId": agent, "title": "c"})).await;
    let claimed = claim(&app, &user.token, json!({"limit": 2})).await;
    assert_eq!(claimed.len(), 2);
    assert_eq!((&claimed[0]["id"], &claimed[1]["id"]), (&a["id"], &b["id"]));
    app.patch(
        &format!("/api/tasks/{}", a["id"].as_str().unwrap()),
        &user.token,
        json!({"status": "completed", "output": {"ok": true}, "leaseToken": claimed[0]["leaseToken"]}),
    )
    .await;
    app.patch(
        &format!("/api/tasks/{}", b["id"].as_str().unwrap()),
        &user.token,
        json!({"status": "failed", "error": "no", "leaseToken": claimed[1]["leaseToken"]}),
    )
    .await;
    app.post(&format!("/api/tasks/{}/cancel", c["id"].as_str().unwrap()), Some(&user.token), json!({})).await;
    let events = app.db().store.events_for(UserId::parse(&user.id).unwrap()).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).filter(|k| k.starts_with("task.")).collect();
    assert_eq!(
        kinds,
        [
            "task.created",
            "task.created",
            "task.created",
            "task.started",
            "task.started",
            "task.completed",
            "task.failed",
            "task.cancelled"
        ]
    );
    let completed = events.iter().find(|e| e.kind == "task.completed").unwrap();
    assert_eq!(completed.data["id"], a["id"]);
    assert_eq!(completed.data["status"], "completed");
    assert_eq!(completed.data["output"], json!({"ok": true}));
}

async fn an_agent_with_running_tasks_is_not_deleted_without_force(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    app.create_task(&user.token, json!({"agentId": agent, "title": "t"})).await;
    claim(&app, &user.token, json!({})).await;
    let body = assert_error(app.delete(&format!("/api/agents/{agent}"), &user.token).await, 409, "CONFLICT").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("running task"));
    assert_eq!(app.delete(&format!("/api/agents/{agent}?force=true"), &user.token).await.status(), 204);
    assert_eq!(app.get_json("/api/tasks", &user.token).await["data"], json!([]), "its tasks went with it");
}
