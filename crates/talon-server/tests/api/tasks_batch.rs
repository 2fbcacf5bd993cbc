//! Batched task calls: `POST /api/tasks/batch` (all or none, dedupe keys within and across batches),
//! `POST /api/tasks/complete` and `/fail` (each task on its own), their scopes and other accounts.

use std::collections::HashSet;

use crate::common::{TestApp, User, assert_error};
use futures::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};
use talon_domain::UserId;
use talon_store::Backend;

on_both_databases!(
    a_batch_creates_every_task_in_order,
    a_bad_task_refuses_the_whole_batch_naming_it,
    batches_hold_1_to_1000_tasks,
    dedupe_keys_hold_within_and_across_batches,
    another_accounts_agent_refuses_the_batch,
    complete_and_fail_many_each_on_its_own,
    a_task_named_twice_is_refused,
    batch_calls_need_the_tasks_write_scope,
    concurrent_claims_of_a_batch_never_share_a_task,
);

fn fields(body: &Value) -> Vec<String> {
    body["error"]["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap().to_owned()).collect()
}

async fn create_batch(app: &TestApp, token: &str, tasks: Value) -> (u16, Value) {
    let response = app.post("/api/tasks/batch", Some(token), json!({ "tasks": tasks })).await;
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn claim(app: &TestApp, token: &str, limit: i64) -> Vec<Value> {
    let response = app.post("/api/tasks/claim", Some(token), json!({"limit": limit, "leaseSeconds": 300})).await;
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["data"].as_array().unwrap().clone()
}

async fn task_count(app: &TestApp, user: &User) -> i64 {
    app.get_json("/api/tasks", &user.token).await["pagination"]["total"].as_i64().unwrap()
}

async fn a_batch_creates_every_task_in_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    let version = app.get_json(&format!("/api/agents/{agent}"), &user.token).await["currentVersionId"].clone();
    let (status, body) = create_batch(
        &app,
        &user.token,
        json!([
            {"agentId": agent, "title": "first", "priority": "high", "input": {"n": 1}},
            {"agentId": "code-review-agent", "versionId": version, "title": "second", "maxAttempts": 5},
            {"agentId": agent, "title": "third", "executor": "runtime", "runAt": "2030-01-01T00:00:00Z"},
        ]),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let data = body["data"].as_array().unwrap();
    let titles: Vec<&str> = data.iter().map(|t| t["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["first", "second", "third"]);
    assert!(data.iter().all(|t| t["created"] == true && t["status"] == "queued" && t["versionId"] == version));
    assert_eq!((data[0]["priority"].as_str(), &data[0]["input"]), (Some("high"), &json!({"n": 1})));
    assert_eq!((data[1]["maxAttempts"].as_i64(), data[1]["executor"].as_str()), (Some(5), Some("external")));
    assert_eq!(
        (data[2]["executor"].as_str(), data[2]["runAt"].as_str()),
        (Some("runtime"), Some("2030-01-01T00:00:00Z"))
    );
    for task in data {
        let id = task["id"].as_str().unwrap();
        let stored = app.get_json(&format!("/api/tasks/{id}"), &user.token).await;
        assert_eq!(stored["title"], task["title"]);
    }
    let events = app.db().store.events_for(UserId::parse(&user.id).unwrap()).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.kind == "task.created").count(), 3);

    // The batch's tasks are claimable like any other: highest priority first.
    let claimed = claim(&app, &user.token, 10).await;
    assert_eq!(claimed.iter().map(|t| t["title"].as_str().unwrap()).collect::<Vec<_>>(), ["first", "second"]);
}

async fn a_bad_task_refuses_the_whole_batch_naming_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    let good = json!({"agentId": agent, "title": "fine"});
    // A type error (caught while parsing) and a rule error (caught by the domain), each named by index.
    let (status, body) =
        create_batch(&app, &user.token, json!([good, {"agentId": agent, "title": "t", "priority": "asap"}])).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("VALIDATION_ERROR")), "{body}");
    assert_eq!(fields(&body), ["tasks[1].priority"]);
    let (status, body) = create_batch(
        &app,
        &user.token,
        json!([good, good, {"agentId": agent, "title": "  "}, good, {"agentId": agent, "title": "t", "runAt": "soon"}]),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(fields(&body), ["tasks[2].title", "tasks[4].runAt"]);
    let (status, body) =
        create_batch(&app, &user.token, json!([good, {"agentId": agent, "title": "t", "colour": "red"}])).await;
    assert_eq!((status, fields(&body)), (400, vec!["tasks[1].colour".to_owned()]));
    // A version that is not the agent's: 404 naming the task; nothing of the batch is created.
    let other = app.create_agent(&user.token, json!({"name": "Other", "prompt": "p"})).await;
    let (status, body) = create_batch(
        &app,
        &user.token,
        json!([good, {"agentId": agent, "versionId": other["currentVersionId"], "title": "t"}]),
    )
    .await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("NOT_FOUND")), "{body}");
    assert_eq!(fields(&body), ["tasks[1].versionId"]);
    assert_eq!(task_count(&app, &user).await, 0, "no task of a refused batch exists");
    let events = app.db().store.events_for(UserId::parse(&user.id).unwrap()).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.kind == "task.created").count(), 0);
}

async fn batches_hold_1_to_1000_tasks(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    let task = json!({"agentId": agent, "title": "t"});
    for (count, expected) in [(0, 400), (1001, 400), (1000, 201)] {
        let (status, body) = create_batch(&app, &user.token, Value::Array(vec![task.clone(); count])).await;
        assert_eq!(status, expected, "{count} tasks");
        if expected == 400 {
            assert_eq!(fields(&body), ["tasks"]);
            assert_eq!(task_count(&app, &user).await, 0, "nothing of a refused batch");
        } else {
            let ids: HashSet<&str> =
                body["data"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
            assert_eq!(ids.len(), 1000);
        }
    }
    assert_eq!(task_count(&app, &user).await, 1000);
    for path in ["/api/tasks/complete", "/api/tasks/fail"] {
        for count in [0, 1001] {
            let items = vec![json!({"id": "task_x", "leaseToken": "lease_x"}); count];
            let response = app.post(path, Some(&user.token), json!({ "tasks": items })).await;
            let body = assert_error(response, 400, "VALIDATION_ERROR").await;
            assert_eq!(fields(&body), ["tasks"], "{path} with {count}");
        }
    }
}

async fn dedupe_keys_hold_within_and_across_batches(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    let keyed = |title: &str, key: &str| json!({"agentId": agent, "title": title, "dedupeKey": key});
    let (status, first) =
        create_batch(&app, &user.token, json!([keyed("a", "k1"), keyed("b", "k2"), keyed("a again", "k1")])).await;
    assert_eq!(status, 201);
    let first = first["data"].as_array().unwrap().clone();
    assert_eq!(first.iter().map(|t| t["created"].as_bool().unwrap()).collect::<Vec<_>>(), [true, true, false]);
    assert_eq!(first[2]["id"], first[0]["id"], "the later task of the batch is the first one");
    assert_eq!(first[2]["title"], "a");

    // Across batches, and with the single create: the live task answers.
    let (status, second) = create_batch(&app, &user.token, json!([keyed("c", "k2"), keyed("d", "k1")])).await;
    assert_eq!(status, 200, "every task was deduplicated");
    let second = second["data"].as_array().unwrap().clone();
    assert_eq!((&second[0]["id"], &second[1]["id"]), (&first[1]["id"], &first[0]["id"]));
    assert!(second.iter().all(|t| t["created"] == false));
    let single = app.post("/api/tasks", Some(&user.token), keyed("e", "k2")).await;
    assert_eq!(single.status(), 200);
    assert_eq!(single.json::<Value>().await.unwrap()["id"], first[1]["id"]);

    // Once its task finishes, a key is free: the next batch creates a new task for it.
    let claimed = claim(&app, &user.token, 10).await;
    let k1 = claimed.iter().find(|t| t["id"] == first[0]["id"]).unwrap();
    let done = app
        .post(
            "/api/tasks/complete",
            Some(&user.token),
            json!({"tasks": [{"id": k1["id"], "leaseToken": k1["leaseToken"]}]}),
        )
        .await;
    assert_eq!(done.status(), 200);
    let (status, third) = create_batch(&app, &user.token, json!([keyed("f", "k1"), keyed("g", "k2")])).await;
    assert_eq!(status, 201);
    let third = third["data"].as_array().unwrap().clone();
    assert_eq!((third[0]["created"].as_bool(), third[1]["created"].as_bool()), (Some(true), Some(false)));
    assert_ne!(third[0]["id"], first[0]["id"]);
    assert_eq!(task_count(&app, &user).await, 3);
}

async fn another_accounts_agent_refuses_the_batch(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, agent) = app.user_with_agent().await;
    let bob = app.register("bob@example.com").await;
    let bobs = app.create_agent(&bob.token, json!({"name": "Bobs", "prompt": "p"})).await;
    let (status, body) = create_batch(
        &app,
        &bob.token,
        json!([{"agentId": bobs["id"], "title": "mine"}, {"agentId": agent, "title": "into alice's agent"}]),
    )
    .await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("NOT_FOUND")), "{body}");
    assert_eq!(fields(&body), ["tasks[1].agentId"]);
    let (status, body) = create_batch(&app, &bob.token, json!([{"agentId": "no such agent!", "title": "t"}])).await;
    assert_eq!((status, fields(&body)), (404, vec!["tasks[0].agentId".to_owned()]));
    assert_eq!(task_count(&app, &bob).await, 0);
    assert_eq!(task_count(&app, &alice).await, 0);
}

async fn complete_and_fail_many_each_on_its_own(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    let bob = app.register("bob@example.com").await;
    let bobs_agent = app.create_agent(&bob.token, json!({"name": "Bobs", "prompt": "p"})).await;
    let (_, bobs) = create_batch(&app, &bob.token, json!([{"agentId": bobs_agent["id"], "title": "bob's"}])).await;
    let bobs_task = &claim(&app, &bob.token, 1).await[0];
    let tasks: Vec<Value> = (0..5).map(|i| json!({"agentId": agent, "title": format!("t{i}")})).collect();
    create_batch(&app, &user.token, Value::Array(tasks)).await;
    let queued =
        app.create_task(&user.token, json!({"agentId": agent, "title": "still queued", "priority": "low"})).await;
    let claimed = claim(&app, &user.token, 5).await;
    assert_eq!(claimed.len(), 5);
    let lease = |i: usize| claimed[i]["leaseToken"].clone();

    let response = app
        .post(
            "/api/tasks/complete",
            Some(&user.token),
            json!({"tasks": [
                {"id": claimed[0]["id"], "leaseToken": lease(0), "output": {"answer": 42}},
                {"id": claimed[1]["id"], "leaseToken": "lease_0193a4c1e5d27c3e8f1a2b3c4d5e6f70"},
                {"id": bobs_task["id"], "leaseToken": bobs_task["leaseToken"]},
                {"id": "task_not-an-id", "leaseToken": lease(2)},
                {"id": queued["id"], "leaseToken": lease(2)},
                {"id": claimed[2]["id"], "leaseToken": lease(2)},
            ]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let outcomes = response.json::<Value>().await.unwrap()["data"].as_array().unwrap().clone();
    let summary: Vec<(bool, &str)> =
        outcomes.iter().map(|o| (o["ok"].as_bool().unwrap(), o["error"]["code"].as_str().unwrap_or("-"))).collect();
    assert_eq!(
        summary,
        [
            (true, "-"),
            (false, "CONFLICT"),
            (false, "NOT_FOUND"),
            (false, "NOT_FOUND"),
            (false, "CONFLICT"),
            (true, "-")
        ]
    );
    assert_eq!(outcomes[3]["id"], "task_not-an-id", "each outcome names the id as sent");
    assert!(outcomes[1]["error"]["message"].as_str().unwrap().contains("stale"));
    assert_eq!(outcomes[0]["task"]["status"], "completed");
    assert_eq!(outcomes[0]["task"]["output"], json!({"answer": 42}));
    assert!(outcomes[0]["task"]["completedAt"].is_string() && outcomes[0]["task"]["leaseExpiresAt"].is_null());
    assert_eq!(status_of(&app, &user, &claimed[1]["id"]).await, "running", "a stale lease changes nothing");
    assert_eq!(status_of(&app, &user, &queued["id"]).await, "queued");
    assert_eq!(status_of(&app, &bob, &bobs_task["id"]).await, "running");
    assert_eq!(bobs["data"][0]["id"], bobs_task["id"]);

    let response = app
        .post(
            "/api/tasks/fail",
            Some(&user.token),
            json!({"tasks": [
                {"id": claimed[1]["id"], "leaseToken": lease(1), "error": "no such repository"},
                {"id": claimed[0]["id"], "leaseToken": lease(0), "error": "too late"},
                {"id": claimed[3]["id"], "leaseToken": lease(3)},
            ]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let outcomes = response.json::<Value>().await.unwrap()["data"].as_array().unwrap().clone();
    assert_eq!(outcomes.iter().map(|o| o["ok"].as_bool().unwrap()).collect::<Vec<_>>(), [true, false, true]);
    assert_eq!(
        (outcomes[0]["task"]["status"].as_str(), outcomes[0]["task"]["error"].as_str()),
        (Some("failed"), Some("no such repository"))
    );
    assert_eq!(outcomes[1]["error"]["code"], "CONFLICT", "a completed task stays completed");
    assert_eq!(status_of(&app, &user, &claimed[0]["id"]).await, "completed");

    let events = app.db().store.events_for(UserId::parse(&user.id).unwrap()).await.unwrap();
    let count = |kind: &str| events.iter().filter(|e| e.kind == kind).count();
    assert_eq!((count("task.completed"), count("task.failed")), (2, 2));
    let completed = events.iter().find(|e| e.kind == "task.completed").unwrap();
    assert_eq!((&completed.data["id"], &completed.data["output"]), (&claimed[0]["id"], &json!({"answer": 42})));
}

async fn status_of(app: &TestApp, user: &User, id: &Value) -> String {
    let task = app.get_json(&format!("/api/tasks/{}", id.as_str().unwrap()), &user.token).await;
    task["status"].as_str().unwrap().to_owned()
}

async fn a_task_named_twice_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    app.create_task(&user.token, json!({"agentId": agent, "title": "t"})).await;
    let task = &claim(&app, &user.token, 1).await[0];
    let uuid = talon_domain::TaskId::parse(task["id"].as_str().unwrap()).unwrap().as_uuid().to_string();
    let response = app
        .post(
            "/api/tasks/complete",
            Some(&user.token),
            json!({"tasks": [
                {"id": task["id"], "leaseToken": task["leaseToken"]},
                {"id": uuid, "leaseToken": task["leaseToken"]},
            ]}),
        )
        .await;
    let body = assert_error(response, 400, "VALIDATION_ERROR").await;
    assert_eq!(fields(&body), ["tasks[1].id"]);
    assert_eq!(status_of(&app, &user, &task["id"]).await, "running");
    let missing = app.post("/api/tasks/fail", Some(&user.token), json!({"tasks": [{"id": task["id"]}]})).await;
    let body = assert_error(missing, 400, "VALIDATION_ERROR").await;
    assert_eq!(fields(&body), ["tasks[0].leaseToken"]);
    let no_list = app.post("/api/tasks/complete", Some(&user.token), json!({})).await;
    let body = assert_error(no_list, 400, "VALIDATION_ERROR").await;
    assert_eq!(fields(&body), ["tasks"]);
}

async fn batch_calls_need_the_tasks_write_scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    app.create_task(&user.token, json!({"agentId": agent, "title": "t"})).await;
    let task = &claim(&app, &user.token, 1).await[0];
    let read_only = app.api_key(&user, &["tasks:read", "agents:read"]).await;
    let item = json!({"id": task["id"], "leaseToken": task["leaseToken"]});
    for (path, body) in [
        ("/api/tasks/batch", json!({"tasks": [{"agentId": agent, "title": "t"}]})),
        ("/api/tasks/complete", json!({"tasks": [item]})),
        ("/api/tasks/fail", json!({"tasks": [item]})),
    ] {
        let response = app.request(Method::POST, path, Some(&read_only)).json(&body).send().await.unwrap();
        let refused = assert_error(response, 403, "FORBIDDEN").await;
        assert!(refused["error"]["message"].as_str().unwrap().contains("tasks:write"), "{path}");
    }
    assert_eq!(task_count(&app, &user).await, 1);
    assert_eq!(status_of(&app, &user, &task["id"]).await, "running");
}

/// Tasks created in batches, claimed by concurrent workers in batches and completed in batches: each
/// task goes to exactly one worker and completes once.
async fn concurrent_claims_of_a_batch_never_share_a_task(backend: Backend) {
    let mut config = crate::common::test_config();
    config.plans = crate::common::plans(1_000_000, 1_000_000);
    let app = TestApp::spawn_with(backend, config).await;
    let (user, agent) = app.user_with_agent().await;
    let mut ids = HashSet::new();
    for _ in 0..3 {
        let tasks: Vec<Value> = (0..200).map(|i| json!({"agentId": agent, "title": format!("job {i}")})).collect();
        let (status, body) = create_batch(&app, &user.token, Value::Array(tasks)).await;
        assert_eq!(status, 201);
        ids.extend(body["data"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_owned()));
    }
    let workers = (0..8).map(|_| async {
        let mut mine = Vec::new();
        loop {
            let batch = claim(&app, &user.token, 25).await;
            if batch.is_empty() {
                return mine;
            }
            let items: Vec<Value> =
                batch.iter().map(|t| json!({"id": t["id"], "leaseToken": t["leaseToken"]})).collect();
            let done: Value =
                app.post("/api/tasks/complete", Some(&user.token), json!({"tasks": items})).await.json().await.unwrap();
            assert!(done["data"].as_array().unwrap().iter().all(|o| o["ok"] == true), "{done}");
            mine.extend(batch.iter().map(|t| t["id"].as_str().unwrap().to_owned()));
        }
    });
    let taken: Vec<String> = join_all(workers).await.into_iter().flatten().collect();
    let unique: HashSet<String> = taken.iter().cloned().collect();
    assert_eq!(unique.len(), taken.len(), "a task was handed out twice");
    assert_eq!(unique, ids);
    let completed = app.get_json("/api/tasks?status=completed&limit=1", &user.token).await;
    assert_eq!(completed["pagination"]["total"], 600);
}
