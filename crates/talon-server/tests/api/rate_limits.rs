//! Rate limits: headers, exact admission under concurrency, in-process and shared through Redis.

use crate::common::{REDIS_URL, TestApp, assert_error, plans, redis_namespace, test_config, wait_for_fresh_minute};
use futures::future::join_all;
use reqwest::Method;
use talon_store::Backend;
use talon_store::testing::TestDatabase;

on_both_databases!(
    headers_count_down_on_authenticated_responses,
    exactly_100_of_300_concurrent_requests_pass_in_process,
    exactly_100_of_300_concurrent_requests_pass_across_two_replicas_with_redis,
    the_account_budget_spans_its_keys,
);

async fn headers_count_down_on_authenticated_responses(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("alice@example.com").await;
    let key = app.api_key(&user, &["agents:read"]).await;
    wait_for_fresh_minute().await;
    let now = chrono::Utc::now().timestamp() as u64;
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let response = app.get("/api/auth/me", &key).await;
        let headers = response.headers();
        assert_eq!(headers["x-ratelimit-limit"], "100");
        let reset: u64 = headers["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
        assert!(reset > now && reset <= now + 61, "reset {reset} within the minute");
        remaining.push(headers["x-ratelimit-remaining"].to_str().unwrap().parse::<u64>().unwrap());
    }
    assert_eq!(remaining, [99, 98, 97]);
    let anonymous = app.request(Method::GET, "/healthz", None).send().await.unwrap();
    assert!(anonymous.headers().get("x-ratelimit-limit").is_none());
}

/// Fires `count` requests at once and returns (admitted, refused).
async fn burst(apps: &[&TestApp], key: &str, count: usize) -> (usize, usize) {
    let requests = (0..count).map(|i| {
        let app = apps[i % apps.len()];
        async move { app.get("/api/auth/me", key).await }
    });
    let responses = join_all(requests).await;
    let mut admitted = 0;
    let mut refused = 0;
    for response in responses {
        match response.status().as_u16() {
            200 => admitted += 1,
            429 => {
                assert!(response.headers().get("retry-after").is_some());
                assert_error(response, 429, "RATE_LIMITED").await;
                refused += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    (admitted, refused)
}

async fn exactly_100_of_300_concurrent_requests_pass_in_process(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("alice@example.com").await;
    let key = app.api_key(&user, &["agents:read"]).await;
    wait_for_fresh_minute().await;
    assert_eq!(burst(&[&app], &key, 300).await, (100, 200));
}

async fn exactly_100_of_300_concurrent_requests_pass_across_two_replicas_with_redis(backend: Backend) {
    let namespace = redis_namespace();
    let config = || {
        let mut config = test_config();
        config.redis_url = Some(REDIS_URL.to_owned());
        config.redis_namespace = namespace.clone();
        config
    };
    let first = TestApp::spawn_with(backend, config()).await;
    let second_db = reopen(&first).await;
    let second = TestApp::start(second_db, config()).await;
    let user = first.register("alice@example.com").await;
    let key = first.api_key(&user, &["agents:read"]).await;
    wait_for_fresh_minute().await;
    assert_eq!(burst(&[&first, &second], &key, 300).await, (100, 200));
}

/// A second handle on the same database, as another replica would open it.
async fn reopen(app: &TestApp) -> TestDatabase {
    TestDatabase::open(&app.db().url).await.unwrap()
}

async fn the_account_budget_spans_its_keys(backend: Backend) {
    let mut config = test_config();
    config.plans = plans(1000, 5);
    let app = TestApp::spawn_with(backend, config).await;
    let user = app.register("alice@example.com").await;
    let one = app.api_key(&user, &["agents:read"]).await;
    let two = app.api_key(&user, &["agents:read"]).await;
    // Creating the two keys spent 2 of the day's 5.
    let (a, _) = burst(&[&app], &one, 2).await;
    let (b, _) = burst(&[&app], &two, 3).await;
    assert_eq!(a + b, 3);
    let refused = app.get("/api/auth/me", &two).await;
    assert_eq!(refused.headers()["x-ratelimit-limit"], "5");
    assert_error(refused, 429, "RATE_LIMITED").await;
}
