//! Who may touch a contract and how often: other accounts see nothing (404), scopes and key kinds are
//! required (403), the marketplace's rate limits, and Idempotency-Key replays.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use talon_domain::GigId;
use talon_store::Backend;

use super::{COVER, accepted, call, post_gig, propose};
use crate::common::{TestApp, assert_error, test_config, wait_for_fresh_minute};

on_both_databases!(
    every_route_hides_others_resources_and_needs_its_scope,
    other_accounts_see_nothing_and_scopes_are_required,
    the_eleventh_proposal_in_a_minute_is_limited,
    submissions_and_deliveries_replay_by_idempotency_key,
    a_key_has_a_thousand_marketplace_requests_an_hour,
    a_plan_sets_the_proposal_budget,
);

async fn other_accounts_see_nothing_and_scopes_are_required(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (client, agent, contract) = accepted(&app, 100).await;
    let stranger = app.register("stranger@example.com").await;
    let other_agent = app.listed_agent("other@example.com").await;
    let contract_gig = app.get_json(&format!("/api/v1/contracts/{contract}"), &client.token).await["data"]["gig_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for bearer in [&stranger.token, &other_agent.key] {
        for path in [format!("/api/v1/contracts/{contract}"), format!("/api/v1/contracts/{contract}/messages")] {
            assert_error(app.get(&path, bearer).await, 404, "NOT_FOUND").await;
        }
        let message = json!({"content": "hello"});
        let path = format!("/api/v1/contracts/{contract}/messages");
        assert_error(app.post(&path, Some(bearer), message).await, 404, "NOT_FOUND").await;
    }
    assert_error(app.get(&format!("/api/v1/gigs/{contract_gig}/proposals"), &stranger.token).await, 404, "NOT_FOUND")
        .await;
    let fund = format!("/api/v1/contracts/{contract}/fund-escrow");
    assert_error(app.request(Method::POST, &fund, Some(&stranger.token)).send().await.unwrap(), 404, "NOT_FOUND").await;
    // The hired agent's key acts as the agent: the client side is refused to it.
    assert_error(app.request(Method::POST, &fund, Some(&agent.key)).send().await.unwrap(), 403, "FORBIDDEN").await;
    assert_error(app.get("/api/v1/agent/contracts", &client.token).await, 403, "FORBIDDEN").await;
    assert_error(app.get("/api/v1/contracts/not-an-id", &client.token).await, 404, "NOT_FOUND").await;

    // A key without the marketplace scopes.
    let read_only = app.api_key(&client, &["agents:read"]).await;
    assert_error(app.get("/api/v1/client/contracts", &read_only).await, 403, "FORBIDDEN").await;
    assert_error(app.request(Method::POST, &fund, Some(&read_only)).send().await.unwrap(), 403, "FORBIDDEN").await;
    let reader = app
        .post(
            "/api/api-keys",
            Some(&agent.owner.token),
            json!({"name": "reader", "scopes": ["marketplace:read"], "agentId": agent.agent_id}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let gig = post_gig(&app, &stranger, 10, 2).await;
    let body = json!({"proposed_amount_usdc": 10, "cover_letter": COVER});
    let path = format!("/api/v1/gigs/{gig}/proposals");
    assert_error(app.post(&path, Some(&reader), body.clone()).await, 403, "FORBIDDEN").await;
    assert_eq!(app.get("/api/v1/agent/proposals", &reader).await.status(), 200);
    // An agent never bids on a gig of its own account.
    let own = post_gig(&app, &agent.owner, 10, 2).await;
    let own_path = format!("/api/v1/gigs/{own}/proposals");
    assert_error(app.post(&own_path, Some(&agent.key), body.clone()).await, 403, "FORBIDDEN").await;
    let unknown = format!("/api/v1/gigs/{}/proposals", GigId::new());
    assert_error(app.post(&unknown, Some(&agent.key), body).await, 404, "NOT_FOUND").await;
}

async fn the_eleventh_proposal_in_a_minute_is_limited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.register("client@example.com").await;
    let agent = app.listed_agent("agent@example.com").await;
    let gig = post_gig(&app, &client, 50, 2).await;
    wait_for_fresh_minute().await;
    assert_eq!(propose(&app, &agent, &gig, 10.0).await.0, 201);
    for _ in 0..9 {
        assert_eq!(propose(&app, &agent, &gig, 10.0).await.0, 409, "refused submissions count too");
    }
    let body = json!({"proposed_amount_usdc": 10, "cover_letter": COVER});
    let response = app.post(&format!("/api/v1/gigs/{gig}/proposals"), Some(&agent.key), body).await;
    assert_eq!(response.status(), 429);
    let retry: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(response.headers()["x-ratelimit-limit"], "10");
    assert_eq!(response.headers()["x-ratelimit-remaining"], "0");
    // Other calls go on.
    assert_eq!(app.get("/api/v1/agent/proposals", &agent.key).await.status(), 200);
}

async fn submissions_and_deliveries_replay_by_idempotency_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (client, agent, contract) = accepted(&app, 100).await;
    let gig = post_gig(&app, &client, 10, 2).await;
    let body = json!({"proposed_amount_usdc": 12.5, "cover_letter": COVER});
    let mut answers = vec![];
    for _ in 0..2 {
        let response = app
            .request(Method::POST, &format!("/api/v1/gigs/{gig}/proposals"), Some(&agent.key))
            .header("Idempotency-Key", "proposal-1")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        answers.push(response.json::<Value>().await.unwrap());
    }
    assert_eq!(answers[0], answers[1]);
    let (_, mine) = call(&app, Method::GET, "/api/v1/agent/proposals", &agent.key, None).await;
    assert_eq!(mine["data"].as_array().unwrap().len(), 2, "the accepted one and one new: {mine}");

    let fund = format!("/api/v1/contracts/{contract}/fund-escrow");
    assert_eq!(call(&app, Method::POST, &fund, &client.token, None).await.0, 200);
    let delivery = json!({"delivery_notes": "Done.", "attachments": ["https://example.com/a.csv"]});
    let mut answers = vec![];
    for _ in 0..2 {
        let response = app
            .request(Method::POST, &format!("/api/v1/contracts/{contract}/deliver"), Some(&agent.key))
            .header("Idempotency-Key", "delivery-1")
            .json(&delivery)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        answers.push(response.json::<Value>().await.unwrap());
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0]["data"]["attachments"], json!(["https://example.com/a.csv"]));
}

async fn a_key_has_a_thousand_marketplace_requests_an_hour(backend: Backend) {
    let mut config = test_config();
    config.plans = crate::common::plans(1_000_000, 1_000_000);
    let app = TestApp::spawn_with(backend, config).await;
    let agent = app.listed_agent("agent@example.com").await;
    // Hour windows are aligned to the clock: stay clear of the turn of the hour.
    let into_hour = chrono::Utc::now().timestamp() % 3_600;
    if into_hour >= 3_540 {
        tokio::time::sleep(Duration::from_secs((3_601 - into_hour) as u64)).await;
    }
    for _ in 0..20 {
        let batch = (0..50).map(|_| app.get("/api/v1/agent/proposals", &agent.key));
        for response in futures::future::join_all(batch).await {
            assert_eq!(response.status(), 200);
        }
    }
    let refused = app.get("/api/v1/agent/contracts", &agent.key).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["x-ratelimit-limit"], "1000");
    assert!(refused.headers().contains_key("retry-after"));
    // Outside the marketplace the key still works.
    let elsewhere = app.get(&format!("/api/agents/{}", agent.agent_id), &agent.key).await;
    assert_ne!(elsewhere.status(), 429);
}

/// A key restricted to the agent holding only `scopes`.
async fn agent_key_with(app: &TestApp, agent: &super::MarketAgent, scopes: &[&str]) -> String {
    let body = json!({"name": "narrow", "scopes": scopes, "agentId": agent.agent_id});
    let response = app.post("/api/api-keys", Some(&agent.owner.token), body).await;
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_owned()
}

async fn every_route_hides_others_resources_and_needs_its_scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (client, agent, contract) = accepted(&app, 0).await;
    let gig = app.get_json(&format!("/api/v1/contracts/{contract}"), &client.token).await["data"]["gig_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, mine) = call(&app, Method::GET, "/api/v1/agent/proposals", &agent.key, None).await;
    let proposal = mine["data"][0]["id"].as_str().unwrap().to_owned();
    let stranger = app.register("stranger@example.com").await;
    let other = app.listed_agent("other@example.com").await;
    app.make_autonomous(backend, &other).await;
    let agent_unscoped = agent_key_with(&app, &agent, &["agents:read"]).await;
    let client_unscoped = app.api_key(&client, &["agents:read"]).await;

    let reason = json!({"reason": "This is not what was asked for at all."});
    // (method, path, body, reaches something of another account)
    let agent_routes: Vec<(Method, String, Option<Value>, bool)> = vec![
        (
            Method::POST,
            format!("/api/v1/gigs/{gig}/proposals"),
            Some(json!({"proposed_amount_usdc": 10, "cover_letter": COVER})),
            false,
        ),
        (Method::DELETE, format!("/api/v1/gigs/{gig}/proposals/{proposal}"), None, true),
        (Method::DELETE, format!("/api/v1/gigs/{gig}/proposals?proposal_id={proposal}"), None, true),
        (Method::GET, "/api/v1/agent/proposals".into(), None, false),
        (Method::GET, format!("/api/v1/agent/proposals/{proposal}"), None, true),
        (Method::PATCH, format!("/api/v1/agent/proposals/{proposal}"), Some(json!({"estimated_hours": 3})), true),
        (Method::GET, "/api/v1/agent/contracts".into(), None, false),
        (Method::POST, format!("/api/v1/contracts/{contract}/deliver"), Some(json!({"delivery_notes": "Done."})), true),
        (Method::GET, "/api/v1/agent/messages".into(), None, false),
        (
            Method::POST,
            format!("/api/v1/agents/me/gigs/{gig}/accept-proposal"),
            Some(json!({"proposal_id": proposal})),
            true,
        ),
        (Method::POST, format!("/api/v1/agents/me/contracts/{contract}/fund-escrow"), None, true),
        (Method::POST, format!("/api/v1/agents/me/contracts/{contract}/approve"), None, true),
        (Method::POST, format!("/api/v1/agents/me/contracts/{contract}/dispute"), Some(reason.clone()), true),
        (Method::GET, "/api/v1/agents/me/hiring".into(), None, false),
    ];
    let client_routes: Vec<(Method, String, Option<Value>, bool)> = vec![
        (Method::GET, format!("/api/v1/gigs/{gig}/proposals"), None, true),
        (Method::POST, format!("/api/v1/gigs/{gig}/accept-proposal"), Some(json!({"proposal_id": proposal})), true),
        (Method::GET, "/api/v1/client/contracts".into(), None, false),
        (Method::GET, format!("/api/v1/contracts/{contract}"), None, true),
        (Method::POST, format!("/api/v1/contracts/{contract}/fund-escrow"), None, true),
        (Method::POST, format!("/api/v1/contracts/{contract}/approve"), None, true),
        (Method::POST, format!("/api/v1/contracts/{contract}/request-revision"), Some(reason.clone()), true),
        (Method::POST, format!("/api/v1/contracts/{contract}/dispute"), Some(reason.clone()), true),
        (Method::POST, format!("/api/v1/contracts/{contract}/review"), Some(json!({"rating": 5})), true),
        (Method::POST, format!("/api/v1/contracts/{contract}/cancel"), None, true),
        (Method::GET, format!("/api/v1/contracts/{contract}/messages"), None, true),
        (Method::POST, format!("/api/v1/contracts/{contract}/messages"), Some(json!({"content": "hi"})), true),
        (
            Method::POST,
            format!("/api/v1/admin/contracts/{contract}/resolve"),
            Some(json!({"resolution": "refund"})),
            false,
        ),
    ];
    for (routes, foreign, unscoped) in
        [(&agent_routes, &other.key, &agent_unscoped), (&client_routes, &stranger.token, &client_unscoped)]
    {
        for (method, path, body, owned) in routes {
            if *owned {
                let (status, answer) = call(&app, method.clone(), path, foreign, body.clone()).await;
                assert_eq!(status, 404, "{method} {path} by another account: {answer}");
            }
            let (status, answer) = call(&app, method.clone(), path, unscoped, body.clone()).await;
            assert_eq!(status, 403, "{method} {path} without the scope: {answer}");
        }
    }
}

async fn a_plan_sets_the_proposal_budget(backend: Backend) {
    let mut config = test_config();
    config.plans = crate::common::plans_with(talon_server::limits::Plan {
        proposals_per_minute: 2,
        ..talon_server::limits::Plan::default()
    });
    let app = TestApp::spawn_with(backend, config).await;
    let client = app.register("client@example.com").await;
    let agent = app.listed_agent("agent@example.com").await;
    let gig = post_gig(&app, &client, 50, 2).await;
    wait_for_fresh_minute().await;
    assert_eq!(propose(&app, &agent, &gig, 10.0).await.0, 201);
    assert_eq!(propose(&app, &agent, &gig, 10.0).await.0, 409);
    let (status, body) = propose(&app, &agent, &gig, 10.0).await;
    assert_eq!(status, 429, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("at most 2 a minute"), "{body}");
}
