//! The failures every operation that takes input or is secured shares, declared in one place.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Response, ResponseBuilder};

/// Adds the failures every operation that takes input or is secured shares, in one place rather than in each route's attribute:
/// authentication (401) and rate limits (429) run in front of every secured handler, and an operation whose
/// security requirement names scopes refuses a credential without them (403). Client generators type an
/// error only when the document declares it. Statuses a route declares itself are kept; one declared without
/// a body gets the envelope. Call it on the merged document, after every surface has added its paths.
pub fn add_shared_failures(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let schema = super::error_schema_for(path);
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
