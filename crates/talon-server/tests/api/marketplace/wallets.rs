//! The marketplace's wallets through HTTP: balances, the ledger, sandbox deposits, withdrawals, the
//! operator's deposits and confirmations, and an autonomous agent's own wallet.

use reqwest::Method;
use serde_json::{Value, json};
use talon_store::Backend;

use super::agents::{call, register_agent};
use crate::common::{TestApp, assert_error, test_config};

on_both_databases!(
    sandbox_deposits_are_off_unless_configured,
    sandbox_deposits_credit_the_callers_wallet_once_per_reference,
    withdrawals_reserve_the_money_and_refuse_overdrafts,
    operator_routes_need_an_operator,
    autonomous_agents_hold_their_own_wallet,
);

fn sandbox() -> talon_server::ServerConfig {
    let mut config = test_config();
    config.marketplace.sandbox = true;
    config
}

async fn deposit(app: &TestApp, bearer: &str, amount: f64, reference: &str) -> (u16, Value) {
    let body = json!({"amount_usdc": amount, "reference": reference});
    call(app, Method::POST, "/api/v1/wallet/deposits", Some(bearer), Some(body)).await
}

async fn sandbox_deposits_are_off_unless_configured(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("client@example.com").await;
    let response =
        app.post("/api/v1/wallet/deposits", Some(&user.token), json!({"amount_usdc": 5, "reference": "r"})).await;
    let body = assert_error(response, 403, "FORBIDDEN").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("Sandbox deposits are off"), "{body}");
    let ready: Value = app.client.get(app.url("/readyz")).send().await.unwrap().json().await.unwrap();
    assert!(ready.get("marketplaceSandbox").is_none(), "{ready}");
    let wallet = app.get_json("/api/v1/wallet", &user.token).await;
    assert_eq!(wallet["data"], json!({"balance_usdc": 0.0, "pending_escrow_usdc": 0.0, "currency": "USDC"}));
}

async fn sandbox_deposits_credit_the_callers_wallet_once_per_reference(backend: Backend) {
    let app = TestApp::spawn_with(backend, sandbox()).await;
    let ready: Value = app.client.get(app.url("/readyz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["marketplaceSandbox"], true, "{ready}");
    let user = app.register("client@example.com").await;
    let other = app.register("other@example.com").await;
    let (status, body) = deposit(&app, &user.token, 100.25, "sandbox-1").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["amount_usdc"], 100.25);
    assert_eq!(body["data"]["balance_usdc"], 100.25);
    assert_eq!(body["data"]["reference"], "sandbox-1");
    let (status, body) = deposit(&app, &user.token, 1.0, "sandbox-1").await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = deposit(&app, &user.token, 0.0000001, "sandbox-2").await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = deposit(&app, &user.token, -1.0, "sandbox-3").await;
    assert_eq!(status, 400);
    // A key with marketplace:write deposits into its account; one without is refused.
    let key = app.api_key(&user, &["marketplace:read", "marketplace:write"]).await;
    assert_eq!(deposit(&app, &key, 0.75, "sandbox-key").await.0, 201);
    let no_write = app.api_key(&user, &["marketplace:read"]).await;
    assert_eq!(deposit(&app, &no_write, 1.0, "sandbox-ro").await.0, 403);
    let no_read = app.api_key(&user, &["agents:read"]).await;
    assert_eq!(call(&app, Method::GET, "/api/v1/wallet", Some(&no_read), None).await.0, 403);

    let wallet = app.get_json("/api/v1/wallet", &key).await;
    assert_eq!(wallet["data"]["balance_usdc"], 101.0);
    // Every account sees its own wallet only.
    assert_eq!(app.get_json("/api/v1/wallet", &other.token).await["data"]["balance_usdc"], 0.0);
    assert_eq!(app.get_json("/api/v1/wallet/ledger", &other.token).await["data"], json!([]));

    let ledger = app.get_json("/api/v1/wallet/ledger", &user.token).await;
    let entries = ledger["data"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{ledger}");
    assert_eq!(entries[0]["reference"], "sandbox-key", "newest first");
    assert_eq!(entries[0]["kind"], "deposit");
    assert_eq!(entries[0]["amount_usdc"], 0.75);
    assert_eq!(entries[0]["contract_id"], Value::Null);
    let page = app.get_json("/api/v1/wallet/ledger?limit=1&offset=1", &user.token).await;
    assert_eq!(page["data"][0]["reference"], "sandbox-1");
    let (status, _) = call(&app, Method::GET, "/api/v1/wallet/ledger?limit=0", Some(&user.token), None).await;
    assert_eq!(status, 400);
}

async fn withdrawals_reserve_the_money_and_refuse_overdrafts(backend: Backend) {
    let app = TestApp::spawn_with(backend, sandbox()).await;
    let user = app.register("earner@example.com").await;
    assert_eq!(deposit(&app, &user.token, 10.0, "earned").await.0, 201);
    let too_much = json!({"amount_usdc": 15});
    let response = app.post("/api/v1/wallet/withdrawals", Some(&user.token), too_much).await;
    let body = assert_error(response, 409, "CONFLICT").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("Insufficient balance"), "{body}");

    let request = json!({"amount_usdc": 4, "wallet_address": "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"});
    let (status, body) = call(&app, Method::POST, "/api/v1/wallet/withdrawals", Some(&user.token), Some(request)).await;
    assert_eq!(status, 201, "{body}");
    let withdrawal = &body["data"];
    assert!(withdrawal["id"].as_str().unwrap().starts_with("wd_"));
    assert_eq!(withdrawal["status"], "pending");
    assert_eq!(withdrawal["amount_usdc"], 4.0);
    assert_eq!(withdrawal["tx_signature"], Value::Null);
    assert_eq!(app.get_json("/api/v1/wallet", &user.token).await["data"]["balance_usdc"], 6.0, "reserved at once");
    let ledger = app.get_json("/api/v1/wallet/ledger", &user.token).await;
    assert_eq!(ledger["data"][0]["kind"], "withdrawal");
    assert_eq!(ledger["data"][0]["amount_usdc"], -4.0);
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/v1/wallet/withdrawals",
        Some(&user.token),
        Some(json!({"amount_usdc": 6.000001})),
    )
    .await;
    assert_eq!(status, 409);
}

async fn operator_routes_need_an_operator(backend: Backend) {
    let app = TestApp::spawn_with(backend, sandbox()).await;
    let user = app.register("client@example.com").await;
    let operator = app.register("ops@example.com").await;
    let credit = json!({"email": "client@example.com", "amount_usdc": 250, "reference": "wire-1"});
    let response = app.post("/api/v1/admin/deposits", Some(&operator.token), credit.clone()).await;
    assert_error(response, 403, "FORBIDDEN").await;
    assert!(app.state.store.set_account_role("ops@example.com", "operator").await.unwrap());

    let (status, body) =
        call(&app, Method::POST, "/api/v1/admin/deposits", Some(&operator.token), Some(credit.clone())).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["user_id"], user.id.as_str());
    assert_eq!(body["data"]["balance_usdc"], 250.0);
    assert_eq!(app.get_json("/api/v1/wallet", &user.token).await["data"]["balance_usdc"], 250.0);
    assert_eq!(app.get_json("/api/v1/wallet", &operator.token).await["data"]["balance_usdc"], 0.0);
    let (status, _) = call(&app, Method::POST, "/api/v1/admin/deposits", Some(&operator.token), Some(credit)).await;
    assert_eq!(status, 409, "a reference is credited once");
    let unknown = json!({"email": "nobody@example.com", "amount_usdc": 1, "reference": "wire-2"});
    let (status, _) = call(&app, Method::POST, "/api/v1/admin/deposits", Some(&operator.token), Some(unknown)).await;
    assert_eq!(status, 404);
    let ops_read_only = app.api_key(&operator, &["marketplace:read"]).await;
    let credit = json!({"email": "client@example.com", "amount_usdc": 1, "reference": "wire-3"});
    let (status, _) = call(&app, Method::POST, "/api/v1/admin/deposits", Some(&ops_read_only), Some(credit)).await;
    assert_eq!(status, 403, "missing marketplace:write");

    let (_, body) =
        call(&app, Method::POST, "/api/v1/wallet/withdrawals", Some(&user.token), Some(json!({"amount_usdc": 50})))
            .await;
    let confirm = format!("/api/v1/admin/withdrawals/{}/confirm", body["data"]["id"].as_str().unwrap());
    // Bodiless, like the SDK's POSTs without a body.
    let (status, _) = call(&app, Method::POST, &confirm, Some(&user.token), None).await;
    assert_eq!(status, 403, "the client is no operator");
    let (status, body) = call(&app, Method::POST, &confirm, Some(&operator.token), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "confirmed");
    let (status, _) = call(&app, Method::POST, &confirm, Some(&operator.token), None).await;
    assert_eq!(status, 409, "confirmed once");
    let missing = "/api/v1/admin/withdrawals/wd_019ad3f0c1a27c3e8d6f4b2a1c0e9f89/confirm";
    assert_eq!(call(&app, Method::POST, missing, Some(&operator.token), None).await.0, 404);
    assert_eq!(
        call(&app, Method::POST, "/api/v1/admin/withdrawals/junk/confirm", Some(&operator.token), None).await.0,
        404
    );
    assert_eq!(app.get_json("/api/v1/wallet", &user.token).await["data"]["balance_usdc"], 200.0);
}

async fn autonomous_agents_hold_their_own_wallet(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = json!({"name": "Auto Bot", "username": "auto-bot", "description": "Hires other agents for research",
        "skills": ["research"], "categories": ["research"], "wallet_address": "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"});
    let (status, created) = call(&app, Method::POST, "/api/v1/agents/register/autonomous", None, Some(body)).await;
    assert_eq!(status, 201, "{created}");
    let key = created["data"]["api_key"].as_str().unwrap().to_owned();

    let transfer = json!({"tx_signature": "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnb", "amount_usdc": 25});
    let (status, body) =
        call(&app, Method::POST, "/api/v1/agents/me/deposit", Some(&key), Some(transfer.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({"success": true, "amount_usdc": 25.0,
        "tx_signature": "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnb", "balance_usdc": 25.0})
    );
    let (status, _) = call(&app, Method::POST, "/api/v1/agents/me/deposit", Some(&key), Some(transfer)).await;
    assert_eq!(status, 409, "a transfer is credited once");
    let balance = app.get_json("/api/v1/agents/me/balance", &key).await;
    assert_eq!(balance["data"], json!({"balance_usdc": 25.0, "pending_escrow_usdc": 0.0}));

    let (status, _) =
        call(&app, Method::POST, "/api/v1/agents/me/withdraw", Some(&key), Some(json!({"amount_usdc": 30}))).await;
    assert_eq!(status, 409);
    let (status, body) =
        call(&app, Method::POST, "/api/v1/agents/me/withdraw", Some(&key), Some(json!({"amount_usdc": 10}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({"success": true, "amount_usdc": 10.0, "tx_signature": null, "status": "pending",
        "remaining_balance_usdc": 15.0})
    );

    // An agent held by an account does not hold its own wallet; a session is not an agent.
    let held = register_agent(&app, "held-bot").await["api_key"].as_str().unwrap().to_owned();
    let transfer = json!({"tx_signature": "other-signature", "amount_usdc": 5});
    let (status, _) = call(&app, Method::POST, "/api/v1/agents/me/deposit", Some(&held), Some(transfer)).await;
    assert_eq!(status, 403);
    let (status, _) =
        call(&app, Method::POST, "/api/v1/agents/me/withdraw", Some(&held), Some(json!({"amount_usdc": 1}))).await;
    assert_eq!(status, 403);
    let user = app.register("person@example.com").await;
    assert_eq!(call(&app, Method::GET, "/api/v1/agents/me/balance", Some(&user.token), None).await.0, 403);
}
