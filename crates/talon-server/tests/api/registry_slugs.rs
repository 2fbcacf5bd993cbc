//! Slugs derived from names: many agents with one name get distinct slugs, one after another and at
//! once, without a failed insert per taken slug.

use std::collections::HashSet;

use crate::common::{TestApp, assert_error};
use futures::future::join_all;
use serde_json::{Value, json};
use talon_store::Backend;

on_both_databases!(
    thirty_agents_with_one_name_get_thirty_slugs,
    thirty_concurrent_agents_with_one_name_get_thirty_slugs,
    a_chosen_slug_that_is_taken_is_409_and_gaps_are_reused,
    more_than_a_hundred_agents_may_share_a_name,
);

async fn thirty_agents_with_one_name_get_thirty_slugs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let mut slugs = Vec::new();
    for _ in 0..30 {
        let agent = app.create_agent(&user.token, json!({"name": "Support Bot", "prompt": "p"})).await;
        slugs.push(agent["slug"].as_str().unwrap().to_owned());
    }
    let expected: Vec<String> =
        std::iter::once("support-bot".to_owned()).chain((2..=30).map(|n| format!("support-bot-{n}"))).collect();
    assert_eq!(slugs, expected);
    // Forks take numbered slugs the same way.
    let first = app.get_json("/api/agents/support-bot", &user.token).await;
    let response = app
        .post(
            &format!("/api/agents/{}/fork", first["id"].as_str().unwrap()),
            Some(&user.token),
            json!({"forkType": "exact_clone", "name": "Support Bot"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let fork: Value = response.json().await.unwrap();
    assert_eq!(fork["slug"], "support-bot-31");
}

async fn thirty_concurrent_agents_with_one_name_get_thirty_slugs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let creates =
        (0..30).map(|_| app.post("/api/agents", Some(&user.token), json!({"name": "Same Name", "prompt": "p"})));
    let mut slugs = HashSet::new();
    for response in join_all(creates).await {
        assert_eq!(response.status(), 201);
        let agent: Value = response.json().await.unwrap();
        assert!(slugs.insert(agent["slug"].as_str().unwrap().to_owned()), "{agent}");
    }
    assert_eq!(slugs.len(), 30);
    assert!(
        slugs
            .iter()
            .all(|s| s == "same-name" || s.strip_prefix("same-name-").is_some_and(|n| n.parse::<u32>().is_ok()))
    );
    assert_eq!(app.get_json("/api/agents?limit=100", &user.token).await["pagination"]["total"], 30);
}

async fn a_chosen_slug_that_is_taken_is_409_and_gaps_are_reused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    app.create_agent(&user.token, json!({"name": "Bot", "prompt": "p"})).await;
    app.create_agent(&user.token, json!({"name": "Other", "slug": "bot-3", "prompt": "p"})).await;
    let taken = app.post("/api/agents", Some(&user.token), json!({"name": "X", "slug": "bot-3", "prompt": "p"})).await;
    assert_error(taken, 409, "CONFLICT").await;
    // bot-2 is free, bot-3 is taken by a chosen slug: the next two are bot-2 and bot-4.
    let second = app.create_agent(&user.token, json!({"name": "Bot", "prompt": "p"})).await;
    let third = app.create_agent(&user.token, json!({"name": "Bot", "prompt": "p"})).await;
    assert_eq!((second["slug"].as_str(), third["slug"].as_str()), (Some("bot-2"), Some("bot-4")));
    // Another account's slugs do not count.
    let other = app.register("other@example.com").await;
    assert_eq!(app.create_agent(&other.token, json!({"name": "Bot", "prompt": "p"})).await["slug"], "bot");
}

/// Slugs used to be found by trying `name`, `name-2`, … up to `name-100`, one failed insert each; the
/// 101st agent with one name was refused.
async fn more_than_a_hundred_agents_may_share_a_name(backend: Backend) {
    let mut config = crate::common::test_config();
    config.plans = crate::common::plans(1_000, 10_000);
    let app = TestApp::spawn_with(backend, config).await;
    let user = app.register("you@example.com").await;
    for _ in 0..100 {
        app.create_agent(&user.token, json!({"name": "Crowd", "prompt": "p"})).await;
    }
    let agent = app.create_agent(&user.token, json!({"name": "Crowd", "prompt": "p"})).await;
    assert_eq!(agent["slug"], "crowd-101");
}
