//! An agent's page shows its labels and its canary split, and its owner moves and deletes labels there.

use serde_json::json;
use talon_store::Backend;

use super::Browser;
use crate::common::TestApp;

on_both_databases!(the_agent_page_shows_labels_and_the_split, labels_are_moved_and_deleted_from_the_agent_page);

async fn the_agent_page_shows_labels_and_the_split(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let browser = Browser::sign_in(&app, "you@example.com").await;
    let agent = app.create_agent(&user.token, json!({"name": "Support Bot", "prompt": "one"})).await;
    let id = agent["id"].as_str().unwrap();
    app.new_version(&user.token, id, json!({"prompt": "two"})).await;
    let before = browser.get("/agents/support-bot").await;
    assert!(!before.contains("<dt>Labels</dt>") && !before.contains("<dt>Canary split</dt>"), "{}", before.html);

    let put = app.request(reqwest::Method::PUT, &format!("/api/agents/{id}/labels/production"), Some(&user.token));
    assert_eq!(put.json(&json!({"versionId": 1})).send().await.unwrap().status(), 200);
    let split = json!({"split": [{"versionId": "production", "weight": 80}, {"versionId": 2, "weight": 20}]});
    assert_eq!(app.post(&format!("/api/agents/{id}/deploy"), Some(&user.token), split).await.status(), 200);
    let page = browser.get("/agents/support-bot").await;
    assert!(
        page.contains("<code>production</code> → <a href=\"/agents/support-bot/versions/1\">version 1</a>"),
        "{}",
        page.html
    );
    assert!(page.contains("<a href=\"/agents/support-bot/versions/1\">Version 1</a> 80 %, "), "{}", page.html);
    assert!(page.contains("<a href=\"/agents/support-bot/versions/2\">Version 2</a> 20 %"), "{}", page.html);
}

async fn labels_are_moved_and_deleted_from_the_agent_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let browser = Browser::sign_in(&app, "you@example.com").await;
    let agent = app.create_agent(&user.token, json!({"name": "Support Bot", "prompt": "one"})).await;
    let id = agent["id"].as_str().unwrap();
    app.new_version(&user.token, id, json!({"prompt": "two"})).await;
    let labels = || async { app.get_json(&format!("/api/agents/{id}/labels"), &user.token).await["data"].clone() };

    let page = browser.get("/agents/support-bot").await;
    assert!(page.contains("Move label"), "{}", page.html);
    let moved = browser.submit("/agents/support-bot/labels", &[("label", "production"), ("version", "1")]).await;
    assert!(moved.contains("<code>production</code> →"), "{}", moved.html);
    browser.submit("/agents/support-bot/labels", &[("label", "staging"), ("version", "production")]).await;
    assert_eq!(labels().await[1]["version"], 1);
    let refused = browser.post("/agents/support-bot/labels", &[("label", "Bad Name"), ("version", "1")]).await;
    assert_eq!(refused.status, 400);
    let missing = browser.post("/agents/support-bot/labels", &[("label", "ok"), ("version", "9")]).await;
    assert_eq!(missing.status, 404);
    assert_eq!(labels().await.as_array().unwrap().len(), 2, "nothing more was written");

    // Without the token, or for another account, nothing changes.
    let forged = browser.post_raw("/agents/support-bot/labels/staging/delete", &[]).await;
    assert_eq!(forged.status, 403);
    let stranger = app.register("stranger@example.com").await;
    let other = Browser::sign_in(&app, &stranger.email).await;
    let path = format!("/agents/{id}/labels/staging/delete");
    assert_eq!(other.post(&path, &[]).await.status, 404);
    assert_eq!(labels().await.as_array().unwrap().len(), 2);

    browser.submit("/agents/support-bot/labels/staging/delete", &[]).await;
    assert_eq!(labels().await.as_array().unwrap().len(), 1);
}
