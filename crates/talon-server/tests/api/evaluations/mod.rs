//! Evaluations over HTTP: datasets (written, replaced, checked, private, scoped), runs of a dataset
//! against versions as runtime tasks (reports, judges, bounded concurrency, cancel, webhooks and audit),
//! and the `requireEvaluation` gate on label moves and deployments.
//!
//! The agents here answer through `Scripted`, an OpenAI-compatible upstream whose answer depends on the
//! version's prompt (the system message) and the case's input (the last user message), so two versions
//! of one agent can pass and fail chosen cases.

mod datasets;
mod gate;
mod runs;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use reqwest::Method;
use serde_json::{Value, json};
use talon_server::ServerConfig;

use crate::common::{TestApp, User};

/// The answer to a request, from the version's prompt and the last user message.
type Script = dyn Fn(&str, &str) -> String + Send + Sync;

struct Shared {
    script: Box<Script>,
    delay: Duration,
    seen: Mutex<Vec<Value>>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

/// A mock upstream answering what its script says, after `delay`; it counts the requests it holds at
/// once.
pub struct Scripted {
    pub base: String,
    shared: Arc<Shared>,
}

impl Scripted {
    pub async fn start(delay: Duration, script: impl Fn(&str, &str) -> String + Send + Sync + 'static) -> Self {
        let shared = Arc::new(Shared {
            script: Box::new(script),
            delay,
            seen: Mutex::default(),
            in_flight: AtomicUsize::new(0),
            most_in_flight: AtomicUsize::new(0),
        });
        let app = Router::new().route("/v1/chat/completions", post(answer)).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Scripted { base, shared }
    }

    /// How many requests it received.
    pub fn requests(&self) -> usize {
        self.shared.seen.lock().unwrap().len()
    }

    /// The most requests it held at once.
    pub fn most_in_flight(&self) -> usize {
        self.shared.most_in_flight.load(Ordering::SeqCst)
    }
}

/// Counts a request in flight until it is answered or its caller hangs up.
struct Holding<'a>(&'a Shared);

impl Drop for Holding<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

fn text_of(message: Option<&Value>) -> &str {
    message.and_then(|m| m["content"].as_str()).unwrap_or_default()
}

async fn answer(State(shared): State<Arc<Shared>>, body: axum::Json<Value>) -> Response {
    shared.seen.lock().unwrap().push(body.0.clone());
    let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    shared.most_in_flight.fetch_max(now, Ordering::SeqCst);
    let _holding = Holding(&shared);
    tokio::time::sleep(shared.delay).await;
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let system = text_of(messages.iter().find(|m| m["role"] == "system"));
    let user = text_of(messages.iter().rev().find(|m| m["role"] == "user"));
    let text = (shared.script)(system, user);
    let events = [
        json!({"choices": [{"index": 0, "delta": {"content": text}}]}),
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
        json!({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}),
    ];
    let mut stream: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    stream.push_str("data: [DONE]\n\n");
    ([("content-type", "text/event-stream")], stream).into_response()
}

/// The test config with `up` as provider `up`, and limits no evaluation here reaches.
pub fn config(up: &Scripted) -> ServerConfig {
    let mut config = crate::common::config_with_upstream(&up.base);
    config.plans = crate::common::plans(1_000_000, 1_000_000);
    config
}

/// An agent (not deployed) answering through `up/scripted` with `prompt` as version 1: its id and slug.
pub async fn agent(app: &TestApp, user: &User, name: &str, prompt: &str) -> (String, String) {
    let agent = app
        .create_agent(&user.token, json!({"name": name, "prompt": prompt, "model": {"primary": "up/scripted"}}))
        .await;
    assert_eq!(agent["status"], "idle", "{agent}");
    (agent["id"].as_str().unwrap().to_owned(), agent["slug"].as_str().unwrap().to_owned())
}

/// Adds a version with `prompt`; its number.
pub async fn version(app: &TestApp, user: &User, agent: &str, prompt: &str) -> i64 {
    let (status, version) = app.new_version(&user.token, agent, json!({"prompt": prompt})).await;
    assert_eq!(status, 201, "{version}");
    version["versionNumber"].as_i64().unwrap()
}

pub async fn put(app: &TestApp, path: &str, bearer: &str, body: Value) -> reqwest::Response {
    app.request(Method::PUT, path, Some(bearer)).json(&body).send().await.unwrap()
}

/// The response's status and JSON body.
pub async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Creates a dataset, asserting 201.
pub async fn dataset(app: &TestApp, bearer: &str, agent: &str, body: Value) -> Value {
    let (status, created) = read(app.post(&format!("/api/agents/{agent}/datasets"), Some(bearer), body).await).await;
    assert_eq!(status, 201, "{created}");
    created
}

/// Starts an evaluation, asserting 202; its report.
pub async fn start(app: &TestApp, bearer: &str, agent: &str, body: Value) -> Value {
    let (status, started) = read(app.post(&format!("/api/agents/{agent}/evaluations"), Some(bearer), body).await).await;
    assert_eq!(status, 202, "{started}");
    started
}

/// Polls the evaluation's report until it is no longer running (at most 30 s).
pub async fn finished(app: &TestApp, bearer: &str, agent: &str, evaluation: &Value) -> Value {
    let path = format!("/api/agents/{agent}/evaluations/{}", evaluation["id"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let report = app.get_json(&path, bearer).await;
        if report["status"] != "running" {
            return report;
        }
        assert!(Instant::now() < deadline, "the evaluation never finished: {report}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs `dataset` against `versions` to the end; the completed report.
pub async fn evaluate(app: &TestApp, bearer: &str, agent: &str, dataset: &str, versions: Value) -> Value {
    let started = start(app, bearer, agent, json!({"dataset": dataset, "versions": versions})).await;
    let report = finished(app, bearer, agent, &started).await;
    assert_eq!(report["status"], "completed", "{report}");
    report
}

/// The version whose prompt is `right` answers every case of `smoke_cases` as its checks want; any other
/// prompt gets `capital`, `json` and `total` wrong.
pub fn smoke_answers(system: &str, user: &str) -> String {
    let right = system == "right";
    let text = match user {
        "Say hello" => "Hello there!",
        "Capital of France?" if right => "Paris",
        "Capital of France?" => "Lyon",
        "Give me a phone number" => "Call 555-1234 today",
        "Describe yourself as JSON" if right => r#"{"name": "Talon", "legs": 2}"#,
        "Describe yourself as JSON" => r#"{"name": 7}"#,
        "Sum 2 and 40 as JSON" if right => "```json\n{\"total\": 42}\n```",
        "Sum 2 and 40 as JSON" => r#"{"total": 41}"#,
        _ => "I cannot tell",
    };
    text.to_owned()
}

/// Five cases, every kind of plain check, and inputs in each form a task takes.
pub fn smoke_cases() -> Value {
    json!([
        {"name": "greets", "input": "Say hello",
         "checks": [{"type": "contains", "value": "hello", "ignoreCase": true},
                    {"type": "regex", "pattern": "^Hello"}]},
        {"name": "capital", "input": {"prompt": "Capital of France?"},
         "checks": [{"type": "exact", "value": "Paris"}]},
        {"name": "phone", "input": {"messages": [{"role": "user", "content": "Give me a phone number"}]},
         "checks": [{"type": "regex", "pattern": "\\d{3}-\\d{4}"}]},
        {"name": "json", "input": {"message": "Describe yourself as JSON"},
         "checks": [{"type": "jsonSchema", "schema": {"type": "object", "required": ["name"],
                                                      "properties": {"name": {"type": "string"}}}}]},
        {"name": "total", "input": {"prompt": "Sum 2 and 40 as JSON"},
         "checks": [{"type": "numeric", "path": "$.total", "expected": 42, "tolerance": 0.5}]},
    ])
}

/// The cases `smoke_answers` gets wrong unless the prompt is `right`.
pub const WRONG_CASES: [&str; 3] = ["capital", "json", "total"];

/// An app on a `smoke_answers` upstream, an account, and its agent with version 1 (`right`) and version
/// 2 (`wrong`) and dataset `smoke`: the app, upstream, user and agent id.
pub async fn smoke(backend: talon_store::Backend) -> (TestApp, Scripted, User, String) {
    let up = Scripted::start(Duration::from_millis(30), smoke_answers).await;
    let app = TestApp::spawn_with(backend, config(&up)).await;
    let user = app.register("you@example.com").await;
    let (id, _) = agent(&app, &user, "Assistant", "right").await;
    assert_eq!(version(&app, &user, &id, "wrong").await, 2);
    dataset(
        &app,
        &user.token,
        &id,
        json!({"name": "smoke", "description": "Answers we rely on", "cases": smoke_cases()}),
    )
    .await;
    (app, up, user, id)
}
