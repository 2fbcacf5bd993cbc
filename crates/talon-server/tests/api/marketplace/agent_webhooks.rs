//! The marketplace's agent webhooks through HTTP, as the ClawGig SDK uses them: the URL and events, the
//! secret shown by rotate-secret, deliveries signed as the SDK's `verifyWebhook` checks them, the test
//! call reporting the receiver's status, the delivery history with its filters, retries; and account
//! webhooks, which never list agent webhooks but can subscribe to marketplace events.

use chrono::Utc;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use talon_domain::event::{CONTRACT_APPROVED, CONTRACT_FUNDED, Event, MARKETPLACE_EVENT_TYPES};
use talon_domain::{AgentId, UserId};
use talon_store::Backend;

use super::MarketAgent;
use crate::common::receiver::{Received, Receiver};
use crate::common::{TestApp, assert_error};

on_both_databases!(
    an_agents_events_reach_its_webhook_signed_for_the_sdk,
    the_test_call_reports_the_receivers_status,
    deliveries_filter_and_retry,
    account_webhooks_never_show_agent_webhooks_but_get_marketplace_events,
    agent_keys_only_scopes_and_validation,
);

/// The SDK's `verifyWebhook`: HMAC-SHA256 of the raw body keyed with the whole `whsec_…` string,
/// compared with the header as 64 lowercase hex characters (no prefix).
fn sdk_verifies(body: &[u8], signature: &str, secret: &str) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let digest = hex::encode(mac.finalize().into_bytes());
    signature.len() == digest.len() && signature == digest
}

/// The SDK's replay check: `X-ClawGig-Timestamp` parses as a `Date` and is close to now.
fn fresh_timestamp(request: &Received) -> bool {
    let raw = request.header("x-clawgig-timestamp");
    let Ok(at) = chrono::DateTime::parse_from_rfc3339(&raw) else { return false };
    raw.ends_with('Z') && raw.contains('.') && (Utc::now() - at.with_timezone(&Utc)).num_seconds().abs() <= 5
}

async fn send(app: &TestApp, method: Method, path: &str, bearer: &str, body: Option<Value>) -> (u16, Value) {
    let request = app.request(method, path, Some(bearer));
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Points the agent's webhook at `url` and returns the secret from a rotation.
async fn webhook_at(app: &TestApp, agent: &MarketAgent, url: &str) -> String {
    let (status, body) =
        send(app, Method::PATCH, "/api/v1/agent/webhooks", &agent.key, Some(json!({"webhook_url": url}))).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = send(app, Method::POST, "/api/v1/agent/webhooks/rotate-secret", &agent.key, None).await;
    assert_eq!(status, 200, "{body}");
    body["data"]["webhook_secret"].as_str().unwrap().to_owned()
}

fn event_for(agent: &MarketAgent, kind: &'static str, data: Value) -> Event {
    Event::for_agent(UserId::parse(&agent.owner.id).unwrap(), AgentId::parse(&agent.agent_id).unwrap(), kind, data)
}

async fn an_agents_events_reach_its_webhook_signed_for_the_sdk(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let agent = app.market_agent("agent@example.com").await;
    let other = app.market_agent("other@example.com").await;
    let receiver = Receiver::start().await;

    let (status, before) = send(&app, Method::GET, "/api/v1/agent/webhooks", &agent.key, None).await;
    assert_eq!(status, 200);
    assert_eq!(before, json!({"data": {"webhook_url": null, "webhook_events": [], "has_secret": false}}));
    let (status, set) = send(
        &app,
        Method::PATCH,
        "/api/v1/agent/webhooks",
        &agent.key,
        Some(json!({"webhook_url": receiver.url, "webhook_events": ["contract.funded", "message.received"]})),
    )
    .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(
        set["data"],
        json!({"webhook_url": receiver.url, "webhook_events": ["contract.funded", "message.received"], "has_secret": true})
    );
    let (_, rotated) = send(&app, Method::POST, "/api/v1/agent/webhooks/rotate-secret", &agent.key, None).await;
    let secret = rotated["data"]["webhook_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));

    // Not subscribed, another agent's, then the one that goes out.
    let data = json!({"contract_id": "ctr_1", "gig_title": "Review my crate", "amount": 85.5,
        "message": "Escrow funded", "deliver_url": "http://talon.test/deliver"});
    let store = &app.db().store;
    store.record_events(&[event_for(&agent, CONTRACT_APPROVED, json!({"contract_id": "ctr_1"}))]).await.unwrap();
    store.record_events(&[event_for(&other, CONTRACT_FUNDED, data.clone())]).await.unwrap();
    store.record_events(&[event_for(&agent, CONTRACT_FUNDED, data.clone())]).await.unwrap();

    let got = receiver.wait_for(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let got = if receiver.received().len() > got.len() { receiver.received() } else { got };
    assert_eq!(got.len(), 1, "only the subscribed event of this agent");
    let request = &got[0];
    let body = request.json();
    assert_eq!(body.as_object().unwrap().len(), 3, "exactly event, timestamp, data: {body}");
    assert_eq!(body["event"], "contract.funded");
    assert_eq!(body["data"], data);
    assert!(chrono::DateTime::parse_from_rfc3339(body["timestamp"].as_str().unwrap()).is_ok());
    assert!(sdk_verifies(&request.body, &request.header("x-clawgig-signature"), &secret));
    assert!(fresh_timestamp(request), "{}", request.header("x-clawgig-timestamp"));
    assert!(request.header("x-clawgig-delivery-id").starts_with("dlv_"));
    assert_eq!(request.header("content-type"), "application/json");
    assert!(request.header("x-talon-signature").is_empty(), "Talon's headers are for account webhooks");

    // A rotation takes effect at once: the next delivery verifies with the new secret only.
    let (_, rotated) = send(&app, Method::POST, "/api/v1/agent/webhooks/rotate-secret", &agent.key, None).await;
    let new_secret = rotated["data"]["webhook_secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    store.record_events(&[event_for(&agent, CONTRACT_FUNDED, data)]).await.unwrap();
    let got = receiver.wait_for(2).await;
    assert!(sdk_verifies(&got[1].body, &got[1].header("x-clawgig-signature"), &new_secret));
    assert!(!sdk_verifies(&got[1].body, &got[1].header("x-clawgig-signature"), &secret));
    assert_ne!(got[0].header("x-clawgig-delivery-id"), got[1].header("x-clawgig-delivery-id"));

    // PATCH without events keeps them; null removes the webhook.
    let (_, kept) =
        send(&app, Method::PATCH, "/api/v1/agent/webhooks", &agent.key, Some(json!({"webhook_url": receiver.url})))
            .await;
    assert_eq!(kept["data"]["webhook_events"], json!(["contract.funded", "message.received"]));
    let (status, removed) =
        send(&app, Method::PATCH, "/api/v1/agent/webhooks", &agent.key, Some(json!({"webhook_url": null}))).await;
    assert_eq!(status, 200);
    assert_eq!(removed, before);
    send(&app, Method::PATCH, "/api/v1/agent/webhooks", &agent.key, Some(json!({"webhook_url": receiver.url}))).await;
    let (_, removed) =
        send(&app, Method::PATCH, "/api/v1/agent/webhooks", &agent.key, Some(json!({"webhook_url": ""}))).await;
    assert_eq!(removed, before, "an empty URL removes it too");
    assert_eq!(send(&app, Method::GET, "/api/v1/agent/webhooks", &agent.key, None).await.1, before);
    // Set again: a new webhook has every marketplace event.
    let (_, again) =
        send(&app, Method::PATCH, "/api/v1/agent/webhooks", &agent.key, Some(json!({"webhook_url": receiver.url})))
            .await;
    assert_eq!(again["data"]["webhook_events"], json!(MARKETPLACE_EVENT_TYPES));
}

async fn the_test_call_reports_the_receivers_status(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let agent = app.market_agent("agent@example.com").await;
    let receiver = Receiver::start().await;
    let secret = webhook_at(&app, &agent, &receiver.url).await;

    let (status, answer) = send(&app, Method::POST, "/api/v1/agent/webhooks/test", &agent.key, None).await;
    assert_eq!((status, answer), (200, json!({"data": {"success": true, "status_code": 200}})));
    let got = receiver.received();
    assert_eq!(got.len(), 1, "sent before the call answered");
    let body = got[0].json();
    assert_eq!(body["event"], "test");
    assert_eq!(body.as_object().unwrap().len(), 3);
    assert!(sdk_verifies(&got[0].body, &got[0].header("x-clawgig-signature"), &secret));
    assert!(fresh_timestamp(&got[0]));

    receiver.respond_with(500, &[]);
    let (status, answer) = send(&app, Method::POST, "/api/v1/agent/webhooks/test", &agent.key, None).await;
    assert_eq!((status, answer), (200, json!({"data": {"success": false, "status_code": 500}})));

    // Nothing listens there: reported, never a 5xx.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", closed.local_addr().unwrap());
    drop(closed);
    webhook_at(&app, &agent, &url).await;
    let (status, answer) = send(&app, Method::POST, "/api/v1/agent/webhooks/test", &agent.key, None).await;
    assert_eq!((status, answer), (200, json!({"data": {"success": false, "status_code": 0}})));
    let (_, log) = send(&app, Method::GET, "/api/v1/agent/webhooks/deliveries", &agent.key, None).await;
    let newest = &log["data"][0];
    assert_eq!((newest["success"].clone(), newest["status_code"].clone()), (json!(false), Value::Null));
    assert!(newest["error_message"].as_str().unwrap().contains("connect"), "{newest}");
}

async fn log(app: &TestApp, key: &str, query: String) -> Vec<Value> {
    let (status, body) = send(app, Method::GET, &format!("/api/v1/agent/webhooks/deliveries{query}"), key, None).await;
    assert_eq!(status, 200, "{query}: {body}");
    body["data"].as_array().unwrap().clone()
}

async fn deliveries_filter_and_retry(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let agent = app.market_agent("agent@example.com").await;
    let other = app.market_agent("other@example.com").await;
    let receiver = Receiver::start().await;
    let secret = webhook_at(&app, &agent, &receiver.url).await;
    webhook_at(&app, &other, &receiver.url).await;
    let list = |query: &'static str| log(&app, &agent.key, query.to_owned());

    send(&app, Method::POST, "/api/v1/agent/webhooks/test", &agent.key, None).await;
    receiver.respond_with(503, &[]);
    send(&app, Method::POST, "/api/v1/agent/webhooks/test", &agent.key, None).await;
    app.db().store.record_events(&[event_for(&agent, CONTRACT_FUNDED, json!({"contract_id": "ctr_9"}))]).await.unwrap();
    receiver.wait_for(3).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while list("?event=contract.funded&success=true").await.is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let all = list("").await;
    assert_eq!(all.len(), 3);
    let failed = &all[1];
    let fields = [
        "id",
        "delivery_id",
        "agent_id",
        "event",
        "payload",
        "webhook_url",
        "status_code",
        "response_body",
        "success",
        "attempt",
        "max_attempts",
        "next_retry_at",
        "duration_ms",
        "error_message",
        "completed_at",
        "created_at",
    ];
    for field in fields {
        assert!(failed.get(field).is_some(), "{field} in {failed}");
    }
    assert_eq!(failed["id"], failed["delivery_id"]);
    assert_eq!(failed["agent_id"], agent.agent_id.as_str());
    assert_eq!(failed["event"], "test");
    assert_eq!(failed["payload"]["event"], "test");
    assert_eq!(failed["webhook_url"], receiver.url.as_str());
    assert_eq!((failed["status_code"].clone(), failed["success"].clone()), (json!(503), json!(false)));
    assert_eq!(failed["attempt"], 1);
    assert!(failed["completed_at"].is_string());
    assert_eq!(all[0]["event"], "contract.funded");
    assert_eq!(all[0]["max_attempts"], 4, "the test schedule has 3 retries");

    assert_eq!(list("?success=true").await.len(), 2);
    assert_eq!(list("?success=false").await.len(), 1);
    assert_eq!(list("?event=test").await.len(), 2);
    assert_eq!(list("?event=gig.posted").await.len(), 0);
    assert_eq!(list("?limit=1&offset=1").await[0]["id"], failed["id"]);
    let since = (Utc::now() + chrono::Duration::minutes(1)).to_rfc3339();
    assert_eq!(log(&app, &agent.key, format!("?since={}", since.replace('+', "%2B"))).await.len(), 0);
    assert_eq!(list("?since=2020-01-01T00:00:00Z").await.len(), 3);
    let bad = app.get("/api/v1/agent/webhooks/deliveries?since=yesterday&limit=0", &agent.key).await;
    let body = assert_error(bad, 400, "VALIDATION_ERROR").await;
    assert_eq!(body["error"]["details"].as_array().unwrap().len(), 1, "{body}");
    let bad = app.get("/api/v1/agent/webhooks/deliveries?success=maybe", &agent.key).await;
    assert_error(bad, 400, "VALIDATION_ERROR").await;

    // Retry by the bare UUID: sent again, signed, and now delivered.
    let id = failed["id"].as_str().unwrap();
    let bare = uuid::Uuid::parse_str(id.trim_start_matches("dlv_")).unwrap().to_string();
    let (status, answer) =
        send(&app, Method::POST, &format!("/api/v1/agent/webhooks/deliveries/{bare}/retry"), &agent.key, None).await;
    assert_eq!((status, answer), (200, json!({"data": {"success": true}})));
    let got = receiver.wait_for(4).await;
    let again = got.last().unwrap();
    assert_eq!(again.header("x-clawgig-delivery-id"), id);
    assert!(sdk_verifies(&again.body, &again.header("x-clawgig-signature"), &secret));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while list("?success=false").await.len() == 1 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(list("?success=true").await.len(), 3);

    // Another agent's delivery, and ids that name nothing: 404.
    let theirs = app.request(Method::POST, "/api/v1/agent/webhooks/test", Some(&other.key)).send().await.unwrap();
    assert_eq!(theirs.status(), 200);
    let (_, their_log) = send(&app, Method::GET, "/api/v1/agent/webhooks/deliveries", &other.key, None).await;
    let their_id = their_log["data"][0]["id"].as_str().unwrap().to_owned();
    for id in [their_id.as_str(), "dlv_00000000000000000000000000000000", "nope"] {
        let path = format!("/api/v1/agent/webhooks/deliveries/{id}/retry");
        let response = app.request(Method::POST, &path, Some(&agent.key)).send().await.unwrap();
        assert_error(response, 404, "NOT_FOUND").await;
    }
}

async fn account_webhooks_never_show_agent_webhooks_but_get_marketplace_events(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let agent = app.market_agent("agent@example.com").await;
    let receiver = Receiver::start().await;
    webhook_at(&app, &agent, &receiver.url).await;
    let owner = &agent.owner;
    let listed = app.get_json("/api/webhooks", &owner.token).await;
    assert_eq!(listed["data"], json!([]), "the agent's webhook is not the account's");
    let agent_id = AgentId::parse(&agent.agent_id).unwrap();
    let agent_hook = app.db().store.agent_webhook(agent_id).await.unwrap().unwrap();
    let path = format!("/api/webhooks/{}", agent_hook.id);
    assert_error(app.get(&path, &owner.token).await, 404, "NOT_FOUND").await;
    assert_error(app.patch(&path, &owner.token, json!({"active": false})).await, 404, "NOT_FOUND").await;
    assert_error(app.delete(&path, &owner.token).await, 404, "NOT_FOUND").await;
    assert_error(app.get(&format!("{path}/deliveries"), &owner.token).await, 404, "NOT_FOUND").await;
    assert!(app.db().store.agent_webhook(agent_id).await.unwrap().is_some(), "still there");

    // An account webhook subscribed to a marketplace event gets it, with Talon's own signature.
    let account_receiver = Receiver::start().await;
    let created = app
        .post("/api/webhooks", Some(&owner.token), json!({"url": account_receiver.url, "events": ["contract.funded"]}))
        .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap();
    let data = json!({"contract_id": "ctr_2", "gig_title": "Write docs"});
    app.db().store.record_events(&[event_for(&agent, CONTRACT_FUNDED, data.clone())]).await.unwrap();
    let got = account_receiver.wait_for(1).await;
    assert_eq!(got.len(), 1);
    let body = got[0].json();
    assert_eq!((body["event"].clone(), body["data"].clone()), (json!("contract.funded"), data));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&got[0].body);
    assert_eq!(got[0].header("x-talon-signature"), format!("sha256={}", hex::encode(mac.finalize().into_bytes())));
    assert!(got[0].header("x-clawgig-signature").is_empty());
    assert_eq!(receiver.wait_for(1).await.len(), 1, "the agent's webhook got it too");
    assert_eq!(app.get_json("/api/webhooks", &owner.token).await["data"].as_array().unwrap().len(), 1);

    // The cap of 50 counts the account's own webhooks, not its agents'.
    for i in 1..50 {
        let url = format!("https://hooks{i}.example.com/x");
        let response = app.post("/api/webhooks", Some(&owner.token), json!({"url": url, "events": ["*"]})).await;
        assert_eq!(response.status(), 201, "webhook {i}");
    }
    let over = app.post("/api/webhooks", Some(&owner.token), json!({"url": "https://x.example.com", "events": ["*"]}));
    assert_error(over.await, 409, "CONFLICT").await;
}

async fn agent_keys_only_scopes_and_validation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let agent = app.market_agent("agent@example.com").await;
    let receiver = Receiver::start().await;
    let session = agent.owner.token.clone();
    let read_only = {
        let body = json!({"name": "read", "scopes": ["marketplace:read"], "agentId": agent.agent_id});
        let response = app.post("/api/api-keys", Some(&session), body).await;
        response.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_owned()
    };
    let no_marketplace = {
        let body = json!({"name": "none", "scopes": ["agents:read"], "agentId": agent.agent_id});
        let response = app.post("/api/api-keys", Some(&session), body).await;
        response.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_owned()
    };
    let patch = json!({"webhook_url": receiver.url});
    let calls: [(Method, &str, Option<Value>); 6] = [
        (Method::GET, "/api/v1/agent/webhooks", None),
        (Method::PATCH, "/api/v1/agent/webhooks", Some(patch.clone())),
        (Method::POST, "/api/v1/agent/webhooks/rotate-secret", None),
        (Method::POST, "/api/v1/agent/webhooks/test", None),
        (Method::GET, "/api/v1/agent/webhooks/deliveries", None),
        (Method::POST, "/api/v1/agent/webhooks/deliveries/dlv_00000000000000000000000000000000/retry", None),
    ];
    for (method, path, body) in calls.clone() {
        let (status, answer) = send(&app, method.clone(), path, &session, body.clone()).await;
        assert_eq!(status, 403, "a session on {method} {path}: {answer}");
        let (status, _) = send(&app, method.clone(), path, &no_marketplace, body.clone()).await;
        assert_eq!(status, 403, "no marketplace scope on {method} {path}");
        let (status, _) = send(&app, method.clone(), path, &read_only, body).await;
        let expected = if method == Method::GET { 200 } else { 403 };
        assert_eq!(status, expected, "marketplace:read on {method} {path}");
    }
    let unauthenticated = app.request(Method::GET, "/api/v1/agent/webhooks", None).send().await.unwrap();
    assert_eq!(unauthenticated.status(), 401);

    // Before any URL: rotate and test are 409; events alone name the missing URL.
    for path in ["/api/v1/agent/webhooks/rotate-secret", "/api/v1/agent/webhooks/test"] {
        let response = app.request(Method::POST, path, Some(&agent.key)).send().await.unwrap();
        let body = assert_error(response, 409, "CONFLICT").await;
        assert!(body["error"]["message"].as_str().unwrap().contains("webhook_url"), "{body}");
    }
    let events_only = json!({"webhook_events": ["gig.posted"]});
    let response = app.request(Method::PATCH, "/api/v1/agent/webhooks", Some(&agent.key)).json(&events_only);
    let body = assert_error(response.send().await.unwrap(), 400, "VALIDATION_ERROR").await;
    assert_eq!(body["error"]["details"][0]["field"], "webhook_url");

    // Bad URLs and unknown events, all reported at once; nothing is stored.
    let bad =
        json!({"webhook_url": "ftp://example.com/x", "webhook_events": ["task.failed", "gig.posted", "gig.posted"]});
    let response = app.request(Method::PATCH, "/api/v1/agent/webhooks", Some(&agent.key)).json(&bad);
    let body = assert_error(response.send().await.unwrap(), 400, "VALIDATION_ERROR").await;
    let fields: Vec<&str> =
        body["error"]["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["webhook_url", "webhook_events[0]", "webhook_events[2]"]);
    let unknown = json!({"webhook_url": receiver.url, "webhook_secret": "whsec_mine"});
    let response = app.request(Method::PATCH, "/api/v1/agent/webhooks", Some(&agent.key)).json(&unknown);
    assert_error(response.send().await.unwrap(), 400, "VALIDATION_ERROR").await;
    assert_eq!(
        send(&app, Method::GET, "/api/v1/agent/webhooks", &agent.key, None).await.1["data"]["webhook_url"],
        Value::Null
    );

    // The target rules of account webhooks hold here too when private targets are not allowed.
    let mut config = crate::common::test_config();
    config.webhooks.allow_private = false;
    let strict = TestApp::spawn_with(backend, config).await;
    let strict_agent = strict.market_agent("strict@example.com").await;
    let internal = json!({"webhook_url": "http://127.0.0.1:9/hooks"});
    let response = strict.request(Method::PATCH, "/api/v1/agent/webhooks", Some(&strict_agent.key)).json(&internal);
    let body = assert_error(response.send().await.unwrap(), 400, "VALIDATION_ERROR").await;
    assert_eq!(body["error"]["details"][0]["field"], "webhook_url");
}
