//! The endpoints anyone may call are bounded: sign-in attempts per email and per client address,
//! registrations per client address (429 `RATE_LIMITED` with `Retry-After`), and passwords hashed at
//! once (503 `SERVICE_UNAVAILABLE` rather than an unbounded queue). `X-Forwarded-For` names the client
//! only when the proxy is trusted.

use crate::common::{PASSWORD, TestApp, assert_error, test_config, wait_for_fresh_minute};
use futures::future::join_all;
use serde_json::json;
use talon_server::ServerConfig;
use talon_store::Backend;

on_both_databases!(
    the_login_after_the_email_budget_is_429_with_retry_after,
    a_spoofed_forwarded_for_is_ignored_unless_the_proxy_is_trusted,
    the_forwarded_client_is_limited_when_the_proxy_is_trusted,
    registrations_are_limited_per_address,
    logins_beyond_the_hashing_cap_are_refused_rather_than_queued,
);

fn config(adjust: impl FnOnce(&mut ServerConfig)) -> ServerConfig {
    let mut config = test_config();
    adjust(&mut config);
    config
}

async fn login(app: &TestApp, email: &str, password: &str, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut request = app.client.post(app.url("/api/auth/login")).json(&json!({"email": email, "password": password}));
    if let Some(hop) = forwarded_for {
        request = request.header("x-forwarded-for", hop);
    }
    request.send().await.unwrap()
}

async fn assert_rate_limited(response: reqwest::Response) {
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry_after), "Retry-After {retry_after}");
    assert_error(response, 429, "RATE_LIMITED").await;
}

async fn the_login_after_the_email_budget_is_429_with_retry_after(backend: Backend) {
    let app = TestApp::spawn_with(backend, config(|c| c.auth_limits.login_per_email_per_minute = 3)).await;
    // Registered without the helper's sign-in, which would spend one of the email's three attempts.
    let registered =
        app.post("/api/auth/register", None, json!({"email": "alice@example.com", "password": PASSWORD})).await;
    assert_eq!(registered.status(), 202);
    wait_for_fresh_minute().await;
    for _ in 0..3 {
        assert_eq!(login(&app, "alice@example.com", "wrong password", None).await.status(), 401);
    }
    assert_rate_limited(login(&app, "Alice@Example.com", "wrong password", None).await).await;
    // Refused before the password is looked at: even the right one waits out the window.
    assert_rate_limited(login(&app, "alice@example.com", PASSWORD, None).await).await;
    // Other emails have budgets of their own.
    assert_eq!(login(&app, "bob@example.com", "wrong password", None).await.status(), 401);
}

async fn a_spoofed_forwarded_for_is_ignored_unless_the_proxy_is_trusted(backend: Backend) {
    let app = TestApp::spawn_with(backend, config(|c| c.auth_limits.login_per_address_per_minute = 3)).await;
    wait_for_fresh_minute().await;
    for i in 0..3 {
        let spoofed = format!("198.51.100.{i}");
        let response = login(&app, &format!("user{i}@example.com"), "wrong password", Some(&spoofed)).await;
        assert_eq!(response.status(), 401);
    }
    assert_rate_limited(login(&app, "user9@example.com", "wrong password", Some("198.51.100.200")).await).await;
}

async fn the_forwarded_client_is_limited_when_the_proxy_is_trusted(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        config(|c| {
            c.auth_limits.login_per_address_per_minute = 3;
            c.trust_proxy = true;
        }),
    )
    .await;
    wait_for_fresh_minute().await;
    // Every client behind the balancer has its own budget, though all arrive from one peer.
    for i in 0..6 {
        let client = format!("203.0.113.{i}");
        let response = login(&app, &format!("user{i}@example.com"), "wrong password", Some(&client)).await;
        assert_eq!(response.status(), 401);
    }
    // The balancer appends the client it saw; what the client claimed to its left is not trusted.
    for i in 0..3 {
        let hops = format!("10.9.9.{i}, 203.0.113.77");
        assert_eq!(login(&app, "carol@example.com", "wrong password", Some(&hops)).await.status(), 401);
    }
    assert_rate_limited(login(&app, "carol@example.com", "wrong password", Some("1.1.1.1, 203.0.113.77")).await).await;
}

async fn registrations_are_limited_per_address(backend: Backend) {
    let app = TestApp::spawn_with(backend, config(|c| c.auth_limits.register_per_address_per_hour = 2)).await;
    app.register("one@example.com").await;
    app.register("two@example.com").await;
    let third = app.post("/api/auth/register", None, json!({"email": "three@example.com", "password": PASSWORD})).await;
    assert_rate_limited(third).await;
    // Nothing was created: the refused email signs in to nothing.
    assert_eq!(login(&app, "three@example.com", PASSWORD, None).await.status(), 401);
}

async fn logins_beyond_the_hashing_cap_are_refused_rather_than_queued(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        config(|c| {
            c.auth_limits.concurrent_password_hashes = 1;
            c.auth_limits.password_hash_wait_ms = 1;
        }),
    )
    .await;
    app.register("alice@example.com").await;
    let attempts = join_all((0..24).map(|_| login(&app, "alice@example.com", "wrong password", None))).await;
    let mut refused = 0;
    let mut checked = 0;
    for response in attempts {
        match response.status().as_u16() {
            401 => checked += 1,
            503 => {
                assert_eq!(response.headers()["retry-after"], "1");
                assert_error(response, 503, "SERVICE_UNAVAILABLE").await;
                refused += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(checked >= 1, "one place hashes");
    assert!(refused >= 1, "callers beyond the cap are refused, not queued ({checked} checked)");
}
