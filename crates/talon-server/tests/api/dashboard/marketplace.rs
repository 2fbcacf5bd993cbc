//! The marketplace pages: a wallet, a gig with a proposal and a contract made through the API are shown
//! to their account; the account accepts the proposal from the gig's page; another account sees none of
//! it, and a form without the token changes nothing.

use reqwest::Method;
use serde_json::{Value, json};
use talon_store::Backend;

use super::Browser;
use crate::common::{TestApp, User, test_config};

on_both_databases!(the_account_sees_its_wallet_gigs_and_contracts_and_accepts_a_proposal);

const COVER: &str = "I have reviewed a dozen crates exactly like this one.";

async fn call(app: &TestApp, method: Method, path: &str, bearer: &str, body: Option<Value>) -> Value {
    let mut request = app.request(method, path, Some(bearer));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let json: Value = response.json().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {json}");
    json["data"].clone()
}

async fn proposal_status(app: &TestApp, client: &User, gig: &str) -> String {
    let proposals = call(app, Method::GET, &format!("/api/v1/gigs/{gig}/proposals"), &client.token, None).await;
    proposals[0]["status"].as_str().unwrap().to_owned()
}

async fn the_account_sees_its_wallet_gigs_and_contracts_and_accepts_a_proposal(backend: Backend) {
    let mut config = test_config();
    config.marketplace.sandbox = true;
    let app = TestApp::spawn_with(backend, config).await;
    let client = app.register("client@example.com").await;
    let alice = Browser::sign_in(&app, "client@example.com").await;

    let empty = alice.get("/marketplace").await;
    assert_eq!(empty.status, 200);
    assert!(empty.contains("0 USDC") && empty.contains("No gigs posted"), "{}", empty.html);

    let deposit = json!({"amount_usdc": 250.5, "reference": "dashboard-1"});
    call(&app, Method::POST, "/api/v1/wallet/deposits", &client.token, Some(deposit)).await;
    let gig = json!({"title": "Review a Rust crate for soundness",
        "description": "Review a 2,000-line Rust crate for unsafe code, data races and API soundness; report findings.",
        "category": "code", "skills_required": ["rust"], "budget_usdc": 100, "deliverables": "A written report"});
    let gig =
        call(&app, Method::POST, "/api/v1/gigs", &client.token, Some(gig)).await["gig_id"].as_str().unwrap().to_owned();
    let agent = app.listed_agent("rusty@example.com").await;
    let proposal = json!({"proposed_amount_usdc": 80.25, "cover_letter": COVER, "estimated_hours": 6});
    let proposal = call(&app, Method::POST, &format!("/api/v1/gigs/{gig}/proposals"), &agent.key, Some(proposal)).await;
    let proposal = proposal["id"].as_str().unwrap().to_owned();

    let page = alice.get("/marketplace").await;
    assert_eq!(page.status, 200);
    for part in [
        "250.5 USDC",
        "dashboard-1",
        "Review a Rust crate for soundness",
        "badge open",
        "100 USDC",
        &format!("href=\"/marketplace/gigs/{gig}\""),
        "No contracts",
    ] {
        assert!(page.contains(part), "{part}: {}", page.html);
    }

    let gig_page = alice.get(&format!("/marketplace/gigs/{gig}")).await;
    assert_eq!(gig_page.status, 200);
    for part in ["80.25 USDC", COVER, "badge pending", ">Accept<", &agent.agent_id, "data-confirm"] {
        assert!(gig_page.contains(part), "{part}: {}", gig_page.html);
    }

    // Another account sees neither the gig's proposals nor may accept; a form without the token changes nothing.
    let bob = Browser::register(&app, "bob@example.com").await;
    let accept = format!("/marketplace/gigs/{gig}/accept");
    assert_eq!(bob.get(&format!("/marketplace/gigs/{gig}")).await.status, 404);
    assert_eq!(bob.post(&accept, &[("proposal", &proposal)]).await.status, 404);
    assert!(!bob.get("/marketplace").await.contains("Review a Rust crate"));
    assert_eq!(alice.post_raw(&accept, &[("proposal", &proposal)]).await.status, 403);
    assert_eq!(alice.post(&accept, &[("proposal", "prop_nonsense")]).await.status, 404);
    assert_eq!(proposal_status(&app, &client, &gig).await, "pending", "nothing changed");

    let page = alice.post(&accept, &[("proposal", &proposal)]).await;
    assert_eq!(page.status, 303, "{}", page.html);
    let contract_path = page.location.unwrap();
    let contract = contract_path.strip_prefix("/marketplace/contracts/").unwrap().to_owned();
    assert!(contract.starts_with("ctr_"), "{contract}");
    assert_eq!(proposal_status(&app, &client, &gig).await, "accepted");
    let shown = alice.get(&contract_path).await;
    assert_eq!(shown.status, 200);
    for part in ["badge active", "80.25 USDC", "not funded", &agent.agent_id] {
        assert!(shown.contains(part), "{part}: {}", shown.html);
    }
    assert_eq!(bob.get(&contract_path).await.status, 404);
    assert!(!alice.get(&format!("/marketplace/gigs/{gig}")).await.contains(">Accept<"), "the gig is no longer open");

    // Funded through the API: the escrow holds the money and the ledger says so.
    call(&app, Method::POST, &format!("/api/v1/contracts/{contract}/fund-escrow"), &client.token, None).await;
    assert!(alice.get(&contract_path).await.contains("held in escrow"));
    let page = alice.get("/marketplace").await;
    for part in [
        "170.25 USDC",
        "80.25 USDC",
        "fund escrow",
        "-80.25 USDC",
        &format!("href=\"{contract_path}\""),
        "badge in_progress",
    ] {
        assert!(page.contains(part), "{part}: {}", page.html);
    }
}
