//! An API key restricted to one agent sees and changes only that agent: no webhooks, no new agents or
//! forks, no sibling in its lineage or compare, and no other agent's tasks, usage or listing.

use crate::common::{TestApp, User, assert_error};
use reqwest::Method;
use serde_json::{Value, json};
use talon_store::Backend;

on_both_databases!(
    restricted_keys_are_refused_on_every_webhook_endpoint,
    restricted_key_lineage_and_compare_stay_on_its_agent,
    restricted_key_creates_no_agents,
    restricted_key_reaches_no_other_agents_tasks_or_usage,
);

const ALL_SCOPES: [&str; 6] =
    ["agents:read", "agents:write", "tasks:read", "tasks:write", "webhooks:read", "webhooks:write"];

async fn restricted_key(app: &TestApp, user: &User, agent: &str) -> String {
    let created = app
        .post("/api/api-keys", Some(&user.token), json!({"name": "one agent", "scopes": ALL_SCOPES, "agentId": agent}))
        .await;
    assert_eq!(created.status(), 201);
    created.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_owned()
}

async fn id_of(app: &TestApp, response: reqwest::Response) -> Value {
    let _ = app;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    body
}

async fn restricted_keys_are_refused_on_every_webhook_endpoint(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let agent = app.create_agent(&user.token, json!({"name": "mine", "prompt": "p"})).await;
    let key = restricted_key(&app, &user, agent["id"].as_str().unwrap()).await;
    let hook = app
        .post(
            "/api/webhooks",
            Some(&user.token),
            json!({"url": "http://127.0.0.1:9/hook", "events": ["task.completed"]}),
        )
        .await;
    let hook = id_of(&app, hook).await;
    let hook_path = format!("/api/webhooks/{}", hook["id"].as_str().unwrap());
    let calls = [
        (Method::POST, "/api/webhooks".to_owned(), json!({"url": "http://127.0.0.1:9/x", "events": ["*"]})),
        (Method::GET, "/api/webhooks".to_owned(), Value::Null),
        (Method::GET, hook_path.clone(), Value::Null),
        (Method::PATCH, hook_path.clone(), json!({"url": "http://127.0.0.1:9/mine"})),
        (Method::DELETE, hook_path.clone(), Value::Null),
        (Method::POST, format!("{hook_path}/rotate-secret"), json!({})),
        (Method::GET, format!("{hook_path}/deliveries"), Value::Null),
        (Method::POST, format!("{hook_path}/deliveries/dlv_0/redeliver"), json!({})),
        (Method::POST, format!("{hook_path}/test"), json!({})),
    ];
    for (method, path, body) in calls {
        let mut request = app.request(method.clone(), &path, Some(&key));
        if !body.is_null() {
            request = request.json(&body);
        }
        let refused = assert_error(request.send().await.unwrap(), 403, "FORBIDDEN").await;
        assert!(refused["error"]["message"].as_str().unwrap().contains("restricted to one agent"), "{method} {path}");
    }
    let hooks = app.get_json("/api/webhooks", &user.token).await;
    assert_eq!(hooks["data"].as_array().unwrap().len(), 1, "nothing created");
    let unchanged = app.get_json(&hook_path, &user.token).await;
    assert_eq!(unchanged["url"], "http://127.0.0.1:9/hook");
}

async fn restricted_key_lineage_and_compare_stay_on_its_agent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let parent = app.create_agent(&user.token, json!({"name": "parent", "prompt": "parent prompt"})).await;
    let pid = parent["id"].as_str().unwrap();
    let fork = |name: &'static str, prompt: &'static str| {
        let (app, token) = (&app, user.token.clone());
        async move {
            let body = json!({"forkType": "prompt_mutation", "name": name, "prompt": prompt});
            id_of(app, app.post(&format!("/api/agents/{pid}/fork"), Some(&token), body).await).await
        }
    };
    let mine = fork("mine", "my prompt").await;
    let sibling = fork("sibling", "the sibling's secret prompt").await;
    let mine_id = mine["id"].as_str().unwrap();
    let (_, second) = app.new_version(&user.token, mine_id, json!({"prompt": "my prompt, v2"})).await;
    let key = restricted_key(&app, &user, mine_id).await;

    // Lineage: its own node alone, no parent and no sibling.
    let lineage = app.get_json(&format!("/api/agents/{mine_id}/lineage"), &key).await;
    assert_eq!(lineage["root"]["id"], mine_id);
    assert_eq!(lineage["root"]["children"], json!([]));
    assert!(!lineage.to_string().contains(sibling["id"].as_str().unwrap()));
    assert!(!lineage.to_string().contains(pid));

    // Compare: its own versions only.
    let own_v1 = mine["currentVersionId"].as_str().unwrap();
    let own_v2 = second["id"].as_str().unwrap();
    let ok = app.get_json(&format!("/api/agents/{mine_id}/versions/compare?from={own_v1}&to={own_v2}"), &key).await;
    assert_eq!(ok["to"]["id"], own_v2);
    for other in [sibling["currentVersionId"].as_str().unwrap(), parent["currentVersionId"].as_str().unwrap()] {
        let path = format!("/api/agents/{mine_id}/versions/compare?from={own_v1}&to={other}");
        let body = assert_error(app.get(&path, &key).await, 404, "NOT_FOUND").await;
        assert!(!body.to_string().contains("secret"));
    }
    // The session still sees the whole family.
    let whole = app.get_json(&format!("/api/agents/{mine_id}/lineage"), &user.token).await;
    assert_eq!(whole["root"]["id"], pid);
    assert_eq!(whole["root"]["children"].as_array().unwrap().len(), 2);
}

async fn restricted_key_creates_no_agents(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let agent = app.create_agent(&user.token, json!({"name": "mine", "prompt": "p"})).await;
    let id = agent["id"].as_str().unwrap();
    let key = restricted_key(&app, &user, id).await;
    let created = app.post("/api/agents", Some(&key), json!({"name": "new", "prompt": "p"})).await;
    let body = assert_error(created, 403, "FORBIDDEN").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("restricted to one agent"));
    let forked = app.post(&format!("/api/agents/{id}/fork"), Some(&key), json!({"forkType": "exact_clone"})).await;
    assert_error(forked, 403, "FORBIDDEN").await;
    assert_eq!(app.get_json("/api/agents", &user.token).await["pagination"]["total"], 1, "nothing created");
    // Its own agent stays in reach for writes.
    let renamed = app.patch(&format!("/api/agents/{id}"), &key, json!({"description": "still mine"})).await;
    assert_eq!(renamed.status(), 200);
}

async fn restricted_key_reaches_no_other_agents_tasks_or_usage(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let mine = app.create_agent(&user.token, json!({"name": "mine", "prompt": "p"})).await;
    let other = app.create_agent(&user.token, json!({"name": "other", "prompt": "p"})).await;
    let (mine_id, other_id) = (mine["id"].as_str().unwrap(), other["id"].as_str().unwrap());
    for id in [mine_id, other_id] {
        assert_eq!(app.post(&format!("/api/agents/{id}/deploy"), Some(&user.token), json!({})).await.status(), 200);
    }
    let key = restricted_key(&app, &user, mine_id).await;
    let task = |agent: &str, title: &str| json!({"agentId": agent, "title": title, "executor": "external"});
    let my_task = id_of(&app, app.post("/api/tasks", Some(&key), task(mine_id, "mine")).await).await;
    let theirs = id_of(&app, app.post("/api/tasks", Some(&user.token), task(other_id, "theirs")).await).await;
    let their_path = format!("/api/tasks/{}", theirs["id"].as_str().unwrap());

    // Listings: its agent only, on both surfaces.
    assert_eq!(app.get_json("/api/agents", &key).await["pagination"]["total"], 1);
    let deployed = app.get_json("/api/v1/agents", &key).await;
    assert_eq!((deployed["total"].as_i64(), deployed["agents"][0]["name"].as_str()), (Some(1), Some("mine")));

    // Tasks: creating, listing, reading, changing and claiming another agent's work all miss.
    let refused = app.post("/api/tasks", Some(&key), task(other_id, "sneaky")).await;
    assert_error(refused, 404, "NOT_FOUND").await;
    let list = app.get_json("/api/tasks", &key).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["id"], my_task["id"]);
    for reference in [other_id, "other"] {
        assert_error(app.get(&format!("/api/tasks?agentId={reference}"), &key).await, 404, "NOT_FOUND").await;
    }
    assert_error(app.get(&their_path, &key).await, 404, "NOT_FOUND").await;
    assert_error(app.patch(&their_path, &key, json!({"output": {"x": 1}})).await, 404, "NOT_FOUND").await;
    assert_error(app.post(&format!("{their_path}/cancel"), Some(&key), json!({})).await, 404, "NOT_FOUND").await;
    let claim_other = app.post("/api/tasks/claim", Some(&key), json!({"agentId": other_id})).await;
    assert_error(claim_other, 404, "NOT_FOUND").await;
    let claimed = id_of(&app, app.post("/api/tasks/claim", Some(&key), json!({"limit": 10})).await).await;
    let claimed: Vec<&Value> = claimed["data"].as_array().unwrap().iter().map(|t| &t["id"]).collect();
    assert_eq!(claimed, [&my_task["id"]]);
    assert_eq!(app.get_json(&their_path, &user.token).await["status"], "queued", "untouched");

    // Usage: its own agent's only.
    assert_eq!(app.get(&format!("/api/agents/{mine_id}/usage"), &key).await.status(), 200);
    assert_error(app.get(&format!("/api/agents/{other_id}/usage"), &key).await, 404, "NOT_FOUND").await;
}
