//! The API keys page: a key created with two scopes and an agent restriction works against the API with
//! exactly those, and is shown once; refused input keeps the form; revoking makes the API refuse it;
//! another account's key and a form without the token change nothing.

use serde_json::{Value, json};
use talon_store::Backend;

use super::{Browser, Page};
use crate::common::{TestApp, User, code_review_agent};

on_both_databases!(
    a_key_works_with_exactly_its_scopes_and_agent_and_is_shown_once,
    refused_input_is_shown_with_the_form_and_nothing_is_created,
    revoking_makes_the_api_refuse_the_key,
);

async fn signed_in(app: &TestApp, email: &str) -> (User, Browser) {
    let user = app.register(email).await;
    let browser = Browser::sign_in(app, email).await;
    (user, browser)
}

fn new_key(page: &Page) -> String {
    let at = page.html.find("id=\"new-key\"").unwrap_or_else(|| panic!("#new-key in {}", page.html));
    let rest = &page.html[at..];
    rest[rest.find('>').unwrap() + 1..rest.find('<').unwrap()].to_owned()
}

/// The text of the page's alert (the refused input's message).
fn alert(page: &Page) -> &str {
    let at = page.html.find("role=\"alert\"").unwrap_or_else(|| panic!("an alert in {}", page.html));
    let rest = &page.html[at..];
    &rest[rest.find('>').unwrap() + 1..rest.find("</p>").unwrap()]
}

async fn keys(app: &TestApp, user: &User) -> Vec<Value> {
    app.get_json("/api/api-keys", &user.token).await["data"].as_array().unwrap().clone()
}

async fn status(app: &TestApp, path: &str, key: &str) -> u16 {
    app.get(path, key).await.status().as_u16()
}

async fn a_key_works_with_exactly_its_scopes_and_agent_and_is_shown_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, alice) = signed_in(&app, "alice@example.com").await;
    let reviewer = app.create_agent(&user.token, code_review_agent()).await;
    let other = app.create_agent(&user.token, json!({"name": "Other Agent", "prompt": "p"})).await;
    let reviewer_id = reviewer["id"].as_str().unwrap();

    let form = alice.get("/keys").await;
    assert_eq!(form.status, 200);
    for part in [
        "<legend>Scopes</legend>",
        "value=\"agents:read\"",
        "value=\"marketplace:write\"",
        "Restrict to agent",
        "Expires in days",
        "Create key",
        "Other Agent",
    ] {
        assert!(form.contains(part), "{part}");
    }

    let page = alice
        .post(
            "/keys",
            &[
                ("name", "CI reader"),
                ("scopes", "agents:read"),
                ("scopes", "tasks:read"),
                ("agent", reviewer_id),
                ("expires_days", "30"),
            ],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.contains("data-copy=\"new-key\""), "a Copy button");
    let key = new_key(&page);
    assert!(key.starts_with("tln_"), "{key}");
    assert_eq!(page.html.matches(key.as_str()).count(), 1, "shown once");

    let stored = keys(&app, &user).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["scopes"], json!(["agents:read", "tasks:read"]));
    assert_eq!(stored[0]["agentId"], reviewer_id);
    let expires = chrono::DateTime::parse_from_rfc3339(stored[0]["expiresAt"].as_str().unwrap()).unwrap();
    let days = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours();
    assert!((29 * 24..=30 * 24).contains(&days), "expires in 30 days: {days} h");

    // What the key may do: read its agent and its tasks, nothing else.
    assert_eq!(status(&app, &format!("/api/agents/{reviewer_id}"), &key).await, 200);
    assert_eq!(status(&app, "/api/tasks", &key).await, 200);
    assert_eq!(
        status(&app, &format!("/api/agents/{}", other["id"].as_str().unwrap()), &key).await,
        404,
        "another agent"
    );
    assert_eq!(status(&app, "/api/webhooks", &key).await, 403, "no webhooks:read");
    let write = app.post("/api/tasks", Some(&key), json!({"agentId": reviewer_id, "title": "t"})).await;
    assert_eq!(write.status(), 403, "no tasks:write");

    let list = alice.get("/keys").await;
    assert!(!list.contains(&key), "never shown again");
    assert!(!list.contains("id=\"new-key\""));
    let prefix = stored[0]["keyPrefix"].as_str().unwrap();
    for part in ["CI reader", prefix, "agents:read, tasks:read", "Code Review Agent", ">Revoke<", "data-confirm"] {
        assert!(list.contains(part), "{part}: {}", list.html);
    }
}

async fn refused_input_is_shown_with_the_form_and_nothing_is_created(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, alice) = signed_in(&app, "alice@example.com").await;

    let page = alice.post("/keys", &[("name", "No scopes")]).await;
    assert_eq!(page.status, 400);
    assert!(alert(&page).contains("scopes: Must list at least one scope"), "{}", alert(&page));
    assert!(page.contains("value=\"No scopes\""), "the name is kept");
    let page = alice.post("/keys", &[("name", "k"), ("scopes", "chat"), ("expires_days", "soon")]).await;
    assert_eq!(page.status, 400);
    assert!(alert(&page).starts_with("Expires in days must be a whole number"), "{}", alert(&page));
    assert!(page.contains("checked"), "the scopes are kept");
    let page = alice.post("/keys", &[("name", ""), ("scopes", "chat")]).await;
    assert_eq!(page.status, 400);
    assert!(alert(&page).contains("name: Required field missing"), "{}", alert(&page));
    let page = alice.post("/keys", &[("name", "k"), ("scopes", "everything")]).await;
    assert_eq!(page.status, 400);
    assert!(alert(&page).contains("unknown scope `everything`"), "{}", alert(&page));

    // Another account's agent cannot be named.
    let bob = app.register("bob@example.com").await;
    let bobs = app.create_agent(&bob.token, code_review_agent()).await;
    let page = alice.post("/keys", &[("name", "k"), ("scopes", "chat"), ("agent", bobs["id"].as_str().unwrap())]).await;
    assert_eq!(page.status, 400);
    assert!(alert(&page).contains("agentId: No such agent in this account"), "{}", alert(&page));

    assert_eq!(alice.post_raw("/keys", &[("name", "k"), ("scopes", "chat")]).await.status, 403, "no token");
    assert!(keys(&app, &user).await.is_empty(), "nothing was created");
}

async fn revoking_makes_the_api_refuse_the_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, alice) = signed_in(&app, "alice@example.com").await;
    let page = alice.post("/keys", &[("name", "Soon gone"), ("scopes", "agents:read")]).await;
    assert_eq!(page.status, 200);
    let key = new_key(&page);
    let id = keys(&app, &user).await[0]["id"].as_str().unwrap().to_owned();
    let revoke = format!("/keys/{id}/revoke");
    assert_eq!(status(&app, "/api/agents", &key).await, 200);

    assert_eq!(alice.post_raw(&revoke, &[]).await.status, 403, "no token");
    let (_, bob) = signed_in(&app, "bob@example.com").await;
    assert_eq!(bob.post(&revoke, &[]).await.status, 404, "another account's key");
    assert_eq!(bob.post("/keys/key_nonsense/revoke", &[]).await.status, 404);
    assert_eq!(status(&app, "/api/agents", &key).await, 200, "the key still works");

    let page = alice.post(&revoke, &[]).await;
    assert_eq!((page.status, page.location.as_deref()), (303, Some("/keys")));
    assert_eq!(status(&app, "/api/agents", &key).await, 401, "the key is refused");
    assert!(keys(&app, &user).await.is_empty());
    assert!(!alice.get("/keys").await.contains("Soon gone"));
    assert_eq!(alice.post(&revoke, &[]).await.status, 404, "already revoked");
}
