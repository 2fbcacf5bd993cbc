//! Crash safety of webhook delivery: the server is killed (SIGKILL) while events are undelivered; once
//! restarted, every event arrives. Repeats are allowed only under the same `webhook-id`.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use talon_store::Backend;
use talon_store::testing::TestDatabase;

const TALON: &str = env!("CARGO_BIN_EXE_talon");
const EVENTS: usize = 20;

#[derive(Default)]
struct Seen {
    /// Accepted deliveries: webhook-id → bodies received under it.
    accepted: HashMap<String, Vec<Bytes>>,
    refused: usize,
}

struct ReceiverState {
    healthy: AtomicBool,
    seen: Mutex<Seen>,
}

async fn receive(State(state): State<Arc<ReceiverState>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let mut seen = state.seen.lock().unwrap();
    if state.healthy.load(Ordering::SeqCst) {
        seen.accepted.entry(id).or_default().push(body);
        StatusCode::OK
    } else {
        seen.refused += 1;
        StatusCode::SERVICE_UNAVAILABLE
    }
}

fn start_talon(data_dir: &std::path::Path, database_url: &str) -> (Child, String) {
    let mut child = Command::new(TALON)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("TALON_DATA_DIR", data_dir)
        .env("DATABASE_URL", database_url)
        .env("TALON_WEBHOOK_ALLOW_PRIVATE", "true")
        .env("TALON_WEBHOOK_RETRY_SCHEDULE", "0.3,0.3,0.3,0.3,0.3,0.3,0.3,0.3,0.3,0.3,0.3,0.3,0.3,0.3,0.3,0.3")
        .env("TALON_WEBHOOK_TIMEOUT_SECONDS", "1")
        .env_remove("JWT_SECRET")
        .env_remove("TALON_SECRET_KEY")
        .env_remove("REDIS_URL")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let address = loop {
        let line = lines.next().expect("talon exited before listening").unwrap();
        if let Some(at) = line.find("listening on http://") {
            break line[at + "listening on http://".len()..].split_whitespace().next().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, address)
}

async fn crash_and_recover(backend: Backend) {
    let db = TestDatabase::new(backend).await.unwrap();
    let data_dir = std::env::temp_dir().join(format!("talon-crash-{}", uuid_like()));
    std::fs::create_dir_all(&data_dir).unwrap();
    let state = Arc::new(ReceiverState { healthy: AtomicBool::new(false), seen: Mutex::default() });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver_url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let app = Router::new().fallback(receive).with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let (mut first, address) = start_talon(&data_dir, &db.url);
    let client = reqwest::Client::new();
    let base = format!("http://{address}");
    let credentials = json!({"email": "crash@example.com", "password": "crash-test-password"});
    let registered = client.post(format!("{base}/api/auth/register")).json(&credentials).send().await.unwrap();
    assert_eq!(registered.status(), 202);
    let session: Value =
        client.post(format!("{base}/api/auth/login")).json(&credentials).send().await.unwrap().json().await.unwrap();
    let token = session["token"].as_str().unwrap().to_owned();
    let hook = client
        .post(format!("{base}/api/webhooks"))
        .bearer_auth(&token)
        .json(&json!({"url": receiver_url, "events": ["agent.created", "version.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(hook.status(), 201);
    for i in 0..EVENTS / 2 {
        let created = client
            .post(format!("{base}/api/agents"))
            .bearer_auth(&token)
            .json(&json!({"name": format!("agent {i}"), "prompt": "p"}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }
    // Let deliveries start failing, then kill the server mid-retry.
    let deadline = Instant::now() + Duration::from_secs(20);
    while state.seen.lock().unwrap().refused < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    assert!(state.seen.lock().unwrap().accepted.is_empty(), "nothing was delivered before the crash");

    state.healthy.store(true, Ordering::SeqCst);
    let (mut second, _) = start_talon(&data_dir, &db.url);
    let deadline = Instant::now() + Duration::from_secs(40);
    while state.seen.lock().unwrap().accepted.len() < EVENTS && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    second.kill().unwrap();
    second.wait().unwrap();

    let seen = state.seen.lock().unwrap();
    assert_eq!(seen.accepted.len(), EVENTS, "every event arrived after the restart");
    let mut kinds = HashMap::new();
    for (id, bodies) in &seen.accepted {
        assert!(id.starts_with("evt_"));
        let distinct: HashSet<&Bytes> = bodies.iter().collect();
        assert_eq!(distinct.len(), 1, "repeats of {id} carry the same body");
        let event: Value = serde_json::from_slice(&bodies[0]).unwrap();
        *kinds.entry(event["event"].as_str().unwrap().to_owned()).or_insert(0) += 1;
    }
    assert_eq!(kinds["agent.created"], EVENTS / 2);
    assert_eq!(kinds["version.created"], EVENTS / 2);
    let _ = std::fs::remove_dir_all(data_dir);
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_every_event_arrives_after_a_crash() {
    crash_and_recover(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_every_event_arrives_after_a_crash() {
    crash_and_recover(Backend::Postgres).await;
}
