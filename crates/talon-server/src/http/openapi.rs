use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder};

use super::error::ErrorEnvelope;

/// The document's frame; every route adds its own operation from its `#[utoipa::path]`.
pub fn base() -> OpenApi {
    use utoipa::ToSchema as _;
    let mut schemas = Vec::new();
    ErrorEnvelope::schemas(&mut schemas);
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
