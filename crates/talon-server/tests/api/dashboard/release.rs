//! Canary splits and merging a fork back, from the dashboard: the agent page starts a split, promotes an
//! arm or aborts it, and compares the arms' usage; a fork's parent merges it from `/agents/{agent}/merge`,
//! resolving conflicts in the form.

use serde_json::{Value, json};
use talon_store::Backend;

use super::Browser;
use crate::common::{TestApp, User};

on_both_databases!(
    a_split_is_started_and_promoted,
    a_split_is_started_and_aborted,
    a_clean_merge_creates_a_parent_version,
    a_conflicting_merge_is_completed_with_resolutions,
    others_and_forged_forms_change_nothing,
);

const PROMPT: &str = "You are a support assistant.\nAnswer in English.\nBe brief.\n";

/// A server, an account on it, and a browser signed in as that account.
async fn signed_in(backend: Backend) -> (TestApp, User, Browser) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let browser = Browser::sign_in(&app, "you@example.com").await;
    (app, user, browser)
}

async fn agent_with_two_versions(app: &TestApp, user: &User) -> String {
    let agent = app.create_agent(&user.token, json!({"name": "Support Bot", "prompt": "one"})).await;
    let id = agent["id"].as_str().unwrap().to_owned();
    app.new_version(&user.token, &id, json!({"prompt": "two"})).await;
    id
}

async fn agent_json(app: &TestApp, user: &User, id: &str) -> Value {
    app.get_json(&format!("/api/agents/{id}"), &user.token).await
}

async fn a_split_is_started_and_promoted(backend: Backend) {
    let (app, user, browser) = signed_in(backend).await;
    let id = agent_with_two_versions(&app, &user).await;

    let page = browser.get("/agents/support-bot").await;
    for label in ["First version", "First weight", "Second version", "Second weight", "Start split"] {
        assert!(page.contains(label), "{label}: {}", page.html);
    }
    assert!(!page.contains("Abort split"), "{}", page.html);
    let fields = [("first_version", "1"), ("first_weight", "80"), ("second_version", "2"), ("second_weight", "20")];
    let started = browser.submit("/agents/support-bot/split", &fields).await;
    assert_eq!(started.status, 200, "{}", started.html);
    assert!(started.contains("<a href=\"/agents/support-bot/versions/1\">Version 1</a> 80 %, "), "{}", started.html);
    assert!(started.contains("Abort split") && started.contains("Promote version 2"), "{}", started.html);
    let arms = agent_json(&app, &user, &id).await["split"]["arms"].clone();
    assert_eq!(arms.as_array().map(Vec::len), Some(2), "{arms}");

    let compared = browser.get("/agents/support-bot/split").await;
    assert_eq!(compared.status, 200, "{}", compared.html);
    assert!(compared.contains("Version 1 (80 %)") && compared.contains("Version 2 (20 %)"), "{}", compared.html);
    assert!(compared.contains("Requests") && compared.contains("Average latency (ms)"), "{}", compared.html);

    // A split of weights that do not add up is refused and writes nothing.
    let bad = [("first_version", "1"), ("first_weight", "80"), ("second_version", "2"), ("second_weight", "30")];
    assert_eq!(browser.post("/agents/support-bot/split", &bad).await.status, 400);

    let promoted = browser.post("/agents/support-bot/split/promote", &[("version", "2")]).await;
    assert_eq!((promoted.status, promoted.location.as_deref()), (303, Some("/agents/support-bot")));
    let promoted = browser.get("/agents/support-bot").await;
    assert!(
        promoted.contains("<a href=\"/agents/support-bot/versions/2\">Version 2</a> (pinned)"),
        "{}",
        promoted.html
    );
    assert!(!promoted.contains("Abort split"), "{}", promoted.html);
    let agent = agent_json(&app, &user, &id).await;
    assert!(agent["split"].is_null(), "{agent}");
    let versions = app.get_json(&format!("/api/agents/{id}/versions"), &user.token).await;
    let second = versions["data"].as_array().unwrap().iter().find(|v| v["versionNumber"] == 2).unwrap()["id"].clone();
    assert_eq!(agent["deployedVersionId"], second);
}

async fn a_split_is_started_and_aborted(backend: Backend) {
    let (app, user, browser) = signed_in(backend).await;
    let id = agent_with_two_versions(&app, &user).await;
    browser.submit("/agents/support-bot/deploy", &[("version", "1")]).await;

    let fields = [("first_version", "1"), ("first_weight", "90"), ("second_version", "2"), ("second_weight", "10")];
    browser.submit("/agents/support-bot/split", &fields).await;
    let aborted = browser.submit("/agents/support-bot/split/abort", &[]).await;
    assert!(aborted.contains("<a href=\"/agents/support-bot/versions/1\">Version 1</a> (pinned)"), "{}", aborted.html);
    assert!(!aborted.contains("Abort split"), "{}", aborted.html);
    let agent = agent_json(&app, &user, &id).await;
    assert!(agent["split"].is_null(), "{agent}");
    // Without a split there is nothing to abort.
    assert_eq!(browser.post("/agents/support-bot/split/abort", &[]).await.status, 409);
    let compared = browser.get("/agents/support-bot/split").await;
    assert!(compared.contains("No canary split is being served"), "{}", compared.html);
}

/// An agent of `user`'s and an exact clone of it named "Fork": (parent id, fork id).
async fn parent_and_fork(app: &TestApp, user: &User) -> (String, String) {
    let parent = app
        .create_agent(&user.token, json!({"name": "Support", "prompt": PROMPT, "config": {"temperature": 0.7}}))
        .await;
    let parent = parent["id"].as_str().unwrap().to_owned();
    let response = app
        .post(
            &format!("/api/agents/{parent}/fork"),
            Some(&user.token),
            json!({"forkType": "exact_clone", "name": "Fork"}),
        )
        .await;
    let body: Value = response.json().await.unwrap();
    (parent, body["id"].as_str().unwrap_or_else(|| panic!("{body}")).to_owned())
}

async fn version(app: &TestApp, user: &User, agent: &str, body: Value) {
    let (status, json) = app.new_version(&user.token, agent, body).await;
    assert_eq!(status, 201, "{json}");
}

async fn head_prompt(app: &TestApp, user: &User, agent: &str) -> (i64, String) {
    let agent = agent_json(app, user, agent).await;
    let head = &agent["currentVersion"];
    (head["versionNumber"].as_i64().unwrap_or_else(|| panic!("{agent}")), head["prompt"].as_str().unwrap().to_owned())
}

async fn a_clean_merge_creates_a_parent_version(backend: Backend) {
    let (app, user, browser) = signed_in(backend).await;
    let (parent, fork) = parent_and_fork(&app, &user).await;
    version(
        &app,
        &user,
        &fork,
        json!({"prompt": "You are a support assistant.\nAnswer in English.\nBe brief and kind.\n"}),
    )
    .await;
    version(&app, &user, &parent, json!({"prompt": "You are a billing assistant.\nAnswer in English.\nBe brief.\n"}))
        .await;

    let fork_page = browser.get("/agents/fork").await;
    let link = format!("/agents/support/merge?from={fork}");
    assert!(
        fork_page.contains(&format!("href=\"{link}\"")) && fork_page.contains("Merge into parent"),
        "{}",
        fork_page.html
    );
    let preview = browser.get(&link).await;
    assert_eq!(preview.status, 200, "{}", preview.html);
    assert!(preview.contains("No conflicts"), "{}", preview.html);
    assert!(
        preview.contains("You are a billing assistant.\nAnswer in English.\nBe brief and kind.\n"),
        "{}",
        preview.html
    );
    let head = head_id(&preview.html);

    let fields =
        [("from", fork.as_str()), ("version", "2"), ("head", head.as_str()), ("commit_message", "Take the fork")];
    let merged = browser.post("/agents/support/merge", &fields).await;
    assert_eq!((merged.status, merged.location.as_deref()), (303, Some("/agents/support")), "{}", merged.html);
    let shown = browser.get("/agents/support").await;
    assert!(shown.contains("Head: version 3"), "{}", shown.html);
    let (number, prompt) = head_prompt(&app, &user, &parent).await;
    assert_eq!(
        (number, prompt.as_str()),
        (3, "You are a billing assistant.\nAnswer in English.\nBe brief and kind.\n")
    );
}

/// The id of the head a merge page was computed against: its hidden `head` field.
fn head_id(html: &str) -> String {
    let marker = "name=\"head\" value=\"";
    let at = html.find(marker).unwrap_or_else(|| panic!("no head field: {html}")) + marker.len();
    html[at..].split('"').next().unwrap().to_owned()
}

async fn a_conflicting_merge_is_completed_with_resolutions(backend: Backend) {
    let (app, user, browser) = signed_in(backend).await;
    let (parent, fork) = parent_and_fork(&app, &user).await;
    version(
        &app,
        &user,
        &fork,
        json!({"prompt": "You are a support assistant.\nAnswer in French.\nBe brief.\n", "config": {"temperature": 0.2}}),
    )
    .await;
    version(
        &app,
        &user,
        &parent,
        json!({"prompt": "You are a support assistant.\nAnswer in German.\nBe brief.\n", "config": {"temperature": 0.9}}),
    )
    .await;

    let link = format!("/agents/support/merge?from={fork}");
    let preview = browser.get(&link).await;
    assert_eq!(preview.status, 200, "{}", preview.html);
    assert!(preview.contains("2 conflicts to resolve"), "{}", preview.html);
    assert!(preview.contains("Conflict at <code>prompt</code>"), "{}", preview.html);
    assert!(preview.contains("Conflict at <code>config.temperature</code>"), "{}", preview.html);
    assert!(preview.contains("Answer in French.") && preview.contains("Answer in German."), "{}", preview.html);
    for label in ["Ours", "Theirs", "Value"] {
        assert!(preview.contains(label), "{label}: {}", preview.html);
    }
    let head = head_id(&preview.html);
    let field = |i: usize| -> &str { ["prompt", "config.temperature"][i] };
    assert!(preview.contains(&format!("name=\"field_0\" value=\"{}\"", field(0))), "{}", preview.html);

    // A conflict left unresolved: the form again, with the message, and nothing merged.
    let partial = [
        ("from", fork.as_str()),
        ("version", "2"),
        ("head", head.as_str()),
        ("field_0", "prompt"),
        ("choice_0", "theirs"),
        ("field_1", "config.temperature"),
    ];
    let refused = browser.post("/agents/support/merge", &partial).await;
    assert_eq!(refused.status, 400, "{}", refused.html);
    assert!(refused.contains("The conflict at `config.temperature` has no resolution"), "{}", refused.html);
    assert!(refused.contains("name=\"choice_0\" value=\"theirs\" checked"), "the choice is kept: {}", refused.html);
    assert_eq!(head_prompt(&app, &user, &parent).await.0, 2);

    // The head moves: the form again, computed against the new head.
    version(
        &app,
        &user,
        &parent,
        json!({"prompt": "You are a support assistant.\nAnswer in German.\nBe brief.\nSign off.\n"}),
    )
    .await;
    let full = [
        ("from", fork.as_str()),
        ("version", "2"),
        ("head", head.as_str()),
        ("field_0", "prompt"),
        ("choice_0", "theirs"),
        ("field_1", "config.temperature"),
        ("choice_1", "value"),
        ("value_1", "0.4"),
        ("commit_message", "Merge French"),
    ];
    let moved = browser.post("/agents/support/merge", &full).await;
    assert_eq!(moved.status, 409, "{}", moved.html);
    assert!(moved.contains("The head moved: version 3"), "{}", moved.html);
    let head = head_id(&moved.html);

    let mut again = full.to_vec();
    again[2] = ("head", head.as_str());
    let merged = browser.post("/agents/support/merge", &again).await;
    assert_eq!((merged.status, merged.location.as_deref()), (303, Some("/agents/support")), "{}", merged.html);
    let (number, prompt) = head_prompt(&app, &user, &parent).await;
    assert_eq!(
        (number, prompt.as_str()),
        (4, "You are a support assistant.\nAnswer in French.\nBe brief.\nSign off.\n")
    );
    let agent = agent_json(&app, &user, &parent).await;
    assert_eq!(agent["currentVersion"]["config"]["temperature"], 0.4, "{agent}");
}

async fn others_and_forged_forms_change_nothing(backend: Backend) {
    let (app, user, browser) = signed_in(backend).await;
    let (parent, fork) = parent_and_fork(&app, &user).await;
    version(&app, &user, &fork, json!({"prompt": "Changed by the fork.\n"})).await;
    let id = agent_with_two_versions(&app, &user).await;
    let split = [("first_version", "1"), ("first_weight", "50"), ("second_version", "2"), ("second_weight", "50")];
    let merge = [("from", fork.as_str()), ("version", "2")];

    // Without the token nothing changes.
    assert_eq!(browser.post_raw("/agents/support-bot/split", &split).await.status, 403);
    assert_eq!(browser.post_raw("/agents/support-bot/split/promote", &[("version", "2")]).await.status, 403);
    assert_eq!(browser.post_raw("/agents/support-bot/split/abort", &[]).await.status, 403);
    assert_eq!(browser.post_raw("/agents/support/merge", &merge).await.status, 403);

    // Another account sees none of it.
    let stranger = app.register("stranger@example.com").await;
    let other = Browser::sign_in(&app, &stranger.email).await;
    assert_eq!(other.post(&format!("/agents/{id}/split"), &split).await.status, 404);
    assert_eq!(other.post(&format!("/agents/{id}/split/promote"), &[("version", "2")]).await.status, 404);
    assert_eq!(other.post(&format!("/agents/{id}/split/abort"), &[]).await.status, 404);
    assert_eq!(other.get(&format!("/agents/{id}/split")).await.status, 404);
    assert_eq!(other.get(&format!("/agents/{parent}/merge?from={fork}")).await.status, 404);
    assert_eq!(other.post(&format!("/agents/{parent}/merge"), &merge).await.status, 404);

    assert!(agent_json(&app, &user, &id).await["split"].is_null());
    assert_eq!(head_prompt(&app, &user, &parent).await.0, 1);
}
