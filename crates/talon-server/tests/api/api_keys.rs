//! API keys: create, list, use, revoke, and every way a presented key can be bad.

use crate::common::{TestApp, assert_error};
use chrono::{Duration, Utc};
use serde_json::{Value, json};
use talon_domain::{ApiKey, ApiKeyId, ApiKeySecret, Scope, UserId};
use talon_store::Backend;

on_both_databases!(
    create_list_use_revoke,
    key_is_shown_once_and_stored_hashed,
    revoked_expired_malformed_and_bad_checksum_keys_are_401,
    api_keys_cannot_manage_keys,
    another_accounts_key_is_404,
    invalid_key_requests_are_400,
    last_used_at_is_recorded,
);

async fn create_list_use_revoke(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("alice@example.com").await;
    let body =
        json!({"name": "Production API Key", "scopes": ["agents:read", "agents:write", "tasks:read", "tasks:write"]});
    let created = app.post("/api/api-keys", Some(&user.token), body).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let key = created["key"].as_str().unwrap();
    assert!(created["id"].as_str().unwrap().starts_with("key_"));
    assert!(key.starts_with(created["keyPrefix"].as_str().unwrap()));
    assert_eq!(created["name"], "Production API Key");
    assert_eq!(created["scopes"], json!(["agents:read", "agents:write", "tasks:read", "tasks:write"]));

    let me = app.get("/api/auth/me", key).await;
    assert_eq!(me.status(), 200);
    assert_eq!(me.json::<Value>().await.unwrap()["id"], user.id.as_str());

    let listed: Value = app.get("/api/api-keys", &user.token).await.json().await.unwrap();
    let entry = &listed["data"][0];
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    for field in ["id", "keyPrefix", "name", "scopes", "lastUsedAt", "createdAt"] {
        assert!(entry.get(field).is_some(), "missing {field} in {entry}");
    }
    assert!(entry.get("key").is_none(), "the secret is never listed");

    let id = created["id"].as_str().unwrap();
    let revoked = app.delete(&format!("/api/api-keys/{id}"), &user.token).await;
    assert_eq!(revoked.status(), 204);
    assert_error(app.get("/api/auth/me", key).await, 401, "UNAUTHORIZED").await;
    let listed: Value = app.get("/api/api-keys", &user.token).await.json().await.unwrap();
    assert_eq!(listed["data"], json!([]));
    assert_error(app.delete(&format!("/api/api-keys/{id}"), &user.token).await, 404, "NOT_FOUND").await;
}

async fn key_is_shown_once_and_stored_hashed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("alice@example.com").await;
    let key = app.api_key(&user, &["agents:read"]).await;
    let secret = ApiKeySecret::parse(&key).expect("well-formed key");
    let found = app.db().store.api_key_by_hash(&secret.hash()).await.unwrap().expect("stored by hash");
    assert_eq!(found.key.key_prefix, secret.display_prefix());
    let listed = app.get("/api/api-keys", &user.token).await.text().await.unwrap();
    assert!(!listed.contains(&key));
}

async fn revoked_expired_malformed_and_bad_checksum_keys_are_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("alice@example.com").await;

    // Expired: stored directly, since the API refuses an expiry in the past.
    let secret = ApiKeySecret::generate();
    let expired = ApiKey {
        id: ApiKeyId::new(),
        user_id: UserId::parse(&user.id).unwrap(),
        name: "old".into(),
        key_prefix: secret.display_prefix(),
        scopes: vec![Scope::AgentsRead],
        agent_id: None,
        expires_at: Some(Utc::now() - Duration::minutes(1)),
        last_used_at: None,
        created_at: Utc::now() - Duration::days(1),
        revoked_at: None,
    };
    app.db().store.insert_api_key(&expired, &secret.hash(), &[]).await.unwrap();
    let body = assert_error(app.get("/api/auth/me", secret.expose()).await, 401, "UNAUTHORIZED").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("expired"));

    // Well-formed but unknown.
    let unknown = ApiKeySecret::generate();
    assert_error(app.get("/api/auth/me", unknown.expose()).await, 401, "UNAUTHORIZED").await;

    // Bad checksum: one character changed.
    let key = app.api_key(&user, &["agents:read"]).await;
    let mut chars: Vec<char> = key.chars().collect();
    chars[8] = if chars[8] == 'x' { 'y' } else { 'x' };
    let typo: String = chars.into_iter().collect();
    let body = assert_error(app.get("/api/auth/me", &typo).await, 401, "UNAUTHORIZED").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("checksum"));

    // Malformed: truncated.
    let body = assert_error(app.get("/api/auth/me", &key[..20]).await, 401, "UNAUTHORIZED").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("length"));
    assert_eq!(app.get("/api/auth/me", &key).await.status(), 200, "the real key still works");
}

async fn api_keys_cannot_manage_keys(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("alice@example.com").await;
    let key = app.api_key(&user, &["agents:read", "agents:write"]).await;
    let create = app.post("/api/api-keys", Some(&key), json!({"name": "k", "scopes": ["agents:read"]})).await;
    assert_error(create, 403, "FORBIDDEN").await;
    assert_error(app.get("/api/api-keys", &key).await, 403, "FORBIDDEN").await;
    let listed: Value = app.get("/api/api-keys", &user.token).await.json().await.unwrap();
    let id = listed["data"][0]["id"].as_str().unwrap();
    assert_error(app.delete(&format!("/api/api-keys/{id}"), &key).await, 403, "FORBIDDEN").await;
    assert_eq!(app.get("/api/auth/me", &key).await.status(), 200, "still valid");
}

async fn another_accounts_key_is_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.register("alice@example.com").await;
    let bob = app.register("bob@example.com").await;
    let alice_key = app.api_key(&alice, &["agents:read"]).await;
    let listed: Value = app.get("/api/api-keys", &alice.token).await.json().await.unwrap();
    let id = listed["data"][0]["id"].as_str().unwrap();

    assert_error(app.delete(&format!("/api/api-keys/{id}"), &bob.token).await, 404, "NOT_FOUND").await;
    let bobs: Value = app.get("/api/api-keys", &bob.token).await.json().await.unwrap();
    assert_eq!(bobs["data"], json!([]), "Bob does not see Alice's keys");
    assert_eq!(app.get("/api/auth/me", &alice_key).await.status(), 200, "Alice's key survives");
    assert_error(app.delete("/api/api-keys/not-an-id", &bob.token).await, 404, "NOT_FOUND").await;
}

async fn invalid_key_requests_are_400(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("alice@example.com").await;
    let bad = app
        .post(
            "/api/api-keys",
            Some(&user.token),
            json!({"name": "", "scopes": ["agents:read", "everything"], "expiresAt": "2000-01-01T00:00:00Z"}),
        )
        .await;
    let body = assert_error(bad, 400, "VALIDATION_ERROR").await;
    let fields: Vec<&str> =
        body["error"]["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["name", "scopes[1]", "expiresAt"]);

    let bad_date = app
        .post("/api/api-keys", Some(&user.token), json!({"name": "k", "scopes": ["chat"], "expiresAt": "tomorrow"}))
        .await;
    let body = assert_error(bad_date, 400, "VALIDATION_ERROR").await;
    assert_eq!(body["error"]["details"][0]["field"], "expiresAt");
    let listed: Value = app.get("/api/api-keys", &user.token).await.json().await.unwrap();
    assert_eq!(listed["data"], json!([]), "nothing was created");
}

async fn last_used_at_is_recorded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("alice@example.com").await;
    let key = app.api_key(&user, &["agents:read"]).await;
    assert_eq!(app.get("/api/auth/me", &key).await.status(), 200);
    // The use is recorded off the request path; give it a moment.
    let mut last_used = Value::Null;
    for _ in 0..50 {
        let listed: Value = app.get("/api/api-keys", &user.token).await.json().await.unwrap();
        last_used = listed["data"][0]["lastUsedAt"].clone();
        if !last_used.is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(last_used.is_string(), "lastUsedAt set after use");
}
