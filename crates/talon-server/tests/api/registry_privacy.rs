//! What another account learns from a public agent: never the id, name or versions of private agents
//! of other accounts it descends from or sits beside in a fork tree.

use crate::common::TestApp;
use serde_json::{Value, json};
use talon_store::Backend;

on_both_databases!(
    a_public_fork_hides_its_private_parent_from_strangers,
    lineage_shows_strangers_no_private_agent_of_another_account,
);

async fn fork(app: &TestApp, token: &str, source: &str, body: Value) -> Value {
    let response = app.post(&format!("/api/agents/{source}/fork"), Some(token), body).await;
    let status = response.status();
    let json: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{json}");
    json
}

async fn make_public(app: &TestApp, token: &str, id: &str) {
    assert_eq!(app.patch(&format!("/api/agents/{id}"), token, json!({"public": true})).await.status(), 200);
}

async fn a_public_fork_hides_its_private_parent_from_strangers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.register("owner@example.com").await;
    let stranger = app.register("stranger@example.com").await;
    let secret = app.create_agent(&owner.token, json!({"name": "Secret Project Falcon", "prompt": "p"})).await;
    let secret_id = secret["id"].as_str().unwrap();
    let public_fork = fork(&app, &owner.token, secret_id, json!({"forkType": "exact_clone", "name": "Open Bot"})).await;
    let fork_id = public_fork["id"].as_str().unwrap();
    make_public(&app, &owner.token, fork_id).await;

    // The owner sees the parent.
    let mine = app.get_json(&format!("/api/agents/{fork_id}"), &owner.token).await;
    assert_eq!(mine["parentAgent"], json!({"id": secret_id, "name": "Secret Project Falcon"}));

    // A stranger sees that it is a fork, but not of what.
    let seen = app.get_json(&format!("/api/agents/{fork_id}"), &stranger.token).await;
    assert_eq!(seen["parentAgent"], Value::Null);
    assert_eq!(seen["forkType"], "exact_clone");
    let secret_version = secret["currentVersionId"].as_str().unwrap();
    let versions = app.get_json(&format!("/api/agents/{fork_id}/versions"), &stranger.token).await;
    let first = app.get_json(&format!("/api/agents/{fork_id}/versions/1"), &stranger.token).await;
    for (what, shown) in [("agent", &seen), ("versions", &versions), ("version 1", &first)] {
        let text = shown.to_string();
        for secret in [secret_id, secret_version, "Falcon"] {
            assert!(!text.contains(secret), "{what} shows {secret}: {text}");
        }
    }
    assert_eq!(seen["currentVersion"]["parentVersionId"], Value::Null);
    assert_eq!(seen["currentVersion"]["forkType"], "exact_clone");
    // The owner still sees where the fork's first version came from.
    let own_first = app.get_json(&format!("/api/agents/{fork_id}/versions/1"), &owner.token).await;
    assert_eq!(own_first["parentVersionId"], secret_version);

    // Once the parent is public, strangers may see it.
    make_public(&app, &owner.token, secret_id).await;
    let seen = app.get_json(&format!("/api/agents/{fork_id}"), &stranger.token).await;
    assert_eq!(seen["parentAgent"]["id"], secret_id);
    assert_eq!(seen["currentVersion"]["parentVersionId"], secret_version);
}

async fn lineage_shows_strangers_no_private_agent_of_another_account(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.register("owner@example.com").await;
    let stranger = app.register("stranger@example.com").await;
    // private root → public fork → (private fork, public fork, stranger's own private fork)
    let root = app.create_agent(&owner.token, json!({"name": "Hidden Root", "prompt": "p"})).await;
    let root_id = root["id"].as_str().unwrap();
    let middle = fork(&app, &owner.token, root_id, json!({"forkType": "exact_clone", "name": "Shown Middle"})).await;
    let middle_id = middle["id"].as_str().unwrap();
    make_public(&app, &owner.token, middle_id).await;
    let hidden = fork(&app, &owner.token, middle_id, json!({"forkType": "exact_clone", "name": "Hidden Leaf"})).await;
    let shown = fork(&app, &owner.token, middle_id, json!({"forkType": "exact_clone", "name": "Shown Leaf"})).await;
    make_public(&app, &owner.token, shown["id"].as_str().unwrap()).await;
    let own = fork(&app, &stranger.token, middle_id, json!({"forkType": "exact_clone", "name": "Strangers Own"})).await;

    for start in [middle_id, own["id"].as_str().unwrap()] {
        let lineage = app.get_json(&format!("/api/agents/{start}/lineage"), &stranger.token).await;
        let tree = &lineage["root"];
        assert_eq!(tree["name"], "Shown Middle");
        // The root it was forked from is hidden: so is the version it came from.
        assert!(tree.get("forkedFromVersionId").is_none(), "{tree}");
        let children: Vec<&str> =
            tree["children"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(children, ["Shown Leaf", "Strangers Own"]);
        let text = lineage.to_string();
        for secret in [root_id, root["currentVersionId"].as_str().unwrap(), hidden["id"].as_str().unwrap()] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }

    // The owner sees the whole tree, with every link.
    let full = app.get_json(&format!("/api/agents/{middle_id}/lineage"), &owner.token).await;
    assert_eq!(full["root"]["name"], "Hidden Root");
    assert_eq!(full["root"]["children"][0]["forkedFromVersionId"], root["currentVersionId"]);
    assert_eq!(full["root"]["children"][0]["children"].as_array().unwrap().len(), 2);
}
