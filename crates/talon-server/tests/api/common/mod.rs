//! `TestApp`: a real Talon server on 127.0.0.1:0 over a throwaway database, and helpers to drive it.
#![allow(dead_code)]

use std::net::SocketAddr;

use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::{Value, json};
use talon_server::limits::Plans;
use talon_server::{AppState, ServerConfig};
use talon_store::Backend;
use talon_store::testing::TestDatabase;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub mod logs;
pub mod receiver;

pub const PASSWORD: &str = "correct horse battery staple";
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// Runs each listed test function against SQLite and against PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(talon_store::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(talon_store::Backend::Postgres).await } )*
        }
    };
}

pub struct TestApp {
    pub base: String,
    pub addr: SocketAddr,
    pub client: Client,
    db: Option<TestDatabase>,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

/// A registered account and its session token.
pub struct User {
    pub id: String,
    pub email: String,
    pub token: String,
}

pub fn test_config() -> ServerConfig {
    let mut config = ServerConfig::new(b"test-secret-test-secret-test-secret-0123".to_vec(), [42; 32]);
    // Receivers in tests listen on loopback, and retries come quickly.
    config.webhooks.allow_private = true;
    config.webhooks.retry_schedule = vec![std::time::Duration::from_millis(200); 3];
    config.webhooks.timeout = std::time::Duration::from_secs(5);
    config.webhooks.poll_every = std::time::Duration::from_millis(20);
    // Every test client signs in from 127.0.0.1; the sign-in limits have tests of their own.
    config.auth_limits.login_per_address_per_minute = 1_000_000;
    config.auth_limits.login_per_email_per_minute = 1_000_000;
    config.auth_limits.register_per_address_per_hour = 1_000_000;
    // Bursts of hundreds of requests on a debug build keep Redis's answers waiting in this process
    // longer than the production budget; the outage tests set their own.
    config.redis_timeout = std::time::Duration::from_secs(2);
    // Tests register accounts in bursts; a debug build hashes slowly, so they may wait their turn.
    config.auth_limits.password_hash_wait_ms = 60_000;
    // Versions may name `local/<model>`; nothing listens there, so only tests that never call it use it.
    config.providers = vec![talon_gateway::ProviderConfig {
        name: "local".into(),
        kind: talon_gateway::ProviderKind::Openai,
        base_url: "http://127.0.0.1:9/v1".into(),
        api_key_env: None,
    }];
    config
}

/// `test_config` plus the mock upstream at `base` as provider `up` (models `up/ok`, `up/fail-500`, …).
pub fn config_with_upstream(base: &str) -> ServerConfig {
    let mut config = test_config();
    config.providers.push(talon_gateway::ProviderConfig {
        name: "up".into(),
        kind: talon_gateway::ProviderKind::Openai,
        base_url: base.to_owned(),
        api_key_env: None,
    });
    config
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, test_config()).await
    }

    pub async fn spawn_with(backend: Backend, config: ServerConfig) -> Self {
        let db = TestDatabase::new(backend).await.expect("test database (is PostgreSQL running?)");
        Self::start(db, config).await
    }

    /// A server over an existing database (a second replica, or a restart).
    pub async fn start(db: TestDatabase, config: ServerConfig) -> Self {
        let state = AppState::new(db.store.clone(), config).await.expect("app state (is Redis running?)");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(talon_server::serve(listener, state.clone(), async {
            let _ = rx.await;
        }));
        Self {
            base: format!("http://{addr}"),
            addr,
            client: Client::builder().pool_max_idle_per_host(64).build().unwrap(),
            db: Some(db),
            state,
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn request(&self, method: Method, path: &str, bearer: Option<&str>) -> RequestBuilder {
        let builder = self.client.request(method, self.url(path));
        match bearer {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    pub async fn get(&self, path: &str, bearer: &str) -> Response {
        self.request(Method::GET, path, Some(bearer)).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, bearer: Option<&str>, body: Value) -> Response {
        self.request(Method::POST, path, bearer).json(&body).send().await.unwrap()
    }

    pub async fn delete(&self, path: &str, bearer: &str) -> Response {
        self.request(Method::DELETE, path, Some(bearer)).send().await.unwrap()
    }

    /// Registers an account and signs in to it.
    pub async fn register(&self, email: &str) -> User {
        let credentials = json!({"email": email, "password": PASSWORD});
        let response = self.post("/api/auth/register", None, credentials.clone()).await;
        assert_eq!(response.status(), 202, "register {email}");
        let response = self.post("/api/auth/login", None, credentials).await;
        assert_eq!(response.status(), 200, "login {email}");
        let body: Value = response.json().await.unwrap();
        User {
            id: body["user"]["id"].as_str().unwrap().to_owned(),
            email: email.to_owned(),
            token: body["token"].as_str().unwrap().to_owned(),
        }
    }

    /// Creates an API key with these scopes and returns its secret.
    pub async fn api_key(&self, user: &User, scopes: &[&str]) -> String {
        let response =
            self.post("/api/api-keys", Some(&user.token), json!({"name": "test key", "scopes": scopes})).await;
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        body["key"].as_str().unwrap().to_owned()
    }

    /// Stops the server, waiting for in-flight requests, and returns its database for reuse.
    pub async fn stop(mut self) -> TestDatabase {
        self.shutdown_now().await;
        self.db.take().expect("database")
    }

    pub fn db(&self) -> &TestDatabase {
        self.db.as_ref().expect("database")
    }

    async fn shutdown_now(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Asserts the error envelope: status, code, and a request id that matches the header.
pub async fn assert_error(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status(), status, "status");
    let header_id = response.headers().get("x-request-id").expect("X-Request-Id").to_str().unwrap().to_owned();
    let body: Value = response.json().await.expect("JSON error body");
    let error = &body["error"];
    assert_eq!(error["code"], code, "{body}");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert!(error["details"].is_array(), "{body}");
    assert_eq!(error["requestId"], header_id.as_str(), "{body}");
    body
}

pub fn plans(key_per_minute: u64, account_per_day: u64) -> Plans {
    plans_with(talon_server::limits::Plan {
        key_requests_per_minute: key_per_minute,
        account_requests_per_day: account_per_day,
        ..Default::default()
    })
}

/// The default plan replaced by `plan`.
pub fn plans_with(plan: talon_server::limits::Plan) -> Plans {
    Plans::new([("default".to_owned(), plan)].into())
}

/// A Redis namespace no other test or run shares.
pub fn redis_namespace() -> String {
    format!("talon-test-{}", uuid::Uuid::now_v7().simple())
}

/// Rate-limit windows are aligned to the clock; a test that counts within one minute waits out the
/// last seconds of a minute so its requests cannot straddle two windows.
pub async fn wait_for_fresh_minute() {
    let into_minute = chrono::Utc::now().timestamp() % 60;
    if into_minute >= 55 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - into_minute) as u64)).await;
    }
}

/// The spec's "Create Agent" example body.
pub fn code_review_agent() -> Value {
    json!({
        "name": "Code Review Agent",
        "description": "Reviews pull requests",
        "prompt": "You are an expert code reviewer...",
        "tools": [{"name": "github_api", "description": "GitHub API access", "parameters": {"repo": "string", "pr_number": "number"}}],
        "config": {"temperature": 0.3, "maxTokens": 4000}
    })
}

impl TestApp {
    pub async fn patch(&self, path: &str, bearer: &str, body: Value) -> Response {
        self.request(Method::PATCH, path, Some(bearer)).json(&body).send().await.unwrap()
    }

    /// Creates an agent and returns its JSON (asserting 201).
    pub async fn create_agent(&self, bearer: &str, body: Value) -> Value {
        let response = self.post("/api/agents", Some(bearer), body).await;
        let status = response.status();
        let json: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "{json}");
        json
    }

    /// Registers `you@example.com` and creates the spec's example agent for it: the user and the agent's id.
    pub async fn user_with_agent(&self) -> (User, String) {
        let user = self.register("you@example.com").await;
        let agent = self.create_agent(&user.token, code_review_agent()).await;
        (user, agent["id"].as_str().unwrap().to_owned())
    }

    /// Polls the task at `path` until it reaches `status` (the lease sweeper runs every second), for at
    /// most 10 s; returns it as last read.
    pub async fn wait_for_task_status(&self, path: &str, token: &str, status: &str) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let task = self.get_json(path, token).await;
            if task["status"] == status || std::time::Instant::now() > deadline {
                return task;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Creates a task and returns its JSON (asserting 201).
    pub async fn create_task(&self, bearer: &str, body: Value) -> Value {
        let response = self.post("/api/tasks", Some(bearer), body).await;
        let status = response.status();
        let json: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "{json}");
        json
    }

    /// Drops the accounts table (and API keys) under the running server, so the next authenticated
    /// request fails inside the store: how tests reach a 500.
    pub async fn break_database(&self, backend: Backend) {
        use sqlx::Connection;
        match backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.db().url).await.unwrap();
                sqlx::query("DROP TABLE api_keys").execute(&mut conn).await.unwrap();
                sqlx::query("DROP TABLE users").execute(&mut conn).await.unwrap();
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.db().url).await.unwrap();
                sqlx::query("DROP TABLE users CASCADE").execute(&mut conn).await.unwrap();
            }
        }
    }

    /// Posts a new version and returns (status, JSON).
    pub async fn new_version(&self, bearer: &str, agent: &str, body: Value) -> (u16, Value) {
        let response = self.post(&format!("/api/agents/{agent}/versions"), Some(bearer), body).await;
        (response.status().as_u16(), response.json().await.unwrap())
    }

    pub async fn get_json(&self, path: &str, bearer: &str) -> Value {
        let response = self.get(path, bearer).await;
        let status = response.status();
        let json: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "GET {path}: {json}");
        json
    }
}
