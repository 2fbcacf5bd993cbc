//! Operations endpoints: health, readiness, metrics, the OpenAPI document and the docs page.

use std::collections::HashMap;
use std::io::Write as _;
use std::process::{Command, Stdio};

use crate::common::TestApp;
use reqwest::Method;
use serde_json::Value;
use talon_store::Backend;

on_both_databases!(
    health_and_readiness,
    metrics_count_requests_by_route,
    openapi_and_docs_are_served_locally,
    openapi_document_is_valid_for_client_generators,
);

async fn health_and_readiness(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let health: Value = app.request(Method::GET, "/healthz", None).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    let ready = app.request(Method::GET, "/readyz", None).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["database"], backend.as_str());

    app.db().store.close().await;
    let down = app.request(Method::GET, "/readyz", None).send().await.unwrap();
    crate::common::assert_error(down, 503, "SERVICE_UNAVAILABLE").await;
}

async fn metrics_count_requests_by_route(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("alice@example.com").await;
    let text = app.request(Method::GET, "/metrics", None).send().await.unwrap().text().await.unwrap();
    assert!(
        text.contains(r#"talon_http_requests_total{method="POST",route="/api/auth/register",status="202"}"#),
        "{text}"
    );
    assert!(text.contains("talon_http_request_duration_seconds_bucket"), "latency is a histogram");
}

async fn openapi_and_docs_are_served_locally(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc: Value = app.request(Method::GET, "/openapi.json", None).send().await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/me",
        "/api/auth/logout",
        "/api/auth/sessions/revoke-all",
        "/api/api-keys",
        "/api/api-keys/{id}",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} documented");
    }

    let page = app.request(Method::GET, "/docs/", None).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "the docs page is Swagger UI");
    assert!(!html.contains("https://") && !html.contains("http://"), "no asset comes from a CDN");
    let script = app.request(Method::GET, "/docs/swagger-ui-bundle.js", None).send().await.unwrap();
    assert_eq!(script.status(), 200, "assets are embedded");
}

/// Client generators refuse a document with duplicate or missing operationIds, and need every secured
/// operation to say what its auth and rate-limit failures look like. The document is also checked by
/// `openapi-spec-validator` (PyPI; `.ci/run` installs it), which reads it from stdin.
async fn openapi_document_is_valid_for_client_generators(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = app.request(Method::GET, "/openapi.json", None).send().await.unwrap().text().await.unwrap();
    let doc: Value = serde_json::from_str(&body).unwrap();

    let mut seen: HashMap<String, String> = HashMap::new();
    let mut problems = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let here = format!("{} {path}", method.to_uppercase());
            match operation["operationId"].as_str() {
                None => problems.push(format!("{here}: no operationId")),
                Some(id) => {
                    if let Some(first) = seen.insert(id.to_owned(), here.clone()) {
                        problems.push(format!("{here}: operationId {id} is also {first}"));
                    }
                }
            }
            if operation["tags"].as_array().is_none_or(Vec::is_empty) {
                problems.push(format!("{here}: no tag"));
            }
            // The OpenAI surface answers errors in OpenAI's shape, the chat API under its codes; the rest
            // in the envelope.
            let envelope = if path.starts_with("/v1/") {
                "OpenAiError"
            } else if path == "/api/v1/chat" || path.starts_with("/api/v1/bot/") {
                "ChatApiError"
            } else {
                "ErrorEnvelope"
            };
            let scoped = operation["security"].as_array().is_some_and(|requirements| {
                requirements.iter().any(|r| r["bearer"].as_array().is_some_and(|scopes| !scopes.is_empty()))
            });
            let mut shared = vec![];
            if operation.get("security").is_some() {
                shared.extend(["401", "429"]);
            }
            if scoped {
                shared.push("403");
            }
            let takes_input = operation.get("requestBody").is_some()
                || operation["parameters"].as_array().is_some_and(|ps| ps.iter().any(|p| p["in"] != "path"));
            if takes_input {
                shared.push("400");
            }
            for status in shared {
                let schema = &operation["responses"][status]["content"]["application/json"]["schema"]["$ref"];
                if schema != &format!("#/components/schemas/{envelope}") {
                    problems.push(format!("{here}: no {status} with the {envelope} schema"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // Property-based testers generate only what the document allows, so it states the ranges the server enforces.
    let param = |path: &str, name: &str| -> Value {
        let params = doc["paths"][path]["get"]["parameters"].as_array().expect("parameters").clone();
        params.into_iter().find(|p| p["name"] == name).expect("parameter documented")["schema"].clone()
    };
    assert_eq!(
        (param("/api/agents", "limit")["minimum"].as_i64(), param("/api/agents", "limit")["maximum"].as_i64()),
        (Some(1), Some(100))
    );
    assert_eq!(param("/api/tasks", "page")["minimum"], 1);
    assert_eq!(param("/api/v1/agents", "offset")["minimum"], 0);
    assert_eq!(param("/api/agents/{id}/usage", "from")["format"], "date-time");
    assert_eq!(param("/api/tasks", "priority")["enum"], serde_json::json!(["low", "normal", "high", "urgent"]));
    // A NUL character is refused anywhere in a body, so no body schema lets a string or a key hold one.
    let create_agent = &doc["components"]["schemas"]["CreateAgentRequest"]["properties"];
    assert_eq!(create_agent["description"]["pattern"], "^[^\\x00]*$", "{create_agent}");
    assert_eq!(create_agent["prompt"]["pattern"], "^[^\\x00]*[^\\s\\x00][^\\x00]*$", "not blank: {create_agent}");
    assert_eq!(create_agent["config"]["additionalProperties"], false);
    assert!(create_agent["config"]["patternProperties"]["^[^\\x00]*$"].is_object(), "{create_agent}");
    let register = &doc["components"]["schemas"]["NewCredentials"];
    assert_eq!(register["required"], serde_json::json!(["email", "password"]));
    assert_eq!(register["properties"]["password"]["minLength"], 8);

    // Every operation shows at least one example: of its body, of a parameter, or of a success response
    // (or, when success has no body, of any response).
    let schemas = doc["components"]["schemas"].clone();
    let shows_example = |media: &Value| -> bool {
        if media.get("example").is_some() || media.get("examples").is_some() {
            return true;
        }
        let schema = &media["schema"];
        let named = schema["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/"));
        let schema = named.map_or(schema, |name| &schemas[name]);
        schema.get("example").is_some() || schema.get("examples").is_some()
    };
    let mut without_example = vec![];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let body = operation["requestBody"]["content"].as_object().into_iter().flat_map(|c| c.values());
            let all = operation["responses"].as_object().unwrap();
            let success_has_body = all.iter().any(|(s, r)| s.starts_with('2') && r.get("content").is_some());
            let responses = all.iter().filter(|(s, _)| s.starts_with('2') || !success_has_body);
            let bodies = responses.flat_map(|(_, r)| r["content"].as_object().into_iter().flat_map(|c| c.values()));
            let parameters = operation["parameters"].as_array().into_iter().flatten();
            let shown =
                body.chain(bodies).any(shows_example) || parameters.into_iter().any(|p| p.get("example").is_some());
            if !shown {
                without_example.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    assert!(without_example.is_empty(), "operations without an example: {without_example:?}");

    // Headers, the idempotency key and scopes are part of the contract too.
    let create = &doc["paths"]["/api/agents"]["post"];
    assert_eq!(create["x-required-scopes"], serde_json::json!(["agents:write"]));
    assert!(create["description"].as_str().unwrap_or_default().contains("`agents:write`"), "{create}");
    let parameters = create["parameters"].as_array().cloned().unwrap_or_default();
    assert!(parameters.iter().any(|p| p["$ref"] == "#/components/parameters/IdempotencyKey"), "{parameters:?}");
    let created = &create["responses"]["201"]["headers"];
    for header in
        ["X-Request-Id", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Idempotent-Replayed"]
    {
        assert_eq!(created[header]["$ref"], format!("#/components/headers/{header}"), "{header}");
    }
    assert_eq!(create["responses"]["429"]["headers"]["Retry-After"]["$ref"], "#/components/headers/Retry-After");
    let chat = &doc["paths"]["/v1/chat/completions"]["post"]["responses"]["200"]["headers"];
    assert_eq!(chat["X-Talon-Model"]["$ref"], "#/components/headers/X-Talon-Model");
    assert_eq!(
        doc["paths"]["/healthz"]["get"]["responses"]["200"]["headers"]["X-Request-Id"]["$ref"],
        "#/components/headers/X-Request-Id"
    );
    assert_eq!(doc["servers"][0]["url"], "/");
    // Deploying without a body deploys the current version, so the document makes the body optional.
    assert_eq!(doc["paths"]["/api/agents/{id}/deploy"]["post"]["requestBody"]["required"], false);

    let mut validator = Command::new("python3")
        .args([
            "-c",
            "import json, sys; from openapi_spec_validator import validate; validate(json.load(sys.stdin)); print('ok')",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    validator.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    let output = validator.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.trim() == "ok",
        "openapi-spec-validator rejects /openapi.json (is `openapi-spec-validator` installed?):\n{stdout}\n{stderr}"
    );
}
