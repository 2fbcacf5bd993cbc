//! Keyset pagination beside page numbers on the agent and task lists: `startingAfter` and
//! `endingBefore` walk a list without skipping or repeating an item while items are added, totals stay
//! exact, and a cursor that is not an item of the list is a 400 that changes nothing.

use std::collections::HashSet;

use serde_json::{Value, json};
use talon_store::Backend;

use crate::common::{TestApp, assert_error};

on_both_databases!(
    agents_walk_by_cursor_while_agents_are_added,
    tasks_walk_by_cursor_with_filters,
    bad_cursors_are_400_naming_the_parameter,
    a_cursor_of_another_account_shows_nothing_of_it,
    the_document_gives_each_list_the_pattern_of_its_own_ids,
);

fn ids(list: &Value) -> Vec<String> {
    list["data"].as_array().unwrap().iter().map(|item| item["id"].as_str().unwrap().to_owned()).collect()
}

async fn agents_walk_by_cursor_while_agents_are_added(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    for i in 0..7 {
        app.create_agent(&user.token, json!({"name": format!("agent {i}"), "prompt": "p"})).await;
    }
    let first = app.get_json("/api/agents?limit=3", &user.token).await;
    assert_eq!(first["pagination"]["hasMore"], true);
    let mut seen = ids(&first);
    let mut cursor = first["pagination"]["nextCursor"].as_str().unwrap().to_owned();
    assert_eq!(cursor, seen[2], "the cursor is the last item's id");
    let mut added = 0;
    loop {
        // Agents keep arriving between reads; oldest first, they join the end of the walk.
        app.create_agent(&user.token, json!({"name": format!("late {added}"), "prompt": "p"})).await;
        added += 1;
        let page = app.get_json(&format!("/api/agents?limit=3&startingAfter={cursor}"), &user.token).await;
        assert!(page["pagination"].get("page").is_none(), "no page number by cursor: {page}");
        assert_eq!(page["pagination"]["total"], 7 + added);
        seen.extend(ids(&page));
        match page["pagination"]["nextCursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => {
                assert_eq!(page["pagination"]["hasMore"], false);
                break;
            }
        }
        assert!(added < 20, "the walk ends");
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no agent twice");
    assert!(seen.len() >= 7, "every agent from before the walk");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, seen, "oldest first");
    // Back from the fourth agent: the first three, with more neither before them nor missing.
    let back = app.get_json(&format!("/api/agents?limit=3&endingBefore={}", seen[3]), &user.token).await;
    assert_eq!(ids(&back), seen[..3]);
    assert_eq!(back["pagination"]["hasMore"], false);
}

async fn tasks_walk_by_cursor_with_filters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let a = app.create_agent(&user.token, json!({"name": "a", "prompt": "p"})).await["id"].as_str().unwrap().to_owned();
    let b = app.create_agent(&user.token, json!({"name": "b", "prompt": "p"})).await["id"].as_str().unwrap().to_owned();
    let mut high_of_a = Vec::new();
    for i in 0..12 {
        let (agent, priority) = (if i % 2 == 0 { &a } else { &b }, if i % 3 == 0 { "high" } else { "low" });
        let task = app
            .create_task(
                &user.token,
                json!({"agentId": agent, "title": format!("t{i}"), "executor": "external", "priority": priority}),
            )
            .await;
        if agent == &a && priority == "high" {
            high_of_a.push(task["id"].as_str().unwrap().to_owned());
        }
    }
    high_of_a.reverse();
    let filter = format!("agentId={a}&priority=high");
    let first = app.get_json(&format!("/api/tasks?{filter}&limit=1"), &user.token).await;
    assert_eq!(first["pagination"]["total"], high_of_a.len());
    let mut seen = ids(&first);
    let mut next = first["pagination"]["nextCursor"].as_str().map(str::to_owned);
    while let Some(cursor) = next {
        let page = app.get_json(&format!("/api/tasks?{filter}&limit=1&startingAfter={cursor}"), &user.token).await;
        seen.extend(ids(&page));
        next = page["pagination"]["nextCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, high_of_a, "newest first, each once, only the filter's");
    let all = app.get_json("/api/tasks?status=queued&limit=100", &user.token).await;
    assert_eq!((all["pagination"]["total"].as_i64(), all["pagination"]["hasMore"].as_bool()), (Some(12), Some(false)));
}

async fn bad_cursors_are_400_naming_the_parameter(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let agent =
        app.create_agent(&user.token, json!({"name": "a", "prompt": "p"})).await["id"].as_str().unwrap().to_owned();
    let task = app.create_task(&user.token, json!({"agentId": agent, "title": "t", "executor": "external"})).await;
    let task = task["id"].as_str().unwrap();
    for (path, field) in [
        (format!("/api/agents?startingAfter={task}"), "startingAfter"),
        ("/api/agents?endingBefore=nonsense".to_owned(), "endingBefore"),
        (format!("/api/agents?startingAfter={agent}&endingBefore={agent}"), "endingBefore"),
        (format!("/api/agents?page=2&startingAfter={agent}"), "page"),
        (format!("/api/tasks?startingAfter={agent}"), "startingAfter"),
        (format!("/api/tasks?page=1&endingBefore={task}"), "page"),
    ] {
        let body = assert_error(app.get(&path, &user.token).await, 400, "VALIDATION_ERROR").await;
        assert_eq!(body["error"]["details"][0]["field"], field, "{path}: {body}");
    }
}

async fn a_cursor_of_another_account_shows_nothing_of_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, bob) = (app.register("alice@example.com").await, app.register("bob@example.com").await);
    let theirs =
        app.create_agent(&alice.token, json!({"name": "a", "prompt": "p"})).await["id"].as_str().unwrap().to_owned();
    let mine =
        app.create_agent(&bob.token, json!({"name": "b", "prompt": "p"})).await["id"].as_str().unwrap().to_owned();
    app.create_agent(&alice.token, json!({"name": "c", "prompt": "p"})).await;
    let page = app.get_json(&format!("/api/agents?startingAfter={theirs}"), &bob.token).await;
    assert_eq!(ids(&page), [mine], "only Bob's own agents, positioned by the id");
    assert_eq!(page["pagination"]["total"], 1);
}

/// A cursor the document calls valid is one the server takes: each list's cursors have the pattern of
/// that list's ids (a generated task id is not a valid agent cursor).
async fn the_document_gives_each_list_the_pattern_of_its_own_ids(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc: Value = reqwest::get(format!("{}/openapi.json", app.base)).await.unwrap().json().await.unwrap();
    for (path, prefix) in [("/api/agents", "^(agent_"), ("/api/tasks", "^(task_")] {
        let params = doc["paths"][path]["get"]["parameters"].as_array().unwrap();
        for name in ["startingAfter", "endingBefore"] {
            let param = params.iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("{path} {name}"));
            let pattern = param["schema"]["pattern"].as_str().unwrap_or_default();
            assert!(pattern.starts_with(prefix), "{path} {name}: {pattern}");
        }
    }
}
