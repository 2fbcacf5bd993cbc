//! `Idempotency-Key` on POST: replay, mismatch, in flight, and concurrent duplicates.

mod common;

use chrono::{Duration, Utc};
use common::{PASSWORD, TestApp, User, assert_error};
use futures::future::join_all;
use reqwest::{Method, Response};
use serde_json::{Value, json};
use talon_server::http::idempotency::fingerprint;
use talon_store::Backend;

on_both_databases!(
    replay_returns_the_stored_response,
    same_key_with_another_body_is_422,
    same_key_while_in_flight_is_409,
    concurrent_duplicates_run_once,
    keys_are_scoped_to_the_account,
    anonymous_posts_are_idempotent_too,
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
        .reserve_idempotency_key(&user.id, "busy", &print, now, now - Duration::hours(24), now - Duration::minutes(5))
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

async fn anonymous_posts_are_idempotent_too(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = json!({"email": "new@example.com", "password": PASSWORD});
    let send = || {
        app.request(Method::POST, "/api/auth/register", None).header("idempotency-key", "signup-1").json(&body).send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 201);
    let again = send().await.unwrap();
    assert_eq!(again.status(), 201, "replayed, not 409 for a duplicate email");
    assert_eq!(again.headers()["idempotent-replayed"], "true");
}

async fn malformed_key_is_400(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("alice@example.com").await;
    let body = json!({"name": "k", "scopes": ["chat"]});
    assert_error(post_with_key(&app, &user, &"x".repeat(256), &body).await, 400, "BAD_REQUEST").await;
    assert_eq!(key_count(&app, &user).await, 0);
}
