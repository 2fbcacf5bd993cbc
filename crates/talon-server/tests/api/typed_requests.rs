//! The typed request edge of tasks, webhooks, API keys, sign-up/sign-in and usage: unknown fields are
//! refused by name, PATCH fields keep their three states, and query values are checked against the
//! ranges the document states. Every refusal leaves everything as it was.

use crate::common::{TestApp, assert_error};
use reqwest::Method;
use serde_json::{Value, json};
use talon_store::Backend;

on_both_databases!(
    task_bodies_refuse_unknown_fields,
    task_list_query_is_checked,
    webhook_bodies_refuse_unknown_fields,
    webhook_description_patch_has_three_states,
    api_key_and_credential_bodies_refuse_unknown_fields,
    usage_period_is_checked,
    the_document_describes_each_request,
);

/// The fields named in a 400 VALIDATION_ERROR, each with its message, in field order (the bodies are
/// sent with their keys sorted).
async fn refused(response: reqwest::Response) -> Vec<(String, String)> {
    let body = assert_error(response, 400, "VALIDATION_ERROR").await;
    let mut details: Vec<(String, String)> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["field"].as_str().unwrap().to_owned(), d["message"].as_str().unwrap().to_owned()))
        .collect();
    details.sort();
    details
}

fn unknown(fields: &[&str]) -> Vec<(String, String)> {
    let mut expected: Vec<(String, String)> =
        fields.iter().map(|f| ((*f).to_owned(), "Unknown field".to_owned())).collect();
    expected.sort();
    expected
}

async fn task_bodies_refuse_unknown_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    let token = user.token.as_str();

    let create =
        app.post("/api/tasks", Some(token), json!({"agentId": agent, "title": "t", "colour": "blue", "prio": 1})).await;
    assert_eq!(refused(create).await, unknown(&["colour", "prio"]));
    assert_eq!(app.get_json("/api/tasks", token).await["pagination"]["total"], 0, "no task was created");

    let task = app.create_task(token, json!({"agentId": agent, "title": "t"})).await;
    let path = format!("/api/tasks/{}", task["id"].as_str().unwrap());
    let update = app.patch(&path, token, json!({"status": "running", "outptu": {}, "lease": 5})).await;
    assert_eq!(refused(update).await, unknown(&["outptu", "lease"]));
    let bad_status = app.patch(&path, token, json!({"status": "done", "leaseSeconds": 0})).await;
    let fields: Vec<String> = refused(bad_status).await.into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, ["leaseSeconds", "status"]);

    let claim = app.post("/api/tasks/claim", Some(token), json!({"limit": 1, "agent": agent})).await;
    assert_eq!(refused(claim).await, unknown(&["agent"]));
    let out_of_range = app.post("/api/tasks/claim", Some(token), json!({"limit": 0, "waitSeconds": 31})).await;
    let fields: Vec<String> = refused(out_of_range).await.into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, ["limit", "waitSeconds"]);

    let unchanged = app.get_json(&path, token).await;
    assert_eq!((unchanged["status"].as_str(), unchanged["attempts"].as_i64()), (Some("queued"), Some(0)));
    assert_eq!(unchanged["output"], Value::Null);
}

async fn task_list_query_is_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    let token = user.token.as_str();
    for title in ["a", "b"] {
        app.create_task(token, json!({"agentId": agent, "title": title, "priority": "high"})).await;
    }

    let bogus = refused(app.get("/api/tasks?status=bogus", token).await).await;
    assert_eq!(bogus.len(), 1);
    assert_eq!(bogus[0].0, "status");
    assert!(bogus[0].1.contains("queued") && bogus[0].1.contains("cancelled"), "{bogus:?}");
    for limit in ["0", "101", "ten"] {
        let response = app.get(&format!("/api/tasks?limit={limit}"), token).await;
        assert_eq!(refused(response).await, [("limit".to_owned(), "Must be an integer from 1 to 100".to_owned())]);
    }
    let all = refused(app.get("/api/tasks?status=bogus&priority=asap&page=0&limit=0", token).await).await;
    let fields: Vec<String> = all.into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, ["limit", "page", "priority", "status"], "every bad parameter at once");

    let smallest = app.get_json("/api/tasks?limit=1&page=1", token).await;
    assert_eq!((smallest["data"].as_array().unwrap().len(), smallest["pagination"]["total"].as_i64()), (1, Some(2)));
    let largest =
        app.get_json(&format!("/api/tasks?limit=100&status=queued&priority=high&agentId={agent}"), token).await;
    assert_eq!(largest["data"].as_array().unwrap().len(), 2);
    let none = app.get_json("/api/tasks?status=completed", token).await;
    assert_eq!(none["data"], json!([]));
    assert_error(app.get("/api/tasks?agentId=not%20an%20agent", token).await, 404, "NOT_FOUND").await;
}

async fn webhook_bodies_refuse_unknown_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let token = user.token.as_str();

    let create = app
        .post(
            "/api/webhooks",
            Some(token),
            json!({"url": "https://example.com/h", "events": ["*"], "secret": "mine", "evnts": []}),
        )
        .await;
    assert_eq!(refused(create).await, unknown(&["secret", "evnts"]));
    assert_eq!(app.get_json("/api/webhooks", token).await["data"], json!([]), "no webhook was created");

    let hook = app
        .post("/api/webhooks", Some(token), json!({"url": "https://example.com/h", "events": ["task.failed"]}))
        .await;
    assert_eq!(hook.status(), 201);
    let hook: Value = hook.json().await.unwrap();
    let path = format!("/api/webhooks/{}", hook["id"].as_str().unwrap());
    let update =
        app.patch(&path, token, json!({"url": "https://example.com/other", "activ": false, "descripton": "x"})).await;
    assert_eq!(refused(update).await, unknown(&["activ", "descripton"]));
    let unchanged = app.get_json(&path, token).await;
    assert_eq!(unchanged["url"], "https://example.com/h");
    assert_eq!(unchanged["active"], true);
    assert_eq!(unchanged["updatedAt"], hook["updatedAt"]);
}

async fn webhook_description_patch_has_three_states(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let token = user.token.as_str();
    let hook: Value = app
        .post(
            "/api/webhooks",
            Some(token),
            json!({"url": "https://example.com/h", "events": ["*"], "description": "Task results"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/api/webhooks/{}", hook["id"].as_str().unwrap());

    let absent: Value = app.patch(&path, token, json!({"active": false})).await.json().await.unwrap();
    assert_eq!((absent["description"].as_str(), absent["active"].as_bool()), (Some("Task results"), Some(false)));
    let set: Value = app.patch(&path, token, json!({"description": "Failures"})).await.json().await.unwrap();
    assert_eq!(set["description"], "Failures");
    let cleared: Value = app.patch(&path, token, json!({"description": null})).await.json().await.unwrap();
    assert_eq!(cleared["description"], "");
    assert_eq!(app.get_json(&path, token).await["description"], "");

    let nothing = app.patch(&path, token, json!({})).await;
    assert_eq!(nothing.status(), 200, "an empty change is a no-op");
    let too_long = refused(app.patch(&path, token, json!({"description": "x".repeat(501)})).await).await;
    assert_eq!(too_long[0].0, "description");
    assert_eq!(app.get_json(&path, token).await["description"], "", "a refused change changes nothing");
}

async fn api_key_and_credential_bodies_refuse_unknown_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let create = app
        .post("/api/api-keys", Some(&user.token), json!({"name": "k", "scopes": ["chat"], "scope": "chat", "ttl": 5}))
        .await;
    assert_eq!(refused(create).await, unknown(&["scope", "ttl"]));
    assert_eq!(app.get_json("/api/api-keys", &user.token).await["data"], json!([]), "no key was created");

    let credentials = json!({"email": "new@example.com", "password": "correct horse battery"});
    let mut register = credentials.clone();
    register["name"] = json!("New");
    assert_eq!(refused(app.post("/api/auth/register", None, register).await).await, unknown(&["name"]));
    let no_account = app.post("/api/auth/login", None, credentials.clone()).await;
    assert_error(no_account, 401, "UNAUTHORIZED").await;

    let mut login = json!({"email": "you@example.com", "password": "correct horse battery staple"});
    login["rememberMe"] = json!(true);
    assert_eq!(refused(app.post("/api/auth/login", None, login).await).await, unknown(&["rememberMe"]));
    let me = app.request(Method::GET, "/api/auth/me", Some(&user.token)).send().await.unwrap();
    assert_eq!(me.status(), 200, "the session still works");
}

async fn usage_period_is_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, agent) = app.user_with_agent().await;
    let usage = |query: &str| format!("/api/agents/{agent}/usage?{query}");

    let bad = refused(app.get(&usage("from=yesterday&to=soon"), &user.token).await).await;
    let fields: Vec<&str> = bad.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(fields, ["from", "to"]);
    assert!(bad[0].1.contains("RFC 3339"), "{bad:?}");

    let long = app.get_json(&usage("from=1193-07-26T00:00:00Z"), &user.token).await;
    assert_eq!(
        (long["from"].as_str(), long["total"]["requests"].as_i64(), long["versions"].as_array().map(Vec::len)),
        (Some("1193-07-26T00:00:00Z"), Some(0), Some(0)),
        "a period of any length is summed up: {long}"
    );
    let empty = app.get_json(&usage("from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z"), &user.token).await;
    assert_eq!(
        (empty["from"].as_str(), empty["to"].as_str(), empty["total"]["requests"].as_i64()),
        (Some("2026-02-01T00:00:00Z"), Some("2026-01-01T00:00:00Z"), Some(0)),
        "a `from` after `to` is an empty period: {empty}"
    );
}

async fn the_document_describes_each_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc: Value = app.request(Method::GET, "/openapi.json", None).send().await.unwrap().json().await.unwrap();
    let schemas = &doc["components"]["schemas"];
    for (path, method, schema) in [
        ("/api/tasks", "post", "CreateTaskRequest"),
        ("/api/tasks/{id}", "patch", "UpdateTaskRequest"),
        ("/api/tasks/claim", "post", "ClaimTasksRequest"),
        ("/api/webhooks", "post", "CreateWebhookRequest"),
        ("/api/webhooks/{id}", "patch", "UpdateWebhookRequest"),
        ("/api/api-keys", "post", "CreateApiKeyRequest"),
        ("/api/auth/register", "post", "NewCredentials"),
        ("/api/auth/login", "post", "Credentials"),
    ] {
        let body = &doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"];
        assert_eq!(body["$ref"], format!("#/components/schemas/{schema}"), "{method} {path}: {body}");
        assert!(schemas[schema]["example"].is_object(), "{schema} has an example");
        let responses = doc["paths"][path][method]["responses"].as_object().unwrap();
        assert!(responses.contains_key("400"), "{method} {path} declares its 400");
    }
    let values = |name: &str| -> Vec<String> {
        schemas[name]["enum"].as_array().unwrap_or_else(|| panic!("{name}")).iter().map(|v| v.to_string()).collect()
    };
    assert_eq!(values("TaskStatus").len(), 5);
    assert_eq!(values("TaskPriority").len(), 4);
    assert_eq!(values("TaskExecutor").len(), 2);
    assert!(values("WebhookEvent").contains(&"\"task.completed\"".to_owned()));
    assert!(values("ApiKeyScope").contains(&"\"tasks:write\"".to_owned()));

    let params = doc["paths"]["/api/tasks"]["get"]["parameters"].as_array().unwrap();
    let param = |name: &str| params.iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("{name}")).clone();
    assert_eq!(param("status")["schema"]["enum"].as_array().map(Vec::len), Some(5), "{params:?}");
    assert_eq!(
        (param("limit")["schema"]["minimum"].as_i64(), param("limit")["schema"]["maximum"].as_i64()),
        (Some(1), Some(100))
    );
    assert!(param("agentId")["in"] == "query");
    let usage = doc["paths"]["/api/agents/{id}/usage"]["get"]["parameters"].as_array().unwrap();
    let from = usage.iter().find(|p| p["name"] == "from").unwrap();
    assert!(from["description"].as_str().unwrap().contains("any length"), "{from}");
    assert_eq!(from["schema"]["format"], "date-time");
}
