//! The whole marketplace lifecycle through HTTP, as the "Done when" states it: an agent registers
//! and completes its profile, a client deposits (sandbox) and posts a gig, the agent finds it, proposes,
//! is accepted and funded, they talk, the agent delivers, a revision is asked and delivered, the client
//! approves and the wallets show 90 % / 10 %; every event reaches the agent's webhook signed as the
//! ClawGig SDK verifies it. Then a disputed contract resolved by split, and one approved on its own.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use talon_domain::marketplace::{LedgerAccount, Micros};
use talon_store::Backend;

use crate::common::receiver::{Received, Receiver};
use crate::common::{TestApp, User, test_config};

on_both_databases!(the_whole_lifecycle_moves_the_money_and_signs_every_event, a_dispute_split_and_an_auto_approval);

/// The SDK's `verifyWebhookSignature`: HMAC-SHA256 of the raw body keyed with the whole `whsec_…`
/// string, compared with the header as bare lowercase hex of the same length; the timestamp must parse
/// and be within the tolerance (300 s).
fn sdk_verifies(received: &Received, secret: &str) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&received.body);
    let expected = hex::encode(mac.finalize().into_bytes());
    let signature = received.header("x-clawgig-signature");
    let Ok(stamp) = chrono::DateTime::parse_from_rfc3339(&received.header("x-clawgig-timestamp")) else {
        return false;
    };
    let skew = (chrono::Utc::now() - stamp.with_timezone(&chrono::Utc)).num_seconds().abs();
    signature.len() == expected.len() && signature == expected && skew <= 300
}

async fn call(app: &TestApp, method: reqwest::Method, path: &str, bearer: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = app.request(method, path, Some(bearer));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn post(app: &TestApp, path: &str, bearer: &str, body: Value) -> Value {
    let (status, json) = call(app, reqwest::Method::POST, path, bearer, Some(body)).await;
    assert!((200..300).contains(&status), "POST {path}: {status} {json}");
    json["data"].clone()
}

/// A POST the SDK sends with no body and no Content-Type.
async fn post_bare(app: &TestApp, path: &str, bearer: &str) -> Value {
    let (status, json) = call(app, reqwest::Method::POST, path, bearer, None).await;
    assert!((200..300).contains(&status), "POST {path}: {status} {json}");
    json["data"].clone()
}

async fn get(app: &TestApp, path: &str, bearer: &str) -> Value {
    let (status, json) = call(app, reqwest::Method::GET, path, bearer, None).await;
    assert_eq!(status, 200, "GET {path}: {json}");
    json["data"].clone()
}

fn usdc(text: &str) -> Micros {
    Micros::parse_usdc(text).unwrap()
}

struct Agent {
    id: String,
    key: String,
    secret: String,
}

/// Registers an agent whose webhook points at `receiver`, completes its profile and learns its secret.
async fn ready_agent(app: &TestApp, username: &str, receiver: &Receiver) -> Agent {
    let response = app
        .post(
            "/api/v1/agents/register",
            None,
            json!({"name": "Rusty Reviewer", "username": username, "description": "Reviews Rust code for soundness",
                "skills": ["rust", "sql"], "categories": ["code"], "webhook_url": receiver.url}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let registered: Value = response.json().await.unwrap();
    let key = registered["data"]["api_key"].as_str().unwrap().to_owned();
    let id = registered["data"]["agent_id"].as_str().unwrap().to_owned();
    let (status, _) = call(
        app,
        reqwest::Method::PATCH,
        "/api/v1/agent/profile",
        &key,
        Some(json!({"bio": "Ten years of systems work", "hourly_rate_usdc": 40})),
    )
    .await;
    assert_eq!(status, 200);
    let readiness = get(app, "/api/v1/agent/readiness", &key).await;
    assert_eq!(readiness["ready"], true, "{readiness}");
    let secret = post_bare(app, "/api/v1/agent/webhooks/rotate-secret", &key).await["webhook_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(secret.starts_with("whsec_"));
    Agent { id, key, secret }
}

async fn client_with(app: &TestApp, email: &str, deposit: &str) -> User {
    let client = app.register(email).await;
    post(
        app,
        "/api/v1/wallet/deposits",
        &client.token,
        json!({"amount_usdc": deposit.parse::<f64>().unwrap(), "reference": format!("{email}-1")}),
    )
    .await;
    client
}

async fn post_gig(app: &TestApp, client: &User, title: &str, budget: f64) -> String {
    let gig = post(
        app,
        "/api/v1/gigs",
        &client.token,
        json!({
        "title": title,
        "description": "Review a 2,000-line Rust crate for unsafe code, data races and API soundness; report findings.",
        "category": "code", "skills_required": ["rust"], "budget_usdc": budget,
        "deliverables": "A written report"}),
    )
    .await;
    gig["gig_id"].as_str().unwrap().to_owned()
}

/// Proposes on the gig, has the client accept and fund: the contract's id.
async fn hired(app: &TestApp, client: &User, agent: &Agent, gig: &str, amount: f64) -> String {
    let proposal = post(
        app,
        &format!("/api/v1/gigs/{gig}/proposals"),
        &agent.key,
        json!({
        "proposed_amount_usdc": amount, "cover_letter": "I review Rust for a living and can start today.",
        "estimated_hours": 6}),
    )
    .await;
    let accepted = post(
        app,
        &format!("/api/v1/gigs/{gig}/accept-proposal"),
        &client.token,
        json!({"proposal_id": proposal["id"]}),
    )
    .await;
    let contract = accepted["contract_id"].as_str().unwrap().to_owned();
    post_bare(app, &format!("/api/v1/contracts/{contract}/fund-escrow"), &client.token).await;
    contract
}

async fn balance(app: &TestApp, account: LedgerAccount) -> Micros {
    app.db().store.balance(&account).await.unwrap()
}

async fn the_whole_lifecycle_moves_the_money_and_signs_every_event(backend: Backend) {
    let mut config = test_config();
    config.marketplace.sandbox = true;
    let app = TestApp::spawn_with(backend, config).await;
    let receiver = Receiver::start().await;
    let agent = ready_agent(&app, "rusty", &receiver).await;
    let client = client_with(&app, "client@example.com", "500").await;
    let gig = post_gig(&app, &client, "Review my Rust crate", 120.0).await;

    // The agent finds it with a text query and every filter.
    let found = get(
        &app,
        "/api/v1/gigs?q=unsafe%20crate&category=code&skills=go,rust&min_budget=120&max_budget=120&sort=newest&limit=5",
        &agent.key,
    )
    .await;
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["data"][0]["id"], gig.as_str());
    let contract = hired(&app, &client, &agent, &gig, 100.0).await;
    assert_eq!(get(&app, &format!("/api/v1/contracts/{contract}"), &client.token).await["agent_id"], agent.id.as_str());
    // Off the listing now, the gig is still the hired agent's to read, and no one else's.
    assert_eq!(get(&app, &format!("/api/v1/gigs/{gig}"), &agent.key).await["status"], "in_progress");
    let stranger = app.market_agent("stranger@example.com").await;
    let (status, _) = call(&app, reqwest::Method::GET, &format!("/api/v1/gigs/{gig}"), &stranger.key, None).await;
    assert_eq!(status, 404);
    let wallet = get(&app, "/api/v1/wallet", &client.token).await;
    assert_eq!((wallet["balance_usdc"].as_f64(), wallet["pending_escrow_usdc"].as_f64()), (Some(400.0), Some(100.0)));

    // Both sides talk on the same path.
    post(
        &app,
        &format!("/api/v1/contracts/{contract}/messages"),
        &client.token,
        json!({"content": "Focus on the FFI module first."}),
    )
    .await;
    post(&app, &format!("/api/v1/contracts/{contract}/messages"), &agent.key, json!({"content": "Will do."})).await;
    let thread = get(&app, &format!("/api/v1/contracts/{contract}/messages"), &client.token).await;
    assert_eq!(thread.as_array().unwrap().len(), 2, "{thread}");

    // Deliver, revise, deliver again, approve.
    let delivered = post(
        &app,
        &format!("/api/v1/contracts/{contract}/deliver"),
        &agent.key,
        json!({"delivery_notes": "Report v1"}),
    )
    .await;
    assert_eq!(delivered["status"], "delivered");
    assert!(delivered["delivered_at"].is_string() && delivered["auto_approve_at"].is_string(), "{delivered}");
    post(
        &app,
        &format!("/api/v1/contracts/{contract}/request-revision"),
        &client.token,
        json!({"reason": "Please cover the build script too."}),
    )
    .await;
    let again = post(
        &app,
        &format!("/api/v1/contracts/{contract}/deliver"),
        &agent.key,
        json!({"delivery_notes": "Report v2"}),
    )
    .await;
    assert_eq!(again["delivery_notes"], "Report v2");
    let approved = post_bare(&app, &format!("/api/v1/contracts/{contract}/approve"), &client.token).await;
    assert_eq!(approved["status"], "approved", "{approved}");
    post(
        &app,
        &format!("/api/v1/contracts/{contract}/review"),
        &client.token,
        json!({"rating": 5, "comment": "Thorough"}),
    )
    .await;

    // 90 % to the agent's wallet, 10 % to the platform, the rest of the client's deposit untouched.
    let earned = get(&app, "/api/v1/agents/me/balance", &agent.key).await;
    assert_eq!(earned["balance_usdc"].as_f64(), Some(90.0), "{earned}");
    assert_eq!(balance(&app, LedgerAccount::PlatformRevenue).await, usdc("10"));
    assert_eq!(get(&app, "/api/v1/wallet", &client.token).await["balance_usdc"].as_f64(), Some(400.0));
    let profile = get(&app, "/api/v1/agent/profile", &agent.key).await;
    assert_eq!(
        (profile["stats_completed_gigs"].as_i64(), profile["stats_total_reviews"].as_i64()),
        (Some(1), Some(1)),
        "{profile}"
    );

    // Every event the agent subscribes to arrived, each signed as the SDK checks.
    let expected = [
        "gig.posted",
        "proposal.accepted",
        "contract.funded",
        "message.received",
        "message.received",
        "contract.approved",
        "review.received",
    ];
    let deliveries = receiver.wait_for(expected.len()).await;
    let mut events: Vec<String> = deliveries.iter().map(|d| d.json()["event"].as_str().unwrap().to_owned()).collect();
    events.sort();
    let mut wanted: Vec<String> = expected.iter().map(|e| (*e).to_owned()).collect();
    wanted.sort();
    assert_eq!(events, wanted);
    for delivery in &deliveries {
        assert!(sdk_verifies(delivery, &agent.secret), "{}", delivery.json());
        assert_eq!(delivery.json()["data"]["contract_id"].as_str().is_some(), delivery.json()["event"] != "gig.posted");
    }
}

async fn a_dispute_split_and_an_auto_approval(backend: Backend) {
    let mut config = test_config();
    config.marketplace.sandbox = true;
    config.marketplace.auto_approve_after = Duration::from_secs(1);
    let app = TestApp::spawn_with(backend, config).await;
    let receiver = Receiver::start().await;
    let agent = ready_agent(&app, "splitter", &receiver).await;
    let client = client_with(&app, "client@example.com", "300").await;
    let operator = app.register("ops@example.com").await;
    app.db().store.set_account_role("ops@example.com", "operator").await.unwrap();

    let gig = post_gig(&app, &client, "Audit a parser crate", 100.0).await;
    let contract = hired(&app, &client, &agent, &gig, 100.0).await;
    post(&app, &format!("/api/v1/contracts/{contract}/deliver"), &agent.key, json!({"delivery_notes": "Half done"}))
        .await;
    post(
        &app,
        &format!("/api/v1/contracts/{contract}/dispute"),
        &client.token,
        json!({"reason": "Only half of the modules were reviewed."}),
    )
    .await;
    let refused = app
        .post(
            &format!("/api/v1/admin/contracts/{contract}/resolve"),
            Some(&client.token),
            json!({"resolution": "split", "agent_share_percent": 50}),
        )
        .await;
    assert_eq!(refused.status(), 403, "only an operator resolves");
    post(
        &app,
        &format!("/api/v1/admin/contracts/{contract}/resolve"),
        &operator.token,
        json!({"resolution": "split", "agent_share_percent": 50}),
    )
    .await;
    // 50 to the agent less the 10 % fee on its share, 50 back to the client.
    assert_eq!(get(&app, "/api/v1/agents/me/balance", &agent.key).await["balance_usdc"].as_f64(), Some(45.0));
    assert_eq!(get(&app, "/api/v1/wallet", &client.token).await["balance_usdc"].as_f64(), Some(250.0));

    let gig = post_gig(&app, &client, "Audit a second crate", 50.0).await;
    let contract = hired(&app, &client, &agent, &gig, 50.0).await;
    post(&app, &format!("/api/v1/contracts/{contract}/deliver"), &agent.key, json!({"delivery_notes": "Done"})).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let state = get(&app, &format!("/api/v1/contracts/{contract}"), &client.token).await;
        if state["status"] == "approved" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not approved on its own: {state}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(get(&app, "/api/v1/agents/me/balance", &agent.key).await["balance_usdc"].as_f64(), Some(90.0));
}
