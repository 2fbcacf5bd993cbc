//! API keys and agents are served from in-process caches on the chat and read paths; every change
//! that affects an entry takes effect on the very next request, on this replica at once and on
//! another replica within 100 ms (through the bus's cross-replica transport).

use std::time::{Duration, Instant};

use crate::common::{REDIS_URL, TestApp, User, assert_error, plans_with, redis_namespace, test_config};
use serde_json::{Value, json};
use talon_server::ServerConfig;
use talon_server::limits::{Plan, Plans};
use talon_store::Backend;
use talon_store::testing::TestDatabase;

on_both_databases!(
    a_revoked_key_is_refused_on_the_next_request,
    an_expired_key_is_refused_once_its_expiry_passes,
    a_stopped_agent_stops_answering_on_the_next_request,
    a_new_head_a_rename_and_api_access_show_on_the_next_request,
    a_deleted_agent_and_a_forked_parent_show_on_the_next_request,
    a_plan_change_applies_on_the_next_request,
    a_key_revoked_on_one_replica_is_refused_by_another_within_100_ms,
    an_agent_stopped_on_one_replica_stops_answering_on_another_within_100_ms,
);

fn ask(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hello"}]})
}

async fn chat(app: &TestApp, key: &str, model: &str) -> reqwest::Response {
    app.post("/v1/chat/completions", Some(key), ask(model)).await
}

/// Asserts an error in OpenAI's shape and returns it.
async fn openai_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    body
}

/// A deployed agent answering with the echo provider; returns its id.
async fn deployed(app: &TestApp, user: &User, name: &str) -> String {
    let agent = app.create_agent(&user.token, json!({"name": name, "prompt": "You help."})).await;
    let id = agent["id"].as_str().unwrap().to_owned();
    assert_eq!(app.post(&format!("/api/agents/{id}/deploy"), Some(&user.token), json!({})).await.status(), 200);
    id
}

/// Creates a key and returns its id and secret.
async fn key_with_id(app: &TestApp, user: &User, body: Value) -> (String, String) {
    let response = app.post("/api/api-keys", Some(&user.token), body).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    (body["id"].as_str().unwrap().to_owned(), body["key"].as_str().unwrap().to_owned())
}

async fn a_revoked_key_is_refused_on_the_next_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let (id, key) = key_with_id(&app, &user, json!({"name": "k", "scopes": ["agents:read", "chat"]})).await;
    // Used twice: the second use is served from the cache.
    for _ in 0..2 {
        assert_eq!(app.get("/api/agents", &key).await.status(), 200);
    }
    assert_eq!(app.delete(&format!("/api/api-keys/{id}"), &user.token).await.status(), 204);
    let refused = assert_error(app.get("/api/agents", &key).await, 401, "UNAUTHORIZED").await;
    assert!(refused["error"]["message"].as_str().unwrap().contains("revoked"), "{refused}");
}

async fn an_expired_key_is_refused_once_its_expiry_passes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let expires_at = chrono::Utc::now() + chrono::Duration::seconds(3);
    let (_, key) =
        key_with_id(&app, &user, json!({"name": "k", "scopes": ["agents:read"], "expiresAt": expires_at})).await;
    assert_eq!(app.get("/api/agents", &key).await.status(), 200);
    // Nothing invalidates an expiry: it is checked at each use of the cached key.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = app.get("/api/agents", &key).await.status();
        if status == 401 {
            assert!(chrono::Utc::now() >= expires_at, "refused before its expiry");
            break;
        }
        assert_eq!(status, 200);
        assert!(Instant::now() < deadline, "the expired key is still accepted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_stopped_agent_stops_answering_on_the_next_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let id = deployed(&app, &user, "Support Bot").await;
    let key = app.api_key(&user, &["chat"]).await;
    for model in ["support-bot", id.as_str(), "support-bot", id.as_str()] {
        assert_eq!(chat(&app, &key, model).await.status(), 200);
    }
    assert_eq!(app.post(&format!("/api/agents/{id}/stop"), Some(&user.token), json!({})).await.status(), 200);
    for model in ["support-bot", id.as_str()] {
        let refused = openai_error(chat(&app, &key, model).await, 404, "model_not_found").await;
        assert!(refused["error"]["message"].as_str().unwrap().contains("stopped"), "{refused}");
    }
    // Deployed again: it answers again at once.
    assert_eq!(app.post(&format!("/api/agents/{id}/deploy"), Some(&user.token), json!({})).await.status(), 200);
    assert_eq!(chat(&app, &key, "support-bot").await.status(), 200);
}

async fn a_new_head_a_rename_and_api_access_show_on_the_next_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let id = deployed(&app, &user, "Support Bot").await;
    let key = app.api_key(&user, &["chat", "agents:read"]).await;
    let path = format!("/api/agents/{id}");
    let bot = format!("/api/v1/bot/{id}/chat");
    let say = json!({"messages": [{"role": "user", "content": "hello"}]});
    for _ in 0..2 {
        assert_eq!(chat(&app, &key, "support-bot").await.headers()["x-talon-agent-version"], "1");
        assert_eq!(app.get(&path, &key).await.json::<Value>().await.unwrap()["currentVersion"]["versionNumber"], 1);
        assert_error(app.post(&bot, Some(&key), say.clone()).await, 403, "api_not_enabled").await;
    }
    let created = app.post(&format!("{path}/versions"), Some(&user.token), json!({"prompt": "You help more."})).await;
    assert_eq!(created.status(), 201);
    assert_eq!(chat(&app, &key, "support-bot").await.headers()["x-talon-agent-version"], "2");
    assert_eq!(app.get(&path, &key).await.json::<Value>().await.unwrap()["currentVersion"]["versionNumber"], 2);

    let renamed = app.patch(&path, &user.token, json!({"name": "Helper", "apiAccess": true})).await;
    assert_eq!(renamed.status(), 200);
    assert_eq!(app.get(&path, &key).await.json::<Value>().await.unwrap()["name"], "Helper");
    assert_eq!(app.post(&bot, Some(&key), say.clone()).await.status(), 200);
    assert_eq!(app.patch(&path, &user.token, json!({"apiAccess": false})).await.status(), 200);
    assert_error(app.post(&bot, Some(&key), say).await, 403, "api_not_enabled").await;
}

async fn a_deleted_agent_and_a_forked_parent_show_on_the_next_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let id = deployed(&app, &user, "Support Bot").await;
    let key = app.api_key(&user, &["chat", "agents:read"]).await;
    let path = format!("/api/agents/{id}");
    for _ in 0..2 {
        assert_eq!(app.get(&path, &key).await.json::<Value>().await.unwrap()["forkCount"], 0);
    }
    let fork = app.post(&format!("{path}/fork"), Some(&user.token), json!({"forkType": "exact_clone"})).await;
    let fork: Value = fork.json().await.unwrap();
    let fork_path = format!("/api/agents/{}", fork["id"].as_str().unwrap());
    assert_eq!(app.get(&path, &key).await.json::<Value>().await.unwrap()["forkCount"], 1);
    for _ in 0..2 {
        let read: Value = app.get(&fork_path, &key).await.json().await.unwrap();
        assert_eq!(read["parentAgent"]["id"], id.as_str(), "{read}");
    }
    assert_eq!(app.delete(&format!("{path}?force=true"), &user.token).await.status(), 204);
    assert_error(app.get(&path, &key).await, 404, "NOT_FOUND").await;
    openai_error(chat(&app, &key, "support-bot").await, 404, "model_not_found").await;
    let orphan: Value = app.get(&fork_path, &key).await.json().await.unwrap();
    assert_eq!(orphan["parentAgent"], Value::Null, "{orphan}");
    assert_eq!(orphan["currentVersion"]["parentVersionId"], Value::Null, "{orphan}");
}

async fn a_plan_change_applies_on_the_next_request(backend: Backend) {
    let mut config = test_config();
    let small = Plan { key_requests_per_minute: 50, ..Plan::default() };
    let large = Plan { key_requests_per_minute: 5000, ..Plan::default() };
    config.plans = Plans::new([("default".to_owned(), small), ("large".to_owned(), large)].into());
    let app = TestApp::spawn_with(backend, config).await;
    let user = app.register("you@example.com").await;
    let key = app.api_key(&user, &["agents:read"]).await;
    let limit = |response: &reqwest::Response| response.headers()["x-ratelimit-limit"].to_str().unwrap().to_owned();
    for _ in 0..2 {
        assert_eq!(limit(&app.get("/api/agents", &key).await), "50");
    }
    assert!(app.state.accounts.set_plan(&user.email, "large").await.unwrap().is_some());
    assert_eq!(limit(&app.get("/api/agents", &key).await), "5000");
}

/// A second replica over the first one's database, both with the bus's cross-replica transport: with
/// SQLite the replicas share Redis; with PostgreSQL they use its notifications.
async fn two_replicas(backend: Backend) -> (TestApp, TestApp) {
    let namespace = redis_namespace();
    let config = || -> ServerConfig {
        let mut config = test_config();
        config.plans = plans_with(Plan::default());
        if backend == Backend::Sqlite {
            config.redis_url = Some(REDIS_URL.to_owned());
            config.redis_namespace = namespace.clone();
        }
        config
    };
    let first = TestApp::spawn_with(backend, config()).await;
    let db = TestDatabase::open(&first.db().url).await.unwrap();
    let second = TestApp::start(db, config()).await;
    // Caches serve only while the bus hears the other replica: wait for that, or the test would pass
    // by reading everything from the database.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(first.state.bus.hears_other_replicas() && second.state.bus.hears_other_replicas()) {
        assert!(Instant::now() < deadline, "the replicas' buses never connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (first, second)
}

/// How long after `changed` (the change's answer on one replica) `refused` first holds on the other,
/// asked back to back; the change must be seen well before the caches' maximum age could hide a lost
/// message.
async fn time_until<F, Fut>(changed: Instant, refused: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = changed + Duration::from_secs(5);
    loop {
        if refused().await {
            return changed.elapsed();
        }
        assert!(Instant::now() < deadline, "the other replica still accepts it 5 s later");
    }
}

/// The bound is on the fastest of three rounds: a loaded machine can stall one round's requests, but
/// a replica that misses invalidations misses them in every round.
const ROUNDS: usize = 3;
const BOUND: Duration = Duration::from_millis(100);

async fn a_key_revoked_on_one_replica_is_refused_by_another_within_100_ms(backend: Backend) {
    let (first, second) = two_replicas(backend).await;
    let user = first.register("you@example.com").await;
    let mut fastest = Duration::MAX;
    for _ in 0..ROUNDS {
        let (id, key) = key_with_id(&first, &user, json!({"name": "k", "scopes": ["agents:read"]})).await;
        // Both replicas have the key cached.
        for app in [&first, &second, &first, &second] {
            assert_eq!(app.get("/api/agents", &key).await.status(), 200);
        }
        assert_eq!(first.delete(&format!("/api/api-keys/{id}"), &user.token).await.status(), 204);
        let changed = Instant::now();
        let took = time_until(changed, || async { second.get("/api/agents", &key).await.status() == 401 }).await;
        fastest = fastest.min(took);
    }
    assert!(fastest <= BOUND, "the other replica refused the revoked key {fastest:?} after the revocation at best");
}

async fn an_agent_stopped_on_one_replica_stops_answering_on_another_within_100_ms(backend: Backend) {
    let (first, second) = two_replicas(backend).await;
    let user = first.register("you@example.com").await;
    let key = first.api_key(&user, &["chat"]).await;
    let mut fastest = Duration::MAX;
    for round in 0..ROUNDS {
        let name = format!("Bot {round}");
        let id = deployed(&first, &user, &name).await;
        let slug = format!("bot-{round}");
        for app in [&first, &second, &first, &second] {
            assert_eq!(chat(app, &key, &slug).await.status(), 200);
        }
        assert_eq!(first.post(&format!("/api/agents/{id}/stop"), Some(&user.token), json!({})).await.status(), 200);
        let changed = Instant::now();
        let took = time_until(changed, || async { chat(&second, &key, &slug).await.status() == 404 }).await;
        fastest = fastest.min(took);
    }
    assert!(fastest <= BOUND, "the other replica answered for a stopped agent {fastest:?} after the stop at best");
}
