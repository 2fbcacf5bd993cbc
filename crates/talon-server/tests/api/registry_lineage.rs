//! A lineage is rendered once and served again while its tree is unchanged: every change the lineage
//! shows (a new version, a rename, a fork, a visibility change, a deletion), made on this replica or on
//! another, is in the very next lineage read.

use serde_json::{Value, json};
use talon_store::Backend;
use talon_store::testing::TestDatabase;

use crate::common::{TestApp, test_config};

on_both_databases!(the_lineage_follows_every_change_to_its_tree, a_change_on_another_replica_is_seen_at_once);

async fn lineage(app: &TestApp, token: &str, agent: &str) -> Value {
    app.get_json(&format!("/api/agents/{agent}/lineage"), token).await["root"].clone()
}

async fn fork(app: &TestApp, token: &str, from: &str, name: &str) -> String {
    let response = app
        .post(&format!("/api/agents/{from}/fork"), Some(token), json!({"forkType": "exact_clone", "name": name}))
        .await;
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

fn names(node: &Value) -> Vec<String> {
    let mut all = vec![node["name"].as_str().unwrap().to_owned()];
    for child in node["children"].as_array().unwrap() {
        all.extend(names(child));
    }
    all
}

async fn the_lineage_follows_every_change_to_its_tree(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.register("owner@example.com").await;
    let stranger = app.register("stranger@example.com").await;
    let root = app.create_agent(&owner.token, json!({"name": "Root", "prompt": "p", "public": true})).await;
    let root_id = root["id"].as_str().unwrap();
    let child = fork(&app, &owner.token, root_id, "Child").await;

    let first = lineage(&app, &owner.token, root_id).await;
    assert_eq!(names(&first), ["Root", "Child"]);
    assert_eq!(lineage(&app, &owner.token, root_id).await, first, "served again unchanged");
    assert_eq!(names(&lineage(&app, &stranger.token, root_id).await), ["Root"], "the private child is hidden");

    let (status, _) = app.new_version(&owner.token, &child, json!({"prompt": "p2"})).await;
    assert_eq!(status, 201);
    assert_eq!(lineage(&app, &owner.token, root_id).await["children"][0]["versionNumber"], 2);

    let renamed = app.patch(&format!("/api/agents/{child}"), &owner.token, json!({"name": "Renamed"})).await;
    assert_eq!(renamed.status(), 200);
    assert_eq!(names(&lineage(&app, &owner.token, root_id).await), ["Root", "Renamed"]);

    let grandchild = fork(&app, &owner.token, &child, "Grandchild").await;
    assert_eq!(names(&lineage(&app, &owner.token, root_id).await), ["Root", "Renamed", "Grandchild"]);
    assert_eq!(names(&lineage(&app, &owner.token, &grandchild).await), ["Root", "Renamed", "Grandchild"]);

    let public = app.patch(&format!("/api/agents/{child}"), &owner.token, json!({"public": true})).await;
    assert_eq!(public.status(), 200);
    assert_eq!(names(&lineage(&app, &stranger.token, root_id).await), ["Root", "Renamed"], "now shown");

    let deleted = app.delete(&format!("/api/agents/{child}?force=true"), &owner.token).await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(names(&lineage(&app, &owner.token, root_id).await), ["Root"]);
    let orphan = lineage(&app, &owner.token, &grandchild).await;
    assert_eq!(names(&orphan), ["Grandchild"], "the fork of a deleted agent stands alone");
    assert!(orphan.get("forkedFromVersionId").is_none(), "{orphan}");
}

async fn a_change_on_another_replica_is_seen_at_once(backend: Backend) {
    let first = TestApp::spawn(backend).await;
    let second = TestApp::start(TestDatabase::open(&first.db().url).await.unwrap(), test_config()).await;
    let owner = first.register("owner@example.com").await;
    let root = first.create_agent(&owner.token, json!({"name": "Root", "prompt": "p"})).await;
    let root_id = root["id"].as_str().unwrap();
    assert_eq!(names(&lineage(&first, &owner.token, root_id).await), ["Root"]);

    fork(&second, &owner.token, root_id, "Forked elsewhere").await;
    assert_eq!(names(&lineage(&first, &owner.token, root_id).await), ["Root", "Forked elsewhere"]);

    let (status, _) = second.new_version(&owner.token, root_id, json!({"prompt": "p2"})).await;
    assert_eq!(status, 201);
    assert_eq!(lineage(&first, &owner.token, root_id).await["versionNumber"], 2);
}
