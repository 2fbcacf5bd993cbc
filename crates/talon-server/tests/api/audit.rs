//! The audit log (`GET /api/audit`): an entry for every kind of write with the session or key that made
//! it, the filters, cursor pagination, isolation between accounts, scopes, and no secret in any entry.

use base64::Engine;
use serde_json::{Value, json};
use talon_store::Backend;

use crate::common::{TestApp, User, assert_error, code_review_agent};

on_both_databases!(
    every_write_kind_is_audited_with_its_actor,
    labels_and_splits_are_audited,
    filters_by_agent_actor_and_time,
    pages_by_cursor_newest_first,
    other_accounts_and_other_agents_stay_out_of_sight,
);

/// The public id of the session a token belongs to: `sess_` and its `sid`, without dashes.
fn session_id(token: &str) -> String {
    let claims = token.split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
    format!("sess_{}", claims["sid"].as_str().unwrap().replace('-', ""))
}

/// Creates an API key; its id and its secret.
async fn key(app: &TestApp, user: &User, body: Value) -> (String, String) {
    let response = app.post("/api/api-keys", Some(&user.token), body).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    (body["id"].as_str().unwrap().to_owned(), body["key"].as_str().unwrap().to_owned())
}

async fn ok(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    body
}

/// Every entry the query reads, newest first.
async fn audit(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let body = app.get_json(&format!("/api/audit?limit=100&{query}"), token).await;
    body["data"].as_array().unwrap().clone()
}

/// `(action, actor type, actor id, resource type)` of each entry, oldest first.
fn summary(entries: &[Value]) -> Vec<(String, String, String, String)> {
    entries
        .iter()
        .rev()
        .map(|e| {
            let text = |v: &Value| v.as_str().unwrap_or("-").to_owned();
            (text(&e["action"]), text(&e["actor"]["type"]), text(&e["actor"]["id"]), text(&e["resource"]["type"]))
        })
        .collect()
}

async fn every_write_kind_is_audited_with_its_actor(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let session = session_id(&user.token);
    let (key_id, secret) = key(&app, &user, json!({"name": "ci", "scopes": ["agents:read", "agents:write"]})).await;

    let agent = app.create_agent(&user.token, code_review_agent()).await;
    let id = agent["id"].as_str().unwrap();
    let path = format!("/api/agents/{id}");
    ok(app.patch(&path, &secret, json!({"name": "Reviewer"})).await).await;
    let (status, _) = app.new_version(&secret, id, json!({"prompt": "Be brief."})).await;
    assert_eq!(status, 201);
    ok(app.post(&format!("{path}/rollback"), Some(&user.token), json!({"version": 1})).await).await;
    ok(app.post(&format!("{path}/deploy"), Some(&secret), json!({})).await).await;
    ok(app.post(&format!("{path}/stop"), Some(&secret), json!({})).await).await;
    let fork = ok(app
        .post(&format!("{path}/fork"), Some(&user.token), json!({"forkType": "exact_clone", "name": "Copy"}))
        .await)
    .await;
    let fork_id = fork["id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/api/agents/{fork_id}"), &user.token).await.status(), 204);

    let hook = ok(app
        .post("/api/webhooks", Some(&user.token), json!({"url": "http://127.0.0.1:9/hook", "events": ["*"]}))
        .await)
    .await;
    let hook_path = format!("/api/webhooks/{}", hook["id"].as_str().unwrap());
    ok(app.patch(&hook_path, &user.token, json!({"active": false})).await).await;
    let rotated = ok(app.post(&format!("{hook_path}/rotate-secret"), Some(&user.token), json!({})).await).await;
    assert_eq!(app.delete(&hook_path, &user.token).await.status(), 204);
    let (doomed, doomed_secret) = key(&app, &user, json!({"name": "doomed", "scopes": ["tasks:read"]})).await;
    assert_eq!(app.delete(&format!("/api/api-keys/{doomed}"), &user.token).await.status(), 204);

    let response = app.get("/api/audit?limit=100", &user.token).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    for secret in
        [secret.as_str(), &doomed_secret, hook["secret"].as_str().unwrap(), rotated["secret"].as_str().unwrap()]
    {
        assert!(!text.contains(secret), "a secret in the audit log: {text}");
    }
    assert!(!text.contains("127.0.0.1:9"), "a webhook's URL in the audit log");
    assert!(!text.contains("expert code reviewer"), "a prompt in the audit log");
    let entries: Value = serde_json::from_str(&text).unwrap();
    let entries = entries["data"].as_array().unwrap();
    let s = |a: &str, kind: &str, who: &str, resource: &str| (a.into(), kind.into(), who.into(), resource.into());
    let by_session = |a: &str, resource: &str| s(a, "session", &session, resource);
    let by_key = |a: &str, resource: &str| s(a, "apiKey", &key_id, resource);
    assert_eq!(
        summary(entries),
        vec![
            by_session("api_key.created", "api_key"),
            by_session("agent.created", "agent"),
            by_session("version.created", "version"),
            by_key("agent.updated", "agent"),
            by_key("version.created", "version"),
            by_session("version.rolled_back", "version"),
            by_key("agent.deployed", "agent"),
            by_key("agent.stopped", "agent"),
            by_session("agent.created", "agent"),
            by_session("version.created", "version"),
            by_session("agent.forked", "agent"),
            by_session("agent.deleted", "agent"),
            by_session("webhook.created", "webhook"),
            by_session("webhook.updated", "webhook"),
            by_session("webhook.secret_rotated", "webhook"),
            by_session("webhook.deleted", "webhook"),
            by_session("api_key.created", "api_key"),
            by_session("api_key.revoked", "api_key"),
        ]
    );
    // Each entry names its resource, its agent and a little detail.
    let find = |action: &str| entries.iter().find(|e| e["action"] == action).unwrap();
    let deployed = find("agent.deployed");
    assert_eq!((deployed["resource"]["id"].as_str(), deployed["agentId"].as_str()), (Some(id), Some(id)));
    assert!(deployed["detail"]["deployedVersionId"].is_string());
    let rolled_back = find("version.rolled_back");
    assert_eq!(rolled_back["detail"]["rolledBackToNumber"], 1);
    assert_eq!(rolled_back["detail"]["versionNumber"], 3);
    assert_eq!(rolled_back["agentId"], id);
    assert_eq!(find("agent.forked")["detail"]["forkId"], fork_id);
    assert_eq!(find("agent.deleted")["resource"]["id"], fork_id);
    assert_eq!(find("webhook.updated")["detail"]["changed"], json!(["active"]));
    assert_eq!(find("api_key.revoked")["resource"]["id"], doomed);
    for entry in entries {
        assert!(entry["id"].as_str().unwrap().starts_with("aud_") && entry["at"].is_string(), "{entry}");
    }
}

async fn labels_and_splits_are_audited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, id) = app.user_with_agent().await;
    let first = app.get_json(&format!("/api/agents/{id}"), &user.token).await["currentVersionId"].clone();
    let (_, second) = app.new_version(&user.token, &id, json!({"prompt": "Be brief."})).await;
    let label = format!("/api/agents/{id}/labels/production");
    let request = |version: &Value| {
        app.request(reqwest::Method::PUT, &label, Some(&user.token)).json(&json!({"versionId": version})).send()
    };
    ok(request(&first).await.unwrap()).await;
    ok(request(&second["id"]).await.unwrap()).await;
    assert_eq!(app.delete(&label, &user.token).await.status(), 204);

    let entries = audit(&app, &user.token, &format!("agentId={id}")).await;
    let labels: Vec<&Value> = entries.iter().filter(|e| e["resource"]["type"] == "label").collect();
    let actions: Vec<&str> = labels.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["agent.label_deleted", "agent.label_moved", "agent.label_moved"]);
    assert!(labels.iter().all(|e| e["resource"]["id"] == "production" && e["agentId"] == id.as_str()));
    assert_eq!(labels[1]["detail"]["previousVersionId"], first);
    assert_eq!(labels[1]["detail"]["versionId"], second["id"]);
    assert_eq!(labels[2]["detail"]["previousVersionId"], Value::Null);
    assert!(labels.iter().all(|e| e["actor"]["type"] == "session"), "{labels:?}");

    // A canary split and its abort are deployments, recorded with their arms.
    let split = json!({"split": [{"versionId": first, "weight": 90}, {"versionId": second["id"], "weight": 10}]});
    ok(app.post(&format!("/api/agents/{id}/deploy"), Some(&user.token), split).await).await;
    ok(app.post(&format!("/api/agents/{id}/deploy/abort"), Some(&user.token), json!({})).await).await;
    let entries = audit(&app, &user.token, &format!("agentId={id}")).await;
    let (aborted, split) = (&entries[0], &entries[1]);
    assert_eq!(
        (aborted["action"].as_str(), split["action"].as_str()),
        (Some("agent.deployed"), Some("agent.deployed"))
    );
    let weights: Vec<&Value> = split["detail"]["split"].as_array().unwrap().iter().map(|arm| &arm["weight"]).collect();
    assert_eq!(weights, [90, 10]);
    assert_eq!(aborted["detail"]["split"], Value::Null);
    assert_eq!(split["actor"]["id"], session_id(&user.token));
}

async fn filters_by_agent_actor_and_time(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let (key_id, secret) = key(&app, &user, json!({"name": "ci", "scopes": ["agents:read", "agents:write"]})).await;
    let one = app.create_agent(&user.token, json!({"name": "One", "prompt": "p"})).await;
    let one = one["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let between = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let two = app.create_agent(&secret, json!({"name": "Two", "prompt": "p"})).await;
    let two = two["id"].as_str().unwrap().to_owned();
    ok(app.post(&format!("/api/agents/{two}/deploy"), Some(&secret), json!({})).await).await;

    let agents =
        |entries: &[Value]| entries.iter().map(|e| e["agentId"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    let of_two = audit(&app, &user.token, &format!("agentId={two}")).await;
    assert_eq!(agents(&of_two), [two.as_str(); 3]);
    assert_eq!(audit(&app, &user.token, "agentId=two").await, of_two, "by slug too");
    let by_key = audit(&app, &user.token, &format!("actor={key_id}")).await;
    assert_eq!(
        summary(&by_key).iter().map(|s| s.0.as_str()).collect::<Vec<_>>(),
        ["agent.created", "version.created", "agent.deployed"]
    );
    let by_session = audit(&app, &user.token, &format!("actor={}", session_id(&user.token))).await;
    assert_eq!(by_session.len(), 3, "the key's creation and agent One's two entries");
    assert!(audit(&app, &user.token, "actor=system").await.is_empty());

    let at = between.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let after = audit(&app, &user.token, &format!("from={at}")).await;
    assert_eq!(agents(&after), [two.as_str(); 3]);
    let before = audit(&app, &user.token, &format!("to={at}")).await;
    assert_eq!(before.len(), 3);
    assert!(before.iter().all(|e| e["agentId"].is_null() || e["agentId"] == one.as_str()));
    assert!(audit(&app, &user.token, &format!("from={at}&to={at}")).await.is_empty(), "an empty period");

    // An agent's history outlives it, read by its id.
    assert_eq!(app.delete(&format!("/api/agents/{one}"), &user.token).await.status(), 204);
    let of_one = audit(&app, &user.token, &format!("agentId={one}")).await;
    assert_eq!(
        summary(&of_one).iter().map(|s| s.0.as_str()).collect::<Vec<_>>(),
        ["agent.created", "version.created", "agent.deleted"]
    );

    for (query, field) in [
        ("actor=someone", "actor"),
        ("from=yesterday", "from"),
        ("to=2026-13-01", "to"),
        ("startingAfter=x", "startingAfter"),
    ] {
        let body =
            assert_error(app.get(&format!("/api/audit?{query}"), &user.token).await, 400, "VALIDATION_ERROR").await;
        assert_eq!(body["error"]["details"][0]["field"], field, "{query}: {body}");
    }
}

async fn pages_by_cursor_newest_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    for n in 0..4 {
        app.create_agent(&user.token, json!({"name": format!("Agent {n}"), "prompt": "p"})).await;
    }
    let all = audit(&app, &user.token, "").await;
    assert_eq!(all.len(), 8);
    let ids: Vec<&str> = all.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted, "newest first");

    let mut read = Vec::new();
    let mut query = "/api/audit?limit=3".to_owned();
    loop {
        let page = app.get_json(&query, &user.token).await;
        assert_eq!(page["pagination"]["total"], 8);
        read.extend(page["data"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()));
        match page["pagination"]["nextCursor"].as_str() {
            Some(cursor) => query = format!("/api/audit?limit=3&startingAfter={cursor}"),
            None => break,
        }
    }
    assert_eq!(read, ids);
    let back = app.get_json(&format!("/api/audit?limit=2&endingBefore={}", ids[4]), &user.token).await;
    let back: Vec<&str> = back["data"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(back, &ids[2..4]);
}

async fn other_accounts_and_other_agents_stay_out_of_sight(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, mine) = app.user_with_agent().await;
    let other = app.create_agent(&alice.token, json!({"name": "Other", "prompt": "p"})).await;
    let other = other["id"].as_str().unwrap().to_owned();
    let bob = app.register("bob@example.com").await;
    let bobs = app.create_agent(&bob.token, json!({"name": "Bobs", "prompt": "p", "public": true})).await;
    let bobs = bobs["id"].as_str().unwrap().to_owned();

    let of_bob = audit(&app, &bob.token, "").await;
    assert_eq!(of_bob.len(), 2);
    assert!(of_bob.iter().all(|e| e["agentId"] == bobs.as_str()));
    assert!(audit(&app, &alice.token, &format!("agentId={bobs}")).await.is_empty(), "another account's agent id");
    assert_error(app.get("/api/audit?agentId=bobs", &alice.token).await, 404, "NOT_FOUND").await;
    assert!(audit(&app, &alice.token, "").await.iter().all(|e| e["agentId"] != bobs.as_str()));

    // Alice forks Bob's public agent: Bob's log records it without naming who.
    ok(app.post(&format!("/api/agents/{bobs}/fork"), Some(&alice.token), json!({"forkType": "exact_clone"})).await)
        .await;
    let forked = audit(&app, &bob.token, "").await;
    assert_eq!(forked[0]["action"], "agent.forked");
    assert_eq!(forked[0]["actor"], json!({"type": "otherAccount", "id": null}));
    assert!(!serde_json::to_string(&forked).unwrap().contains(&session_id(&alice.token)));

    let no_scope = app.api_key(&alice, &["tasks:read"]).await;
    assert_error(app.get("/api/audit", &no_scope).await, 403, "FORBIDDEN").await;
    let (_, restricted) =
        key(&app, &alice, json!({"name": "one agent", "scopes": ["agents:read"], "agentId": mine})).await;
    let seen = audit(&app, &restricted, "").await;
    assert!(!seen.is_empty() && seen.iter().all(|e| e["agentId"] == mine.as_str()), "{seen:?}");
    assert_error(app.get(&format!("/api/audit?agentId={other}"), &restricted).await, 404, "NOT_FOUND").await;
}
