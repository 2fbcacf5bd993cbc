//! The webhook pages: creating one shows its secret once, the test ping lands in the delivery log with
//! the receiver's status code, redelivery sends it again, rotation shows a new secret once, enabling
//! and disabling, deleting; another account's webhook and forms without the token change nothing.

use std::time::{Duration, Instant};

use serde_json::Value;
use talon_store::Backend;

use super::{Browser, Page};
use crate::common::receiver::Receiver;
use crate::common::{TestApp, User};

on_both_databases!(
    creating_shows_the_secret_once,
    refused_input_is_shown_with_the_form_and_nothing_is_created,
    the_test_ping_is_logged_with_the_receivers_answer_and_redelivered,
    rotating_shows_a_new_secret_and_deleting_removes_the_webhook,
    another_account_or_a_form_without_the_token_changes_nothing,
);

async fn signed_in(app: &TestApp, email: &str) -> (User, Browser) {
    let user = app.register(email).await;
    let browser = Browser::sign_in(app, email).await;
    (user, browser)
}

/// The text of the element with this id (`<code id="webhook-secret" …>whsec_…</code>`).
fn text_of<'a>(page: &'a Page, id: &str) -> &'a str {
    let at = page.html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("#{id} in {}", page.html));
    let rest = &page.html[at..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest.find('<').unwrap();
    &rest[start..end]
}

/// Creates a webhook through the form; its id and secret.
async fn create(browser: &Browser, url: &str) -> (String, String) {
    let page = browser
        .post(
            "/webhooks",
            &[("url", url), ("events", "task.completed"), ("events", "agent.created"), ("description", "CI")],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.contains("Webhook created") && page.contains("data-copy=\"webhook-secret\""), "{}", page.html);
    let secret = text_of(&page, "webhook-secret").to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let id = page.html.split("href=\"/webhooks/").nth(1).unwrap().split('"').next().unwrap().to_owned();
    (id, secret)
}

/// The text of the page's alert (the refused input's message).
fn alert(page: &Page) -> &str {
    let at = page.html.find("role=\"alert\"").unwrap_or_else(|| panic!("an alert in {}", page.html));
    let rest = &page.html[at..];
    &rest[rest.find('>').unwrap() + 1..rest.find("</p>").unwrap()]
}

async fn webhooks(app: &TestApp, user: &User) -> Vec<Value> {
    app.get_json("/api/webhooks", &user.token).await["data"].as_array().unwrap().clone()
}

async fn deliveries(app: &TestApp, user: &User, id: &str) -> Vec<Value> {
    app.get_json(&format!("/api/webhooks/{id}/deliveries"), &user.token).await["data"].as_array().unwrap().clone()
}

/// Fetches the webhook's page until `ready` holds for its delivery log (up to 15 s).
async fn log_until(browser: &Browser, id: &str, ready: impl Fn(&str) -> bool) -> Page {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let page = browser.get(&format!("/webhooks/{id}")).await;
        assert_eq!(page.status, 200);
        let at = page.html.find("id=\"deliveries\"").expect("the delivery log");
        if ready(&page.html[at..]) {
            return page;
        }
        assert!(Instant::now() < deadline, "the log never showed it: {}", &page.html[at..]);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn creating_shows_the_secret_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, alice) = signed_in(&app, "alice@example.com").await;
    let receiver = Receiver::start().await;

    let form = alice.get("/webhooks").await;
    assert_eq!(form.status, 200);
    for part in ["Create webhook", "<legend>Events</legend>", "value=\"task.completed\"", "value=\"*\""] {
        assert!(form.contains(part), "{part}");
    }
    let (id, secret) = create(&alice, &receiver.url).await;
    let stored = webhooks(&app, &user).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["id"], id.as_str());
    assert_eq!(stored[0]["events"], serde_json::json!(["task.completed", "agent.created"]));
    assert_eq!(stored[0]["description"], "CI");

    let list = alice.get("/webhooks").await;
    assert!(list.contains(&receiver.url) && list.contains("badge active"), "{}", list.html);
    let detail = alice.get(&format!("/webhooks/{id}")).await;
    assert_eq!(detail.status, 200);
    for part in ["Send test ping", "Rotate secret", "Delete webhook", "data-confirm", "id=\"deliveries\"", "data-live"]
    {
        assert!(detail.contains(part), "{part}: {}", detail.html);
    }
    for page in [&list, &detail] {
        assert!(!page.contains(&secret), "the secret is never shown again");
        assert!(!page.contains("whsec_"), "nor any secret");
    }
}

async fn refused_input_is_shown_with_the_form_and_nothing_is_created(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, alice) = signed_in(&app, "alice@example.com").await;

    let page = alice.post("/webhooks", &[("url", "https://example.com/hooks"), ("description", "no events")]).await;
    assert_eq!(page.status, 400);
    assert!(alert(&page).contains("events: Must list at least one event"), "{}", alert(&page));
    assert!(page.contains("value=\"no events\""), "the input is kept");
    let page = alice.post("/webhooks", &[("url", "ftp://example.com/hooks"), ("events", "task.completed")]).await;
    assert_eq!(page.status, 400, "{}", page.html);
    assert!(alert(&page).contains("url: "), "{}", alert(&page));
    assert!(page.contains("checked"), "the events are kept");
    let page = alice.post("/webhooks", &[("url", "https://example.com/hooks"), ("events", "task.exploded")]).await;
    assert_eq!(page.status, 400);
    assert!(alert(&page).contains("Unknown event `task.exploded`"), "{}", alert(&page));
    assert!(webhooks(&app, &user).await.is_empty());
}

async fn the_test_ping_is_logged_with_the_receivers_answer_and_redelivered(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, alice) = signed_in(&app, "alice@example.com").await;
    let receiver = Receiver::start().await;
    receiver.respond_with(202, &[]);
    let (id, _) = create(&alice, &receiver.url).await;

    let page = alice.post(&format!("/webhooks/{id}/test"), &[]).await;
    assert_eq!((page.status, page.location.as_deref()), (303, Some(format!("/webhooks/{id}").as_str())));
    let received = receiver.wait_for(1).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].json()["event"], "ping");
    let page = log_until(&alice, &id, |log| log.contains("badge succeeded")).await;
    let log = &page.html[page.html.find("id=\"deliveries\"").unwrap()..];
    for part in ["ping", ">202<", "received", "Redeliver"] {
        assert!(log.contains(part), "{part}: {log}");
    }

    // Redelivering sends the same delivery again: another attempt reaches the receiver.
    let listed = deliveries(&app, &user, &id).await;
    assert_eq!(listed.len(), 1);
    let delivery = listed[0]["id"].as_str().unwrap();
    let redeliver = format!("/webhooks/{id}/deliveries/{delivery}/redeliver");
    assert_eq!(alice.post_raw(&redeliver, &[]).await.status, 403, "no token");
    let (_, bob) = signed_in(&app, "bob@example.com").await;
    assert_eq!(bob.post(&redeliver, &[]).await.status, 404, "another account's delivery");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 1, "nothing was sent again");
    receiver.respond_with(500, &[]);
    let page = alice.post(&redeliver, &[]).await;
    assert_eq!(page.status, 303);
    let received = receiver.wait_for(2).await;
    assert!(received.len() >= 2);
    assert_eq!(received[1].header("webhook-id"), received[0].header("webhook-id"), "the same delivery");
    let page = log_until(&alice, &id, |log| log.contains(">500<")).await;
    assert!(page.contains("Redeliver"));
    assert_eq!(deliveries(&app, &user, &id).await.len(), 1, "one delivery, attempted again");
}

async fn rotating_shows_a_new_secret_and_deleting_removes_the_webhook(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, alice) = signed_in(&app, "alice@example.com").await;
    let receiver = Receiver::start().await;
    let (id, secret) = create(&alice, &receiver.url).await;

    let page = alice.post(&format!("/webhooks/{id}/rotate-secret"), &[]).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.contains("New signing secret") && page.contains("data-copy=\"webhook-secret\""));
    let rotated = text_of(&page, "webhook-secret").to_owned();
    assert!(rotated.starts_with("whsec_") && rotated != secret);
    let detail = alice.get(&format!("/webhooks/{id}")).await;
    assert!(!detail.contains(&rotated) && !detail.contains("whsec_"));

    // Disabling and enabling again.
    let page = alice.submit(&format!("/webhooks/{id}/active"), &[("active", "false")]).await;
    assert!(page.contains("badge disabled") && page.contains(">Enable<"), "{}", page.html);
    assert_eq!(webhooks(&app, &user).await[0]["active"], false);
    let page = alice.submit(&format!("/webhooks/{id}/active"), &[("active", "true")]).await;
    assert!(page.contains("badge active"), "{}", page.html);

    let page = alice.post(&format!("/webhooks/{id}/delete"), &[]).await;
    assert_eq!((page.status, page.location.as_deref()), (303, Some("/webhooks")));
    assert!(webhooks(&app, &user).await.is_empty());
    assert_eq!(alice.get(&format!("/webhooks/{id}")).await.status, 404);
    assert!(!alice.get("/webhooks").await.contains(&receiver.url));
}

async fn another_account_or_a_form_without_the_token_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, alice) = signed_in(&app, "alice@example.com").await;
    let receiver = Receiver::start().await;
    let (id, _) = create(&alice, &receiver.url).await;
    let before = webhooks(&app, &user).await;

    let (_, bob) = signed_in(&app, "bob@example.com").await;
    assert_eq!(bob.get(&format!("/webhooks/{id}")).await.status, 404);
    assert_eq!(bob.get("/webhooks/hook_nonsense").await.status, 404);
    let actions: [(String, Vec<(&str, &str)>); 4] = [
        (format!("/webhooks/{id}/test"), vec![]),
        (format!("/webhooks/{id}/rotate-secret"), vec![]),
        (format!("/webhooks/{id}/active"), vec![("active", "false")]),
        (format!("/webhooks/{id}/delete"), vec![]),
    ];
    for (path, fields) in &actions {
        assert_eq!(bob.post(path, fields).await.status, 404, "{path} by another account");
        assert_eq!(alice.post_raw(path, fields).await.status, 403, "{path} without the token");
    }
    assert_eq!(alice.post_raw("/webhooks", &[("url", &receiver.url), ("events", "*")]).await.status, 403);
    assert!(!bob.get("/webhooks").await.contains(&receiver.url));

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(webhooks(&app, &user).await, before, "the webhook is as it was (same secret rotation time)");
    assert!(deliveries(&app, &user, &id).await.is_empty(), "no ping was sent");
    assert!(receiver.received().is_empty());
}
