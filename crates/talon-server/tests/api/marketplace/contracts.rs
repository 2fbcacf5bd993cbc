//! The marketplace's proposals and contracts through HTTP: the lifecycle with its money, races on
//! approval and funding, disputes, auto-approval, messages, reviews, isolation, rate limits and replays.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use talon_domain::marketplace::{GigStatus, LedgerAccount, Micros, Transaction};
use talon_domain::{AgentId, GigId, UserId};
use talon_store::{Backend, MarketGig};

use super::MarketAgent;

mod access;
mod auto_work;
use crate::common::{TestApp, User, assert_error, test_config};

on_both_databases!(
    the_lifecycle_moves_the_money,
    fifty_concurrent_approvals_release_once,
    ten_concurrent_fundings_fund_once,
    a_dispute_resolves_by_split_for_operators_only,
    a_delivery_is_approved_automatically,
    both_parties_talk_and_the_agent_has_an_inbox,
    a_review_updates_the_agents_stats,
    proposals_are_edited_and_withdrawn_while_pending,
    an_unfunded_contract_cancels,
    an_agent_hires_through_the_hiring_aliases,
    gig_and_revision_limits_are_conflicts,
    only_a_listed_agent_with_a_complete_profile_bids,
);

const COVER: &str = "I have built a dozen scrapers exactly like this one.";

fn user_id(user: &User) -> UserId {
    UserId::parse(&user.id).unwrap()
}

/// A gig posted (open, approved) by `client`, stored directly: gig posting is another resource's.
async fn post_gig(app: &TestApp, client: &User, max_proposals: i32, max_revisions: i32) -> String {
    let gig = MarketGig {
        id: GigId::new(),
        client_id: user_id(client),
        created_by_agent_id: None,
        title: "Scrape a product catalogue".into(),
        description: "Scrape every product of a small shop into a CSV with prices and stock.".into(),
        category: "code".into(),
        deliverables: Some("A CSV and the script".into()),
        budget: Micros::from_whole_usdc(100).unwrap(),
        status: GigStatus::Open,
        moderation_status: "approved".into(),
        max_proposals,
        max_revisions,
        proposal_count: 0,
        created_at: chrono::Utc::now(),
    };
    app.db().store.insert_market_gig(&gig).await.unwrap();
    gig.id.to_string()
}

async fn deposit(app: &TestApp, user: &User, usdc: i64) {
    let tx = Transaction::deposit(user_id(user), Micros::from_whole_usdc(usdc).unwrap()).unwrap();
    app.db().store.append_covered(&tx, Some(&uuid::Uuid::now_v7().to_string())).await.unwrap();
}

async fn wallet(app: &TestApp, user: &User) -> f64 {
    app.db().store.balance(&LedgerAccount::Wallet(user_id(user))).await.unwrap().to_usdc_f64()
}

async fn platform(app: &TestApp) -> f64 {
    app.db().store.balance(&LedgerAccount::PlatformRevenue).await.unwrap().to_usdc_f64()
}

/// Sends a request with an optional JSON body; returns the status and the JSON answer.
async fn call(app: &TestApp, method: Method, path: &str, bearer: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = app.request(method, path, Some(bearer));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn propose(app: &TestApp, agent: &MarketAgent, gig: &str, amount: f64) -> (u16, Value) {
    let body = json!({"proposed_amount_usdc": amount, "cover_letter": COVER, "estimated_hours": 6});
    call(app, Method::POST, &format!("/api/v1/gigs/{gig}/proposals"), &agent.key, Some(body)).await
}

/// A client, an agent and a contract for 100 USDC accepted between them; the client holds `funds`.
async fn accepted(app: &TestApp, funds: i64) -> (User, MarketAgent, String) {
    let client = app.register("client@example.com").await;
    let agent = app.listed_agent("agent@example.com").await;
    let gig = post_gig(app, &client, 10, 2).await;
    let (status, proposal) = propose(app, &agent, &gig, 100.0).await;
    assert_eq!(status, 201, "{proposal}");
    let accept = json!({"proposal_id": proposal["data"]["id"]});
    let (status, body) =
        call(app, Method::POST, &format!("/api/v1/gigs/{gig}/accept-proposal"), &client.token, Some(accept)).await;
    assert_eq!(status, 201, "{body}");
    if funds > 0 {
        deposit(app, &client, funds).await;
    }
    (client, agent, body["data"]["contract_id"].as_str().unwrap().to_owned())
}

/// `accepted`, funded and delivered.
async fn delivered(app: &TestApp) -> (User, MarketAgent, String) {
    let (client, agent, contract) = accepted(app, 100).await;
    let (status, body) =
        call(app, Method::POST, &format!("/api/v1/contracts/{contract}/fund-escrow"), &client.token, None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = deliver(app, &agent, &contract).await;
    assert_eq!(status, 200, "{body}");
    (client, agent, contract)
}

async fn deliver(app: &TestApp, agent: &MarketAgent, contract: &str) -> (u16, Value) {
    let body = json!({"delivery_notes": "CSV and script attached.", "deliverables_url": "https://example.com/out.zip"});
    call(app, Method::POST, &format!("/api/v1/contracts/{contract}/deliver"), &agent.key, Some(body)).await
}

async fn the_lifecycle_moves_the_money(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.register("client@example.com").await;
    let agent = app.listed_agent("agent@example.com").await;
    let rival = app.listed_agent("rival@example.com").await;
    let gig = post_gig(&app, &client, 10, 2).await;

    let (status, proposal) = propose(&app, &agent, &gig, 100.0).await;
    assert_eq!(status, 201, "{proposal}");
    assert_eq!(proposal["data"]["status"], "pending");
    assert_eq!(proposal["data"]["proposed_amount_usdc"], 100.0);
    let (status, body) = propose(&app, &agent, &gig, 90.0).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("CONFLICT")), "{body}");
    assert_eq!(propose(&app, &rival, &gig, 80.0).await.0, 201);
    let (status, list) = call(&app, Method::GET, &format!("/api/v1/gigs/{gig}/proposals"), &client.token, None).await;
    assert_eq!((status, list["data"].as_array().unwrap().len()), (200, 2));

    let accept = json!({"proposal_id": proposal["data"]["id"]});
    let (status, accepted) =
        call(&app, Method::POST, &format!("/api/v1/gigs/{gig}/accept-proposal"), &client.token, Some(accept)).await;
    assert_eq!(status, 201, "{accepted}");
    assert_eq!(accepted["data"]["status"], "active");
    assert_eq!(accepted["data"]["message"], "Proposal accepted. Fund escrow to start work.");
    let contract = accepted["data"]["contract_id"].as_str().unwrap().to_owned();
    let (_, rivals) = call(&app, Method::GET, "/api/v1/agent/proposals", &rival.key, None).await;
    assert_eq!(rivals["data"][0]["status"], "rejected", "{rivals}");
    let gig_id = GigId::parse(&gig).unwrap();
    assert_eq!(app.db().store.market_gig(gig_id).await.unwrap().unwrap().status, GigStatus::InProgress);

    let fund = format!("/api/v1/contracts/{contract}/fund-escrow");
    let (status, body) = call(&app, Method::POST, &fund, &client.token, None).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("Insufficient balance"), "{body}");
    let (status, body) = deliver(&app, &agent, &contract).await;
    assert_eq!(status, 409, "unfunded: {body}");
    deposit(&app, &client, 150).await;
    let (status, funded) = call(&app, Method::POST, &fund, &client.token, None).await;
    assert_eq!(status, 200, "{funded}");
    assert_eq!(funded["data"]["escrow_amount"], 100.0);
    assert_eq!(funded["data"]["payment_method"], "internal_balance");
    assert_eq!(call(&app, Method::POST, &fund, &client.token, None).await.0, 409, "funds once");
    assert_eq!(wallet(&app, &client).await, 50.0);

    let (status, body) = deliver(&app, &agent, &contract).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "delivered");
    assert!(body["data"]["delivered_at"].is_string() && body["data"]["auto_approve_at"].is_string(), "{body}");
    assert!(body["data"].get("completed_at").is_none(), "absent members are omitted: {body}");
    let revise = json!({"reason": "The CSV misses the stock column."});
    let path = format!("/api/v1/contracts/{contract}/request-revision");
    let (status, body) = call(&app, Method::POST, &path, &client.token, Some(revise)).await;
    assert_eq!((status, &body["data"]["status"], &body["data"]["revisions_used"]), (200, &json!("active"), &json!(1)));
    assert_eq!(deliver(&app, &agent, &contract).await.0, 200);

    let (status, approved) =
        call(&app, Method::POST, &format!("/api/v1/contracts/{contract}/approve"), &client.token, None).await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!((&approved["data"]["payout"], &approved["data"]["fee"]), (&json!(90.0), &json!(10.0)));
    assert_eq!(wallet(&app, &agent.owner).await, 90.0);
    assert_eq!(platform(&app).await, 10.0);
    assert_eq!(wallet(&app, &client).await, 50.0);
    assert_eq!(app.db().store.market_gig(gig_id).await.unwrap().unwrap().status, GigStatus::Completed);
    let (_, mine) = call(&app, Method::GET, "/api/v1/agent/contracts?status=approved", &agent.key, None).await;
    assert_eq!(mine["data"][0]["id"], contract.as_str());
    let (_, page) = call(&app, Method::GET, "/api/v1/client/contracts", &client.token, None).await;
    assert_eq!((&page["data"]["total"], &page["data"]["data"][0]["status"]), (&json!(1), &json!("approved")));

    // Each step was recorded for the agent's webhooks (and its holder's), with the spec's data members.
    let events = app.db().store.events_for(user_id(&agent.owner)).await.unwrap();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e.kind.as_str())
        .filter(|k| !k.starts_with("agent.") && !k.starts_with("version."))
        .collect();
    assert_eq!(kinds, ["proposal.accepted", "contract.funded", "message.received", "contract.approved"]);
    let data = |kind: &str| events.iter().find(|e| e.kind == kind).unwrap().data.clone();
    let accepted = data("proposal.accepted");
    assert_eq!(accepted["contract_id"], contract.as_str());
    assert_eq!((&accepted["amount"], &accepted["client_name"]), (&json!(100.0), &json!("A Talon client")));
    assert!(accepted["deliver_url"].as_str().unwrap().ends_with(&format!("/api/v1/contracts/{contract}/deliver")));
    assert_eq!(data("contract.funded")["gig_title"], "Scrape a product catalogue");
    let revision = data("message.received");
    assert_eq!((&revision["sender_type"], &revision["sender_name"]), (&json!("client"), &json!("A Talon client")));
    let approved = data("contract.approved");
    assert_eq!((&approved["amount_earned"], &approved["platform_fee"]), (&json!(90.0), &json!(10.0)));
    let client_events = app.db().store.events_for(user_id(&client)).await.unwrap();
    let delivered: Vec<_> = client_events.iter().filter(|e| e.kind == "contract.delivered").collect();
    assert_eq!(delivered.len(), 2, "one per delivery");
}

async fn gig_and_revision_limits_are_conflicts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.register("client@example.com").await;
    let (first, second) = (app.listed_agent("first@example.com").await, app.listed_agent("second@example.com").await);
    let gig = post_gig(&app, &client, 1, 0).await;
    let (_, proposal) = propose(&app, &first, &gig, 100.0).await;
    let (status, body) = propose(&app, &second, &gig, 90.0).await;
    assert_eq!(status, 409, "max_proposals reached: {body}");
    let accept = json!({"proposal_id": proposal["data"]["id"]});
    let path = format!("/api/v1/gigs/{gig}/accept-proposal");
    assert_eq!(call(&app, Method::POST, &path, &client.token, Some(accept.clone())).await.0, 201);
    assert_eq!(call(&app, Method::POST, &path, &client.token, Some(accept)).await.0, 409, "accepted once");
    let another = post_gig(&app, &client, 5, 0).await;
    let (_, contracts) = call(&app, Method::GET, "/api/v1/agent/contracts", &first.key, None).await;
    let contract = contracts["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(propose(&app, &second, &another, 10.0).await.0, 201);
    assert_eq!(propose(&app, &second, &gig, 10.0).await.0, 409, "the gig is in progress");
    deposit(&app, &client, 100).await;
    let fund = format!("/api/v1/contracts/{contract}/fund-escrow");
    assert_eq!(call(&app, Method::POST, &fund, &client.token, None).await.0, 200);
    assert_eq!(deliver(&app, &first, &contract).await.0, 200);
    let revise = json!({"reason": "Please redo the whole thing."});
    let path = format!("/api/v1/contracts/{contract}/request-revision");
    let (status, body) = call(&app, Method::POST, &path, &client.token, Some(revise)).await;
    assert_eq!(status, 409, "max_revisions is 0: {body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("no revisions left"), "{body}");
    let cancel = format!("/api/v1/contracts/{contract}/cancel");
    assert_eq!(call(&app, Method::POST, &cancel, &client.token, None).await.0, 409, "funded: refund by dispute");
}

async fn fifty_concurrent_approvals_release_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (client, agent, contract) = delivered(&app).await;
    let path = format!("/api/v1/contracts/{contract}/approve");
    let calls = (0..50).map(|_| call(&app, Method::POST, &path, &client.token, None));
    let statuses: Vec<u16> = futures::future::join_all(calls).await.into_iter().map(|(s, _)| s).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 409), "{statuses:?}");
    assert_eq!(wallet(&app, &agent.owner).await, 90.0);
    assert_eq!(platform(&app).await, 10.0);
}

async fn ten_concurrent_fundings_fund_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (client, _agent, contract) = accepted(&app, 1_000).await;
    let path = format!("/api/v1/contracts/{contract}/fund-escrow");
    let calls = (0..10).map(|_| call(&app, Method::POST, &path, &client.token, None));
    let statuses: Vec<u16> = futures::future::join_all(calls).await.into_iter().map(|(s, _)| s).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(wallet(&app, &client).await, 900.0);
}

async fn a_dispute_resolves_by_split_for_operators_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (client, agent, contract) = delivered(&app).await;
    let short = json!({"reason": "Too short"});
    let dispute = format!("/api/v1/contracts/{contract}/dispute");
    assert_error(app.post(&dispute, Some(&agent.key), short).await, 400, "VALIDATION_ERROR").await;
    let reason = json!({"reason": "The client keeps asking for work outside the gig."});
    let (status, body) = call(&app, Method::POST, &dispute, &agent.key, Some(reason)).await;
    assert_eq!((status, &body["data"]["status"]), (200, &json!("disputed")), "{body}");

    let resolve = format!("/api/v1/admin/contracts/{contract}/resolve");
    // Written as JSON Schema counts integers: 40.0 is the integer 40 (a schema-valid body once refused).
    let split = json!({"resolution": "split", "agent_share_percent": 40.0});
    assert_error(app.post(&resolve, Some(&client.token), split.clone()).await, 403, "FORBIDDEN").await;
    let operator = app.register("operator@example.com").await;
    assert!(app.db().store.set_account_role("operator@example.com", "operator").await.unwrap());
    let missing = json!({"resolution": "split"});
    assert_error(app.post(&resolve, Some(&operator.token), missing).await, 400, "VALIDATION_ERROR").await;
    for share in [json!(101), json!(-1), json!(40.5), json!("40")] {
        let body = json!({"resolution": "split", "agent_share_percent": share});
        assert_error(app.post(&resolve, Some(&operator.token), body).await, 400, "VALIDATION_ERROR").await;
    }
    let (status, body) = call(&app, Method::POST, &resolve, &operator.token, Some(split.clone())).await;
    assert_eq!((status, &body["data"]["status"]), (200, &json!("resolved")), "{body}");
    assert_eq!(body["data"]["resolution"], "split:40");
    assert_eq!(wallet(&app, &agent.owner).await, 36.0);
    assert_eq!(platform(&app).await, 4.0);
    assert_eq!(wallet(&app, &client).await, 60.0);
    assert_eq!(call(&app, Method::POST, &resolve, &operator.token, Some(split)).await.0, 409, "resolves once");
    for party in [&agent.owner, &client] {
        let kinds: Vec<String> =
            app.db().store.events_for(user_id(party)).await.unwrap().into_iter().map(|e| e.kind).collect();
        assert!(kinds.iter().any(|k| k == "contract.disputed") && kinds.iter().any(|k| k == "contract.resolved"));
    }
}

async fn a_delivery_is_approved_automatically(backend: Backend) {
    let mut config = test_config();
    config.marketplace.auto_approve_after = Duration::from_secs(1);
    let app = TestApp::spawn_with(backend, config).await;
    let (client, agent, contract) = delivered(&app).await;
    let path = format!("/api/v1/contracts/{contract}");
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (_, body) = call(&app, Method::GET, &path, &client.token, None).await;
        if body["data"]["status"] == "approved" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not approved: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(wallet(&app, &agent.owner).await, 90.0);
}

async fn both_parties_talk_and_the_agent_has_an_inbox(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (client, agent, contract) = accepted(&app, 0).await;
    let path = format!("/api/v1/contracts/{contract}/messages");
    let (status, first) =
        call(&app, Method::POST, &path, &client.token, Some(json!({"content": "Hi, any questions?"}))).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["data"]["sender_id"], client.id.as_str());
    assert!(first["data"].get("sender_agent_id").is_none());
    let reply = json!({"content": "None, starting now.", "attachment_url": "https://example.com/plan.pdf", "attachment_name": "plan.pdf"});
    let (status, second) = call(&app, Method::POST, &path, &agent.key, Some(reply)).await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["data"]["sender_agent_id"], agent.agent_id.as_str());
    for bearer in [&client.token, &agent.key] {
        let (_, list) = call(&app, Method::GET, &path, bearer, None).await;
        assert_eq!(list["data"].as_array().unwrap().len(), 2);
        assert_eq!(list["data"][0]["content"], "Hi, any questions?");
    }
    let (_, inbox) = call(&app, Method::GET, "/api/v1/agent/messages", &agent.key, None).await;
    assert_eq!(inbox["data"][0]["content"], "None, starting now.", "newest first: {inbox}");
    assert_eq!(inbox["data"].as_array().unwrap().len(), 2);
    let (_, filtered) =
        call(&app, Method::GET, &format!("/api/v1/agent/messages?contract_id={contract}&limit=1"), &agent.key, None)
            .await;
    assert_eq!(filtered["data"].as_array().unwrap().len(), 1);
    let too_long = json!({"content": "x".repeat(5_001)});
    assert_error(app.post(&path, Some(&client.token), too_long).await, 400, "VALIDATION_ERROR").await;
}

async fn a_review_updates_the_agents_stats(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (client, agent, contract) = delivered(&app).await;
    let review = format!("/api/v1/contracts/{contract}/review");
    let (status, body) = call(&app, Method::POST, &review, &client.token, Some(json!({"rating": 5}))).await;
    assert_eq!(status, 409, "not approved yet: {body}");
    assert_eq!(
        call(&app, Method::POST, &format!("/api/v1/contracts/{contract}/approve"), &client.token, None).await.0,
        200
    );
    assert_error(app.post(&review, Some(&client.token), json!({"rating": 6})).await, 400, "VALIDATION_ERROR").await;
    assert_error(app.post(&review, Some(&agent.key), json!({"rating": 5})).await, 403, "FORBIDDEN").await;
    let (status, body) =
        call(&app, Method::POST, &review, &client.token, Some(json!({"rating": 4, "comment": "Good work."}))).await;
    assert_eq!((status, &body["data"]["rating"]), (201, &json!(4)), "{body}");
    assert_eq!(call(&app, Method::POST, &review, &client.token, Some(json!({"rating": 5}))).await.0, 409);
    let agent_id = AgentId::parse(&agent.agent_id).unwrap();
    let (completed, rating_sum, reviews, earned) = app.db().store.profile_stats(agent_id).await.unwrap().unwrap();
    assert_eq!((completed, rating_sum, reviews, earned.to_usdc_f64()), (1, 4, 1, 90.0));
}

async fn proposals_are_edited_and_withdrawn_while_pending(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.register("client@example.com").await;
    let agent = app.listed_agent("agent@example.com").await;
    let gig = post_gig(&app, &client, 10, 2).await;
    let (_, proposal) = propose(&app, &agent, &gig, 50.0).await;
    let id = proposal["data"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/agent/proposals/{id}");
    let (status, edited) =
        call(&app, Method::PATCH, &path, &agent.key, Some(json!({"proposed_amount_usdc": 45}))).await;
    assert_eq!((status, &edited["data"]["proposed_amount_usdc"]), (200, &json!(45.0)), "{edited}");
    assert_error(app.patch(&path, &agent.key, json!({"cover_letter": "short"})).await, 400, "VALIDATION_ERROR").await;
    let other = app.listed_agent("other@example.com").await;
    assert_error(app.get(&path, &other.key).await, 404, "NOT_FOUND").await;
    let (status, body) =
        call(&app, Method::DELETE, &format!("/api/v1/gigs/{gig}/proposals?proposal_id={id}"), &agent.key, None).await;
    assert_eq!((status, &body["data"]["message"]), (200, &json!("Proposal withdrawn")), "{body}");
    assert_eq!(app.get_json(&path, &agent.key).await["data"]["status"], "withdrawn");
    assert_eq!(
        call(&app, Method::DELETE, &format!("/api/v1/gigs/{gig}/proposals/{id}"), &agent.key, None).await.0,
        409
    );
    assert_error(app.patch(&path, &agent.key, json!({"estimated_hours": 3})).await, 409, "CONFLICT").await;
    // Withdrawn, the agent may bid again.
    assert_eq!(propose(&app, &agent, &gig, 40.0).await.0, 201);
}

async fn an_unfunded_contract_cancels(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (client, _agent, contract) = accepted(&app, 0).await;
    let (status, body) =
        call(&app, Method::POST, &format!("/api/v1/contracts/{contract}/cancel"), &client.token, None).await;
    assert_eq!((status, &body["data"]["status"]), (200, &json!("cancelled")), "{body}");
    let gig = GigId::parse(body["data"]["gig_id"].as_str().unwrap()).unwrap();
    assert_eq!(app.db().store.market_gig(gig).await.unwrap().unwrap().status, GigStatus::Cancelled);
    let fund = format!("/api/v1/contracts/{contract}/fund-escrow");
    assert_eq!(call(&app, Method::POST, &fund, &client.token, None).await.0, 409);
}

async fn an_agent_hires_through_the_hiring_aliases(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hirer = app.listed_agent("hirer@example.com").await;
    let worker = app.listed_agent("worker@example.com").await;
    let gig = post_gig(&app, &hirer.owner, 10, 2).await;
    let (_, proposal) = propose(&app, &worker, &gig, 100.0).await;
    let accept = json!({"proposal_id": proposal["data"]["id"]});
    // Only an autonomous agent hires this way.
    let path = format!("/api/v1/agents/me/gigs/{gig}/accept-proposal");
    assert_error(app.post(&path, Some(&hirer.key), accept.clone()).await, 403, "FORBIDDEN").await;
    app.make_autonomous(backend, &hirer).await;
    let (status, accepted) =
        call(&app, Method::POST, &format!("/api/v1/agents/me/gigs/{gig}/accept-proposal"), &hirer.key, Some(accept))
            .await;
    assert_eq!(status, 201, "{accepted}");
    let contract = accepted["data"]["contract_id"].as_str().unwrap().to_owned();
    deposit(&app, &hirer.owner, 100).await;
    // Bodiless, as the SDK sends them: no Content-Type.
    let fund = format!("/api/v1/agents/me/contracts/{contract}/fund-escrow");
    let (status, body) = call(&app, Method::POST, &fund, &hirer.key, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(deliver(&app, &worker, &contract).await.0, 200);
    let (status, approved) =
        call(&app, Method::POST, &format!("/api/v1/agents/me/contracts/{contract}/approve"), &hirer.key, None).await;
    assert_eq!((status, &approved["data"]["payout"]), (200, &json!(90.0)), "{approved}");
    assert_eq!(wallet(&app, &worker.owner).await, 90.0);
    let (status, page) = call(&app, Method::GET, "/api/v1/agents/me/hiring", &hirer.key, None).await;
    assert_eq!(status, 200);
    assert_eq!(page["data"]["total"], 1, "a page object, double-enveloped: {page}");
    assert_eq!(page["data"]["data"][0]["hiring_agent_id"], hirer.agent_id.as_str());
    // The hirer disputes through its alias only while the contract is open; the worker, not an
    // autonomous agent, cannot hire at all.
    let dispute = json!({"reason": "This is not what was asked for at all."});
    let path = format!("/api/v1/agents/me/contracts/{contract}/dispute");
    assert_eq!(call(&app, Method::POST, &path, &hirer.key, Some(dispute.clone())).await.0, 409, "approved already");
    assert_eq!(call(&app, Method::POST, &path, &worker.key, Some(dispute)).await.0, 403);
}

async fn only_a_listed_agent_with_a_complete_profile_bids(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.register("client@example.com").await;
    let gig = post_gig(&app, &client, 10, 2).await;
    let unlisted = app.market_agent("unlisted@example.com").await;
    let (status, body) = propose(&app, &unlisted, &gig, 50.0).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("not listed"), "{body}");

    // Listed without skills: the refusal names what is missing, and nothing is recorded.
    let listed = app.market_agent("half@example.com").await;
    let path = format!("/api/agents/{}/marketplace", listed.agent_id);
    let listing = json!({"username": "half-done", "description": "Scrapes things"});
    let response = app.request(Method::PUT, &path, Some(&listed.owner.token)).json(&listing).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let (status, body) = propose(&app, &listed, &gig, 50.0).await;
    assert_eq!(status, 403, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("skills") && message.contains("categories"), "{message}");
    let proposals = app.get_json(&format!("/api/v1/gigs/{gig}/proposals"), &client.token).await;
    assert_eq!(proposals["data"], json!([]), "{proposals}");
}
