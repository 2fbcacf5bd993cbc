//! Webhooks as the spec's "Webhooks" section shows them: signed deliveries to an in-process receiver,
//! retries, Retry-After, 410, redelivery, rotation, pings, the SSRF guard and access control.

mod common;

use common::receiver::Receiver;
use common::{TestApp, User, assert_error, code_review_agent};
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use talon_store::Backend;

on_both_databases!(
    spec_create_and_signed_delivery,
    retry_after_500_then_success,
    retry_after_header_is_honoured,
    gone_disables_the_webhook,
    attempts_run_out,
    redelivery_and_test_ping,
    rotation_signs_with_both_secrets,
    only_subscribed_events_are_delivered,
    ssrf_targets_are_refused,
    validation_access_and_scopes,
);

async fn webhook(app: &TestApp, user: &User, url: &str, events: Value) -> Value {
    let response = app.post("/api/webhooks", Some(&user.token), json!({"url": url, "events": events})).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body
}

fn talon_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn deliveries(app: &TestApp, user: &User, hook: &str) -> Vec<Value> {
    app.get_json(&format!("/api/webhooks/{hook}/deliveries"), &user.token).await["data"].as_array().unwrap().clone()
}

/// Polls the delivery log until the newest delivery has `status` after at least one attempt (up to 15 s).
async fn wait_for_delivery(app: &TestApp, user: &User, hook: &str, status: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let log = deliveries(app, user, hook).await;
        let reached = log.first().is_some_and(|d| d["status"] == status && d["attempts"].as_i64() > Some(0));
        if reached || std::time::Instant::now() > deadline {
            return log.first().cloned().unwrap_or(Value::Null);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn spec_create_and_signed_delivery(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let receiver = Receiver::start().await;
    let events = json!(["task.started", "task.completed", "task.failed", "agent.forked", "agent.created"]);
    let created = webhook(&app, &user, &receiver.url, events.clone()).await;
    assert!(created["id"].as_str().unwrap().starts_with("hook_"));
    assert_eq!(created["url"], receiver.url.as_str());
    assert_eq!(created["events"], events);
    assert_eq!(created["active"], true);
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let hook = created["id"].as_str().unwrap();
    let listed = app.get_json("/api/webhooks", &user.token).await;
    assert!(listed["data"][0].get("secret").is_none(), "the secret is shown once");

    let agent = app.create_agent(&user.token, code_review_agent()).await;
    let got = receiver.wait_for(1).await;
    assert_eq!(got.len(), 1);
    let request = &got[0];
    let body = request.json();
    assert_eq!(body["event"], "agent.created");
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(body["data"]["id"], agent["id"]);

    // The documented signature, as the spec's verifyWebhook computes it.
    assert_eq!(request.header("x-talon-signature"), talon_signature(&secret, &request.body));
    // Standard Webhooks, checked by the reference library.
    let verifier = standardwebhooks::Webhook::new(&secret).unwrap();
    verifier.verify(&request.body, &request.headers).expect("Standard Webhooks signature verifies");
    assert!(request.header("webhook-id").starts_with("evt_"));
    let tampered = [request.body.as_ref(), b" "].concat();
    assert!(verifier.verify(&tampered, &request.headers).is_err());

    let delivered = wait_for_delivery(&app, &user, hook, "succeeded").await;
    assert_eq!(delivered["attempts"], 1);
    assert_eq!(delivered["lastStatusCode"], 200);
    assert_eq!(delivered["lastResponseBody"], "received");
    assert!(delivered["lastLatencyMs"].is_number());
    assert_eq!(delivered["event"], "agent.created");
}

async fn retry_after_500_then_success(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let receiver = Receiver::start().await;
    receiver.respond_with(500, &[]);
    let hook = webhook(&app, &user, &receiver.url, json!(["agent.created"])).await;
    let hook = hook["id"].as_str().unwrap();
    app.create_agent(&user.token, json!({"name": "a", "prompt": "p"})).await;
    let got = receiver.wait_for(2).await;
    let created: Vec<_> = got.iter().filter(|r| r.json()["event"] == "agent.created").collect();
    assert_eq!(created.len(), 2, "retried once");
    assert_eq!(created[0].header("webhook-id"), created[1].header("webhook-id"), "same id on every attempt");
    assert_eq!(created[0].body, created[1].body, "same body on every attempt");
    let retried = wait_for_delivery(&app, &user, hook, "succeeded").await;
    assert_eq!(retried["attempts"], 2);
}

async fn retry_after_header_is_honoured(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let receiver = Receiver::start().await;
    receiver.respond_with(503, &[("retry-after", "1")]);
    let hook = webhook(&app, &user, &receiver.url, json!(["agent.created"])).await;
    let hook = hook["id"].as_str().unwrap();
    app.create_agent(&user.token, json!({"name": "a", "prompt": "p"})).await;
    let pending = wait_for_delivery(&app, &user, hook, "pending").await;
    assert_eq!(pending["lastStatusCode"], 503);
    assert!(pending["nextAttemptAt"].is_string());
    let got = receiver.wait_for(2).await;
    assert_eq!(got.len(), 2);
    let gap = got[1].at - got[0].at;
    assert!(
        gap >= std::time::Duration::from_millis(850),
        "waited for Retry-After (1 s), not the 200 ms schedule: {gap:?}"
    );
}

async fn gone_disables_the_webhook(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let receiver = Receiver::start().await;
    receiver.respond_with(410, &[]);
    let hook = webhook(&app, &user, &receiver.url, json!(["agent.created"])).await;
    let hook = hook["id"].as_str().unwrap();
    app.create_agent(&user.token, json!({"name": "a", "prompt": "p"})).await;
    let failed = wait_for_delivery(&app, &user, hook, "failed").await;
    assert_eq!(failed["lastStatusCode"], 410);
    let state = app.get_json(&format!("/api/webhooks/{hook}"), &user.token).await;
    assert_eq!(state["active"], false);
    assert!(state["disabledReason"].as_str().unwrap().contains("410"));
    app.create_agent(&user.token, json!({"name": "b", "prompt": "p"})).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 1, "a disabled webhook receives nothing");
    // Turning it back on clears the reason.
    let back = app.patch(&format!("/api/webhooks/{hook}"), &user.token, json!({"active": true})).await;
    assert_eq!(back.json::<Value>().await.unwrap()["disabledReason"], Value::Null);
}

async fn attempts_run_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let receiver = Receiver::start().await;
    for _ in 0..10 {
        receiver.respond_with(500, &[]);
    }
    let hook = webhook(&app, &user, &receiver.url, json!(["agent.created"])).await;
    let hook = hook["id"].as_str().unwrap();
    app.create_agent(&user.token, json!({"name": "a", "prompt": "p"})).await;
    let failed = wait_for_delivery(&app, &user, hook, "failed").await;
    // The test schedule has 3 retries: 4 attempts in all.
    assert_eq!(failed["attempts"], 4);
    assert_eq!(failed["lastError"], "The endpoint answered 500");
    assert_eq!(receiver.received().len(), 4);
}

async fn redelivery_and_test_ping(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let receiver = Receiver::start().await;
    let created = webhook(&app, &user, &receiver.url, json!(["agent.created"])).await;
    let hook = created["id"].as_str().unwrap();
    let ping = app.post(&format!("/api/webhooks/{hook}/test"), Some(&user.token), json!({})).await;
    assert_eq!(ping.status(), 202);
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].json()["event"], "ping");
    assert_eq!(got[0].json()["data"]["webhookId"], hook);

    app.create_agent(&user.token, json!({"name": "a", "prompt": "p"})).await;
    let got = receiver.wait_for(2).await;
    let original = got[1].clone();
    let log = deliveries(&app, &user, hook).await;
    let delivery = log.iter().find(|d| d["event"] == "agent.created").unwrap();
    let delivery_id = delivery["id"].as_str().unwrap();
    let _ = wait_for_delivery(&app, &user, hook, "succeeded").await;
    let again = app
        .post(&format!("/api/webhooks/{hook}/deliveries/{delivery_id}/redeliver"), Some(&user.token), json!({}))
        .await;
    assert_eq!(again.status(), 202);
    let got = receiver.wait_for(3).await;
    assert_eq!(got[2].header("webhook-id"), original.header("webhook-id"));
    assert_eq!(got[2].body, original.body);
    let missing =
        app.post(&format!("/api/webhooks/{hook}/deliveries/dlv_nope/redeliver"), Some(&user.token), json!({})).await;
    assert_error(missing, 404, "NOT_FOUND").await;
}

async fn rotation_signs_with_both_secrets(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let receiver = Receiver::start().await;
    let created = webhook(&app, &user, &receiver.url, json!(["agent.created"])).await;
    let hook = created["id"].as_str().unwrap();
    let old = created["secret"].as_str().unwrap().to_owned();
    let rotated = app.post(&format!("/api/webhooks/{hook}/rotate-secret"), Some(&user.token), json!({})).await;
    assert_eq!(rotated.status(), 200);
    let new = rotated.json::<Value>().await.unwrap()["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    app.create_agent(&user.token, json!({"name": "a", "prompt": "p"})).await;
    let got = receiver.wait_for(1).await;
    let request = &got[0];
    assert_eq!(request.header("webhook-signature").split(' ').count(), 2, "two signatures during the overlap");
    standardwebhooks::Webhook::new(&new).unwrap().verify(&request.body, &request.headers).expect("new secret verifies");
    standardwebhooks::Webhook::new(&old).unwrap().verify(&request.body, &request.headers).expect("old secret verifies");
    assert_eq!(request.header("x-talon-signature"), talon_signature(&new, &request.body));
    assert_eq!(request.header("x-talon-signature-previous"), talon_signature(&old, &request.body));
}

async fn only_subscribed_events_are_delivered(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let other = app.register("other@example.com").await;
    let receiver = Receiver::start().await;
    webhook(&app, &user, &receiver.url, json!(["version.created"])).await;
    let agent = app.create_agent(&user.token, json!({"name": "a", "prompt": "p"})).await;
    app.new_version(&user.token, agent["id"].as_str().unwrap(), json!({"prompt": "v2"})).await;
    app.create_agent(&other.token, json!({"name": "theirs", "prompt": "p"})).await;
    let got = receiver.wait_for(2).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let events: Vec<String> =
        receiver.received().iter().map(|r| r.json()["event"].as_str().unwrap().to_owned()).collect();
    assert_eq!(events, ["version.created", "version.created"], "{got:?}");
}

async fn ssrf_targets_are_refused(backend: Backend) {
    let mut config = common::test_config();
    config.webhooks.allow_private = false;
    let app = TestApp::spawn_with(backend, config).await;
    let user = app.register("you@example.com").await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.5/x",
        "http://[::1]/x",
        "http://192.168.1.10/x",
    ] {
        let response = app.post("/api/webhooks", Some(&user.token), json!({"url": url, "events": ["*"]})).await;
        let body = assert_error(response, 400, "VALIDATION_ERROR").await;
        assert_eq!(body["error"]["details"][0]["field"], "url", "{url}");
    }
    // A webhook stored before the guard (or whose DNS changed) is still refused at delivery time.
    let receiver = Receiver::start().await;
    let hook = talon_domain::webhook::Webhook {
        id: talon_domain::WebhookId::new(),
        owner: talon_domain::UserId::parse(&user.id).unwrap(),
        url: receiver.url.clone(),
        events: vec!["*".into()],
        description: String::new(),
        active: true,
        disabled_reason: None,
        sealed_secret: talon_server::webhooks::sealing::SecretBox::new(&[42; 32]).seal("whsec_AAAA").unwrap(),
        previous_secret: None,
        failing_since: None,
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
    };
    app.db().store.insert_webhook(&hook).await.unwrap();
    app.create_agent(&user.token, json!({"name": "a", "prompt": "p"})).await;
    let delivery = wait_for_delivery(&app, &user, &hook.id.to_string(), "pending").await;
    assert!(delivery["lastError"].as_str().unwrap().contains("private"), "{delivery}");
    assert!(receiver.received().is_empty(), "nothing reached the loopback receiver");
}

async fn validation_access_and_scopes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let bob = app.register("bob@example.com").await;
    let bad =
        app.post("/api/webhooks", Some(&user.token), json!({"url": "ftp://x", "events": ["task.exploded"]})).await;
    let body = assert_error(bad, 400, "VALIDATION_ERROR").await;
    let fields: Vec<&str> =
        body["error"]["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["url", "events[0]"]);
    assert_error(
        app.post("/api/webhooks", Some(&user.token), json!({"url": "https://example.com/h", "events": []})).await,
        400,
        "VALIDATION_ERROR",
    )
    .await;

    let receiver = Receiver::start().await;
    let created = webhook(&app, &user, &receiver.url, json!(["*"])).await;
    let hook = created["id"].as_str().unwrap();
    let path = format!("/api/webhooks/{hook}");
    assert_error(app.get(&path, &bob.token).await, 404, "NOT_FOUND").await;
    assert_error(app.patch(&path, &bob.token, json!({"active": false})).await, 404, "NOT_FOUND").await;
    assert_error(app.delete(&path, &bob.token).await, 404, "NOT_FOUND").await;
    assert_error(app.post(&format!("{path}/rotate-secret"), Some(&bob.token), json!({})).await, 404, "NOT_FOUND").await;
    assert_error(app.post(&format!("{path}/test"), Some(&bob.token), json!({})).await, 404, "NOT_FOUND").await;
    assert_error(app.get(&format!("{path}/deliveries"), &bob.token).await, 404, "NOT_FOUND").await;
    assert_eq!(app.get_json("/api/webhooks", &bob.token).await["data"], json!([]));

    let reader = app.api_key(&user, &["webhooks:read"]).await;
    let unrelated = app.api_key(&user, &["agents:read"]).await;
    for (method, url, scope) in [
        (Method::GET, "/api/webhooks".to_owned(), "webhooks:read"),
        (Method::GET, path.clone(), "webhooks:read"),
        (Method::GET, format!("{path}/deliveries"), "webhooks:read"),
        (Method::POST, "/api/webhooks".to_owned(), "webhooks:write"),
        (Method::PATCH, path.clone(), "webhooks:write"),
        (Method::DELETE, path.clone(), "webhooks:write"),
        (Method::POST, format!("{path}/rotate-secret"), "webhooks:write"),
        (Method::POST, format!("{path}/test"), "webhooks:write"),
        (Method::POST, format!("{path}/deliveries/dlv_x/redeliver"), "webhooks:write"),
    ] {
        let key = if scope == "webhooks:write" { &reader } else { &unrelated };
        let mut request = app.request(method.clone(), &url, Some(key));
        if method != Method::GET && method != Method::DELETE {
            request = request.json(&json!({"url": "https://example.com/x", "events": ["*"]}));
        }
        let body = assert_error(request.send().await.unwrap(), 403, "FORBIDDEN").await;
        assert!(body["error"]["message"].as_str().unwrap().contains(scope), "{url}");
    }
    let patched =
        app.patch(&path, &user.token, json!({"events": ["task.completed"], "description": "tasks only"})).await;
    assert_eq!(patched.json::<Value>().await.unwrap()["events"], json!(["task.completed"]));
    assert_eq!(app.delete(&path, &user.token).await.status(), 204);
    assert_error(app.get(&path, &user.token).await, 404, "NOT_FOUND").await;
}
