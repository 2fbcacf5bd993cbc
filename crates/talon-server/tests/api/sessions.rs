//! Sessions end: logout ends one, "revoke all" ends every one issued before, on every replica; and
//! registration does not tell who already has an account.

use crate::common::{PASSWORD, TestApp, assert_error};
use reqwest::Method;
use serde_json::{Value, json};
use talon_store::Backend;
use talon_store::testing::TestDatabase;

on_both_databases!(
    logout_ends_that_session_only,
    logout_with_an_api_key_is_refused,
    revoke_all_ends_every_older_session,
    revocation_holds_on_another_replica_at_once,
    registering_a_taken_email_answers_like_a_new_one,
);

async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.post("/api/auth/login", None, json!({"email": email, "password": password})).await
}

async fn session(app: &TestApp, email: &str) -> String {
    let response = login(app, email, PASSWORD).await;
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned()
}

async fn end(app: &TestApp, path: &str, bearer: &str) -> u16 {
    app.request(Method::POST, path, Some(bearer)).send().await.unwrap().status().as_u16()
}

async fn me(app: &TestApp, bearer: &str) -> u16 {
    app.get("/api/auth/me", bearer).await.status().as_u16()
}

async fn logout_ends_that_session_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("alice@example.com").await;
    let laptop = session(&app, &user.email).await;
    let phone = session(&app, &user.email).await;

    assert_eq!(end(&app, "/api/auth/logout", &laptop).await, 204);
    assert_error(app.get("/api/auth/me", &laptop).await, 401, "UNAUTHORIZED").await;
    assert_eq!(end(&app, "/api/auth/logout", &laptop).await, 401, "an ended session cannot log out again");
    assert_eq!(me(&app, &phone).await, 200, "the other session stands");
    assert_eq!(me(&app, &user.token).await, 200);
    let anonymous = app.request(Method::POST, "/api/auth/logout", None).send().await.unwrap();
    assert_error(anonymous, 401, "UNAUTHORIZED").await;
}

async fn logout_with_an_api_key_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("alice@example.com").await;
    let key = app.api_key(&user, &["agents:read"]).await;
    let body =
        assert_error(app.request(Method::POST, "/api/auth/logout", Some(&key)).send().await.unwrap(), 403, "FORBIDDEN")
            .await;
    assert!(body["error"]["message"].as_str().unwrap().contains("/api/api-keys"), "{body}");
    let revoke_all = app.request(Method::POST, "/api/auth/sessions/revoke-all", Some(&key)).send().await.unwrap();
    assert_error(revoke_all, 403, "FORBIDDEN").await;
    assert_eq!(me(&app, &key).await, 200, "the key still works");
    assert_eq!(me(&app, &user.token).await, 200, "and so does the session");
}

async fn revoke_all_ends_every_older_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("alice@example.com").await;
    let other = app.register("bob@example.com").await;
    let laptop = session(&app, &user.email).await;
    let phone = session(&app, &user.email).await;
    let key = app.api_key(&user, &["agents:read"]).await;

    assert_eq!(end(&app, "/api/auth/sessions/revoke-all", &laptop).await, 204);
    for token in [&laptop, &phone, &user.token] {
        assert_error(app.get("/api/auth/me", token).await, 401, "UNAUTHORIZED").await;
    }
    assert_eq!(me(&app, &key).await, 200, "API keys are not sessions");
    assert_eq!(me(&app, &other.token).await, 200, "another account's sessions stand");

    let fresh = session(&app, &user.email).await;
    assert_eq!(me(&app, &fresh).await, 200, "a new sign-in works at once");
    let listed = app.get("/api/api-keys", &fresh).await;
    assert_eq!(listed.status(), 200);
}

async fn revocation_holds_on_another_replica_at_once(backend: Backend) {
    let first = TestApp::spawn(backend).await;
    let second = TestApp::start(TestDatabase::open(&first.db().url).await.unwrap(), crate::common::test_config()).await;
    let user = first.register("alice@example.com").await;
    let other = session(&first, &user.email).await;
    assert_eq!(me(&second, &user.token).await, 200);

    assert_eq!(end(&first, "/api/auth/logout", &user.token).await, 204);
    assert_eq!(me(&second, &user.token).await, 401, "logged out on one replica, refused on the other");
    assert_eq!(me(&second, &other).await, 200);
    assert_eq!(end(&second, "/api/auth/sessions/revoke-all", &other).await, 204);
    assert_eq!(me(&first, &other).await, 401);
}

async fn registering_a_taken_email_answers_like_a_new_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let register = |email: &'static str, password: &'static str| {
        app.post("/api/auth/register", None, json!({"email": email, "password": password}))
    };
    let new = register("alice@example.com", PASSWORD).await;
    let new_status = new.status();
    let new_body: Value = new.json().await.unwrap();
    // The same address (compared case-insensitively), by someone who does not know its password.
    let taken = register("ALICE@example.com", "another password entirely").await;
    assert_eq!(taken.status(), new_status, "the same status");
    let taken_body: Value = taken.json().await.unwrap();
    let fields = |body: &Value| body.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(fields(&taken_body), fields(&new_body), "the same shape: {new_body} / {taken_body}");
    assert_eq!(taken_body, new_body, "the same answer");
    assert!(!taken_body.to_string().contains("eyJ"), "no session token for the existing account: {taken_body}");
    assert!(taken_body.get("token").is_none());

    assert_eq!(login(&app, "alice@example.com", PASSWORD).await.status(), 200, "the owner's password stands");
    assert_error(login(&app, "alice@example.com", "another password entirely").await, 401, "UNAUTHORIZED").await;
}
