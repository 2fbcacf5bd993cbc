//! Requests the document calls valid are answered: an empty PATCH changes nothing, a reference to a
//! missing agent is 404, an empty `If-Match` is no precondition, integers may be written as 94.0, and
//! the document states the rules that cannot go on a single field.

use crate::common::{TestApp, assert_error};
use reqwest::Method;
use serde_json::{Value, json};
use talon_store::Backend;

on_both_databases!(
    empty_patches_change_nothing,
    a_task_for_a_missing_agent_or_version_is_not_found,
    an_empty_if_match_is_no_precondition,
    integers_may_carry_a_zero_fraction,
    the_document_states_cross_field_rules,
    a_fork_that_changes_nothing_its_kind_names_conflicts,
    a_webhook_host_must_be_a_dns_name,
);

/// The URL parser lets `*` or `_` into a host name; the document's pattern does not, and neither does the server.
async fn a_webhook_host_must_be_a_dns_name(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("hooks@example.com").await;
    for url in ["https://hooks.example.com*", "https://ho_oks.example.com/x", "https://hooks.example.1com"] {
        let refused = app.post("/api/webhooks", Some(&user.token), json!({"url": url, "events": ["*"]})).await;
        let body = assert_error(refused, 400, "VALIDATION_ERROR").await;
        assert_eq!(body["error"]["details"][0]["field"], "url", "{url}: {body}");
    }
    let punycode = json!({"url": "https://xn--bcher-kva.example/hook", "events": ["*"]});
    let created = app.post("/api/webhooks", Some(&user.token), punycode).await;
    assert_eq!(created.status(), 201);
    let hook = created.json::<Value>().await.unwrap();
    let renamed = json!({"url": "https://hooks.example.com*"});
    let path = format!("/api/webhooks/{}", hook["id"].as_str().unwrap());
    assert_error(app.patch(&path, &user.token, renamed).await, 400, "VALIDATION_ERROR").await;
    assert_eq!(app.get_json(&path, &user.token).await["url"], "https://xn--bcher-kva.example/hook");
    assert_eq!(app.get_json("/api/webhooks", &user.token).await["data"].as_array().unwrap().len(), 1);
}

async fn a_fork_that_changes_nothing_its_kind_names_conflicts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("forker@example.com").await;
    let agent =
        app.create_agent(&user.token, json!({"name": "Source", "prompt": "Be brief.", "model": "test/echo"})).await;
    let fork = format!("/api/agents/{}/fork", agent["id"].as_str().unwrap());
    let same = app.post(&fork, Some(&user.token), json!({"forkType": "prompt_mutation", "prompt": "Be brief."})).await;
    let body = assert_error(same, 409, "CONFLICT").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("must differ"), "{body}");
    let no_change = json!({"forkType": "tool_mutation", "tools": []});
    assert_error(app.post(&fork, Some(&user.token), no_change).await, 409, "CONFLICT").await;
    let list = app.get_json("/api/agents", &user.token).await;
    assert_eq!(list["pagination"]["total"], 1, "no fork was made");
    let changed =
        app.post(&fork, Some(&user.token), json!({"forkType": "prompt_mutation", "prompt": "Be long."})).await;
    assert_eq!(changed.status(), 201);
}

async fn empty_patches_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    let before = app.get_json(&format!("/api/agents/{agent}"), &user.token).await;
    let response = app.patch(&format!("/api/agents/{agent}"), &user.token, json!({})).await;
    assert_eq!(response.status(), 200);
    let unchanged: Value = response.json().await.unwrap();
    assert_eq!((&unchanged["name"], &unchanged["updatedAt"]), (&before["name"], &before["updatedAt"]));
    let after = app.get_json(&format!("/api/agents/{agent}"), &user.token).await;
    assert_eq!(after["updatedAt"], before["updatedAt"], "an empty PATCH updates nothing");

    let created =
        app.post("/api/webhooks", Some(&user.token), json!({"url": "https://example.com/hook", "events": ["*"]})).await;
    assert_eq!(created.status(), 201);
    let webhook: Value = created.json().await.unwrap();
    let id = webhook["id"].as_str().unwrap();
    let response = app.patch(&format!("/api/webhooks/{id}"), &user.token, json!({})).await;
    assert_eq!(response.status(), 200);
    let unchanged: Value = response.json().await.unwrap();
    assert_eq!((&unchanged["url"], &unchanged["updatedAt"]), (&webhook["url"], &webhook["updatedAt"]));

    let (status, version) = app.new_version(&user.token, &agent, json!({})).await;
    assert_eq!(status, 200, "a version request that changes nothing returns the current version: {version}");
}

async fn a_task_for_a_missing_agent_or_version_is_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    for body in [
        json!({"title": "t", "agentId": "no-such-agent"}),
        json!({"title": "t", "agentId": "agent_00000000000000000000000000000000"}),
        json!({"title": "t", "agentId": "not a reference at all"}),
    ] {
        assert_error(app.post("/api/tasks", Some(&user.token), body).await, 404, "NOT_FOUND").await;
    }
    for version in ["ver_00000000000000000000000000000000", "nonsense"] {
        let body = json!({"title": "t", "agentId": agent, "versionId": version});
        assert_error(app.post("/api/tasks", Some(&user.token), body).await, 404, "NOT_FOUND").await;
    }
    let list = app.get_json("/api/tasks", &user.token).await;
    assert_eq!(list["pagination"]["total"], 0, "nothing was created");
}

async fn an_empty_if_match_is_no_precondition(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    let path = format!("/api/agents/{agent}/versions");
    let send = |if_match: &'static str, prompt: &'static str| {
        app.request(Method::POST, &path, Some(&user.token))
            .header("if-match", if_match)
            .json(&json!({"prompt": prompt}))
            .send()
    };
    let response = send("", "second").await.unwrap();
    assert_eq!(response.status(), 201);
    let response = send("\"\"", "third").await.unwrap();
    assert_eq!(response.status(), 201);
    let stale = send("not-a-version", "fourth").await.unwrap();
    assert_error(stale, 409, "CONFLICT").await;
    let versions = app.get_json(&path, &user.token).await;
    assert_eq!(versions["pagination"]["total"], 3, "{versions}");
}

async fn integers_may_carry_a_zero_fraction(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    let task = app.create_task(&user.token, json!({"title": "t", "agentId": agent, "maxAttempts": 94.0})).await;
    assert_eq!(task["maxAttempts"], 94);
    let refused =
        app.post("/api/tasks", Some(&user.token), json!({"title": "t", "agentId": agent, "maxAttempts": 101})).await;
    let body = assert_error(refused, 400, "VALIDATION_ERROR").await;
    assert_eq!(body["error"]["details"][0]["field"], "maxAttempts");
    assert_eq!(body["error"]["details"][0]["message"], "Must be an integer from 1 to 100");
}

async fn the_document_states_cross_field_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc: Value = app.request(Method::GET, "/openapi.json", None).send().await.unwrap().json().await.unwrap();
    let schemas = &doc["components"]["schemas"];
    for name in ["ForkAgentRequest", "RollbackRequest", "PromoteRequest", "MoveLabelRequest"] {
        assert_eq!(schemas[name]["not"]["required"], json!(["versionId", "version"]), "{name}");
    }
    // A deploy names one version, or a split: any two of the three together are refused.
    let pairs: Vec<&Value> =
        schemas["DeployAgentRequest"]["not"]["anyOf"].as_array().unwrap().iter().map(|p| &p["required"]).collect();
    assert_eq!(pairs, [&json!(["versionId", "version"]), &json!(["split", "versionId"]), &json!(["split", "version"])]);
    for name in ["CreateWebhookRequest", "UpdateWebhookRequest"] {
        assert_eq!(schemas[name]["properties"]["events"]["uniqueItems"], true, "{name}");
        assert!(schemas[name]["properties"]["url"]["pattern"].as_str().unwrap().starts_with("^https?://"));
    }
    assert_eq!(schemas["StartEvaluationRequest"]["properties"]["versions"]["uniqueItems"], true);
    // A check names its own fields only: the server refuses any other (found by Schemathesis, when the
    // document let a check carry any further key).
    let checks = schemas["CheckBody"]["oneOf"].as_array().unwrap();
    assert_eq!(checks.len(), 6);
    for check in checks {
        assert_eq!(check["additionalProperties"], false, "{check}");
        assert!(check.get("patternProperties").is_none(), "{check}");
    }
    let primary = &schemas["ModelSpecRequest"]["properties"]["primary"];
    let pattern = primary["pattern"].as_str().unwrap();
    assert!(pattern.starts_with("^(?:test|") && pattern.ends_with(")/[^\\x00]+$"), "configured providers: {pattern}");
    assert_eq!(schemas["NewCredentials"]["additionalProperties"], false);
    assert!(schemas["NewCredentials"].get("patternProperties").is_none(), "no further keys are allowed");
    let chat = &schemas["AgentChatRequest"]["properties"];
    assert_eq!((chat["messages"]["minItems"].as_i64(), chat["agent"]["minLength"].as_i64()), (Some(1), Some(1)));

    let completion = &schemas["ChatCompletionRequest"]["anyOf"];
    assert_eq!(completion[1]["properties"]["stream"]["const"], true, "stream_options needs stream: {completion}");
    let fork = schemas["ForkAgentRequest"]["oneOf"].as_array().unwrap();
    assert_eq!(fork.len(), 3, "one alternative per fork kind");
    assert_eq!(schemas["RollbackRequest"]["anyOf"].as_array().map(Vec::len), Some(2));
    let capabilities = &schemas["CreateAgentRequest"]["properties"]["capabilities"];
    assert_eq!((capabilities["maxItems"].as_i64(), capabilities["items"]["maxLength"].as_i64()), (Some(50), Some(64)));
    // A contract list's `status` names the statuses the server takes (it was once any string).
    let statuses = json!(["active", "delivered", "approved", "disputed", "resolved", "cancelled"]);
    for path in ["/api/v1/agent/contracts", "/api/v1/client/contracts", "/api/v1/agents/me/hiring"] {
        let params = doc["paths"][path]["get"]["parameters"].as_array().unwrap();
        let status = params.iter().find(|p| p["name"] == "status").unwrap();
        assert_eq!(status["schema"]["enum"], statuses, "{path}: {status}");
    }
    for body in ["RegisterRequest", "AutonomousRegisterRequest", "UpdateProfileRequest", "ListAgentRequest"] {
        let profile = &schemas[body]["properties"];
        assert_eq!(profile["description"]["maxLength"], 500, "{body}: {profile}");
        if profile.get("bio").is_some() {
            assert_eq!(profile["bio"]["maxLength"], 2000, "{body}: {profile}");
        }
    }
    let share = &schemas["ResolveRequest"]["properties"]["agent_share_percent"];
    assert_eq!((share["minimum"].as_i64(), share["maximum"].as_i64()), (Some(0), Some(100)), "{share}");

    let (user, agent) = app.user_with_agent().await;
    let missing = json!({"versionId": "ver_00000000000000000000000000000000"});
    let response = app.post(&format!("/api/agents/{agent}/deploy"), Some(&user.token), missing).await;
    assert_error(response, 404, "NOT_FOUND").await;
    let blank = app.patch(&format!("/api/agents/{agent}"), &user.token, json!({"capabilities": [" "]})).await;
    let body = assert_error(blank, 400, "VALIDATION_ERROR").await;
    assert_eq!(body["error"]["details"][0]["field"], "capabilities[0]", "the schema's pattern refuses it too");
    let both = app
        .post(&format!("/api/agents/{agent}/deploy"), Some(&user.token), json!({"versionId": 1, "version": 1}))
        .await;
    assert_error(both, 400, "VALIDATION_ERROR").await;
    let nulls = app
        .post(&format!("/api/agents/{agent}/deploy"), Some(&user.token), json!({"versionId": null, "version": null}))
        .await;
    assert_eq!(nulls.status(), 200, "null counts as leaving a field out, as the schema says");
}
