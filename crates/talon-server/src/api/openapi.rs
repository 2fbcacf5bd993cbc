use utoipa::ToSchema;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, Content, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr, Response, ResponseBuilder,
};

use serde_json::{Value, json};

use super::error::{ChatApiError, ErrorEnvelope, OpenAiError};

/// The document's frame; every route adds its own operation from its `#[utoipa::path]`.
pub fn base() -> OpenApi {
    let mut schemas = Vec::new();
    ErrorEnvelope::schemas(&mut schemas);
    OpenAiError::schemas(&mut schemas);
    ChatApiError::schemas(&mut schemas);
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Talon API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some("A self-hosted home for AI agents: a versioned agent registry, durable tasks, signed webhooks and an OpenAI-compatible chat runtime."))
                .build(),
        )
        .components(Some(
            ComponentsBuilder::new()
                .schema_from::<ErrorEnvelope>()
                .schema_from::<OpenAiError>()
                .schema_from::<ChatApiError>()
                .schemas_from_iter(schemas)
                .security_scheme(
                    "bearer",
                    SecurityScheme::Http(
                        HttpBuilder::new()
                            .scheme(HttpAuthScheme::Bearer)
                            .description(Some("A session token from /api/auth/login or an API key (tln_…)"))
                            .build(),
                    ),
                )
                .build(),
        ))
        .build()
}

/// Adds the failures every operation that takes input or is secured shares, in one place rather than in each route's attribute:
/// authentication (401) and rate limits (429) run in front of every secured handler, and an operation whose
/// security requirement names scopes refuses a credential without them (403). Client generators type an
/// error only when the document declares it. Statuses a route declares itself are kept; one declared without
/// a body gets the envelope. Call it on the merged document, after every surface has added its paths.
pub fn add_shared_failures(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        // The OpenAI surface answers in OpenAI's error shape, the chat API under its own codes;
        // everything else in the envelope.
        let schema = if path.starts_with("/v1/") {
            "OpenAiError"
        } else if path == "/api/v1/chat" || path.starts_with("/api/v1/bot/") {
            "ChatApiError"
        } else {
            "ErrorEnvelope"
        };
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            // Query parameters and bodies are parsed and checked in the server, which refuses bad ones with a 400.
            let takes_input = operation.request_body.is_some()
                || operation.parameters.iter().flatten().any(|p| p.parameter_in != ParameterIn::Path);
            if takes_input {
                declare(operation, "400", "Malformed or invalid input; `details` names each field", schema);
            }
            let Some(security) = &operation.security else { continue };
            let scoped = serde_json::to_value(security)
                .ok()
                .and_then(|requirements| requirements.as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|requirement| requirement.as_object())
                .flat_map(|requirement| requirement.values())
                .any(|scopes| scopes.as_array().is_some_and(|scopes| !scopes.is_empty()));
            declare(operation, "401", "Missing, malformed, expired or revoked credentials", schema);
            declare(operation, "429", "Rate limited; Retry-After says when to try again", schema);
            if scoped {
                declare(operation, "403", "The credential lacks a scope this operation needs", schema);
            }
        }
    }
}

fn declare(operation: &mut Operation, status: &str, description: &str, schema: &str) {
    let response = operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| RefOr::T(ResponseBuilder::new().description(description).build()));
    if let RefOr::T(Response { description: declared, content, .. }) = response {
        if declared.is_empty() {
            *declared = description.to_owned();
        }
        if content.is_empty() {
            content.insert("application/json".to_owned(), Content::new(Some(Ref::from_schema_name(schema))));
        }
    }
}

/// What a string in a JSON body may hold: the server refuses a NUL character anywhere in a body, in a
/// value or a key (PostgreSQL text cannot hold one).
const NUL_FREE: &str = "^[^\\x00]*$";

/// States the NUL rule on every request body: strings get the pattern, and an object's further keys must
/// match it (`patternProperties`; generators do not all honour `propertyNames`) and hold NUL-free JSON. A
/// property-based tester or client generator then stays within what the server accepts. Returns JSON:
/// `utoipa`'s model has no `patternProperties`.
pub fn forbid_nul_in_bodies(doc: &OpenApi) -> Value {
    let Ok(mut value) = serde_json::to_value(doc) else { return Value::Null };
    let mut referenced = Vec::new();
    if let Some(paths) = value["paths"].as_object_mut() {
        for item in paths.values_mut().filter_map(Value::as_object_mut) {
            for operation in item.values_mut() {
                let body = operation.get_mut("requestBody").and_then(|body| body.get_mut("content"));
                let Some(content) = body.and_then(Value::as_object_mut) else { continue };
                for media in content.values_mut() {
                    if let Some(schema) = media.get_mut("schema") {
                        forbid_nul(schema, &mut referenced);
                    }
                }
            }
        }
    }
    let mut done = std::collections::HashSet::new();
    while let Some(name) = referenced.pop() {
        if !done.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = value.pointer_mut(&format!("/components/schemas/{name}")) {
            forbid_nul(schema, &mut referenced);
        }
    }
    value["components"]["schemas"]["JsonValue"] = json_value_schema();
    value
}

fn forbid_nul(schema: &mut Value, referenced: &mut Vec<String>) {
    let Some(object) = schema.as_object_mut() else { return };
    if let Some(name) = object.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        referenced.push(name.to_owned());
    }
    let types: Vec<String> = match object.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    let fixed = object.contains_key("enum") || object.contains_key("const");
    if types.iter().any(|t| t == "string") && !fixed && !object.contains_key("pattern") {
        object.insert("pattern".to_owned(), json!(NUL_FREE));
    }
    if types.iter().any(|t| t == "object") && !object.contains_key("additionalProperties") {
        object
            .insert("patternProperties".to_owned(), json!({ NUL_FREE: { "$ref": "#/components/schemas/JsonValue" } }));
        object.insert("additionalProperties".to_owned(), json!(false));
    }
    for key in ["properties", "patternProperties"] {
        if let Some(properties) = object.get_mut(key).and_then(Value::as_object_mut) {
            properties.values_mut().for_each(|p| forbid_nul(p, referenced));
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(inner) = object.get_mut(key) {
            forbid_nul(inner, referenced);
        }
    }
    for key in ["allOf", "anyOf", "oneOf", "prefixItems"] {
        if let Some(list) = object.get_mut(key).and_then(Value::as_array_mut) {
            list.iter_mut().for_each(|s| forbid_nul(s, referenced));
        }
    }
}

/// Any JSON value without a NUL character in a string or key.
fn json_value_schema() -> Value {
    let itself = json!({ "$ref": "#/components/schemas/JsonValue" });
    json!({
        "description": "Any JSON value without a NUL character in a string or key",
        "anyOf": [
            { "type": "null" },
            { "type": "boolean" },
            { "type": "number" },
            { "type": "string", "pattern": NUL_FREE },
            { "type": "array", "items": itself },
            { "type": "object", "patternProperties": { NUL_FREE: itself }, "additionalProperties": false },
        ]
    })
}
