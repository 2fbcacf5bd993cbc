//! The registry's requests are typed: unknown fields are refused by name and change nothing, PATCH tells
//! "leave", "clear" and "set" apart, and query parameters are held to their documented ranges.

use crate::common::{TestApp, assert_error};
use serde_json::{Value, json};
use talon_store::Backend;

on_both_databases!(
    unknown_fields_on_create_agent_are_named_and_nothing_is_created,
    unknown_fields_on_update_agent_are_named_and_nothing_changes,
    unknown_fields_on_create_version_are_named_and_no_version_is_made,
    unknown_fields_on_fork_are_named_and_no_fork_is_made,
    unknown_fields_on_deploy_and_rollback_are_named_and_nothing_changes,
    patch_keeps_clears_or_sets_the_description,
    page_and_limit_are_held_to_their_ranges,
    deployed_agents_limit_is_held_to_its_range,
    delete_force_is_true_or_false,
    compare_needs_from_and_to,
    a_deploy_body_may_be_left_out_or_name_a_version,
);

/// The `(field, message)` pairs of a 400 VALIDATION_ERROR, sorted by field.
async fn field_errors(response: reqwest::Response) -> Vec<(String, String)> {
    let body = assert_error(response, 400, "VALIDATION_ERROR").await;
    let mut fields: Vec<(String, String)> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["field"].as_str().unwrap().to_owned(), d["message"].as_str().unwrap().to_owned()))
        .collect();
    fields.sort();
    fields
}

fn unknown(fields: &[&str]) -> Vec<(String, String)> {
    fields.iter().map(|f| ((*f).to_owned(), "Unknown field".to_owned())).collect()
}

async fn unknown_fields_on_create_agent_are_named_and_nothing_is_created(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let response = app.post("/api/agents", Some(&user.token), json!({"name": "x", "colour": "blue"})).await;
    assert_eq!(field_errors(response).await, unknown(&["colour"]));
    let body = json!({"name": "x", "prompt": "p", "colour": "blue", "commitMesage": "typo"});
    let response = app.post("/api/agents", Some(&user.token), body).await;
    assert_eq!(field_errors(response).await, unknown(&["colour", "commitMesage"]));
    // Alongside a wrong type, both are reported at once.
    let response =
        app.post("/api/agents", Some(&user.token), json!({"name": "x", "prompt": "p", "public": "yes", "x": 1})).await;
    assert_eq!(
        field_errors(response).await,
        [("public".to_owned(), "Must be true or false".to_owned()), ("x".to_owned(), "Unknown field".to_owned())]
    );
    assert_eq!(app.get_json("/api/agents", &user.token).await["pagination"]["total"], 0, "nothing was created");
}

async fn unknown_fields_on_update_agent_are_named_and_nothing_changes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let agent = app.create_agent(&user.token, json!({"name": "Before", "prompt": "p"})).await;
    let path = format!("/api/agents/{}", agent["id"].as_str().unwrap());
    let response = app.patch(&path, &user.token, json!({"name": "After", "public": true, "visibility": "all"})).await;
    assert_eq!(field_errors(response).await, unknown(&["visibility"]));
    // `slug` and the definition cannot be changed here: they are unknown to this operation.
    let response = app.patch(&path, &user.token, json!({"slug": "after", "prompt": "q"})).await;
    assert_eq!(field_errors(response).await, unknown(&["prompt", "slug"]));
    let unchanged = app.get_json(&path, &user.token).await;
    assert_eq!((unchanged["name"].as_str(), unchanged["public"].as_bool()), (Some("Before"), Some(false)));
    assert_eq!(unchanged["updatedAt"], agent["updatedAt"]);
}

async fn unknown_fields_on_create_version_are_named_and_no_version_is_made(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let agent = app.create_agent(&user.token, json!({"name": "a", "prompt": "v1"})).await;
    let id = agent["id"].as_str().unwrap();
    let (status, body) = app.new_version(&user.token, id, json!({"prompt": "v2", "commitMesage": "typo"})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
    assert_eq!(body["error"]["details"], json!([{"field": "commitMesage", "message": "Unknown field"}]));
    // Inside the model object too.
    let (status, body) =
        app.new_version(&user.token, id, json!({"model": {"primary": "test/echo", "fallbak": "test/echo"}})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["details"][0]["field"], "model");
    let versions = app.get_json(&format!("/api/agents/{id}/versions"), &user.token).await;
    assert_eq!(versions["pagination"]["total"], 1, "no version was made");
}

async fn unknown_fields_on_fork_are_named_and_no_fork_is_made(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let agent = app.create_agent(&user.token, json!({"name": "a", "prompt": "v1"})).await;
    let id = agent["id"].as_str().unwrap();
    let body = json!({"forkType": "exact_clone", "nmae": "Copy", "public": true});
    let response = app.post(&format!("/api/agents/{id}/fork"), Some(&user.token), body).await;
    assert_eq!(field_errors(response).await, unknown(&["nmae", "public"]));
    let response = app.post(&format!("/api/agents/{id}/fork"), Some(&user.token), json!({"forkType": "clone"})).await;
    let errors = field_errors(response).await;
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, "forkType");
    assert!(errors[0].1.contains("exact_clone"), "the message lists the kinds: {errors:?}");
    assert_eq!(app.get_json(&format!("/api/agents/{id}"), &user.token).await["forkCount"], 0);
    assert_eq!(app.get_json("/api/agents", &user.token).await["pagination"]["total"], 1, "no fork was made");
}

async fn unknown_fields_on_deploy_and_rollback_are_named_and_nothing_changes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let agent = app.create_agent(&user.token, json!({"name": "a", "prompt": "v1"})).await;
    let id = agent["id"].as_str().unwrap();
    let (status, _) = app.new_version(&user.token, id, json!({"prompt": "v2"})).await;
    assert_eq!(status, 201);

    let response =
        app.post(&format!("/api/agents/{id}/deploy"), Some(&user.token), json!({"versionId": 1, "pinned": true})).await;
    assert_eq!(field_errors(response).await, unknown(&["pinned"]));
    let after = app.get_json(&format!("/api/agents/{id}"), &user.token).await;
    assert_eq!((after["status"].as_str(), after["deployedAt"].is_null()), (Some("idle"), true), "{after}");

    let response =
        app.post(&format!("/api/agents/{id}/rollback"), Some(&user.token), json!({"version": 1, "why": "bad"})).await;
    assert_eq!(field_errors(response).await, unknown(&["why"]));
    let response = app.post(&format!("/api/agents/{id}/rollback"), Some(&user.token), json!({})).await;
    assert_eq!(field_errors(response).await, [("versionId".to_owned(), "Required field missing".to_owned())]);
    let response =
        app.post(&format!("/api/agents/{id}/rollback"), Some(&user.token), json!({"version": 1, "versionId": 1})).await;
    assert_eq!(field_errors(response).await[0].0, "version");
    let response = app.post(&format!("/api/agents/{id}/rollback"), Some(&user.token), json!({"version": 0})).await;
    assert_eq!(field_errors(response).await, [("version".to_owned(), "Must be a version number".to_owned())]);
    let versions = app.get_json(&format!("/api/agents/{id}/versions"), &user.token).await;
    assert_eq!(versions["pagination"]["total"], 2, "no rollback version was made");
}

async fn patch_keeps_clears_or_sets_the_description(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let agent = app.create_agent(&user.token, json!({"name": "a", "description": "Original", "prompt": "p"})).await;
    let path = format!("/api/agents/{}", agent["id"].as_str().unwrap());
    let patched = |body: Value| {
        let (app, path, token) = (&app, &path, &user.token);
        async move {
            let response = app.patch(path, token, body).await;
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };

    let absent = patched(json!({"name": "Renamed"})).await;
    assert_eq!((absent["name"].as_str(), absent["description"].as_str()), (Some("Renamed"), Some("Original")));
    let cleared = patched(json!({"description": null})).await;
    assert_eq!((cleared["name"].as_str(), cleared["description"].as_str()), (Some("Renamed"), Some("")));
    let set = patched(json!({"description": "New"})).await;
    assert_eq!(set["description"], "New");
    assert_eq!(app.get_json(&path, &user.token).await["description"], "New");

    // A description of the wrong type is refused and changes nothing; an empty change is a no-op.
    let response = app.patch(&path, &user.token, json!({"description": 5})).await;
    assert_eq!(field_errors(response).await, [("description".to_owned(), "Must be a string".to_owned())]);
    let response = app.patch(&path, &user.token, json!({})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.get_json(&path, &user.token).await["description"], "New");
}

async fn page_and_limit_are_held_to_their_ranges(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let mut ids = Vec::new();
    for name in ["a", "b"] {
        ids.push(app.create_agent(&user.token, json!({"name": name, "prompt": "p"})).await["id"].clone());
    }
    let id = ids[0].as_str().unwrap();
    for base in ["/api/agents".to_owned(), format!("/api/agents/{id}/versions")] {
        for (query, field, message) in [
            ("limit=0", "limit", "Must be an integer from 1 to 100"),
            ("limit=101", "limit", "Must be an integer from 1 to 100"),
            ("page=0", "page", "Must be an integer from 1 to 2147483647"),
            ("page=x", "page", "Must be an integer from 1 to 2147483647"),
        ] {
            let response = app.get(&format!("{base}?{query}"), &user.token).await;
            assert_eq!(field_errors(response).await, [(field.to_owned(), message.to_owned())], "{base}?{query}");
        }
    }
    // The bounds themselves are valid.
    let first = app.get_json("/api/agents?limit=1", &user.token).await;
    assert_eq!(first["data"].as_array().unwrap().len(), 1);
    assert_eq!(first["data"][0]["id"], ids[0]);
    assert_eq!(
        first["pagination"],
        json!({"page": 1, "limit": 1, "total": 2, "totalPages": 2, "hasMore": true, "nextCursor": ids[0]})
    );
    let second = app.get_json("/api/agents?limit=1&page=2", &user.token).await;
    assert_eq!(second["data"][0]["id"], ids[1]);
    let all = app.get_json("/api/agents?limit=100", &user.token).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    assert_eq!(all["pagination"]["limit"], 100);
    let versions = app.get_json(&format!("/api/agents/{id}/versions?limit=100&page=1"), &user.token).await;
    assert_eq!(versions["data"].as_array().unwrap().len(), 1);
}

async fn deployed_agents_limit_is_held_to_its_range(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    for name in ["a", "b"] {
        let agent = app.create_agent(&user.token, json!({"name": name, "prompt": "p"})).await;
        let response = app
            .post(&format!("/api/agents/{}/deploy", agent["id"].as_str().unwrap()), Some(&user.token), json!({}))
            .await;
        assert_eq!(response.status(), 200);
    }
    for (query, field) in [("limit=0", "limit"), ("limit=101", "limit"), ("offset=-1", "offset")] {
        let response = app.get(&format!("/api/v1/agents?{query}"), &user.token).await;
        let errors = field_errors(response).await;
        assert_eq!(errors.len(), 1, "{query}: {errors:?}");
        assert_eq!(errors[0].0, field, "{query}");
    }
    let one = app.get_json("/api/v1/agents?limit=1", &user.token).await;
    assert_eq!(
        (one["agents"].as_array().unwrap().len(), one["total"].as_i64(), one["has_more"].as_bool()),
        (1, Some(2), Some(true))
    );
    let all = app.get_json("/api/v1/agents?limit=100&offset=0", &user.token).await;
    assert_eq!((all["agents"].as_array().unwrap().len(), all["has_more"].as_bool()), (2, Some(false)));
}

async fn delete_force_is_true_or_false(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let agent = app.create_agent(&user.token, json!({"name": "a", "prompt": "p"})).await;
    let path = format!("/api/agents/{}", agent["id"].as_str().unwrap());
    for force in ["maybe", "1", "TRUE"] {
        let response = app.delete(&format!("{path}?force={force}"), &user.token).await;
        assert_eq!(field_errors(response).await, [("force".to_owned(), "Must be true or false".to_owned())]);
    }
    app.get_json(&path, &user.token).await;
    let response = app.delete(&format!("{path}?force=false"), &user.token).await;
    assert_eq!(response.status(), 204);
    assert_error(app.get(&path, &user.token).await, 404, "NOT_FOUND").await;
}

async fn compare_needs_from_and_to(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let agent = app.create_agent(&user.token, json!({"name": "a", "prompt": "v1"})).await;
    let id = agent["id"].as_str().unwrap();
    app.new_version(&user.token, id, json!({"prompt": "v2"})).await;
    let compare = format!("/api/agents/{id}/versions/compare");
    let response = app.get(&compare, &user.token).await;
    assert_eq!(
        field_errors(response).await,
        [("from".to_owned(), "Required".to_owned()), ("to".to_owned(), "Required".to_owned())]
    );
    let response = app.get(&format!("{compare}?to=2"), &user.token).await;
    assert_eq!(field_errors(response).await, [("from".to_owned(), "Required".to_owned())]);
    // A value that can name no version is "not found", like a version that does not exist.
    assert_error(app.get(&format!("{compare}?from=0&to=2"), &user.token).await, 404, "NOT_FOUND").await;
    let diff = app.get_json(&format!("{compare}?from=1&to=2"), &user.token).await;
    assert_eq!(diff["to"]["versionNumber"], 2);
}

async fn a_deploy_body_may_be_left_out_or_name_a_version(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let agent = app.create_agent(&user.token, json!({"name": "a", "prompt": "v1"})).await;
    let id = agent["id"].as_str().unwrap();
    app.new_version(&user.token, id, json!({"prompt": "v2"})).await;
    let deploy = format!("/api/agents/{id}/deploy");

    let response = app.request(reqwest::Method::POST, &deploy, Some(&user.token)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let deployed: Value = response.json().await.unwrap();
    assert_eq!((deployed["status"].as_str(), deployed["deployedVersionId"].is_null()), (Some("deployed"), true));

    let response = app.post(&format!("/api/agents/{id}/stop"), Some(&user.token), json!({})).await;
    assert_eq!(response.status(), 200);
    let response = app.post(&deploy, Some(&user.token), json!({"version": 1})).await;
    assert_eq!(response.status(), 200);
    let pinned: Value = response.json().await.unwrap();
    assert_eq!(pinned["deployedVersionId"], agent["currentVersionId"]);

    app.post(&format!("/api/agents/{id}/stop"), Some(&user.token), json!({})).await;
    let response = app.post(&deploy, Some(&user.token), json!({"versionId": "ver_nope"})).await;
    assert_eq!(response.status(), 404, "text that can name no version names a missing one");
    let response = app.post(&deploy, Some(&user.token), json!({"versionId": true})).await;
    assert_eq!(
        field_errors(response).await,
        [("versionId".to_owned(), "Must be a version id, number or label".to_owned())]
    );
}

/// The document describes each registry operation's typed body and parameters, not a bare object.
#[tokio::test]
async fn the_registry_operations_document_their_typed_requests() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let doc: Value =
        app.request(reqwest::Method::GET, "/openapi.json", None).send().await.unwrap().json().await.unwrap();
    for (path, method, schema) in [
        ("/api/agents", "post", "CreateAgentRequest"),
        ("/api/agents/{id}", "patch", "UpdateAgentRequest"),
        ("/api/agents/{id}/fork", "post", "ForkAgentRequest"),
        ("/api/agents/{id}/deploy", "post", "DeployAgentRequest"),
        ("/api/agents/{id}/versions", "post", "CreateVersionRequest"),
        ("/api/agents/{id}/rollback", "post", "RollbackRequest"),
    ] {
        let operation = &doc["paths"][path][method];
        let body = &operation["requestBody"]["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(body, &json!(format!("#/components/schemas/{schema}")), "{method} {path}");
        let schema = &doc["components"]["schemas"][schema];
        assert_eq!(schema["additionalProperties"], false, "{method} {path} refuses unknown fields");
        assert!(schema["example"].is_object(), "{method} {path} has an example");
        assert!(operation["responses"]["400"].is_object(), "{method} {path} declares 400");
    }
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["ModelRequest"]["oneOf"].as_array().unwrap().len(), 2);
    assert_eq!(schemas["ToolRequest"]["oneOf"].as_array().unwrap().len(), 2);
    assert_eq!(schemas["ForkKind"]["enum"], json!(["exact_clone", "prompt_mutation", "tool_mutation"]));
    assert_eq!(schemas["CreateAgentRequest"]["required"], json!(["name", "prompt"]));

    let compare = &doc["paths"]["/api/agents/{id}/versions/compare"]["get"]["parameters"];
    let required: Vec<&str> = compare
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["in"] == "query" && p["required"] == true)
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(required, ["from", "to"]);
    let delete = &doc["paths"]["/api/agents/{id}"]["delete"];
    assert!(
        delete["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "force" && p["schema"]["type"] == "boolean")
    );
    assert!(delete["responses"]["409"].is_object());
}
