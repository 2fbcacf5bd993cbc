//! The marketplace's agents through HTTP: registration (no credentials), claiming, listing an
//! account's agent, the agent's profile, readiness, email verification and portfolio.

use reqwest::Method;
use serde_json::{Value, json};
use talon_store::Backend;

use crate::common::{TestApp, assert_error, logs, test_config};

on_both_databases!(
    registration_answers_its_shape_without_credentials,
    registration_lists_every_bad_field_and_refuses_taken_usernames,
    autonomous_registration,
    claiming_moves_the_agent_into_the_account,
    an_account_lists_its_agent_and_its_restricted_key_works,
    readiness_blocks_bidding_until_the_profile_is_complete,
    email_is_verified_with_the_logged_code,
    portfolio_crud_is_per_agent,
);

/// Sends a request and returns the status and JSON body.
pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app.request(method, path, bearer);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn registration(username: &str) -> Value {
    json!({
        "name": "Code Reviewer",
        "username": username,
        "description": "Reviews Rust pull requests within the hour",
        "skills": ["rust", "code review"],
        "categories": ["code"],
        "webhook_url": "https://agent.example/hooks/clawgig",
    })
}

/// Registers an agent (no credentials) and returns the response's `data`.
pub async fn register_agent(app: &TestApp, username: &str) -> Value {
    let (status, body) = call(app, Method::POST, "/api/v1/agents/register", None, Some(registration(username))).await;
    assert_eq!(status, 201, "{body}");
    body["data"].clone()
}

fn fields(body: &Value) -> Vec<String> {
    body["error"]["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap().to_owned()).collect()
}

async fn registration_answers_its_shape_without_credentials(backend: Backend) {
    let mut config = test_config();
    config.marketplace.public_url = "https://talon.example/".into();
    let app = TestApp::spawn_with(backend, config).await;
    let data = register_agent(&app, "code-reviewer").await;
    let agent_id = data["agent_id"].as_str().unwrap();
    assert!(agent_id.starts_with("agent_"), "{data}");
    let token = data["claim_token"].as_str().unwrap();
    assert_eq!(data["claim_url"], format!("https://talon.example/claim?token={token}"));
    let key = data["api_key"].as_str().unwrap();
    // The claim URL leads somewhere: how to claim with the token.
    let page: Value =
        app.client.get(app.url(&format!("/claim?token={token}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(page["data"]["claim_token"], token);
    assert_eq!(page["data"]["claim_endpoint"], "/api/v1/agents/claim");

    let (status, profile) = call(&app, Method::GET, "/api/v1/agent/profile", Some(key), None).await;
    assert_eq!(status, 200, "{profile}");
    let p = &profile["data"];
    assert_eq!(p["id"], agent_id);
    assert_eq!(p["username"], "code-reviewer");
    assert_eq!(p["slug"], "code-reviewer");
    assert_eq!(p["name"], "Code Reviewer");
    assert_eq!(p["skills"], json!(["rust", "code review"]));
    assert_eq!(p["categories"], json!(["code"]));
    assert_eq!(p["status"], "active");
    assert_eq!(p["is_claimed"], false);
    assert_eq!(p["is_autonomous"], false);
    assert_eq!(p["operator_id"], Value::Null);
    assert_eq!(p["stats_avg_rating"], 0.0);
    assert_eq!(p["stats_total_earned"], 0.0);
    assert_eq!(p["verified"], false);
    for member in ["bio", "avatar_url", "hourly_rate_usdc", "verified_at", "last_active_at", "wallet_address"] {
        assert!(p.get(member).is_some_and(Value::is_null), "{member}: {p}");
    }
    // The unclaimed account cannot sign in: its password hash matches nothing.
    let login = json!({"email": "code-reviewer@agents.invalid", "password": "anything at all"});
    let (status, _) = call(&app, Method::POST, "/api/auth/login", None, Some(login)).await;
    assert_eq!(status, 401);
}

async fn registration_lists_every_bad_field_and_refuses_taken_usernames(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, body) =
        call(&app, Method::POST, "/api/v1/agents/register", None, Some(json!({"name": "Only a name"}))).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
    let missing = fields(&body);
    for field in ["username", "description", "skills", "categories", "webhook_url"] {
        assert!(missing.iter().any(|f| f == field), "{field}: {body}");
    }

    let bad = json!({
        "name": "x", "username": "Has Capitals", "description": "d".repeat(501), "skills": ["s".repeat(31)],
        "categories": ["cooking"], "webhook_url": "ftp://agent.example/hook", "avatar_url": "not a url",
        "hourly_rate_usdc": -3,
    });
    let (status, body) = call(&app, Method::POST, "/api/v1/agents/register", None, Some(bad)).await;
    assert_eq!(status, 400, "{body}");
    let bad_fields = fields(&body);
    for field in [
        "name",
        "username",
        "description",
        "skills[0]",
        "categories[0]",
        "webhook_url",
        "avatar_url",
        "hourly_rate_usdc",
    ] {
        assert!(bad_fields.iter().any(|f| f == field), "{field}: {body}");
    }
    let (status, body) =
        call(&app, Method::POST, "/api/v1/agents/register", None, Some(registration("Upper-Case"))).await;
    assert_eq!(status, 400, "capitals are refused, not lowered: {body}");
    assert_eq!(fields(&body), ["username"]);
    let mut unknown = registration("extra-field");
    unknown["surprise"] = json!(true);
    let (status, _) = call(&app, Method::POST, "/api/v1/agents/register", None, Some(unknown)).await;
    assert_eq!(status, 400);

    register_agent(&app, "taken_name").await;
    let response = app.post("/api/v1/agents/register", None, registration("taken_name")).await;
    let body = assert_error(response, 409, "CONFLICT").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("taken_name"), "{body}");
}

async fn autonomous_registration(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut body = registration("auto-bot");
    body.as_object_mut().unwrap().remove("webhook_url");
    body["wallet_address"] = json!("7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU");
    let (status, created) =
        call(&app, Method::POST, "/api/v1/agents/register/autonomous", None, Some(body.clone())).await;
    assert_eq!(status, 201, "{created}");
    let data = &created["data"];
    assert!(data["agent_id"].as_str().unwrap().starts_with("agent_"));
    assert!(data["user_id"].as_str().unwrap().starts_with("user_"));
    assert_eq!(data["wallet_address"], "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU");
    assert!(data["message"].as_str().is_some_and(|m| !m.is_empty()));
    let key = data["api_key"].as_str().unwrap();
    let profile = app.get_json("/api/v1/agent/profile", key).await;
    assert_eq!(profile["data"]["is_autonomous"], true);
    assert_eq!(profile["data"]["wallet_address"], "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU");

    body["username"] = json!("short-desc");
    body["description"] = json!("Too short");
    body.as_object_mut().unwrap().remove("wallet_address");
    let (status, refused) = call(&app, Method::POST, "/api/v1/agents/register/autonomous", None, Some(body)).await;
    assert_eq!(status, 400, "{refused}");
    let bad = fields(&refused);
    assert!(bad.contains(&"wallet_address".to_owned()), "{refused}");
}

async fn claiming_moves_the_agent_into_the_account(backend: Backend) {
    let mut config = test_config();
    config.marketplace.sandbox = true;
    let app = TestApp::spawn_with(backend, config).await;
    let data = register_agent(&app, "claimable").await;
    let (key, token, agent) =
        (data["api_key"].as_str().unwrap(), data["claim_token"].as_str().unwrap(), data["agent_id"].as_str().unwrap());
    let owner = app.register("owner@example.com").await;
    let deposit = json!({"amount_usdc": 12.5, "reference": "claimer-funds"});
    let (status, _) = call(&app, Method::POST, "/api/v1/wallet/deposits", Some(&owner.token), Some(deposit)).await;
    assert_eq!(status, 201);
    assert_eq!(app.get_json("/api/v1/wallet", key).await["data"]["balance_usdc"], 0.0, "the unclaimed account's");

    // A key cannot claim; an unknown token is 404.
    let owner_key = app.api_key(&owner, &["marketplace:read", "marketplace:write"]).await;
    let claim = json!({"claim_token": token});
    let (status, _) = call(&app, Method::POST, "/api/v1/agents/claim", Some(&owner_key), Some(claim.clone())).await;
    assert_eq!(status, 403);
    let (status, _) = call(&app, Method::POST, "/api/v1/agents/claim", None, Some(claim.clone())).await;
    assert_eq!(status, 401);
    let unknown = json!({"claim_token": "clm_nothing"});
    assert_error(app.post("/api/v1/agents/claim", Some(&owner.token), unknown).await, 404, "NOT_FOUND").await;

    let (status, claimed) =
        call(&app, Method::POST, "/api/v1/agents/claim", Some(&owner.token), Some(claim.clone())).await;
    assert_eq!(status, 200, "{claimed}");
    assert_eq!(claimed["data"]["agent_id"], agent);
    assert_eq!(claimed["data"]["user_id"], owner.id.as_str());
    // Used once.
    assert_error(app.post("/api/v1/agents/claim", Some(&owner.token), claim).await, 404, "NOT_FOUND").await;

    // The agent's key now acts for the claimer: its wallet is the claimer's.
    let wallet = app.get_json("/api/v1/wallet", key).await;
    assert_eq!(wallet["data"], json!({"balance_usdc": 12.5, "pending_escrow_usdc": 0.0, "currency": "USDC"}));
    let profile = app.get_json("/api/v1/agent/profile", key).await;
    assert_eq!(profile["data"]["is_claimed"], true);
    assert_eq!(profile["data"]["operator_id"], owner.id.as_str());
    // The registry agent is the claimer's too.
    let found = app.get_json(&format!("/api/agents/{agent}"), &owner.token).await;
    assert_eq!(found["id"], agent);
}

async fn an_account_lists_its_agent_and_its_restricted_key_works(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let market = app.market_agent("lister@example.com").await;
    let path = format!("/api/agents/{}/marketplace", market.agent_id);
    // Not listed yet: the agent side has no profile.
    let (status, _) = call(&app, Method::GET, "/api/v1/agent/profile", Some(&market.key), None).await;
    assert_eq!(status, 404);

    let listing = json!({"username": "listed-bot", "description": "Reviews code", "skills": ["rust"],
        "categories": ["code"], "hourly_rate_usdc": 42.5, "auto_work": true});
    let (status, body) = call(&app, Method::PUT, &path, Some(&market.owner.token), Some(listing.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["username"], "listed-bot");
    assert_eq!(body["data"]["name"], "Code Review Agent", "the agent's name when none is given");
    assert_eq!(body["data"]["hourly_rate_usdc"], 42.5);
    assert_eq!(body["data"]["is_claimed"], true);
    assert_eq!(body["data"]["operator_id"], market.owner.id.as_str());

    let profile = app.get_json("/api/v1/agent/profile", &market.key).await;
    assert_eq!(profile["data"]["id"], market.agent_id.as_str());
    assert_eq!(profile["data"]["username"], "listed-bot");
    // A second PUT updates the listing.
    let renamed = json!({"username": "listed-bot", "name": "Renamed Bot"});
    let (status, body) = call(&app, Method::PUT, &path, Some(&market.owner.token), Some(renamed)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.get_json("/api/v1/agent/profile", &market.key).await["data"]["name"], "Renamed Bot");

    // Another account's agent is 404; a key without agents:write, or restricted to the agent, is 403.
    let other = app.market_agent("other@example.com").await;
    let (status, _) = call(&app, Method::PUT, &path, Some(&other.owner.token), Some(listing.clone())).await;
    assert_eq!(status, 404);
    let (status, _) =
        call(&app, Method::PUT, "/api/agents/agent_nonsense/marketplace", Some(&other.owner.token), Some(listing))
            .await;
    assert_eq!(status, 404);
    let read_only = app.api_key(&market.owner, &["agents:read", "marketplace:write"]).await;
    let (status, _) = call(&app, Method::PUT, &path, Some(&read_only), Some(json!({"username": "listed-bot"}))).await;
    assert_eq!(status, 403);
    let (status, _) = call(&app, Method::PUT, &path, Some(&market.key), Some(json!({"username": "listed-bot"}))).await;
    assert_eq!(status, 403);
    // The username is the marketplace's, not the account's.
    let other_path = format!("/api/agents/{}/marketplace", other.agent_id);
    let (status, body) =
        call(&app, Method::PUT, &other_path, Some(&other.owner.token), Some(json!({"username": "listed-bot"}))).await;
    assert_eq!(status, 409, "{body}");
}

async fn readiness_blocks_bidding_until_the_profile_is_complete(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let market = app.market_agent("ready@example.com").await;
    let path = format!("/api/agents/{}/marketplace", market.agent_id);
    let (status, _) =
        call(&app, Method::PUT, &path, Some(&market.owner.token), Some(json!({"username": "half-done"}))).await;
    assert_eq!(status, 200);

    let readiness = app.get_json("/api/v1/agent/readiness", &market.key).await;
    assert_eq!(
        readiness["data"],
        json!({"ready": false, "missing": ["description", "skills", "categories"],
            "recommended": ["bio", "avatar_url", "hourly_rate_usdc", "portfolio", "verified_email"]})
    );
    let status_body = app.get_json("/api/v1/agent/status", &market.key).await;
    assert_eq!(status_body["data"], json!({"status": "active", "profile_complete": false, "verified": false}));
    let agent = talon_domain::AgentId::parse(&market.agent_id).unwrap();
    let refused = app.state.marketplace.agents.require_ready(agent).await.unwrap_err();
    let refused = talon_server::api::error::ApiError::from(refused);
    assert_eq!(refused.status(), 403);
    assert!(refused.message().contains("description, skills, categories"), "{}", refused.message());

    let (status, body) = call(
        &app,
        Method::PATCH,
        "/api/v1/agent/profile",
        Some(&market.key),
        Some(json!({"categories": ["nope"], "hourly_rate_usdc": 0})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(fields(&body), ["categories[0]", "hourly_rate_usdc"]);
    let complete = json!({"description": "Reviews code", "skills": ["rust"], "categories": ["code"], "bio": "Fast",
        "avatar_url": "https://cdn.example/a.png", "hourly_rate_usdc": 30, "webhook_url": "https://agent.example/h"});
    let (status, body) = call(&app, Method::PATCH, "/api/v1/agent/profile", Some(&market.key), Some(complete)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["bio"], "Fast");
    assert_eq!(body["data"]["hourly_rate_usdc"], 30.0);
    let readiness = app.get_json("/api/v1/agent/readiness", &market.key).await;
    assert_eq!(
        readiness["data"],
        json!({"ready": true, "missing": [], "recommended": ["portfolio", "verified_email"]})
    );
    app.state.marketplace.agents.require_ready(agent).await.unwrap();

    // A session is not an agent; a read-only agent key cannot write.
    let (status, _) = call(&app, Method::GET, "/api/v1/agent/readiness", Some(&market.owner.token), None).await;
    assert_eq!(status, 403);
    let response = app
        .post(
            "/api/api-keys",
            Some(&market.owner.token),
            json!({"name": "ro", "scopes": ["marketplace:read"], "agentId": market.agent_id}),
        )
        .await;
    let read_key = response.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_owned();
    app.get_json("/api/v1/agent/profile", &read_key).await;
    let (status, _) =
        call(&app, Method::PATCH, "/api/v1/agent/profile", Some(&read_key), Some(json!({"bio": "x"}))).await;
    assert_eq!(status, 403);
    let item = json!({"title": "Read-only keys add nothing"});
    let (status, _) = call(&app, Method::POST, "/api/v1/agent/portfolio", Some(&read_key), Some(item)).await;
    assert_eq!(status, 403);
    let email = json!({"email": "a@b.example"});
    let (status, _) = call(&app, Method::POST, "/api/v1/agent/verify-email", Some(&read_key), Some(email)).await;
    assert_eq!(status, 403);
}

/// The 6-digit code the log shows was mailed to `to`, newest first.
fn mailed_code(to: &str) -> String {
    let line = logs::lines()
        .into_iter()
        .rev()
        .find(|l| l["fields"]["to"] == to)
        .unwrap_or_else(|| panic!("no mail to {to} in the log"));
    let body = line["fields"]["body"].as_str().unwrap();
    body.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == 6).unwrap().to_owned()
}

async fn email_is_verified_with_the_logged_code(backend: Backend) {
    logs::capture();
    let app = TestApp::spawn(backend).await;
    let key = register_agent(&app, "verifier").await["api_key"].as_str().unwrap().to_owned();
    let email = format!("verify-{}@example.com", backend.as_str());
    let (status, _) =
        call(&app, Method::POST, "/api/v1/agent/confirm-email", Some(&key), Some(json!({"code": "000000"}))).await;
    assert_eq!(status, 400, "nothing pending");
    let (status, body) =
        call(&app, Method::POST, "/api/v1/agent/verify-email", Some(&key), Some(json!({"email": "nope"}))).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) =
        call(&app, Method::POST, "/api/v1/agent/verify-email", Some(&key), Some(json!({"email": email}))).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"]["message"].is_string());
    let code = mailed_code(&email);
    let wrong = if code == "111111" { "222222" } else { "111111" };
    let (status, _) =
        call(&app, Method::POST, "/api/v1/agent/confirm-email", Some(&key), Some(json!({"code": wrong}))).await;
    assert_eq!(status, 400);
    let (status, body) =
        call(&app, Method::POST, "/api/v1/agent/confirm-email", Some(&key), Some(json!({"code": code}))).await;
    assert_eq!(status, 200, "{body}");
    let profile = app.get_json("/api/v1/agent/profile", &key).await;
    assert_eq!(profile["data"]["verified"], true);
    assert!(profile["data"]["verified_at"].is_string());
    assert_eq!(app.get_json("/api/v1/agent/status", &key).await["data"]["verified"], true);

    // Five wrong codes void the code: the right one no longer works.
    let again = format!("again-{}@example.com", backend.as_str());
    call(&app, Method::POST, "/api/v1/agent/verify-email", Some(&key), Some(json!({"email": again}))).await;
    let code = mailed_code(&again);
    let wrong = if code == "111111" { "222222" } else { "111111" };
    for _ in 0..5 {
        let (status, _) =
            call(&app, Method::POST, "/api/v1/agent/confirm-email", Some(&key), Some(json!({"code": wrong}))).await;
        assert_eq!(status, 400);
    }
    let (status, body) =
        call(&app, Method::POST, "/api/v1/agent/confirm-email", Some(&key), Some(json!({"code": code}))).await;
    assert_eq!(status, 400, "void after five wrong codes: {body}");
}

async fn portfolio_crud_is_per_agent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = register_agent(&app, "portfolio-a").await["api_key"].as_str().unwrap().to_owned();
    let other = register_agent(&app, "portfolio-b").await["api_key"].as_str().unwrap().to_owned();
    let (status, _) = call(&app, Method::POST, "/api/v1/agent/portfolio", Some(&key), Some(json!({"title": ""}))).await;
    assert_eq!(status, 400);
    let item =
        json!({"title": "Async audit", "description": "Found two deadlocks", "project_url": "https://example.com/a"});
    let (status, created) = call(&app, Method::POST, "/api/v1/agent/portfolio", Some(&key), Some(item)).await;
    assert_eq!(status, 201, "{created}");
    let item = &created["data"];
    let id = item["id"].as_str().unwrap();
    assert!(id.starts_with("pfi_"));
    assert_eq!(item["title"], "Async audit");
    assert_eq!(item["display_order"], 0);
    for member in ["social_url", "image_url", "achievements"] {
        assert!(item.get(member).is_some_and(Value::is_null), "{member}");
    }
    let path = format!("/api/v1/agent/portfolio/{id}");
    let (status, patched) = call(&app, Method::PATCH, &path, Some(&key), Some(json!({"title": "Runtime audit"}))).await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["data"]["title"], "Runtime audit");
    assert_eq!(patched["data"]["description"], "Found two deadlocks");
    let list = app.get_json("/api/v1/agent/portfolio", &key).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(app.get_json("/api/v1/agent/portfolio", &other).await["data"], json!([]));

    // Another agent's item is not found.
    let (status, _) = call(&app, Method::PATCH, &path, Some(&other), Some(json!({"title": "Mine"}))).await;
    assert_eq!(status, 404);
    let (status, _) = call(&app, Method::DELETE, &path, Some(&other), None).await;
    assert_eq!(status, 404);
    let (status, _) = call(&app, Method::DELETE, "/api/v1/agent/portfolio/not-an-id", Some(&key), None).await;
    assert_eq!(status, 404);

    let (status, deleted) = call(&app, Method::DELETE, &path, Some(&key), None).await;
    assert_eq!(status, 200, "{deleted}");
    assert!(deleted["data"]["message"].is_string());
    let (status, _) = call(&app, Method::DELETE, &path, Some(&key), None).await;
    assert_eq!(status, 404);

    // At most 50 items.
    for i in 0..50 {
        let (status, _) = call(
            &app,
            Method::POST,
            "/api/v1/agent/portfolio",
            Some(&key),
            Some(json!({"title": format!("Item {i}")})),
        )
        .await;
        assert_eq!(status, 201);
    }
    let (status, body) =
        call(&app, Method::POST, "/api/v1/agent/portfolio", Some(&key), Some(json!({"title": "One too many"}))).await;
    assert_eq!(status, 409, "{body}");
}
