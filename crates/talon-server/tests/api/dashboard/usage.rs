//! The usage page: an agent's totals, its versions and its charts over a chosen period, from the same
//! usage service as `GET /api/agents/:id/usage`.

use std::time::Duration;

use serde_json::{Value, json};
use talon_store::Backend;

use super::playground::{agent, ask, signed_in, wait_for_usage};
use super::{Browser, Page};
use crate::common::TestApp;

on_both_databases!(
    the_usage_page_shows_requests_versions_and_charts,
    the_usage_page_chooses_a_period_and_a_version,
    another_accounts_agent_has_no_usage_page,
);

/// The usage page of `agent` once it counts `requests` (the page reads what the writer has written).
async fn usage_page(browser: &Browser, path: &str, requests: &str) -> Page {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let wanted = format!("<dt>Requests</dt><dd>{requests}</dd>");
    loop {
        let page = browser.get(path).await;
        assert_eq!(page.status, 200, "{}", page.html);
        if page.contains(&wanted) {
            return page;
        }
        assert!(tokio::time::Instant::now() < deadline, "{path} never showed {requests} requests: {}", page.html);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn the_usage_page_shows_requests_versions_and_charts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, browser) = signed_in(&app, "alice@example.com").await;
    let page = browser.get("/usage").await;
    assert!(page.contains("You have no agents yet") && page.contains(r#"href="/agents""#), "{}", page.html);

    let id = agent(&app, &alice, "Echo Bot", true).await;
    agent(&app, &alice, "Quiet Bot", true).await;
    // Two answers through the playground, one through the OpenAI API with a key.
    for text in ["one two three", "four five"] {
        assert_eq!(ask(&browser, "echo-bot", Value::Null, text).await.0, 200);
    }
    let key = app.api_key(&alice, &["chat"]).await;
    let body = json!({"model": "echo-bot", "messages": [{"role": "user", "content": "six"}]});
    let response = app.post("/v1/chat/completions", Some(&key), body).await;
    assert_eq!(response.status(), 200);
    wait_for_usage(&app, &alice, &id, 3).await;

    let page = usage_page(&browser, "/usage?agent=echo-bot&period=24h", "3").await;
    for part in [
        r#"<label for="usage-agent">Agent</label>"#,
        r#"<label for="usage-period">Period</label>"#,
        r#"<button type="submit">Show</button>"#,
        r#"<option value="echo-bot" selected>"#,
        r#"<option value="quiet-bot">"#,
        r#"<option value="24h" selected>"#,
        "<dt>Failures</dt><dd>0</dd>",
        "Version 1",
        "Requests per hour",
        "Failures per hour",
        "Tokens per hour",
        "Latency per hour (ms)",
        "3 requests in all",
        r#"role="img""#,
    ] {
        assert!(page.contains(part), "{part} in {}", page.html);
    }
    assert_eq!(page.html.matches(r#"<svg class="chart""#).count(), 4, "a chart per metric");
    assert!(page.contains("<rect"), "the requests are drawn as bars");
    assert!(page.contains("No failures in this period"), "{}", page.html);
    // The echo's answers are as long as the questions: 3 + 2 + 1 words.
    assert!(page.contains("<dt>Output tokens</dt><dd>6</dd>"), "{}", page.html);

    // The first agent is shown when none is chosen; an agent without answers says so.
    let page = browser.get("/usage?agent=quiet-bot").await;
    assert!(page.contains("<dt>Requests</dt><dd>0</dd>") && page.contains("No requests in this period"));
    assert!(!page.contains("<rect"), "{}", page.html);
    let page = browser.get("/usage").await;
    assert_eq!(page.status, 200);
    assert!(page.contains("<option value=\"7d\" selected>"), "a week by default");
}

async fn the_usage_page_chooses_a_period_and_a_version(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, browser) = signed_in(&app, "alice@example.com").await;
    let id = agent(&app, &alice, "Echo Bot", true).await;
    assert_eq!(ask(&browser, "echo-bot", json!(1), "on one").await.0, 200);
    let (status, _) = app.new_version(&alice.token, &id, json!({"prompt": "Again."})).await;
    assert_eq!(status, 201);
    for _ in 0..2 {
        assert_eq!(ask(&browser, "echo-bot", json!(2), "on two").await.0, 200);
    }
    wait_for_usage(&app, &alice, &id, 3).await;

    let page = usage_page(&browser, "/usage?agent=echo-bot&period=30d", "3").await;
    assert!(page.contains("Requests per day") && page.contains(r#"<option value="30d" selected>"#));
    assert!(page.contains("Version 1") && page.contains("Version 2") && page.contains("All versions"));
    assert!(page.contains(r#"href="/usage?agent=echo-bot&amp;period=30d&amp;version=2""#), "{}", page.html);
    let page = usage_page(&browser, "/usage?agent=echo-bot&period=7d&version=2", "2").await;
    assert!(page.contains("· version 2") && page.contains("2 requests in all"), "{}", page.html);
    assert!(page.contains("Show all versions"));

    for bad in ["/usage?agent=echo-bot&period=1y", "/usage?agent=echo-bot&version=zero"] {
        let page = browser.get(bad).await;
        assert_eq!(page.status, 400, "{bad}");
        assert!(page.contains("role=\"alert\""), "{}", page.html);
    }
    assert_eq!(browser.get("/usage?agent=no-such-bot").await.status, 404);
}

async fn another_accounts_agent_has_no_usage_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (bob, bobs_browser) = signed_in(&app, "bob@example.com").await;
    let bobs = agent(&app, &bob, "Bob Bot", true).await;
    assert_eq!(ask(&bobs_browser, "bob-bot", Value::Null, "secret words").await.0, 200);
    wait_for_usage(&app, &bob, &bobs, 1).await;
    let (alice, browser) = signed_in(&app, "alice@example.com").await;
    agent(&app, &alice, "Alice Bot", false).await;
    for path in ["/usage?agent=bob-bot".to_owned(), format!("/usage?agent={bobs}&period=30d")] {
        let page = browser.get(&path).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(!page.contains("secret") && !page.contains("Bob Bot"), "{}", page.html);
    }
    let page = browser.get("/usage").await;
    assert!(!page.contains("bob-bot"), "only one's own agents are offered");
}
