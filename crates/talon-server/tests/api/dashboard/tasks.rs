//! The tasks pages: the filtered list, the "New task" form, a task's page while the runtime answers it,
//! and cancelling; another account's task and a form without the token change nothing.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use talon_store::Backend;

use super::{Browser, Page};
use crate::common::{TestApp, User, code_review_agent};

on_both_databases!(
    the_list_filters_and_shows_a_created_task,
    bad_json_is_refused_and_nothing_is_created,
    the_runtime_completes_a_task_and_its_page_shows_the_output,
    a_task_is_cancelled_by_its_account_only,
);

/// An account signed in both to the API (`user`) and to the dashboard (`browser`).
async fn signed_in(app: &TestApp, email: &str) -> (User, Browser) {
    let user = app.register(email).await;
    let browser = Browser::sign_in(app, email).await;
    (user, browser)
}

/// Creates an agent through the API; its slug.
async fn agent(app: &TestApp, user: &User, body: Value) -> String {
    app.create_agent(&user.token, body).await["slug"].as_str().unwrap().to_owned()
}

/// Submits the "New task" form; the task's id from the redirect.
async fn new_task(browser: &Browser, agent: &str, title: &str, input: &str) -> String {
    let page = browser.post("/tasks", &[("agent", agent), ("title", title), ("input", input)]).await;
    assert_eq!(page.status, 303, "{}", page.html);
    let location = page.location.unwrap();
    location.strip_prefix("/tasks/").expect("to the task's page").to_owned()
}

async fn task_status(app: &TestApp, user: &User, id: &str) -> String {
    app.get_json(&format!("/api/tasks/{id}"), &user.token).await["status"].as_str().unwrap().to_owned()
}

async fn task_total(app: &TestApp, user: &User) -> i64 {
    app.get_json("/api/tasks", &user.token).await["pagination"]["total"].as_i64().unwrap()
}

/// The text of the page's alert (the refused input's message).
fn alert(page: &Page) -> &str {
    let at = page.html.find("role=\"alert\"").unwrap_or_else(|| panic!("an alert in {}", page.html));
    let rest = &page.html[at..];
    &rest[rest.find('>').unwrap() + 1..rest.find("</p>").unwrap()]
}

/// The part of a task page after its "Output" heading.
fn output_of(page: &Page) -> &str {
    let at = page.html.find("<h2>Output</h2>").expect("an Output section");
    &page.html[at..]
}

async fn the_list_filters_and_shows_a_created_task(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, alice) = signed_in(&app, "alice@example.com").await;
    let reviewer = agent(&app, &user, code_review_agent()).await;
    let other = agent(&app, &user, json!({"name": "Other Agent", "prompt": "p"})).await;

    let page = alice.get("/tasks").await;
    assert_eq!(page.status, 200);
    for part in ["id=\"task-list\"", "data-live=\"2000\"", "Code Review Agent", "Create task", "Input (JSON)"] {
        assert!(page.contains(part), "{part}: {}", page.html);
    }

    let id = new_task(&alice, &reviewer, "Review PR 42", r#"{"pr": 42, "repo": "myorg/app"}"#).await;
    let task = app.get_json(&format!("/api/tasks/{id}"), &user.token).await;
    assert_eq!(task["input"], json!({"pr": 42, "repo": "myorg/app"}));
    assert_eq!(task["executor"], "external", "the agent is not deployed: workers claim it");

    let shown = alice.get(&format!("/tasks/{id}")).await;
    assert_eq!(shown.status, 200);
    for part in
        ["Review PR 42", "badge queued", "myorg/app", "Code Review Agent", "v1", "data-live=\"2000\"", "Cancel task"]
    {
        assert!(shown.contains(part), "{part}: {}", shown.html);
    }

    let listed = |page: &Page| page.contains(&format!("href=\"/tasks/{id}\""));
    assert!(listed(&alice.get("/tasks").await));
    assert!(listed(&alice.get("/tasks?status=queued").await));
    assert!(listed(&alice.get(&format!("/tasks?status=queued&agent={reviewer}")).await));
    assert!(!listed(&alice.get("/tasks?status=completed").await));
    assert!(!listed(&alice.get(&format!("/tasks?agent={other}")).await));
    assert!(alice.get(&format!("/tasks?agent={other}")).await.contains("selected"), "the filter is kept");
    assert_eq!(alice.get("/tasks?status=finished").await.status, 400);

    // Pages of the list follow the API's cursors: 21 tasks make a second page.
    for n in 0..20 {
        new_task(&alice, &reviewer, &format!("Bulk {n}"), "").await;
    }
    let first = alice.get("/tasks").await;
    assert!(first.contains("21 tasks") && first.contains("Older tasks"), "{}", first.html);
    assert!(!listed(&first), "the oldest task is on the second page");
    let older = first.html.split("href=\"/tasks?after=").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let second = alice.get(&format!("/tasks?after={older}")).await;
    assert!(listed(&second) && second.contains("Newer tasks"), "{}", second.html);

    // Another account sees none of it.
    let (_, bob) = signed_in(&app, "bob@example.com").await;
    assert_eq!(bob.get(&format!("/tasks/{id}")).await.status, 404);
    assert!(!listed(&bob.get("/tasks").await));
    assert_eq!(bob.get(&format!("/tasks?agent={reviewer}")).await.status, 404);
}

async fn bad_json_is_refused_and_nothing_is_created(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, alice) = signed_in(&app, "alice@example.com").await;
    let reviewer = agent(&app, &user, code_review_agent()).await;

    let page = alice.post("/tasks", &[("agent", &reviewer), ("input", "{\"pr\": 42,")]).await;
    assert_eq!(page.status, 400);
    assert!(alert(&page).starts_with("Input (JSON) is not valid JSON: "), "{}", alert(&page));
    assert!(page.contains("{&quot;pr&quot;: 42,</textarea>"), "the input is kept: {}", page.html);

    // The API's own rules apply: too deep, or with a NUL character.
    let deep = format!("{}{}", "[".repeat(12), "]".repeat(12));
    let page = alice.post("/tasks", &[("agent", &reviewer), ("input", &deep)]).await;
    assert_eq!(page.status, 400, "{}", page.html);
    assert!(alert(&page).contains("input: Nests arrays and objects"), "{}", alert(&page));
    let page = alice.post("/tasks", &[("agent", &reviewer), ("input", r#"{"a": "\u0000"}"#)]).await;
    assert_eq!(page.status, 400, "{}", page.html);
    assert!(alert(&page).contains("input.a: Must not contain the NUL character"), "{}", alert(&page));
    // No agent, or one that is not the account's.
    let page = alice.post("/tasks", &[("agent", ""), ("input", "{}")]).await;
    assert_eq!(page.status, 400);
    assert!(alert(&page).contains("Choose the agent"), "{}", alert(&page));
    let page = alice.post("/tasks", &[("agent", "no-such-agent"), ("input", "{}")]).await;
    assert_eq!(page.status, 404);
    assert!(alert(&page).contains("Agent not found"), "{}", alert(&page));

    // Without the token.
    let page = alice.post_raw("/tasks", &[("agent", &reviewer), ("input", "{}")]).await;
    assert_eq!(page.status, 403);
    assert_eq!(task_total(&app, &user).await, 0, "nothing was created");
}

async fn the_runtime_completes_a_task_and_its_page_shows_the_output(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, alice) = signed_in(&app, "alice@example.com").await;
    let echo = app
        .create_agent(&user.token, json!({"name": "Echo", "prompt": "Repeat.", "model": {"primary": "test/echo"}}))
        .await;
    let deployed =
        app.post(&format!("/api/agents/{}/deploy", echo["id"].as_str().unwrap()), Some(&user.token), json!({})).await;
    assert_eq!(deployed.status(), 200);

    let id = new_task(&alice, echo["slug"].as_str().unwrap(), "", r#"{"message": "hello from the dashboard"}"#).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let page = loop {
        let page = alice.get(&format!("/tasks/{id}")).await;
        assert_eq!(page.status, 200);
        if page.contains("badge completed") {
            break page;
        }
        assert!(page.contains("data-live=\"2000\""), "a task not finished refreshes itself");
        assert!(Instant::now() < deadline, "the task never completed: {}", page.html);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(page.contains("Task from the dashboard"), "the default title");
    assert!(page.contains("runtime"), "Talon's runtime worked it");
    let output = output_of(&page);
    assert!(output.contains("hello from the dashboard"), "{output}");
    assert!(output.contains("test/echo"), "{output}");
    assert!(!page.contains("data-live"), "a finished task no longer refreshes");
    assert!(!page.contains("Cancel task"), "a finished task cannot be cancelled");
    assert!(alice.get("/tasks?status=completed").await.contains(&format!("href=\"/tasks/{id}\"")));
}

async fn a_task_is_cancelled_by_its_account_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, alice) = signed_in(&app, "alice@example.com").await;
    let reviewer = agent(&app, &user, code_review_agent()).await;
    let id = new_task(&alice, &reviewer, "Review PR 7", "{}").await;
    let cancel = format!("/tasks/{id}/cancel");

    assert_eq!(alice.post_raw(&cancel, &[]).await.status, 403, "no token");
    let (_, bob) = signed_in(&app, "bob@example.com").await;
    let page = bob.post(&cancel, &[]).await;
    assert_eq!(page.status, 404, "another account's task");
    assert_eq!(bob.post("/tasks/task_nonsense/cancel", &[]).await.status, 404);
    assert_eq!(task_status(&app, &user, &id).await, "queued", "nothing changed");

    let page = alice.submit(&cancel, &[]).await;
    assert_eq!(page.status, 200);
    assert!(page.contains("badge cancelled"), "{}", page.html);
    assert!(!page.contains("Cancel task"));
    assert_eq!(task_status(&app, &user, &id).await, "cancelled");
    // Once finished, it cannot be cancelled again: the page shows it as it is, and why.
    let page = alice.post(&cancel, &[]).await;
    assert_eq!(page.status, 409);
    assert!(
        alert(&page).starts_with("The task was not cancelled: a task cannot go from cancelled"),
        "{}",
        alert(&page)
    );
    assert!(page.contains("badge cancelled"));
}
