//! The OpenAPI document: its frame (`base`), the operations each route adds from its `#[utoipa::path]`,
//! and what `finish` states once for all of them (shared failures, headers, scopes, the NUL rule).

mod contract;
mod failures;
mod marketplace_rules;
mod nul;
mod rules;

pub use rules::ServerFacts;

use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder};

use super::error::{ChatApiError, ErrorEnvelope, OpenAiError};

/// The served document: `doc` (every surface merged) with what every operation shares added.
pub fn finish(mut doc: OpenApi, facts: &ServerFacts) -> Value {
    failures::add_shared_failures(&mut doc);
    let mut value = nul::forbid_nul_in_bodies(&doc);
    rules::state_rules(&mut value["components"]["schemas"], facts);
    marketplace_rules::state_marketplace_rules(&mut value["components"]["schemas"]);
    contract::describe(&mut value);
    value
}

/// The error body schema of the surface `path` belongs to: the OpenAI surface (`/v1/…`) answers in
/// OpenAI's shape, the chat API under its own codes, everything else in the envelope.
fn error_schema_for(path: &str) -> &'static str {
    if path.starts_with("/v1/") {
        "OpenAiError"
    } else if path == "/api/v1/chat" || path.starts_with("/api/v1/bot/") {
        "ChatApiError"
    } else {
        "ErrorEnvelope"
    }
}

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
