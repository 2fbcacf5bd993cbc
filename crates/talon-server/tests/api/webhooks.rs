//! Webhooks as the spec's "Webhooks" section shows them: signed deliveries to an in-process receiver,
//! retries, Retry-After, 410, redelivery, rotation, pings, the SSRF guard, per-account caps and fair
//! dispatch, and access control.

use crate::common::receiver::{BlackHole, Receiver};
use crate::common::{TestApp, User, assert_error, code_review_agent};
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
    ssrf_spellings_are_refused_at_creation,
    ssrf_guard_checks_the_connected_address,
    an_attempt_in_flight_does_not_undo_changes_to_its_webhook,
    one_account_cannot_stall_anothers_deliveries,
    per_account_caps,
    failed_attempts_are_logged_with_their_cause,
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

/// The spec's `verifyWebhook(payload, signature, secret)`, step for step: `createHmac('sha256', secret)`
/// keys with the secret string's UTF-8 bytes (the whole `whsec_…`), and `timingSafeEqual` compares the
/// whole header with `'sha256=' + hex digest` (and throws, i.e. fails, on a length difference).
fn spec_verify_webhook(payload: &[u8], signature: &str, secret: &str) -> bool {
    let mut hmac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    hmac.update(payload);
    let digest = format!("sha256={}", hex::encode(hmac.finalize().into_bytes()));
    signature.len() == digest.len() && signature.as_bytes() == digest.as_bytes()
}

/// A webhook row written straight to the store, skipping the checks at creation (as one stored before
/// the guard, or whose name now resolves elsewhere).
async fn stored_webhook(app: &TestApp, user: &User, url: &str) -> talon_domain::webhook::Webhook {
    let hook = talon_domain::webhook::Webhook {
        id: talon_domain::WebhookId::new(),
        owner: talon_domain::UserId::parse(&user.id).unwrap(),
        agent: None,
        signing: talon_domain::webhook::Signing::Talon,
        url: url.to_owned(),
        events: vec!["*".into()],
        description: String::new(),
        active: true,
        disabled_reason: None,
        sealed_secret: talon_server::services::webhooks::sealing::SecretBox::new(&[42; 32]).seal("whsec_AAAA").unwrap(),
        previous_secret: None,
        failing_since: None,
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
    };
    app.db().store.insert_webhook(&hook, &[]).await.unwrap();
    hook
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
    // The spec's header, checked exactly as its JavaScript `verifyWebhook` would.
    let spec_header = request.header("x-clawmit-signature");
    assert!(spec_verify_webhook(&request.body, &spec_header, &secret), "X-Clawmit-Signature: {spec_header:?}");
    assert_eq!(spec_header, request.header("x-talon-signature"));
    assert!(!spec_verify_webhook(&request.body, &spec_header, "whsec_other"));
    assert!(!spec_verify_webhook(&request.body, spec_header.trim_start_matches("sha256="), &secret));
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
    let mut config = crate::common::test_config();
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
    let hook = stored_webhook(&app, &user, &receiver.url).await;
    app.create_agent(&user.token, json!({"name": "a", "prompt": "p"})).await;
    let delivery = wait_for_delivery(&app, &user, &hook.id.to_string(), "pending").await;
    assert!(delivery["lastError"].as_str().unwrap().contains("private"), "{delivery}");
    assert!(receiver.received().is_empty(), "nothing reached the loopback receiver");
}

/// Spellings of internal addresses that a hand-written parser reads as host names but the WHATWG parser
/// the delivery client uses reads as IP addresses.
const DISGUISED_LOOPBACK: [&str; 6] = [
    "http://127.0.0.1.:{port}/hooks",
    "http://127.0.0.%31:{port}/hooks",
    "http://127.0.0.1%2e:{port}/hooks",
    "http://\u{ff11}\u{ff12}\u{ff17}.\u{ff10}.\u{ff10}.\u{ff11}:{port}/hooks",
    "http://127\u{3002}0\u{3002}0\u{3002}1:{port}/hooks",
    "http://[::ffff:127.0.0.1]:{port}/hooks",
];

async fn ssrf_spellings_are_refused_at_creation(backend: Backend) {
    let mut config = crate::common::test_config();
    config.webhooks.allow_private = false;
    let app = TestApp::spawn_with(backend, config).await;
    let user = app.register("you@example.com").await;
    let mut urls: Vec<String> = DISGUISED_LOOPBACK.iter().map(|u| u.replace("{port}", "8080")).collect();
    urls.extend(
        [
            "http://169.254.169.254./latest/meta-data",
            "http://169.254.169.%32%35%34/latest/meta-data",
            "http://10.0.0.1./x",
            "http://[::127.0.0.1]/x",
            "http://[64:ff9b::7f00:1]/x",
            "http://[fd12::1]/x",
            "http://[fe80::1]/x",
            "http://0.0.0.0/x",
            "http://0x7f.1/x",
            "http://2130706433/x",
            "http://100.64.0.1/x",
            "http://224.0.0.1/x",
            "http://255.255.255.255/x",
        ]
        .map(str::to_owned),
    );
    for url in &urls {
        let response = app.post("/api/webhooks", Some(&user.token), json!({"url": url, "events": ["*"]})).await;
        let body = assert_error(response, 400, "VALIDATION_ERROR").await;
        assert_eq!(body["error"]["details"][0]["field"], "url", "{url}");
        let message = body["error"]["details"][0]["message"].as_str().unwrap();
        assert!(message.contains("private, loopback"), "{url}: {message}");
    }
    assert_eq!(app.get_json("/api/webhooks", &user.token).await["data"], json!([]), "nothing was created");
    // The URL is kept as the delivery client will read it.
    let mut config = crate::common::test_config();
    config.webhooks.allow_private = true;
    let open = TestApp::spawn_with(backend, config).await;
    let user = open.register("you@example.com").await;
    let created = webhook(&open, &user, "http://127.0.0.%31:8080", json!(["*"])).await;
    assert_eq!(created["url"], "http://127.0.0.1:8080/");
}

async fn ssrf_guard_checks_the_connected_address(backend: Backend) {
    let mut config = crate::common::test_config();
    config.webhooks.allow_private = false;
    let app = TestApp::spawn_with(backend, config).await;
    let user = app.register("you@example.com").await;
    let receiver = Receiver::start().await;
    let port = receiver.port();
    let mut urls: Vec<String> = DISGUISED_LOOPBACK.iter().map(|u| u.replace("{port}", &port.to_string())).collect();
    // A name that resolves to loopback only at delivery time.
    urls.push(format!("http://localhost:{port}/hooks"));
    let mut hooks = Vec::new();
    for url in &urls {
        hooks.push(stored_webhook(&app, &user, url).await);
    }
    app.create_agent(&user.token, json!({"name": "a", "prompt": "p"})).await;
    for (hook, url) in hooks.iter().zip(&urls) {
        // Read from the store: polling the API this often would meet the rate limit.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        let delivery = loop {
            let page = app.db().store.list_deliveries(hook.id, 0, 1).await.unwrap();
            match page.items.into_iter().next() {
                Some(d) if d.attempts > 0 || std::time::Instant::now() > deadline => break d,
                _ => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        };
        assert!(delivery.attempts >= 1, "{url}: {delivery:?}");
        assert_ne!(delivery.status, talon_domain::webhook::DeliveryStatus::Succeeded, "{url}");
        let error = delivery.last_error.unwrap_or_default();
        assert!(error.contains("private"), "{url}: {error}");
        assert_eq!(delivery.last_response_body, None, "{url}");
    }
    assert!(receiver.received().is_empty(), "no spelling reached the loopback receiver");
}

async fn an_attempt_in_flight_does_not_undo_changes_to_its_webhook(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let slow = Receiver::start().await;
    let moved_to = Receiver::start().await;
    slow.respond_slowly(500, std::time::Duration::from_millis(1500));
    let created = webhook(&app, &user, &slow.url, json!(["agent.created"])).await;
    let hook = created["id"].as_str().unwrap();
    let path = format!("/api/webhooks/{hook}");
    app.create_agent(&user.token, json!({"name": "a", "prompt": "p"})).await;
    assert_eq!(slow.wait_for(1).await.len(), 1, "the first attempt is in flight");

    // While it is in flight: move the endpoint, change its events and description, rotate the secret.
    let patched = app
        .patch(
            &path,
            &user.token,
            json!({"url": moved_to.url, "events": ["agent.created", "version.created"], "description": "moved"}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let rotated = app.post(&format!("{path}/rotate-secret"), Some(&user.token), json!({})).await;
    let new_secret = rotated.json::<Value>().await.unwrap()["secret"].as_str().unwrap().to_owned();

    // The attempt fails (500) after the changes; its retry and later deliveries use them.
    let retried = moved_to.wait_for(1).await;
    assert_eq!(retried.len(), 1, "the retry goes to the new URL");
    assert_eq!(retried[0].header("x-talon-signature"), talon_signature(&new_secret, &retried[0].body));
    let state = app.get_json(&path, &user.token).await;
    assert_eq!(state["url"], moved_to.url.as_str());
    assert_eq!(state["events"], json!(["agent.created", "version.created"]));
    assert_eq!(state["description"], "moved");
    let agent = app.create_agent(&user.token, json!({"name": "b", "prompt": "p"})).await;
    app.new_version(&user.token, agent["id"].as_str().unwrap(), json!({"prompt": "v2"})).await;
    // The retry, then agent.created and version.created (1 and 2).
    let got = moved_to.wait_for(4).await;
    assert_eq!(got.len(), 4);
    for request in &got {
        assert_eq!(request.header("x-talon-signature"), talon_signature(&new_secret, &request.body));
    }
    assert_eq!(slow.received().len(), 1, "nothing more went to the old URL");

    // Turning it off while an attempt is in flight sticks too.
    moved_to.respond_slowly(500, std::time::Duration::from_millis(1500));
    let agent = agent["id"].as_str().unwrap();
    app.new_version(&user.token, agent, json!({"prompt": "v3"})).await;
    assert_eq!(moved_to.wait_for(5).await.len(), 5);
    let off = app.patch(&path, &user.token, json!({"active": false})).await;
    assert_eq!(off.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(2000)).await;
    assert_eq!(app.get_json(&path, &user.token).await["active"], false);
    assert_eq!(moved_to.received().len(), 5, "no retry to a webhook turned off");
}

async fn one_account_cannot_stall_anothers_deliveries(backend: Backend) {
    let mut config = crate::common::test_config();
    config.webhooks.timeout = std::time::Duration::from_secs(10);
    config.webhooks.concurrency = 4;
    config.webhooks.per_account_in_flight = 2;
    let app = TestApp::spawn_with(backend, config).await;
    let noisy = app.register("noisy@example.com").await;
    let quiet = app.register("quiet@example.com").await;
    let hole = BlackHole::start().await;
    let mut noisy_hooks = Vec::new();
    for _ in 0..8 {
        noisy_hooks.push(webhook(&app, &noisy, &hole.url, json!(["agent.created"])).await["id"].clone());
    }
    let receiver = Receiver::start().await;
    webhook(&app, &quiet, &receiver.url, json!(["agent.created"])).await;

    app.create_agent(&noisy.token, json!({"name": "a", "prompt": "p"})).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while hole.accepted() == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(hole.accepted() > 0, "the noisy account's deliveries are hanging");
    app.create_agent(&quiet.token, json!({"name": "b", "prompt": "p"})).await;
    let got = receiver.wait_for(1).await;
    assert_eq!(got.len(), 1, "the quiet account's delivery arrived");
    // It did not wait for a slot to free up: none of the hanging attempts has ended yet.
    for hook in &noisy_hooks {
        let log = deliveries(&app, &noisy, hook.as_str().unwrap()).await;
        assert_eq!(log[0]["attempts"], 0, "{log:?}");
    }
    assert!(hole.accepted() < 8, "the noisy account holds only its share of the slots");
}

async fn per_account_caps(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let url = "https://example.com/hook";
    let repeated = app
        .post("/api/webhooks", Some(&user.token), json!({"url": url, "events": ["task.completed", "task.completed"]}))
        .await;
    let body = assert_error(repeated, 400, "VALIDATION_ERROR").await;
    assert_eq!(body["error"]["details"][0]["field"], "events[1]");
    let many: Vec<&str> = std::iter::repeat_n("task.completed", 5000).collect();
    let flood = app.post("/api/webhooks", Some(&user.token), json!({"url": url, "events": many})).await;
    let body = assert_error(flood, 400, "VALIDATION_ERROR").await;
    assert_eq!(body["error"]["details"][0]["field"], "events");
    assert_eq!(body["error"]["details"].as_array().unwrap().len(), 1, "one error, not one per entry");
    let long = format!("https://example.com/{}", "a".repeat(2048));
    let body = assert_error(
        app.post("/api/webhooks", Some(&user.token), json!({"url": long, "events": ["*"]})).await,
        400,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(body["error"]["details"][0]["field"], "url");

    for _ in 0..50 {
        webhook(&app, &user, url, json!(["*"])).await;
    }
    let over = app.post("/api/webhooks", Some(&user.token), json!({"url": url, "events": ["*"]})).await;
    let body = assert_error(over, 409, "CONFLICT").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("50 webhooks"), "{body}");
    assert_eq!(app.get_json("/api/webhooks", &user.token).await["data"].as_array().unwrap().len(), 50);
    // Another account is not affected.
    let other = app.register("other@example.com").await;
    webhook(&app, &other, url, json!(["*"])).await;
}

/// The log lines about attempts of `hook` that failed.
fn failure_logs(hook: &str) -> Vec<Value> {
    crate::common::logs::lines()
        .into_iter()
        .filter(|line| line["fields"]["webhook_id"] == hook)
        .filter(|line| line["fields"]["message"] == "webhook delivery attempt failed")
        .collect()
}

async fn failed_attempts_are_logged_with_their_cause(backend: Backend) {
    crate::common::logs::capture();
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let receiver = Receiver::start().await;
    receiver.respond_with(500, &[]);
    let created = webhook(&app, &user, &format!("{}?token=sekrit", receiver.url), json!(["agent.created"])).await;
    let (hook, secret) = (created["id"].as_str().unwrap(), created["secret"].as_str().unwrap());
    app.create_agent(&user.token, json!({"name": "a", "prompt": "p"})).await;
    let delivered = wait_for_delivery(&app, &user, hook, "succeeded").await;
    let logged = failure_logs(hook);
    assert_eq!(logged.len(), 1, "{logged:?}");
    let line = &logged[0];
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["fields"]["status_code"], 500);
    assert_eq!(line["fields"]["attempt"], 1);
    assert_eq!(line["fields"]["delivery_id"], delivered["id"]);
    assert_eq!(line["fields"]["error"], "The endpoint answered 500");
    let text = line.to_string();
    for private in [secret, "sekrit", "received"] {
        assert!(!text.contains(private), "{private} in {text}");
    }

    // A connection error names its cause.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let unreachable =
        webhook(&app, &user, &format!("http://{closed}/hook?token=sekrit"), json!(["agent.created"])).await;
    let unreachable = unreachable["id"].as_str().unwrap();
    app.create_agent(&user.token, json!({"name": "b", "prompt": "p"})).await;
    let _ = wait_for_delivery(&app, &user, unreachable, "pending").await;
    let logged = failure_logs(unreachable);
    assert!(!logged.is_empty());
    let error = logged[0]["fields"]["error"].as_str().unwrap();
    assert!(error.starts_with("Could not connect: "), "{error}");
    assert!(!logged[0].to_string().contains("sekrit"), "{}", logged[0]);
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
