//! What every operation shares beyond its failures: the server entry, tag descriptions, the headers
//! responses carry (request id, rate limits, retry hints, idempotency, the chat model and version), the
//! `Idempotency-Key` request header, the statuses the edge itself can answer with (413, 415, 404, 409,
//! 422, 500), and the scopes each operation needs (`x-required-scopes`, and in words in its description).

use serde_json::{Map, Value, json};

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const CHAT_PATHS: [&str; 3] = ["/v1/chat/completions", "/api/v1/chat", "/api/v1/bot/{bot_id}/chat"];
/// Operations whose handler reads its body with `MaybeJson` (no body means the defaults): the body is
/// optional. utoipa would say so only by allowing a `null` body, which the server refuses.
const OPTIONAL_BODIES: [(&str, &str); 1] = [("/api/agents/{id}/deploy", "post")];
const RATE_LIMIT_HEADERS: [&str; 3] = ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"];

const TAGS: [(&str, &str); 12] = [
    ("auth", "Accounts and sessions: register, sign in, sign out"),
    ("api-keys", "Scoped API keys, shown once, revocable"),
    ("agents", "The registry: agents, deployment, forks and lineage"),
    ("versions", "Immutable agent versions: history, diffs, comparison and rollback"),
    ("deployed-agents", "Deployed agents as the chat API lists them"),
    ("tasks", "Tasks routed to agent versions, worked by Talon's runtime or by external workers"),
    ("webhooks", "Signed webhook endpoints, their deliveries and redelivery"),
    (
        "evaluations",
        "Datasets of cases, evaluations of versions against them, and the gate they make for labels and deployments",
    ),
    ("audit", "The account's audit log: who changed what, and when"),
    ("chat", "The chat API: one deployed agent answers, as JSON or server-sent events"),
    ("openai", "The OpenAI-compatible API: `model` names a deployed agent"),
    ("operations", "Health, readiness and Prometheus metrics"),
];

pub fn describe(doc: &mut Value) {
    doc["servers"] = json!([{ "url": "/", "description": "This Talon server" }]);
    doc["tags"] =
        Value::Array(TAGS.iter().map(|(name, about)| json!({ "name": name, "description": about })).collect());
    doc["components"]["headers"] = shared_headers();
    doc["components"]["parameters"]["IdempotencyKey"] = json!({
        "name": "Idempotency-Key",
        "in": "header",
        "required": false,
        "description": "Makes a POST safe to retry: the first response is stored for 24 hours and replayed \
            (`Idempotent-Replayed: true`) for a retry with the same key and body; the same key with another \
            body is 422, and while the first request runs, 409. Kept per credential.",
        "schema": { "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$" }
    });
    let Some(paths) = doc["paths"].as_object_mut() else { return };
    for (path, item) in paths.iter_mut() {
        let errors = super::error_schema_for(path);
        for method in METHODS {
            let Some(operation) = item.get_mut(method).and_then(Value::as_object_mut) else { continue };
            describe_operation(path, method, operation, errors);
        }
    }
}

fn describe_operation(path: &str, method: &str, operation: &mut Map<String, Value>, errors: &str) {
    let scopes = required_scopes(operation);
    let secured = operation.get("security").and_then(Value::as_array).is_some_and(|s| !s.is_empty());
    if !scopes.is_empty() {
        let listed = scopes.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ");
        let note = format!("Requires the scope {listed} (a session holds every scope).");
        let description = match operation.get("description").and_then(Value::as_str) {
            Some(text) if !text.is_empty() => format!("{text}\n\n{note}"),
            _ => note,
        };
        operation.insert("description".to_owned(), Value::String(description));
        operation.insert("x-required-scopes".to_owned(), json!(scopes));
    }
    let idempotent = method == "post" && secured;
    if idempotent {
        let parameters = operation.entry("parameters").or_insert_with(|| json!([]));
        if let Some(list) = parameters.as_array_mut() {
            list.push(json!({ "$ref": "#/components/parameters/IdempotencyKey" }));
        }
    }
    if let Some(parameters) = operation.get_mut("parameters").and_then(Value::as_array_mut) {
        for parameter in parameters.iter_mut().filter_map(Value::as_object_mut) {
            let is_path = parameter.get("in").and_then(Value::as_str) == Some("path");
            let name = parameter.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
            let example = path_parameter_example(path, &name).filter(|_| is_path);
            if let (Some(example), false) = (example, parameter.contains_key("example")) {
                parameter.insert("example".to_owned(), json!(example));
            }
        }
    }
    let optional_body = OPTIONAL_BODIES.contains(&(path, method));
    if let Some(body) = operation.get_mut("requestBody").and_then(Value::as_object_mut).filter(|_| optional_body) {
        body.insert("required".to_owned(), json!(false));
    }
    let has_body = operation.contains_key("requestBody");
    let has_path_parameters = path.contains('{');
    let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else { return };
    let mut add = |status: &str, description: &str| {
        responses.entry(status.to_owned()).or_insert_with(|| {
            json!({
                "description": description,
                "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{errors}") } } }
            })
        });
    };
    add("500", "Internal error; the body names only the request id, the cause is logged with it");
    if has_body {
        add("413", "The request body is over the size limit");
        add("415", "The request body is not declared as JSON");
    }
    if has_path_parameters {
        add("404", "No such resource in this account");
    }
    if idempotent {
        add("400", "Malformed or invalid input (an Idempotency-Key that is not 1 to 255 visible ASCII characters)");
        add("409", "A request with this Idempotency-Key is still in progress");
        add("422", "This Idempotency-Key was used with a different request");
    }
    for (status, response) in responses.iter_mut() {
        let Some(response) = response.as_object_mut() else { continue };
        let headers = response.entry("headers").or_insert_with(|| json!({}));
        let Some(headers) = headers.as_object_mut() else { continue };
        let mut refer = |name: &str| {
            headers.insert(name.to_owned(), json!({ "$ref": format!("#/components/headers/{name}") }));
        };
        refer("X-Request-Id");
        if secured {
            RATE_LIMIT_HEADERS.iter().for_each(|name| refer(name));
        }
        if status == "429" || status == "503" {
            refer("Retry-After");
        }
        let success = status.starts_with('2');
        if idempotent && success {
            refer("Idempotent-Replayed");
        }
        if success && CHAT_PATHS.contains(&path) {
            refer("X-Talon-Model");
            refer("X-Talon-Agent-Version");
        }
    }
}

/// An example for a path parameter, by what it names: an id of the resource the path is about.
fn path_parameter_example(path: &str, name: &str) -> Option<&'static str> {
    let example = match name {
        "version_id" => "2",
        "delivery_id" => "dlv_01a22b0bdd0a7b3c9e1f2a3b4c5d6e7f",
        "bot_id" | "model" => "support-bot",
        "id" if path.starts_with("/api/agents") => "agent_01a22b0bdc6474ea95769740ef285ef0",
        "id" if path.starts_with("/api/tasks") => "task_01a22b0bdc94772c913c45ad7657ac3e",
        "id" if path.starts_with("/api/webhooks") => "hook_01a22b0bdca3761396aa517a86af8cea",
        "id" if path.starts_with("/api/api-keys") => "key_01a22b0bdcb3711495b60b9ce692fa53",
        _ => return None,
    };
    Some(example)
}

/// The scopes named by the operation's security requirements, in order, once each.
fn required_scopes(operation: &Map<String, Value>) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    let requirements = operation.get("security").and_then(Value::as_array).cloned().unwrap_or_default();
    for requirement in requirements.iter().filter_map(Value::as_object) {
        for scope in requirement.values().filter_map(Value::as_array).flatten().filter_map(Value::as_str) {
            if !scopes.iter().any(|s| s == scope) {
                scopes.push(scope.to_owned());
            }
        }
    }
    scopes
}

fn shared_headers() -> Value {
    let integer = json!({ "type": "integer", "minimum": 0 });
    json!({
        "X-Request-Id": { "description": "This request's id, also in every error body and log line", "schema": { "type": "string" } },
        "X-RateLimit-Limit": { "description": "Requests allowed in the current window", "schema": integer },
        "X-RateLimit-Remaining": { "description": "Requests left in the current window", "schema": integer },
        "X-RateLimit-Reset": { "description": "When the window resets, in epoch seconds", "schema": integer },
        "Retry-After": { "description": "Whole seconds to wait before retrying", "schema": integer },
        "Idempotent-Replayed": {
            "description": "`true` when this is the stored response of an earlier request with the same Idempotency-Key",
            "schema": { "type": "string", "enum": ["true"] }
        },
        "X-Talon-Model": { "description": "The upstream model that answered (`provider/model`)", "schema": { "type": "string" } },
        "X-Talon-Agent-Version": { "description": "The agent version number that answered", "schema": { "type": "integer", "minimum": 1 } },
    })
}
