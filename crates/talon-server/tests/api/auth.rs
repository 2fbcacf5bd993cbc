//! Accounts and sessions: register, login, me.

use crate::common::{PASSWORD, TestApp, assert_error};
use reqwest::Method;
use serde_json::{Value, json};
use talon_store::Backend;

on_both_databases!(
    quick_start_register_login_me,
    bad_credentials_are_401_without_saying_which,
    invalid_input_is_400_with_field_details,
    bad_session_tokens_are_401,
);

async fn quick_start_register_login_me(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = json!({"email": "you@example.com", "password": "your-secure-password"});
    let registered = app.post("/api/auth/register", None, body.clone()).await;
    assert_eq!(registered.status(), 202);
    let registered: Value = registered.json().await.unwrap();
    assert_eq!(registered["email"], "you@example.com");
    assert!(registered.get("token").is_none(), "the session comes from login");

    let login = app.post("/api/auth/login", None, body).await;
    assert_eq!(login.status(), 200);
    let login: Value = login.json().await.unwrap();
    assert_eq!(login["user"]["email"], "you@example.com");
    assert!(login["user"]["id"].as_str().unwrap().starts_with("user_"));
    let token = login["token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3, "a JWT");

    let me = app.get("/api/auth/me", token).await;
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["id"], login["user"]["id"]);
    assert_eq!(me["email"], "you@example.com");
    assert_eq!(me["plan"], "default");
}

async fn bad_credentials_are_401_without_saying_which(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("alice@example.com").await;
    let wrong_password =
        app.post("/api/auth/login", None, json!({"email": "alice@example.com", "password": "not the password"})).await;
    let a = assert_error(wrong_password, 401, "UNAUTHORIZED").await;
    let unknown_email =
        app.post("/api/auth/login", None, json!({"email": "nobody@example.com", "password": PASSWORD})).await;
    let b = assert_error(unknown_email, 401, "UNAUTHORIZED").await;
    assert_eq!(a["error"]["message"], b["error"]["message"]);
}

async fn invalid_input_is_400_with_field_details(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let weak = app.post("/api/auth/register", None, json!({"email": "not-an-email", "password": "short"})).await;
    let body = assert_error(weak, 400, "VALIDATION_ERROR").await;
    let fields: Vec<&str> =
        body["error"]["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["email", "password"]);

    let missing = app.post("/api/auth/register", None, json!({})).await;
    let body = assert_error(missing, 400, "VALIDATION_ERROR").await;
    assert_eq!(body["error"]["details"][0]["message"], "Required field missing");

    let wrong_type = app.post("/api/auth/register", None, json!({"email": 5, "password": PASSWORD})).await;
    let body = assert_error(wrong_type, 400, "VALIDATION_ERROR").await;
    assert_eq!(body["error"]["details"][0]["field"], "email");

    let malformed = app
        .request(Method::POST, "/api/auth/register", None)
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_error(malformed, 400, "BAD_REQUEST").await;

    let not_json = app
        .request(Method::POST, "/api/auth/login", None)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_error(not_json, 415, "UNSUPPORTED_MEDIA_TYPE").await;
}

async fn bad_session_tokens_are_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("alice@example.com").await;
    let anonymous = app.request(Method::GET, "/api/auth/me", None).send().await.unwrap();
    assert_error(anonymous, 401, "UNAUTHORIZED").await;
    assert_error(app.get("/api/auth/me", "not-a-jwt").await, 401, "UNAUTHORIZED").await;

    // Signed with another server's secret.
    let other = TestApp::spawn_with(backend, {
        let mut config = crate::common::test_config();
        config.jwt_secret = b"another-secret-another-secret-another".to_vec();
        config
    })
    .await;
    let foreign = other.register("alice@example.com").await;
    assert_error(app.get("/api/auth/me", &foreign.token).await, 401, "UNAUTHORIZED").await;

    let basic =
        app.request(Method::GET, "/api/auth/me", None).header("authorization", "Basic abc").send().await.unwrap();
    assert_error(basic, 401, "UNAUTHORIZED").await;
    assert_eq!(app.get("/api/auth/me", &user.token).await.status(), 200);
}
