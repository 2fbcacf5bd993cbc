//! `talon webhooks …`: `listen` verifies, prints and forwards events through a temporary webhook that is
//! gone once it is interrupted; `--poll` follows the delivery log; the log commands read and redeliver.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use reqwest::Method;
use serde_json::{Value, json};
use talon_domain::webhook::WebhookSecret;

use super::{ClientEnv, text};

const PATIENCE: Duration = Duration::from_secs(20);

type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// An app on a free port that keeps what is posted to it; its URL.
async fn app() -> (String, Received) {
    let received = Received::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let router = Router::new().fallback(keep).with_state(received.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, received)
}

async fn keep(State(received): State<Received>, headers: HeaderMap, body: Bytes) -> &'static str {
    received.lock().unwrap().push((headers, body));
    "ok"
}

/// A running `talon webhooks listen`, its output read line by line.
struct Listener {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl Listener {
    fn start(env: &ClientEnv, args: &[&str]) -> Self {
        let args: Vec<&str> = ["webhooks", "listen"].iter().chain(args).copied().collect();
        let mut child = env.command(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        Listener { child, stdout, stderr }
    }

    /// The next line of standard output that contains `wanted`.
    fn stdout_line(&self, wanted: &str) -> String {
        next_line(&self.stdout, wanted)
    }

    fn stderr_line(&self, wanted: &str) -> String {
        next_line(&self.stderr, wanted)
    }

    /// Sends SIGINT, as Ctrl-C does, and waits for the process to end.
    fn interrupt(&mut self) -> ExitStatus {
        let pid = i32::try_from(self.child.id()).unwrap();
        assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the listener did not stop after SIGINT");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines(stream: impl Read + Send + 'static) -> Receiver<String> {
    let (send, receive) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

fn next_line(lines: &Receiver<String>, wanted: &str) -> String {
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(wanted) => return line,
            Ok(line) => seen.push(line),
            Err(e) => panic!("no line with {wanted:?} ({e}); saw:\n{}", seen.join("\n")),
        }
    }
}

async fn webhooks(env: &ClientEnv) -> Value {
    let (status, hooks) = env.api(Method::GET, "/api/webhooks", None).await;
    assert_eq!(status, 200, "{hooks}");
    hooks["data"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_verifies_prints_and_forwards_events_and_deletes_its_webhook() {
    let env = ClientEnv::start_with(&[("TALON_WEBHOOK_ALLOW_PRIVATE", "true")]);
    let (app_url, received) = app().await;
    let mut listener = Listener::start(&env, &["--forward-to", &app_url, "--events", "agent.created"]);
    let ready = listener.stderr_line("Receiving agent.created at ");
    let local_url = ready.split(" at ").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    let webhook_id = ready.rsplit("webhook ").next().unwrap().trim_end_matches(')').to_owned();
    let secret = listener.stderr_line("Signing secret: ");
    let secret = WebhookSecret::from_stored(secret.trim_start_matches("Signing secret: ").to_owned());
    assert_eq!(webhooks(&env).await[0]["id"], webhook_id.as_str());

    let (status, agent) =
        env.api(Method::POST, "/api/agents", Some(json!({"name": "Hooked", "prompt": "You answer."}))).await;
    assert_eq!(status, 201, "{agent}");
    let line = listener.stdout_line("agent.created");
    assert!(line.contains("signature verified"), "{line}");
    let forwarded = listener.stdout_line("→ ");
    assert!(forwarded.contains(&format!("200 {app_url}")), "{forwarded}");

    // The app got the raw body with headers it can check the signatures with.
    let (headers, body) = received.lock().unwrap()[0].clone();
    let payload: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((payload["event"].as_str(), &payload["data"]["id"]), (Some("agent.created"), &agent["id"]));
    let header = |name: &str| headers[name].to_str().unwrap().to_owned();
    assert_eq!(header("x-talon-signature"), secret.talon_signature(&body));
    let (event_id, timestamp) = (header("webhook-id"), header("webhook-timestamp").parse().unwrap());
    assert_eq!(header("webhook-signature"), secret.standard_signature(&event_id, timestamp, &body));
    assert!(line.contains(&event_id), "the event id is printed: {line}");

    // What the listener cannot verify it does not forward, and the sender is told so.
    let forged = reqwest::Client::new()
        .post(&local_url)
        .header("x-talon-signature", "sha256=00")
        .body(r#"{"event":"agent.deleted"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let refused = listener.stdout_line("agent.deleted");
    assert!(refused.contains("signature check failed") && refused.contains("not forwarded"), "{refused}");
    assert_eq!(received.lock().unwrap().len(), 1);

    // The delivery log shows the delivery, which the app's 200 made a success; a redelivery arrives again
    // under the same event id, and a test ping arrives too.
    let deadline = Instant::now() + PATIENCE;
    let delivery = loop {
        let log = env.json(&["webhooks", "deliveries", &webhook_id]);
        let delivery = log["data"][0].clone();
        if delivery["status"] == "succeeded" || Instant::now() > deadline {
            break delivery;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!((delivery["status"].as_str(), delivery["eventId"].as_str()), (Some("succeeded"), Some(&*event_id)));
    let table = env.ok(&["webhooks", "deliveries", &webhook_id, "--limit", "5"]);
    assert!(table.starts_with("ID") && table.contains("agent.created") && table.contains("succeeded"), "{table}");
    assert!(env.ok(&["webhooks", "ls"]).contains(&local_url));
    env.ok(&["webhooks", "redeliver", &webhook_id, delivery["id"].as_str().unwrap()]);
    assert!(listener.stdout_line("agent.created").contains(&event_id));
    assert!(env.ok(&["webhooks", "test", &webhook_id]).contains("ping"));
    assert!(listener.stdout_line("ping").contains("signature verified"));

    let status = listener.interrupt();
    assert!(status.success(), "{status}");
    listener.stderr_line(&format!("Deleted webhook {webhook_id}"));
    assert_eq!(webhooks(&env).await, json!([]));
}

#[tokio::test]
async fn poll_follows_the_delivery_log_when_the_server_cannot_reach_this_machine() {
    let env = ClientEnv::start();

    // Without private targets allowed, the server refuses a webhook to the local receiver.
    let out = env.run(&["webhooks", "listen"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--poll") && text(&out.stderr).contains("--url"), "{}", text(&out.stderr));
    assert_eq!(webhooks(&env).await, json!([]));

    let mut listener = Listener::start(&env, &["--poll", "--json"]);
    listener.stderr_line("Payloads are not in the deliveries API");
    let (status, agent) =
        env.api(Method::POST, "/api/agents", Some(json!({"name": "Polled", "prompt": "You answer."}))).await;
    assert_eq!(status, 201, "{agent}");
    let line: Value = serde_json::from_str(&listener.stdout_line("agent.created")).unwrap();
    assert_eq!(line["event"], "agent.created");
    assert!(line["eventId"].is_string() && line["status"].is_string(), "{line}");

    let status = listener.interrupt();
    assert!(status.success(), "{status}");
    assert_eq!(webhooks(&env).await, json!([]));
}
