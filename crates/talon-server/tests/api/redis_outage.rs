//! A Redis outage costs requests no more than the limiter's budget: with Redis killed (connections
//! refused) or stopped (connections open, no answers), requests are served promptly with in-process
//! limits, `/readyz` stays 200 and says Redis is degraded, the fallback is counted in `/metrics`, and
//! once Redis is back the replicas share their limits again. A server started while Redis is down
//! starts and serves.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::{TestApp, redis_namespace, test_config};
use serde_json::{Value, json};
use talon_store::Backend;
use talon_store::testing::TestDatabase;

on_both_databases!(
    requests_are_served_with_in_process_limits_while_redis_is_killed,
    requests_are_served_promptly_while_redis_is_stopped,
    a_server_started_while_redis_is_down_starts_and_serves,
);

/// Generous: an outage must not hold a request anywhere near this long.
const PROMPTLY: Duration = Duration::from_secs(5);

/// A `redis-server` of the test's own on a free port.
struct RedisProcess {
    port: u16,
    child: Child,
}

impl RedisProcess {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Self::start_on(port).await
    }

    async fn start_on(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        let process = Self { port, child };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return process;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start on port {port}");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: connections are refused from now on.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([signal, &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill").args(["-CONT", &self.child.id().to_string()]).status();
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn config(url: &str, namespace: &str) -> talon_server::ServerConfig {
    let mut config = test_config();
    config.redis_url = Some(url.to_owned());
    config.redis_namespace = namespace.to_owned();
    config.redis_timeout = talon_server::limits::DEFAULT_LIMITER_BUDGET;
    config
}

async fn reopen(app: &TestApp) -> TestDatabase {
    TestDatabase::open(&app.db().url).await.unwrap()
}

/// `GET /api/auth/me` within `PROMPTLY`; returns the status and `X-RateLimit-Remaining`.
async fn me(app: &TestApp, key: &str) -> (u16, Option<u64>) {
    let response = tokio::time::timeout(PROMPTLY, app.get("/api/auth/me", key)).await.expect("answered promptly");
    let remaining =
        response.headers().get("x-ratelimit-remaining").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    (response.status().as_u16(), remaining)
}

async fn readiness(app: &TestApp) -> Value {
    let response = tokio::time::timeout(PROMPTLY, app.client.get(app.url("/readyz")).send())
        .await
        .expect("answered promptly")
        .unwrap();
    assert_eq!(response.status(), 200, "a Redis outage does not take the server out of rotation");
    response.json().await.unwrap()
}

/// While limits come from the fallback, each request is served and still limited (the headers are
/// there); the fallback is counted.
async fn assert_served_in_process(app: &TestApp, key: &str) {
    for _ in 0..5 {
        let (status, remaining) = me(app, key).await;
        assert_eq!(status, 200);
        assert!(remaining.is_some(), "still limited, in this process");
    }
    assert_eq!(readiness(app).await["redis"], "degraded");
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("talon_limiter_fallback_total"), "{metrics}");
    assert!(metrics.contains("talon_redis_errors_total"), "{metrics}");
}

/// Once Redis answers again, a request on one replica counts against the other's budget too. Polled:
/// the connection comes back within moments, not at once, and a minute may turn over meanwhile.
async fn assert_limits_shared_again(first: &TestApp, second: &TestApp, key: &str) {
    for _ in 0..100 {
        let (_, on_first) = me(first, key).await;
        let (_, on_second) = me(second, key).await;
        if let (Some(a), Some(b)) = (on_first, on_second)
            && b + 1 == a
        {
            assert_eq!(readiness(first).await["redis"], "ok");
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the replicas never shared a budget again after Redis came back");
}

async fn two_replicas(backend: Backend, redis: &RedisProcess) -> (TestApp, TestApp, String) {
    let namespace = redis_namespace();
    let first = TestApp::spawn_with(backend, config(&redis.url(), &namespace)).await;
    let second = TestApp::start(reopen(&first).await, config(&redis.url(), &namespace)).await;
    let user = first.register("alice@example.com").await;
    let key = first.api_key(&user, &["agents:read", "agents:write", "chat"]).await;
    assert_limits_shared_again(&first, &second, &key).await;
    (first, second, key)
}

async fn requests_are_served_with_in_process_limits_while_redis_is_killed(backend: Backend) {
    let mut redis = RedisProcess::start().await;
    let (first, second, key) = two_replicas(backend, &redis).await;

    redis.kill();
    assert_served_in_process(&first, &key).await;

    let _back = RedisProcess::start_on(redis.port).await;
    assert_limits_shared_again(&first, &second, &key).await;
}

async fn requests_are_served_promptly_while_redis_is_stopped(backend: Backend) {
    let redis = RedisProcess::start().await;
    let (first, second, key) = two_replicas(backend, &redis).await;
    let agent =
        first.create_agent(&key, json!({"name": "Echo", "prompt": "p", "model": {"primary": "test/echo"}})).await;
    let id = agent["id"].as_str().unwrap().to_owned();
    assert_eq!(first.patch(&format!("/api/agents/{id}"), &key, json!({"apiAccess": true})).await.status(), 200);
    assert_eq!(first.post(&format!("/api/agents/{id}/deploy"), Some(&key), json!({})).await.status(), 200);

    // SIGSTOP: the connection stays open and nothing answers, as with a hung or black-holed server.
    redis.signal("-STOP");
    assert_served_in_process(&first, &key).await;
    // Chat takes a rate-limit place and a concurrency permit, both from the fallback now.
    let path = format!("/api/v1/bot/{id}/chat");
    let chat = first.post(&path, Some(&key), json!({"messages": [{"role": "user", "content": "hello"}]}));
    let chat = tokio::time::timeout(PROMPTLY, chat).await.expect("answered promptly");
    assert_eq!(chat.status(), 200);

    redis.signal("-CONT");
    assert_limits_shared_again(&first, &second, &key).await;
}

async fn a_server_started_while_redis_is_down_starts_and_serves(backend: Backend) {
    // Nothing listens on this port: connections are refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let refused = format!("redis://127.0.0.1:{port}");
    let app = tokio::time::timeout(PROMPTLY, TestApp::spawn_with(backend, config(&refused, &redis_namespace())))
        .await
        .expect("started promptly");
    let user = app.register("alice@example.com").await;
    let (status, remaining) = me(&app, &user.token).await;
    assert_eq!((status, remaining.is_some()), (200, true));
    assert_eq!(readiness(&app).await["redis"], "degraded");

    // A stopped Redis accepts the connection and never answers.
    let stopped = RedisProcess::start().await;
    stopped.signal("-STOP");
    let second = tokio::time::timeout(PROMPTLY, TestApp::start(reopen(&app).await, config(&stopped.url(), "x")))
        .await
        .expect("started promptly");
    let (status, _) = me(&second, &user.token).await;
    assert_eq!(status, 200);
}
