//! The registry's agents, as the spec's "Agents" section shows them, plus deployment, forks and lineage.

use crate::common::{TestApp, assert_error, code_review_agent};
use serde_json::{Value, json};
use talon_domain::UserId;
use talon_store::Backend;

on_both_databases!(
    spec_create_get_and_list,
    slugs_are_derived_unique_and_stable,
    invalid_agents_are_400_with_a_detail_per_field,
    patch_changes_metadata_not_versions,
    pagination_never_skips_or_repeats_while_agents_are_added,
    deploy_pin_and_stop,
    delete_refuses_while_forked_unless_forced,
    forks_of_each_type_and_their_validation,
    forking_another_accounts_agent_needs_it_public,
    lineage_of_a_three_level_tree_from_every_node,
    changes_are_recorded_in_the_outbox,
);

async fn spec_create_get_and_list(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let created = app.create_agent(&user.token, code_review_agent()).await;
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("agent_"));
    assert_eq!(created["name"], "Code Review Agent");
    assert_eq!(created["status"], "idle");
    assert_eq!(created["slug"], "code-review-agent");
    let current = &created["currentVersion"];
    assert_eq!(created["currentVersionId"], current["id"]);
    assert!(current["id"].as_str().unwrap().starts_with("ver_"));
    assert_eq!(current["versionNumber"], 1);
    assert_eq!(current["prompt"], "You are an expert code reviewer...");
    assert_eq!(current["tools"], code_review_agent()["tools"]);
    assert_eq!(current["config"], json!({"temperature": 0.3, "maxTokens": 4000}));

    let got = app.get_json(&format!("/api/agents/{id}"), &user.token).await;
    for field in ["id", "name", "description", "status", "currentVersionId", "forkCount", "createdAt", "updatedAt"] {
        assert!(got.get(field).is_some(), "{field} in {got}");
    }
    assert_eq!(got["currentVersion"]["versionNumber"], 1);
    assert_eq!(got["forkCount"], 0);
    // The slug and the bare UUID reach the same agent.
    let by_slug = app.get_json("/api/agents/code-review-agent", &user.token).await;
    assert_eq!(by_slug["id"], id);
    let uuid = talon_domain::AgentId::parse(id).unwrap().as_uuid().to_string();
    assert_eq!(app.get_json(&format!("/api/agents/{uuid}"), &user.token).await["id"], id);

    let list = app.get_json("/api/agents?page=1&limit=10", &user.token).await;
    assert_eq!(list["pagination"], json!({"page": 1, "limit": 10, "total": 1, "totalPages": 1, "hasMore": false}));
    let item = &list["data"][0];
    for field in ["id", "name", "description", "status", "currentVersionId", "forkCount", "createdAt"] {
        assert!(item.get(field).is_some(), "{field} in {item}");
    }
    assert_error(app.get("/api/agents?page=0", &user.token).await, 400, "VALIDATION_ERROR").await;
    assert_error(app.get("/api/agents?limit=101", &user.token).await, 400, "VALIDATION_ERROR").await;
}

async fn slugs_are_derived_unique_and_stable(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let body = json!({"name": "Support Bot", "prompt": "p"});
    let first = app.create_agent(&user.token, body.clone()).await;
    let second = app.create_agent(&user.token, body).await;
    assert_eq!(first["slug"], "support-bot");
    assert_eq!(second["slug"], "support-bot-2");
    let chosen = app.create_agent(&user.token, json!({"name": "X", "slug": "my-bot", "prompt": "p"})).await;
    assert_eq!(chosen["slug"], "my-bot");
    let taken = app.post("/api/agents", Some(&user.token), json!({"name": "Y", "slug": "my-bot", "prompt": "p"})).await;
    assert_error(taken, 409, "CONFLICT").await;
    let id = first["id"].as_str().unwrap();
    let renamed = app.patch(&format!("/api/agents/{id}"), &user.token, json!({"name": "Helpdesk"})).await;
    assert_eq!(renamed.status(), 200);
    let renamed: Value = renamed.json().await.unwrap();
    assert_eq!((renamed["name"].as_str(), renamed["slug"].as_str()), (Some("Helpdesk"), Some("support-bot")));
    // Another account may use the same slug.
    let other = app.register("other@example.com").await;
    assert_eq!(
        app.create_agent(&other.token, json!({"name": "Support Bot", "prompt": "p"})).await["slug"],
        "support-bot"
    );
}

async fn invalid_agents_are_400_with_a_detail_per_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let bad = json!({
        "name": "",
        "slug": "Not A Slug",
        "prompt": "x".repeat(100 * 1024 + 1),
        "tools": [{"name": "dup", "parameters": {}}, {"name": "dup"}, {"name": "has space"}, {"name": "p", "parameters": "no"}],
        "config": {"temperature": 2.5, "maxTokens": 200001},
    });
    let body = assert_error(app.post("/api/agents", Some(&user.token), bad).await, 400, "VALIDATION_ERROR").await;
    let fields: Vec<&str> =
        body["error"]["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(
        fields,
        [
            "name",
            "slug",
            "prompt",
            "tools[1].name",
            "tools[2].name",
            "tools[3].parameters",
            "config.temperature",
            "config.maxTokens"
        ]
    );
    let missing = app.post("/api/agents", Some(&user.token), json!({"name": "n"})).await;
    let body = assert_error(missing, 400, "VALIDATION_ERROR").await;
    assert_eq!(body["error"]["details"], json!([{"field": "prompt", "message": "Required field missing"}]));
    let list = app.get_json("/api/agents", &user.token).await;
    assert_eq!(list["pagination"]["total"], 0, "nothing was created");
}

async fn patch_changes_metadata_not_versions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let agent = app.create_agent(&user.token, code_review_agent()).await;
    let id = agent["id"].as_str().unwrap();
    let patched = app
        .patch(
            &format!("/api/agents/{id}"),
            &user.token,
            json!({"description": "Reviews PRs", "capabilities": ["review", "git"], "public": true}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let got = app.get_json(&format!("/api/agents/{id}"), &user.token).await;
    assert_eq!(got["description"], "Reviews PRs");
    assert_eq!(got["capabilities"], json!(["review", "git"]));
    assert_eq!(got["public"], true);
    assert_eq!(got["currentVersionId"], agent["currentVersionId"], "no new version");
    let bad = app.patch(&format!("/api/agents/{id}"), &user.token, json!({"name": 3, "public": "yes"})).await;
    let body = assert_error(bad, 400, "VALIDATION_ERROR").await;
    assert_eq!(body["error"]["details"].as_array().unwrap().len(), 2);
    let empty = app.patch(&format!("/api/agents/{id}"), &user.token, json!({})).await;
    assert_eq!(empty.status(), 200, "an empty PATCH is a no-op");
}

async fn pagination_never_skips_or_repeats_while_agents_are_added(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    for i in 0..7 {
        app.create_agent(&user.token, json!({"name": format!("agent {i}"), "prompt": "p"})).await;
    }
    let mut seen = Vec::new();
    let mut page = 1;
    loop {
        let list = app.get_json(&format!("/api/agents?page={page}&limit=3"), &user.token).await;
        let items = list["data"].as_array().unwrap().clone();
        // Agents keep arriving between page reads.
        app.create_agent(&user.token, json!({"name": format!("late {page}"), "prompt": "p"})).await;
        if items.is_empty() {
            break;
        }
        seen.extend(items.iter().map(|a| a["id"].as_str().unwrap().to_owned()));
        page += 1;
        assert!(page < 20, "pagination terminates");
    }
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no repeats");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, seen, "oldest first");
    let names: Vec<String> = {
        let mut out = Vec::new();
        for id in &seen {
            out.push(
                app.get_json(&format!("/api/agents/{id}"), &user.token).await["name"].as_str().unwrap().to_owned(),
            );
        }
        out
    };
    for i in 0..7 {
        assert!(names.contains(&format!("agent {i}")), "no gaps: agent {i} seen");
    }
}

async fn deploy_pin_and_stop(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let agent = app.create_agent(&user.token, code_review_agent()).await;
    let id = agent["id"].as_str().unwrap();
    let v1 = agent["currentVersionId"].as_str().unwrap();
    assert_error(app.post(&format!("/api/agents/{id}/stop"), Some(&user.token), json!({})).await, 409, "CONFLICT")
        .await;

    let deployed = app
        .request(reqwest::Method::POST, &format!("/api/agents/{id}/deploy"), Some(&user.token))
        .send()
        .await
        .unwrap();
    assert_eq!(deployed.status(), 200);
    let deployed: Value = deployed.json().await.unwrap();
    assert_eq!(deployed["status"], "deployed");
    assert!(deployed["deployedAt"].is_string());
    assert!(deployed["deployedVersionId"].is_null(), "serves the current version");

    app.new_version(&user.token, id, json!({"prompt": "v2"})).await;
    let pinned = app.post(&format!("/api/agents/{id}/deploy"), Some(&user.token), json!({"versionId": v1})).await;
    assert_eq!(pinned.json::<Value>().await.unwrap()["deployedVersionId"], v1);
    let other = app.create_agent(&user.token, json!({"name": "o", "prompt": "p"})).await;
    let foreign_version = other["currentVersionId"].as_str().unwrap();
    let bad =
        app.post(&format!("/api/agents/{id}/deploy"), Some(&user.token), json!({"versionId": foreign_version})).await;
    assert_error(bad, 404, "NOT_FOUND").await;

    let stopped = app.post(&format!("/api/agents/{id}/stop"), Some(&user.token), json!({})).await;
    assert_eq!(stopped.json::<Value>().await.unwrap()["status"], "stopped");
}

async fn delete_refuses_while_forked_unless_forced(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let parent = app.create_agent(&user.token, code_review_agent()).await;
    let id = parent["id"].as_str().unwrap();
    let fork = app.post(&format!("/api/agents/{id}/fork"), Some(&user.token), json!({"forkType": "exact_clone"})).await;
    assert_eq!(fork.status(), 201);
    let fork: Value = fork.json().await.unwrap();
    assert_error(app.delete(&format!("/api/agents/{id}"), &user.token).await, 409, "CONFLICT").await;
    assert_eq!(app.delete(&format!("/api/agents/{id}?force=true"), &user.token).await.status(), 204);
    assert_error(app.get(&format!("/api/agents/{id}"), &user.token).await, 404, "NOT_FOUND").await;
    let orphan = app.get_json(&format!("/api/agents/{}", fork["id"].as_str().unwrap()), &user.token).await;
    assert!(orphan["parentAgent"].is_null());
    assert_eq!(app.delete(&format!("/api/agents/{}", fork["id"].as_str().unwrap()), &user.token).await.status(), 204);
}

async fn forks_of_each_type_and_their_validation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let parent = app
        .create_agent(&user.token, json!({"name": "Support Assistant", "prompt": "You are a support assistant."}))
        .await;
    let id = parent["id"].as_str().unwrap();
    let fork_path = format!("/api/agents/{id}/fork");

    // The spec's example.
    let spanish = app
        .post(
            &fork_path,
            Some(&user.token),
            json!({
                "forkType": "prompt_mutation",
                "name": "Support Assistant (Spanish)",
                "prompt": "Eres un asistente de soporte...",
                "commitMessage": "Spanish language version"
            }),
        )
        .await;
    assert_eq!(spanish.status(), 201);
    let spanish: Value = spanish.json().await.unwrap();
    assert_eq!(spanish["name"], "Support Assistant (Spanish)");
    assert_eq!(spanish["parentAgent"], json!({"id": id, "name": "Support Assistant"}));
    assert_eq!(spanish["currentVersion"]["versionNumber"], 1);
    assert_eq!(spanish["currentVersion"]["parentVersionId"], parent["currentVersionId"]);
    assert_eq!(spanish["currentVersion"]["forkType"], "prompt_mutation");
    assert_eq!(spanish["currentVersion"]["commitMessage"], "Spanish language version");

    let clone = app.post(&fork_path, Some(&user.token), json!({"forkType": "exact_clone"})).await;
    let clone: Value = clone.json().await.unwrap();
    assert_eq!(clone["currentVersion"]["prompt"], "You are a support assistant.");
    assert_eq!(clone["name"], "Support Assistant (fork)");

    let tools = app
        .post(&fork_path, Some(&user.token), json!({"forkType": "tool_mutation", "tools": [{"name": "kb_search", "description": "Search", "parameters": {}}]}))
        .await;
    assert_eq!(tools.status(), 201);
    assert_eq!(app.get_json(&format!("/api/agents/{id}"), &user.token).await["forkCount"], 3);

    for (body, field) in [
        (json!({"forkType": "exact_clone", "prompt": "changed"}), "prompt"),
        (json!({"forkType": "prompt_mutation"}), "prompt"),
        (json!({"forkType": "tool_mutation", "prompt": "x", "tools": []}), "prompt"),
        (json!({"forkType": "bogus"}), "forkType"),
        (json!({}), "forkType"),
    ] {
        let response = app.post(&fork_path, Some(&user.token), body.clone()).await;
        let error = assert_error(response, 400, "VALIDATION_ERROR").await;
        assert_eq!(error["error"]["details"][0]["field"], field, "{body}");
    }
    // A fork that does not change what its kind names conflicts with the version it forks.
    for same in [
        json!({"forkType": "prompt_mutation", "prompt": "You are a support assistant."}),
        json!({"forkType": "tool_mutation", "config": {}}),
    ] {
        assert_error(app.post(&fork_path, Some(&user.token), same).await, 409, "CONFLICT").await;
    }
    assert_eq!(app.get_json(&format!("/api/agents/{id}"), &user.token).await["forkCount"], 3, "no failed fork counted");

    // Forking from an older version.
    let v1 = parent["currentVersionId"].as_str().unwrap();
    app.new_version(&user.token, id, json!({"prompt": "v2 prompt"})).await;
    let old = app.post(&fork_path, Some(&user.token), json!({"forkType": "exact_clone", "versionId": v1})).await;
    let old: Value = old.json().await.unwrap();
    assert_eq!(old["currentVersion"]["prompt"], "You are a support assistant.");
    assert_eq!(old["currentVersion"]["parentVersionId"], v1);
}

async fn forking_another_accounts_agent_needs_it_public(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.register("alice@example.com").await;
    let bob = app.register("bob@example.com").await;
    let agent = app.create_agent(&alice.token, code_review_agent()).await;
    let id = agent["id"].as_str().unwrap();
    let fork = json!({"forkType": "exact_clone"});
    assert_error(app.post(&format!("/api/agents/{id}/fork"), Some(&bob.token), fork.clone()).await, 404, "NOT_FOUND")
        .await;
    app.patch(&format!("/api/agents/{id}"), &alice.token, json!({"public": true})).await;
    let forked = app.post(&format!("/api/agents/{id}/fork"), Some(&bob.token), fork).await;
    assert_eq!(forked.status(), 201);
    let forked: Value = forked.json().await.unwrap();
    assert_eq!(forked["currentVersion"]["createdBy"]["email"], "bob@example.com");
    let bobs = app.get_json("/api/agents", &bob.token).await;
    assert_eq!(bobs["data"][0]["id"], forked["id"], "the fork is Bob's");
    // Alice's email is not shown to Bob.
    let seen_by_bob = app.get_json(&format!("/api/agents/{id}/versions"), &bob.token).await;
    assert_eq!(seen_by_bob["data"][0]["createdBy"]["email"], Value::Null);
    assert_eq!(seen_by_bob["data"][0]["createdBy"]["id"], alice.id.as_str());
    // A public agent is still read-only to others.
    assert_error(app.patch(&format!("/api/agents/{id}"), &bob.token, json!({"name": "mine"})).await, 404, "NOT_FOUND")
        .await;
    let (status, _) = app.new_version(&bob.token, id, json!({"prompt": "mine"})).await;
    assert_eq!(status, 404);
}

async fn lineage_of_a_three_level_tree_from_every_node(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let root = app.create_agent(&user.token, json!({"name": "Support Assistant", "prompt": "p"})).await;
    let root_id = root["id"].as_str().unwrap().to_owned();
    // Give the root 5 versions, as in the spec's example.
    for i in 2..=5 {
        app.new_version(&user.token, &root_id, json!({"prompt": format!("p{i}")})).await;
    }
    let fork = |from: String, body: Value| {
        let app = &app;
        let token = user.token.clone();
        async move {
            let response = app.post(&format!("/api/agents/{from}/fork"), Some(&token), body).await;
            assert_eq!(response.status(), 201);
            response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
        }
    };
    let spanish = fork(
        root_id.clone(),
        json!({"forkType": "prompt_mutation", "name": "Support Assistant (Spanish)", "prompt": "Eres..."}),
    )
    .await;
    let clone = fork(root_id.clone(), json!({"forkType": "exact_clone", "name": "Clone"})).await;
    let grandchild = fork(spanish.clone(), json!({"forkType": "exact_clone", "name": "Grandchild"})).await;

    let expected = app.get_json(&format!("/api/agents/{root_id}/lineage"), &user.token).await;
    let tree = &expected["root"];
    assert_eq!(tree["id"], root_id.as_str());
    assert_eq!(tree["name"], "Support Assistant");
    assert_eq!(tree["versionNumber"], 5);
    assert!(tree["versionId"].as_str().unwrap().starts_with("ver_"));
    let children = tree["children"].as_array().unwrap();
    assert_eq!(children.len(), 2);
    assert_eq!(children[0]["id"], spanish.as_str());
    assert_eq!(children[0]["forkType"], "prompt_mutation");
    assert_eq!(children[0]["forkedFromVersionId"], tree["versionId"]);
    assert_eq!(children[1]["id"], clone.as_str());
    assert_eq!(children[0]["children"][0]["id"], grandchild.as_str());
    assert_eq!(children[0]["children"][0]["children"], json!([]));
    for node in [&spanish, &clone, &grandchild] {
        assert_eq!(app.get_json(&format!("/api/agents/{node}/lineage"), &user.token).await, expected, "from {node}");
    }
    // A root with no forks is a tree of one.
    let alone = app.create_agent(&user.token, json!({"name": "Alone", "prompt": "p"})).await;
    let lineage = app.get_json(&format!("/api/agents/{}/lineage", alone["id"].as_str().unwrap()), &user.token).await;
    assert_eq!(lineage["root"]["children"], json!([]));
}

async fn changes_are_recorded_in_the_outbox(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let agent = app.create_agent(&user.token, code_review_agent()).await;
    let id = agent["id"].as_str().unwrap();
    app.new_version(&user.token, id, json!({"prompt": "v2"})).await;
    app.patch(&format!("/api/agents/{id}"), &user.token, json!({"name": "Renamed"})).await;
    app.post(&format!("/api/agents/{id}/fork"), Some(&user.token), json!({"forkType": "exact_clone"})).await;
    app.post(&format!("/api/agents/{id}/deploy"), Some(&user.token), json!({})).await;
    app.post(&format!("/api/agents/{id}/stop"), Some(&user.token), json!({})).await;
    // A failed change records nothing.
    app.post(&format!("/api/agents/{id}/stop"), Some(&user.token), json!({})).await;

    let events = app.db().store.events_for(UserId::parse(&user.id).unwrap()).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "agent.created",
            "version.created",
            "version.created",
            "agent.updated",
            "agent.created",
            "version.created",
            "agent.forked",
            "agent.deployed",
            "agent.stopped"
        ]
    );
    assert_eq!(events[2].data["versionNumber"], 2);
    assert_eq!(events[2].data["agentId"], id);
    assert_eq!(events[3].data["changed"], json!(["name"]));
    assert_eq!(events[6].data["id"], id);
}
