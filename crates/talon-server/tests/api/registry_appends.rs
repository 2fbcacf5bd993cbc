//! Many new versions of one agent at once: however the requests are grouped into transactions, on one
//! replica or two, the history is one gap-free chain holding each accepted request's content exactly
//! once, with one `version.created` event per version, and a stale `expectedVersionId` is refused alone.

use std::collections::HashMap;

use futures::future::join_all;
use serde_json::{Value, json};
use talon_domain::UserId;
use talon_store::Backend;
use talon_store::testing::TestDatabase;

use talon_server::ServerConfig;

use crate::common::{TestApp, User, plans, test_config};

on_both_databases!(
    sixty_four_concurrent_appends_make_one_gap_free_chain,
    a_stale_expected_version_is_refused_without_holding_up_the_others,
    two_replicas_appending_to_one_agent_make_one_chain,
);

/// Room for every request of a test within the rate limits.
fn config() -> ServerConfig {
    let mut config = test_config();
    config.plans = plans(1_000_000, 1_000_000);
    config
}

/// The agent's whole history, oldest first, checked to be one chain numbered 1, 2, 3, … with each
/// version's parent the one before it; returns each version's prompt.
async fn chain_of_prompts(app: &TestApp, token: &str, agent: &str) -> Vec<String> {
    let mut versions = Vec::new();
    for page in 1.. {
        let list = app.get_json(&format!("/api/agents/{agent}/versions?limit=100&page={page}"), token).await;
        let items = list["data"].as_array().unwrap().clone();
        if items.is_empty() {
            break;
        }
        versions.extend(items);
    }
    versions.reverse();
    for (i, version) in versions.iter().enumerate() {
        assert_eq!(version["versionNumber"], i as i64 + 1, "no gap and no repeat: {version}");
        let parent = if i == 0 { Value::Null } else { versions[i - 1]["id"].clone() };
        assert_eq!(version["parentVersionId"], parent, "version {} follows the one before it", i + 1);
    }
    versions.iter().map(|v| v["prompt"].as_str().unwrap().to_owned()).collect()
}

/// How many `version.created` events the account's outbox holds for `agent`.
async fn version_events(app: &TestApp, user: &User, agent: &str) -> usize {
    let events = app.db().store.events_for(UserId::parse(&user.id).unwrap()).await.unwrap();
    events.iter().filter(|e| e.kind == "version.created" && e.data["agentId"] == agent).count()
}

/// Posts every body at once; returns each one's status and prompt.
async fn post_all(app: &TestApp, token: &str, agent: &str, bodies: Vec<Value>) -> Vec<(u16, String, Value)> {
    let posts = bodies.into_iter().map(|body| async move {
        let prompt = body["prompt"].as_str().unwrap().to_owned();
        let (status, answer) = app.new_version(token, agent, body).await;
        (status, prompt, answer)
    });
    join_all(posts).await
}

/// Each accepted prompt is in exactly one version after the first `before` (which no request of
/// `results` made); no refused prompt is in any.
fn assert_each_accepted_once(prompts: &[String], before: usize, results: &[(u16, String, Value)]) {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for prompt in &prompts[before..] {
        *count.entry(prompt.as_str()).or_default() += 1;
    }
    let accepted = results.iter().filter(|(status, _, _)| *status == 201).count();
    assert_eq!(prompts.len() - before, accepted, "one version per accepted request");
    for (status, prompt, answer) in results {
        let expected = usize::from(*status == 201);
        assert_eq!(count.get(prompt.as_str()).copied().unwrap_or(0), expected, "{prompt} ({status}): {answer}");
        if *status == 201 {
            assert_eq!(prompts[answer["versionNumber"].as_u64().unwrap() as usize - 1], *prompt, "{answer}");
            assert_eq!(answer["prompt"], prompt.as_str(), "{answer}");
            // Its own diff: from the version just before it, one line for another.
            assert_eq!(answer["diffFromParent"]["prompt"]["added"], 1, "{answer}");
            assert_eq!(answer["diffFromParent"]["prompt"]["removed"], 1, "{answer}");
        }
    }
}

async fn sixty_four_concurrent_appends_make_one_gap_free_chain(backend: Backend) {
    let app = TestApp::spawn_with(backend, config()).await;
    let user = app.register("you@example.com").await;
    let agent = app.create_agent(&user.token, json!({"name": "a", "prompt": "v1"})).await;
    let id = agent["id"].as_str().unwrap();
    let bodies = (0..64).map(|i| json!({"prompt": format!("concurrent {i}")})).collect();
    let results = post_all(&app, &user.token, id, bodies).await;
    for (status, prompt, answer) in &results {
        assert_eq!(*status, 201, "{prompt}: {answer}");
    }
    let prompts = chain_of_prompts(&app, &user.token, id).await;
    assert_eq!(prompts.len(), 65);
    assert_each_accepted_once(&prompts, 1, &results);
    assert_eq!(version_events(&app, &user, id).await, 65, "one event per version, the first included");
    let current = app.get_json(&format!("/api/agents/{id}"), &user.token).await;
    assert_eq!(current["currentVersion"]["versionNumber"], 65, "the head moved to the last: {current}");
}

async fn a_stale_expected_version_is_refused_without_holding_up_the_others(backend: Backend) {
    let app = TestApp::spawn_with(backend, config()).await;
    let user = app.register("you@example.com").await;
    let agent = app.create_agent(&user.token, json!({"name": "a", "prompt": "v1"})).await;
    let id = agent["id"].as_str().unwrap();
    let v1 = agent["currentVersionId"].as_str().unwrap();
    let (status, v2) = app.new_version(&user.token, id, json!({"prompt": "v2"})).await;
    assert_eq!(status, 201);
    let v2 = v2["id"].as_str().unwrap();
    // Interleaved: plain appends, appends that expect v1 (stale before they start) and appends that
    // expect v2 (current when they start; at most one of them can find it still current).
    let bodies = (0..36)
        .map(|i| match i % 3 {
            0 => json!({"prompt": format!("plain {i}")}),
            1 => json!({"prompt": format!("expects v1 {i}"), "expectedVersionId": v1}),
            _ => json!({"prompt": format!("expects v2 {i}"), "expectedVersionId": v2}),
        })
        .collect();
    let results = post_all(&app, &user.token, id, bodies).await;
    let mut won_v2 = 0;
    for (status, prompt, answer) in &results {
        if prompt.starts_with("plain") {
            assert_eq!(*status, 201, "{prompt}: {answer}");
        } else if prompt.starts_with("expects v1") {
            assert_eq!(*status, 409, "{prompt}: {answer}");
            assert_eq!(answer["error"]["code"], "CONFLICT");
            assert!(answer["error"]["message"].as_str().unwrap().contains(v1), "{answer}");
        } else {
            assert!(*status == 201 || *status == 409, "{prompt}: {answer}");
            won_v2 += usize::from(*status == 201);
        }
    }
    assert!(won_v2 <= 1, "{won_v2} requests found v2 current");
    let prompts = chain_of_prompts(&app, &user.token, id).await;
    assert_eq!(prompts.len(), 2 + 12 + won_v2);
    assert_eq!(prompts[1], "v2");
    assert_each_accepted_once(&prompts, 2, &results);
    if won_v2 == 1 {
        assert!(prompts[2].starts_with("expects v2"), "the one that found v2 current came right after it");
    }
    assert_eq!(version_events(&app, &user, id).await, prompts.len());
}

async fn two_replicas_appending_to_one_agent_make_one_chain(backend: Backend) {
    let first = TestApp::spawn_with(backend, config()).await;
    let second = TestApp::start(TestDatabase::open(&first.db().url).await.unwrap(), config()).await;
    let user = first.register("you@example.com").await;
    let agent = first.create_agent(&user.token, json!({"name": "a", "prompt": "v1"})).await;
    let id = agent["id"].as_str().unwrap();
    let on = |app: &'static str| (0..32).map(move |i| json!({"prompt": format!("{app} {i}")})).collect::<Vec<_>>();
    let (a, b) =
        tokio::join!(post_all(&first, &user.token, id, on("first")), post_all(&second, &user.token, id, on("second")));
    let results: Vec<_> = a.into_iter().chain(b).collect();
    for (status, prompt, answer) in &results {
        assert_eq!(*status, 201, "{prompt}: {answer}");
    }
    let prompts = chain_of_prompts(&first, &user.token, id).await;
    assert_eq!(prompts.len(), 65);
    assert_each_accepted_once(&prompts, 1, &results);
    assert_eq!(version_events(&first, &user, id).await, 65);
}
