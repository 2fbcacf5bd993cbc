//! Two replicas on one database: work written on one wakes the loops waiting on the other through the
//! bus (PostgreSQL `LISTEN/NOTIFY`; Redis pub/sub for SQLite replicas sharing a file), and a bus whose
//! connection is killed is untrusted until it listens again, in a new epoch.
//!
//! Timing: while a replica's bus hears the others, its waiting loops poll only every
//! `SAFETY_POLL` (5 s). A wake-up that arrives at all arrives in milliseconds; one that is lost shows as
//! the claim (or delivery) coming close to 5 s late. `PROMPT` sits between the two with room on both
//! sides for a loaded machine, and each test checks that both buses stayed connected throughout (the
//! epoch did not move), since a reconnection wakes the loops by itself.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use talon_server::ServerConfig;
use talon_server::services::SAFETY_POLL;
use talon_store::Backend;
use talon_store::testing::TestDatabase;

use crate::common::receiver::Receiver;
use crate::common::{REDIS_URL, TestApp, redis_namespace, test_config};

on_both_databases!(
    a_task_created_on_one_replica_wakes_a_claim_waiting_on_another,
    an_event_written_on_one_replica_is_delivered_by_another,
    a_killed_bus_connection_is_untrusted_until_it_listens_again_in_a_new_epoch,
);

/// Well under the safety poll, far above what a wake-up takes even on a busy machine.
const PROMPT: Duration = Duration::from_secs(1);

/// Two servers on one database. SQLite replicas share the file and hear each other through Redis
/// (`redis_url`, or the local Redis), PostgreSQL ones through `LISTEN/NOTIFY` unless `redis_url` is
/// given. `second` adjusts the second replica's configuration.
async fn replicas(
    backend: Backend,
    redis_url: Option<&str>,
    second: impl FnOnce(&mut ServerConfig),
) -> (TestApp, TestApp) {
    let namespace = redis_namespace();
    let redis_url = redis_url.or((backend == Backend::Sqlite).then_some(REDIS_URL));
    let config = || {
        let mut config = test_config();
        if let Some(url) = redis_url {
            config.redis_url = Some(url.to_owned());
            config.redis_namespace = namespace.clone();
        }
        config
    };
    let first = TestApp::spawn_with(backend, config()).await;
    let mut other = config();
    second(&mut other);
    let db = TestDatabase::open(&first.db().url).await.unwrap();
    let second = TestApp::start(db, other).await;
    for app in [&first, &second] {
        until("the replica's bus listens", || app.state.bus.trusted()).await;
    }
    (first, second)
}

async fn until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn epochs(apps: [&TestApp; 2]) -> [u64; 2] {
    apps.map(|app| app.state.bus.epoch())
}

/// A claim on `app` that waits for a task (30 s at most): the tasks it got and when its answer came.
async fn waiting_claim(app: &TestApp, token: &str) -> (Vec<Value>, Instant) {
    let response = app.post("/api/tasks/claim", Some(token), json!({"waitSeconds": 30})).await;
    let answered = Instant::now();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    (body["data"].as_array().unwrap().clone(), answered)
}

/// Creates a task on `on` while a claim waits on `claimer`; how long after the create's answer the
/// claim's came.
async fn cross_replica_claim(on: &TestApp, claimer: &TestApp, token: &str, agent: &str) -> Duration {
    let claim = waiting_claim(claimer, token);
    let create = async {
        // Lets the claim make its first look and start waiting (if it has not, it finds the task on its
        // first look: the test still holds, the wake-up is simply not what answered).
        tokio::time::sleep(Duration::from_millis(300)).await;
        let task = on.create_task(token, json!({"agentId": agent, "title": "from the other replica"})).await;
        (task, Instant::now())
    };
    let ((claimed, answered), (task, committed)) = tokio::join!(claim, create);
    assert_eq!(claimed.len(), 1, "the waiting claim got the task");
    assert_eq!(claimed[0]["id"], task["id"]);
    answered.saturating_duration_since(committed)
}

async fn a_task_created_on_one_replica_wakes_a_claim_waiting_on_another(backend: Backend) {
    let (a, b) = replicas(backend, None, |_| {}).await;
    let (user, agent) = a.user_with_agent().await;
    let before = epochs([&a, &b]);
    assert!(PROMPT * 4 < SAFETY_POLL, "a lost wake-up must stand out");
    for _ in 0..3 {
        let waited = cross_replica_claim(&a, &b, &user.token, &agent).await;
        assert!(waited < PROMPT, "the claim on B answered {waited:?} after the task was created on A");
    }
    // And the other way round.
    let waited = cross_replica_claim(&b, &a, &user.token, &agent).await;
    assert!(waited < PROMPT, "the claim on A answered {waited:?} after the task was created on B");
    assert_eq!(epochs([&a, &b]), before, "both buses stayed connected (no reconnection woke the claims)");
}

async fn an_event_written_on_one_replica_is_delivered_by_another(backend: Backend) {
    // A sends no webhooks: only B can deliver.
    let (b, a) = replicas(backend, None, |config| config.webhooks.concurrency = 0).await;
    let receiver = Receiver::start().await;
    let (user, agent) = a.user_with_agent().await;
    let hook =
        a.post("/api/webhooks", Some(&user.token), json!({"url": receiver.url, "events": ["version.created"]})).await;
    assert_eq!(hook.status(), 201);
    let before = epochs([&a, &b]);
    for n in 1..=3 {
        // B is idle, waiting for a ring or its 5 s poll, when the version is written on A.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let version = a
            .post(&format!("/api/agents/{agent}/versions"), Some(&user.token), json!({"prompt": format!("v{n}")}))
            .await;
        assert_eq!(version.status(), 201);
        let committed = Instant::now();
        let received = receiver.wait_for(n).await;
        assert_eq!(received.len(), n, "B delivered the event");
        let arrived = received[n - 1].at.saturating_duration_since(committed);
        assert!(arrived < PROMPT, "B delivered the event {arrived:?} after it was written on A");
        assert_eq!(received[n - 1].json()["event"], "version.created");
    }
    assert_eq!(epochs([&a, &b]), before, "both buses stayed connected");
}

async fn a_killed_bus_connection_is_untrusted_until_it_listens_again_in_a_new_epoch(backend: Backend) {
    match backend {
        Backend::Postgres => killed_postgres_listener().await,
        Backend::Sqlite => killed_redis_subscription().await,
    }
}

async fn killed_postgres_listener() {
    let (a, b) = replicas(Backend::Postgres, None, |_| {}).await;
    let (user, agent) = a.user_with_agent().await;
    let before = b.state.bus.epoch();
    let mut admin = admin_connection().await;
    let name = format!("talon-bus {}", b.state.bus.replica_id());
    let killed: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'",
    )
    .bind(&name)
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(killed, [(true,)], "B's one listening connection was terminated");
    until("B listens again in a new epoch", || b.state.bus.trusted() && b.state.bus.epoch() > before).await;
    let waited = cross_replica_claim(&a, &b, &user.token, &agent).await;
    assert!(waited < PROMPT, "after reconnecting, B's claim answered {waited:?} after the create");
}

async fn admin_connection() -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(&talon_store::testing::postgres_url()).await.unwrap()
}

/// The Redis test runs under a Redis user of its own, so that it kills its replicas' subscriptions and
/// no other test's; turning the user off keeps the subscription from coming back until it is on again.
async fn killed_redis_subscription() {
    let mut redis = redis::Client::open(REDIS_URL).unwrap().get_multiplexed_async_connection().await.unwrap();
    let user = format!("talon-test-{}", uuid::Uuid::now_v7().simple());
    let password = uuid::Uuid::now_v7().simple().to_string();
    let acl = |args: &[&str]| {
        let mut command = redis::cmd("ACL");
        command.arg(args);
        command
    };
    let _: () = acl(&["SETUSER", &user, "on", &format!(">{password}"), "~*", "&*", "+@all"])
        .query_async(&mut redis)
        .await
        .unwrap();
    let url = format!("redis://{user}:{password}@127.0.0.1:6379");
    let (a, b) = replicas(Backend::Sqlite, Some(&url), |_| {}).await;
    let (owner, agent) = a.user_with_agent().await;
    let before = b.state.bus.epoch();

    let _: () = acl(&["SETUSER", &user, "off"]).query_async(&mut redis).await.unwrap();
    let _: () = redis::cmd("CLIENT")
        .arg(&["KILL", "USER", &user, "TYPE", "pubsub"])
        .query_async(&mut redis)
        .await
        .unwrap_or(());
    until("B sees its subscription lost", || !b.state.bus.trusted()).await;
    // Listening again is refused while the user is off: the bus stays untrusted, in the same epoch.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!b.state.bus.trusted());
    assert_eq!(b.state.bus.epoch(), before);

    let _: () = acl(&["SETUSER", &user, "on"]).query_async(&mut redis).await.unwrap();
    until("B listens again in a new epoch", || b.state.bus.trusted() && b.state.bus.epoch() > before).await;
    until("A listens again", || a.state.bus.trusted()).await;
    let waited = cross_replica_claim(&a, &b, &owner.token, &agent).await;
    assert!(waited < PROMPT, "after reconnecting, B's claim answered {waited:?} after the create");
    let _: () = acl(&["DELUSER", &user]).query_async(&mut redis).await.unwrap();
}
