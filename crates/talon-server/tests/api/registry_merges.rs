//! Merging a fork back (`POST /api/agents/{id}/merge`, `GET …/merge-preview`): a three-way merge of the
//! fork's version into the agent's head against their common ancestor, recorded as a version with two
//! parents; conflicts are 409 until resolved; only the agent's owner merges, only from a fork they may read.

use serde_json::{Value, json};
use talon_domain::UserId;
use talon_store::Backend;

use crate::common::{TestApp, User, assert_error};

on_both_databases!(
    a_clean_merge_combines_both_sides_and_records_both_parents,
    a_conflicting_merge_is_409_until_resolved,
    a_preview_writes_nothing,
    only_the_owner_merges_and_only_from_a_readable_fork,
    an_unrelated_agent_is_refused,
    scopes_and_a_moved_head_are_enforced,
);

const PROMPT: &str = "You are a support assistant.\nAnswer in English.\nBe brief.\n";

/// An agent of `user`'s with the base prompt and config, and an exact clone of it: (parent, fork).
async fn parent_and_fork(app: &TestApp, user: &User) -> (String, String) {
    let parent = app
        .create_agent(
            &user.token,
            json!({"name": "Support", "prompt": PROMPT, "config": {"temperature": 0.7, "maxTokens": 100}}),
        )
        .await;
    let parent = parent["id"].as_str().unwrap().to_owned();
    let fork = fork_of(app, &user.token, &parent).await;
    (parent, fork)
}

async fn fork_of(app: &TestApp, token: &str, agent: &str) -> String {
    let response = app
        .post(&format!("/api/agents/{agent}/fork"), Some(token), json!({"forkType": "exact_clone", "name": "Fork"}))
        .await;
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap_or_else(|| panic!("{body}")).to_owned()
}

async fn version(app: &TestApp, token: &str, agent: &str, body: Value) -> Value {
    let (status, json) = app.new_version(token, agent, body).await;
    assert_eq!(status, 201, "{json}");
    json
}

async fn merge(app: &TestApp, token: &str, parent: &str, body: Value) -> reqwest::Response {
    app.post(&format!("/api/agents/{parent}/merge"), Some(token), body).await
}

async fn version_count(app: &TestApp, token: &str, agent: &str) -> i64 {
    app.get_json(&format!("/api/agents/{agent}/versions"), token).await["pagination"]["total"].as_i64().unwrap()
}

fn account(user: &User) -> UserId {
    UserId::parse(&user.id).unwrap()
}

async fn a_clean_merge_combines_both_sides_and_records_both_parents(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("owner@example.com").await;
    let (parent, fork) = parent_and_fork(&app, &user).await;
    // The fork changes the last line and maxTokens; the parent changes the first line.
    let theirs = version(
        &app,
        &user.token,
        &fork,
        json!({"prompt": "You are a support assistant.\nAnswer in English.\nBe brief and kind.\n",
               "config": {"temperature": 0.7, "maxTokens": 300}}),
    )
    .await;
    let ours = version(
        &app,
        &user.token,
        &parent,
        json!({"prompt": "You are a billing assistant.\nAnswer in English.\nBe brief.\n"}),
    )
    .await;

    let response = merge(&app, &user.token, &parent, json!({"fromAgentId": fork})).await;
    assert_eq!(response.status(), 201);
    let merged: Value = response.json().await.unwrap();
    assert_eq!(merged["prompt"], "You are a billing assistant.\nAnswer in English.\nBe brief and kind.\n");
    assert_eq!(merged["config"], json!({"temperature": 0.7, "maxTokens": 300}));
    assert_eq!(merged["versionNumber"], 3);
    assert_eq!(merged["parentVersionId"], ours["id"], "first parent: the parent's head");
    assert_eq!(merged["mergedFrom"], json!({"agentId": fork, "versionId": theirs["id"], "number": 2}));
    assert_eq!(merged["commitMessage"], "Merge fork Fork at version 2");
    assert_eq!(merged["diffFromParent"]["config"]["changed"]["maxTokens"], json!({"from": 100, "to": 300}));

    // The version list, compare and lineage show the merge.
    let listed = app.get_json(&format!("/api/agents/{parent}/versions"), &user.token).await;
    assert_eq!(listed["data"][0]["mergedFrom"]["versionId"], theirs["id"]);
    assert!(listed["data"][1].get("mergedFrom").is_none(), "an ordinary version has none");
    let compared = app.get_json(&format!("/api/agents/{parent}/versions/compare?from=2&to=3"), &user.token).await;
    assert_eq!(compared["to"]["mergedFrom"]["agentId"], fork.as_str());
    assert!(compared["from"].get("mergedFrom").is_none());
    let lineage = app.get_json(&format!("/api/agents/{fork}/lineage"), &user.token).await;
    assert_eq!(
        lineage["root"]["merges"],
        json!([{"versionId": merged["id"], "versionNumber": 3, "fromAgentId": fork,
                "fromVersionId": theirs["id"], "fromVersionNumber": 2}])
    );
    assert!(lineage["root"]["children"][0].get("merges").is_none());

    // Both events, in the version's transaction.
    let events = app.state.store.events_for(account(&user)).await.unwrap();
    let created = events.iter().rev().find(|e| e.kind == "version.created").unwrap();
    assert_eq!(created.data["id"], merged["id"]);
    assert_eq!(created.data["mergedFrom"]["versionId"], theirs["id"]);
    let merged_event = events.iter().find(|e| e.kind == "agent.merged").expect("agent.merged");
    assert_eq!(merged_event.data["versionId"], merged["id"]);
    assert_eq!(merged_event.data["fromAgentId"], fork.as_str());

    // Merging again later starts from the merged version: the parent's own edit of the line the fork
    // changed before is no conflict with the fork's next change elsewhere.
    version(
        &app,
        &user.token,
        &parent,
        json!({"prompt": "You are a billing assistant.\nAnswer in English.\nBe brief, kind and exact.\n"}),
    )
    .await;
    version(
        &app,
        &user.token,
        &fork,
        json!({"prompt": "You are a support assistant.\nAnswer in French.\nBe brief and kind.\n"}),
    )
    .await;
    let response = merge(&app, &user.token, &parent, json!({"fromAgentId": fork, "commitMessage": "Again"})).await;
    let again: Value = response.json().await.unwrap();
    assert_eq!(
        again["prompt"], "You are a billing assistant.\nAnswer in French.\nBe brief, kind and exact.\n",
        "{again}"
    );
    assert_eq!((again["commitMessage"].as_str(), again["mergedFrom"]["number"].as_i64()), (Some("Again"), Some(3)));

    // A merge that changes nothing is the current version, 200.
    let response = merge(&app, &user.token, &parent, json!({"fromAgentId": fork})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["id"], again["id"]);
}

async fn a_conflicting_merge_is_409_until_resolved(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("owner@example.com").await;
    let (parent, fork) = parent_and_fork(&app, &user).await;
    version(
        &app,
        &user.token,
        &fork,
        json!({"prompt": "You are a support assistant.\nAnswer in French.\nBe brief.\n",
               "config": {"temperature": 1.0, "maxTokens": 100}}),
    )
    .await;
    version(
        &app,
        &user.token,
        &parent,
        json!({"prompt": "You are a support assistant.\nAnswer in German.\nBe brief.\n",
               "config": {"temperature": 0.2, "maxTokens": 100}}),
    )
    .await;

    let response = merge(&app, &user.token, &parent, json!({"fromAgentId": fork})).await;
    let body = assert_error(response, 409, "CONFLICT").await;
    let conflicts = body["error"]["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 2, "{body}");
    assert_eq!(
        conflicts[0],
        json!({"field": "prompt", "base": "Answer in English.\n", "ours": "Answer in German.\n",
               "theirs": "Answer in French.\n",
               "hunk": {"baseStart": 2, "baseLines": 1, "oursStart": 2, "oursLines": 1, "theirsStart": 2, "theirsLines": 1}})
    );
    assert_eq!(conflicts[1], json!({"field": "config.temperature", "base": 0.7, "ours": 0.2, "theirs": 1.0}));
    assert_eq!(body["error"]["details"][1]["field"], "config.temperature");
    assert_eq!(version_count(&app, &user.token, &parent).await, 2, "nothing written");

    // Resolutions that miss a conflict or name none are refused, naming them.
    let response = merge(
        &app,
        &user.token,
        &parent,
        json!({"fromAgentId": fork, "resolutions": [{"field": "prompt", "choice": "theirs"}, {"field": "model", "choice": "ours"}]}),
    )
    .await;
    let body = assert_error(response, 400, "VALIDATION_ERROR").await;
    let messages: Vec<&str> =
        body["error"]["details"].as_array().unwrap().iter().map(|d| d["message"].as_str().unwrap()).collect();
    assert_eq!(
        messages,
        ["`model` names no conflict of this merge", "The conflict at `config.temperature` has no resolution"]
    );
    let response = merge(
        &app,
        &user.token,
        &parent,
        json!({"fromAgentId": fork, "resolutions": [{"field": "prompt", "choice": "value"}]}),
    )
    .await;
    let body = assert_error(response, 400, "VALIDATION_ERROR").await;
    assert_eq!(body["error"]["details"][0]["field"], "resolutions[0].value");

    let response = merge(
        &app,
        &user.token,
        &parent,
        json!({"fromAgentId": fork, "commitMessage": "Merge French",
               // `"value": null` beside `theirs` is leaving the value out, as the document says.
               "resolutions": [{"field": "prompt", "choice": "theirs", "value": null},
                               {"field": "config.temperature", "choice": "value", "value": 0.4}]}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let merged: Value = response.json().await.unwrap();
    assert_eq!(merged["prompt"], "You are a support assistant.\nAnswer in French.\nBe brief.\n");
    assert_eq!(merged["config"], json!({"temperature": 0.4, "maxTokens": 100}));
    assert_eq!(merged["commitMessage"], "Merge French");
    assert_eq!(merged["mergedFrom"]["agentId"], fork.as_str());
}

async fn a_preview_writes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("owner@example.com").await;
    let (parent, fork) = parent_and_fork(&app, &user).await;
    let base = app.get_json(&format!("/api/agents/{parent}/versions/1"), &user.token).await;
    let theirs = version(&app, &user.token, &fork, json!({"config": {"temperature": 1.0, "maxTokens": 100}})).await;
    let ours = version(&app, &user.token, &parent, json!({"config": {"temperature": 0.2, "maxTokens": 100}})).await;
    let events_before = app.state.store.events_for(account(&user)).await.unwrap().len();

    let preview = app.get_json(&format!("/api/agents/{parent}/merge-preview?fromAgentId={fork}"), &user.token).await;
    assert_eq!(preview["base"], json!({"id": base["id"], "agentId": parent, "versionNumber": 1}));
    assert_eq!(preview["ours"]["id"], ours["id"]);
    assert_eq!(preview["theirs"], json!({"id": theirs["id"], "agentId": fork, "versionNumber": 2}));
    assert_eq!(preview["conflicts"][0]["field"], "config.temperature");
    assert_eq!(preview["merged"]["config"]["temperature"], 0.2, "a conflict holds ours");
    assert_eq!(preview["merged"]["prompt"], PROMPT);
    // A chosen version of the fork: version 1 changes nothing.
    let at_one = app
        .get_json(&format!("/api/agents/{parent}/merge-preview?fromAgentId={fork}&fromVersionId=1"), &user.token)
        .await;
    assert_eq!(
        (at_one["theirs"]["versionNumber"].as_i64(), at_one["conflicts"].as_array().map(Vec::len)),
        (Some(1), Some(0))
    );

    assert_eq!(version_count(&app, &user.token, &parent).await, 2);
    assert_eq!(app.state.store.events_for(account(&user)).await.unwrap().len(), events_before);
    let missing = app.get(&format!("/api/agents/{parent}/merge-preview"), &user.token).await;
    assert_error(missing, 400, "VALIDATION_ERROR").await;
}

async fn only_the_owner_merges_and_only_from_a_readable_fork(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.register("owner@example.com").await;
    let stranger = app.register("stranger@example.com").await;
    let parent = app.create_agent(&owner.token, json!({"name": "Public", "prompt": PROMPT, "public": true})).await;
    let parent = parent["id"].as_str().unwrap().to_owned();
    let theirs_fork = fork_of(&app, &stranger.token, &parent).await;
    version(&app, &stranger.token, &theirs_fork, json!({"prompt": "Be helpful.\n"})).await;

    // The stranger may read the parent, but not merge into it.
    let response = merge(&app, &stranger.token, &parent, json!({"fromAgentId": theirs_fork})).await;
    assert_error(response, 404, "NOT_FOUND").await;
    let preview =
        app.get(&format!("/api/agents/{parent}/merge-preview?fromAgentId={theirs_fork}"), &stranger.token).await;
    assert_error(preview, 404, "NOT_FOUND").await;

    // The owner may not merge the stranger's private fork: it is not found, as if absent.
    let response = merge(&app, &owner.token, &parent, json!({"fromAgentId": theirs_fork})).await;
    let body = assert_error(response, 404, "NOT_FOUND").await;
    assert_eq!(body["error"]["details"][0]["field"], "fromAgentId");
    assert_eq!(version_count(&app, &owner.token, &parent).await, 1);

    // Once public, it merges.
    let public = app.patch(&format!("/api/agents/{theirs_fork}"), &stranger.token, json!({"public": true})).await;
    assert_eq!(public.status(), 200);
    let response = merge(&app, &owner.token, &parent, json!({"fromAgentId": theirs_fork})).await;
    assert_eq!(response.status(), 201);
    let merged: Value = response.json().await.unwrap();
    assert_eq!(merged["prompt"], "Be helpful.\n");

    // Made private again, the merge no longer names it to a reader who cannot see it.
    let private = app.patch(&format!("/api/agents/{theirs_fork}"), &stranger.token, json!({"public": false})).await;
    assert_eq!(private.status(), 200);
    let third = app.register("third@example.com").await;
    let seen = app.get_json(&format!("/api/agents/{parent}/versions/2"), &third.token).await;
    assert!(seen.get("mergedFrom").is_none(), "{seen}");
    let owned = app.get_json(&format!("/api/agents/{parent}/versions/2"), &owner.token).await;
    assert!(owned.get("mergedFrom").is_none(), "the owner may no longer see the fork either: {owned}");
}

async fn an_unrelated_agent_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("owner@example.com").await;
    let (parent, fork) = parent_and_fork(&app, &user).await;
    let other = app.create_agent(&user.token, json!({"name": "Other", "prompt": "Other.\n"})).await;
    let other = other["id"].as_str().unwrap();

    let response = merge(&app, &user.token, &parent, json!({"fromAgentId": other})).await;
    let body = assert_error(response, 400, "VALIDATION_ERROR").await;
    assert_eq!(body["error"]["details"][0]["field"], "fromAgentId");
    assert!(body["error"]["details"][0]["message"].as_str().unwrap().contains("not a fork of this agent"), "{body}");
    // Nor the other way round: the parent is no fork of its fork.
    let response = merge(&app, &user.token, &fork, json!({"fromAgentId": parent})).await;
    assert_error(response, 400, "VALIDATION_ERROR").await;
    let response = merge(&app, &user.token, &parent, json!({"fromAgentId": parent})).await;
    assert_error(response, 400, "VALIDATION_ERROR").await;

    // A fork of a fork descends from the parent too.
    let grandchild = fork_of(&app, &user.token, &fork).await;
    version(&app, &user.token, &grandchild, json!({"prompt": "Grandchild.\n"})).await;
    let response = merge(&app, &user.token, &parent, json!({"fromAgentId": grandchild})).await;
    assert_eq!(response.status(), 201);
}

async fn scopes_and_a_moved_head_are_enforced(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("owner@example.com").await;
    let (parent, fork) = parent_and_fork(&app, &user).await;
    version(&app, &user.token, &fork, json!({"prompt": "Forked.\n"})).await;
    let head = app.get_json(&format!("/api/agents/{parent}"), &user.token).await["currentVersionId"].clone();

    let reader = app.api_key(&user, &["agents:read"]).await;
    let response = merge(&app, &reader, &parent, json!({"fromAgentId": fork})).await;
    assert_error(response, 403, "FORBIDDEN").await;
    let preview = app.get(&format!("/api/agents/{parent}/merge-preview?fromAgentId={fork}"), &reader).await;
    assert_eq!(preview.status(), 200, "reading a preview needs agents:read only");

    // The head moves after the preview: a merge pinned to the old head is refused and writes nothing.
    version(&app, &user.token, &parent, json!({"config": {"temperature": 0.1, "maxTokens": 100}})).await;
    let response = merge(&app, &user.token, &parent, json!({"fromAgentId": fork, "expectedVersionId": head})).await;
    assert_error(response, 409, "CONFLICT").await;
    assert_eq!(version_count(&app, &user.token, &parent).await, 2);

    let writer = app.api_key(&user, &["agents:write"]).await;
    let response = merge(&app, &writer, &parent, json!({"fromAgentId": fork, "fromVersionId": 2})).await;
    assert_eq!(response.status(), 201);
}
