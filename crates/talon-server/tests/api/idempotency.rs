//! `Idempotency-Key` on POST: replay, mismatch, in flight, and concurrent duplicates.

use crate::common::{PASSWORD, TestApp, User, assert_error};
use chrono::{Duration, Utc};
use futures::future::join_all;
use reqwest::{Method, Response};
use serde_json::{Value, json};
use talon_server::api::middleware::idempotency::fingerprint;
use talon_store::Backend;

on_both_databases!(
    replay_returns_the_stored_response,
    same_key_with_another_body_is_422,
    same_key_while_in_flight_is_409,
    concurrent_duplicates_run_once,
    keys_are_scoped_to_the_account,
    a_replay_is_only_for_the_credential_that_made_the_request,
    stored_responses_hold_no_secret_in_clear,
    unauthenticated_posts_are_never_recorded,
    malformed_key_is_400,
);

async fn post_with_key(app: &TestApp, user: &User, key: &str, body: &Value) -> Response {
    app.request(Method::POST, "/api/api-keys", Some(&user.token))
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The idempotency scope of a session: its `sid`, read from the token.
fn session_scope(token: &str) -> String {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    format!("session:{}", claims["sid"].as_str().unwrap().replace('-', ""))
}

async fn key_count(app: &TestApp, user: &User) -> usize {
    let listed: Value = app.get("/api/api-keys", &user.token).await.json().await.unwrap();
    listed["data"].as_array().unwrap().len()
}

async fn replay_returns_the_stored_response(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("alice@example.com").await;
    let body = json!({"name": "deploy", "scopes": ["agents:write"]});
    let first = post_with_key(&app, &user, "create-deploy-key", &body).await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_body = first.text().await.unwrap();

    let replay = post_with_key(&app, &user, "create-deploy-key", &body).await;
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert!(replay.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    assert_eq!(replay.text().await.unwrap(), first_body, "byte-for-byte the first response");
    assert_eq!(key_count(&app, &user).await, 1, "the work ran once");
}

async fn same_key_with_another_body_is_422(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("alice@example.com").await;
    post_with_key(&app, &user, "k1", &json!({"name": "a", "scopes": ["chat"]})).await;
    let other = post_with_key(&app, &user, "k1", &json!({"name": "b", "scopes": ["chat"]})).await;
    assert_error(other, 422, "IDEMPOTENCY_KEY_REUSED").await;
    assert_eq!(key_count(&app, &user).await, 1);
}

async fn same_key_while_in_flight_is_409(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("alice@example.com").await;
    let body = json!({"name": "a", "scopes": ["chat"]});
    // Another replica is running this very request right now: its reservation is in the database.
    let now = Utc::now();
    let print = fingerprint(&Method::POST, "/api/api-keys", &serde_json::to_vec(&body).unwrap().into());
    let reserved = app
        .db()
        .store
        .reserve_idempotency_key(
            &session_scope(&user.token),
            "busy",
            &print,
            now,
            now - Duration::hours(24),
            now - Duration::minutes(5),
        )
        .await
        .unwrap();
    assert_eq!(reserved, talon_store::Reservation::Reserved);

    let response = post_with_key(&app, &user, "busy", &body).await;
    assert_error(response, 409, "CONFLICT").await;
    assert_eq!(key_count(&app, &user).await, 0, "nothing ran");
}

async fn concurrent_duplicates_run_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("alice@example.com").await;
    let body = json!({"name": "once", "scopes": ["chat"]});
    let responses = join_all((0..12).map(|_| post_with_key(&app, &user, "same", &body))).await;
    let mut created_ids = Vec::new();
    for response in responses {
        match response.status().as_u16() {
            201 => {
                let body: Value = response.json().await.unwrap();
                created_ids.push(body["id"].as_str().unwrap().to_owned());
            }
            409 => {
                assert_error(response, 409, "CONFLICT").await;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(!created_ids.is_empty());
    assert!(created_ids.windows(2).all(|w| w[0] == w[1]), "every 201 is the same key: {created_ids:?}");
    assert_eq!(key_count(&app, &user).await, 1);
}

async fn keys_are_scoped_to_the_account(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.register("alice@example.com").await;
    let bob = app.register("bob@example.com").await;
    let body = json!({"name": "k", "scopes": ["chat"]});
    assert_eq!(post_with_key(&app, &alice, "shared-name", &body).await.status(), 201);
    let bobs = post_with_key(&app, &bob, "shared-name", &body).await;
    assert_eq!(bobs.status(), 201);
    assert!(bobs.headers().get("idempotent-replayed").is_none(), "Bob never sees Alice's response");
    assert_eq!(key_count(&app, &bob).await, 1);
}

async fn a_replay_is_only_for_the_credential_that_made_the_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("alice@example.com").await;
    let chat_key = app.api_key(&user, &["chat"]).await;
    let body = json!({"name": "admin", "scopes": ["agents:write", "webhooks:write"]});
    let first = post_with_key(&app, &user, "new-admin-key", &body).await;
    assert_eq!(first.status(), 201);

    // A chat-only key replays the session's Idempotency-Key: it is not given the new key.
    let replayed = app
        .request(Method::POST, "/api/api-keys", Some(&chat_key))
        .header("idempotency-key", "new-admin-key")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(replayed.headers().get("idempotent-replayed").is_none());
    let refused = assert_error(replayed, 403, "FORBIDDEN").await;
    assert!(!refused.to_string().contains("tln_"), "{refused}");

    // Another session of the same account has its own records: the request runs for it.
    let login = app.post("/api/auth/login", None, json!({"email": user.email, "password": PASSWORD})).await;
    let other_session = login.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let other = app
        .request(Method::POST, "/api/api-keys", Some(&other_session))
        .header("idempotency-key", "new-admin-key")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 201);
    assert!(other.headers().get("idempotent-replayed").is_none());
    assert_eq!(key_count(&app, &user).await, 3, "the chat key, and one admin key per session");
}

/// Every stored response body, read straight from the database.
async fn stored_bodies(app: &TestApp, backend: Backend) -> Vec<Vec<u8>> {
    use sqlx::Connection;
    let query = "SELECT response_body FROM idempotency_keys WHERE response_body IS NOT NULL";
    match backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&app.db().url).await.unwrap();
            sqlx::query_scalar(query).fetch_all(&mut conn).await.unwrap()
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&app.db().url).await.unwrap();
            sqlx::query_scalar(query).fetch_all(&mut conn).await.unwrap()
        }
    }
}

async fn stored_responses_hold_no_secret_in_clear(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("alice@example.com").await;
    let send = |path: &'static str, body: Value| {
        app.request(Method::POST, path, Some(&user.token))
            .header("idempotency-key", format!("once-{path}"))
            .json(&body)
            .send()
    };
    let key_body = json!({"name": "deploy", "scopes": ["agents:write"]});
    let hook_body = json!({"url": "http://127.0.0.1:9/hook", "events": ["task.completed"]});
    let key = send("/api/api-keys", key_body.clone()).await.unwrap();
    assert_eq!(key.status(), 201);
    let key = key.text().await.unwrap();
    assert!(key.contains("tln_"));
    let hook = send("/api/webhooks", hook_body.clone()).await.unwrap();
    assert_eq!(hook.status(), 201);
    let hook = hook.text().await.unwrap();
    assert!(hook.contains("whsec_"));

    let stored = stored_bodies(&app, backend).await;
    assert_eq!(stored.len(), 2, "both answers are kept for replay");
    for body in &stored {
        for secret in [&b"tln_"[..], b"whsec_", b"deploy"] {
            assert!(
                !body.windows(secret.len()).any(|w| w == secret),
                "stored in clear: {}",
                String::from_utf8_lossy(body)
            );
        }
    }

    for (path, body, original) in [("/api/api-keys", key_body, key), ("/api/webhooks", hook_body, hook)] {
        let replay = send(path, body).await.unwrap();
        assert_eq!(replay.status(), 201);
        assert_eq!(replay.headers()["idempotent-replayed"], "true");
        assert_eq!(replay.text().await.unwrap(), original, "the original answer, opened");
    }
}

async fn unauthenticated_posts_are_never_recorded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("new@example.com").await;
    let body = json!({"email": "new@example.com", "password": PASSWORD});
    let send =
        || app.request(Method::POST, "/api/auth/login", None).header("idempotency-key", "login-1").json(&body).send();
    let first = send().await.unwrap();
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    let again = send().await.unwrap();
    assert_eq!(again.status(), 200);
    assert!(again.headers().get("idempotent-replayed").is_none(), "a login is never replayed");
    let again: Value = again.json().await.unwrap();
    assert_ne!(first["token"], again["token"], "each login is its own session");
    assert!(stored_bodies(&app, backend).await.is_empty(), "no session token is kept");
}

async fn malformed_key_is_400(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("alice@example.com").await;
    let body = json!({"name": "k", "scopes": ["chat"]});
    assert_error(post_with_key(&app, &user, &"x".repeat(256), &body).await, 400, "BAD_REQUEST").await;
    assert_eq!(key_count(&app, &user).await, 0);
}
