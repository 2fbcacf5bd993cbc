//! The agent's audit log on the dashboard: the latest entries on the agent's page with who made them,
//! the whole log on its own page, and neither for another account.

use serde_json::{Value, json};
use talon_store::Backend;

use super::Browser;
use crate::common::TestApp;

on_both_databases!(the_agent_page_shows_who_changed_it_and_links_the_whole_log, another_account_sees_no_log);

async fn the_agent_page_shows_who_changed_it_and_links_the_whole_log(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let browser = Browser::sign_in(&app, "you@example.com").await;
    let response =
        app.post("/api/api-keys", Some(&user.token), json!({"name": "ci", "scopes": ["agents:write"]})).await;
    let key: Value = response.json().await.unwrap();
    let (key_id, secret) = (key["id"].as_str().unwrap(), key["key"].as_str().unwrap());
    app.create_agent(secret, json!({"name": "Runner", "prompt": "p"})).await;
    let deployed = browser.post("/agents/runner/deploy", &[("version", "")]).await;
    assert_eq!(deployed.status, 303);

    let page = browser.get("/agents/runner").await;
    assert_eq!(page.status, 200);
    assert!(page.contains("Recent changes"), "{}", page.html);
    for part in ["<code>agent.deployed</code>", "A session <code>sess_", "<code>agent.created</code>"] {
        assert!(page.contains(part), "{part} missing");
    }
    assert!(page.contains(&format!("API key <code>{key_id}</code>")));
    assert!(page.contains("href=\"/agents/runner/audit\""));

    let log = browser.get("/agents/runner/audit").await;
    assert_eq!(log.status, 200);
    assert!(log.contains("Audit log of Runner"));
    let (deployed_at, created_at) = (log.html.find("agent.deployed").unwrap(), log.html.find("agent.created").unwrap());
    assert!(deployed_at < created_at, "newest first");
    assert!(!log.contains(secret));
}

async fn another_account_sees_no_log(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.register("alice@example.com").await;
    let public = app.create_agent(&alice.token, json!({"name": "Shared", "prompt": "p", "public": true})).await;
    let private = app.create_agent(&alice.token, json!({"name": "Mine", "prompt": "p"})).await;
    let bob = Browser::register(&app, "bob@example.com").await;
    for agent in [&public, &private] {
        let log = bob.get(&format!("/agents/{}/audit", agent["id"].as_str().unwrap())).await;
        assert_eq!(log.status, 404);
        assert!(!log.contains("agent.created"));
    }
    let shared = bob.get(&format!("/agents/{}", public["id"].as_str().unwrap())).await;
    assert_eq!(shared.status, 200);
    assert!(!shared.contains("Recent changes") && !shared.contains("/audit\""));
}
