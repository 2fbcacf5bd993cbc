use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use talon_domain::time::now;
use talon_domain::{ApiKey, ApiKeyId, NewApiKey, Scope};
use utoipa::ToSchema;

use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::json::ApiJson;
use crate::auth::Principal;
use crate::state::AppState;

// Never built: scopes are read as text so that a bad one is reported next to every other bad field;
// this states the values they accept. A unit test keeps it in step with `Scope`.
/// A permission an API key carries.
#[derive(ToSchema)]
#[allow(dead_code)]
pub enum ApiKeyScope {
    #[schema(rename = "agents:read")]
    AgentsRead,
    #[schema(rename = "agents:write")]
    AgentsWrite,
    #[schema(rename = "tasks:read")]
    TasksRead,
    #[schema(rename = "tasks:write")]
    TasksWrite,
    #[schema(rename = "webhooks:read")]
    WebhooksRead,
    #[schema(rename = "webhooks:write")]
    WebhooksWrite,
    #[schema(rename = "chat")]
    Chat,
    #[schema(rename = "marketplace:read")]
    MarketplaceRead,
    #[schema(rename = "marketplace:write")]
    MarketplaceWrite,
}

/// `POST /api/api-keys`.
#[derive(Deserialize, ToSchema)]
// `name` and `scopes` are optional in Rust so that a missing one is reported with every other bad field;
// both are required.
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({
    "name": "Production API Key", "scopes": ["agents:read", "agents:write", "tasks:read", "tasks:write"]
}))]
pub struct CreateApiKeyRequest {
    /// 1 to 100 characters (trimmed).
    #[schema(example = "Production API Key", required = true, value_type = String, min_length = 1, max_length = 100)]
    name: Option<String>,
    /// What the key may do; at least one scope (a repeated one counts once).
    #[schema(required = true, value_type = Vec<ApiKeyScope>, min_items = 1)]
    scopes: Option<Vec<String>>,
    /// Restrict the key to this agent (`agent_…` or UUID) of the account.
    agent_id: Option<String>,
    /// When the key stops working; must be in the future. Never, when absent.
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    id: String,
    key_prefix: String,
    name: String,
    #[schema(value_type = Vec<String>)]
    scopes: Vec<Scope>,
    agent_id: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(key: ApiKey) -> Self {
        ApiKeyView {
            id: key.id.to_string(),
            key_prefix: key.key_prefix,
            name: key.name,
            scopes: key.scopes,
            agent_id: key.agent_id.map(|a| a.to_string()),
            expires_at: key.expires_at,
            last_used_at: key.last_used_at,
            created_at: key.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CreatedApiKeyView {
    /// The key itself. It is shown this once; only its hash is stored.
    key: String,
    #[serde(flatten)]
    details: ApiKeyView,
}

/// The account's API keys (never their secrets).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"data": [{"id": "key_01a22b0bdcb3711495b60b9ce692fa53", "keyPrefix": "tln_3krOky1L", "name": "ci",
    "scopes": ["agents:read"], "agentId": null, "expiresAt": null, "lastUsedAt": null,
    "createdAt": "2026-11-30T06:02:07.411396Z"}]}))]
pub struct ApiKeyList {
    data: Vec<ApiKeyView>,
}

/// Create an API key (session token only). The response is the only time the key is shown.
#[utoipa::path(post, path = "/api/api-keys", operation_id = "createApiKey", tag = "api-keys", security(("bearer" = [])),
    request_body = CreateApiKeyRequest, responses(
    (status = 201, body = CreatedApiKeyView),
    (status = 400, body = ErrorEnvelope, description = "Unknown or invalid fields, or an agent not in this account"),
    (status = 401, body = ErrorEnvelope),
    (status = 403, body = ErrorEnvelope, description = "Called with an API key"),
))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateApiKeyRequest>,
) -> Result<(StatusCode, Json<CreatedApiKeyView>), ApiError> {
    principal.require_session()?;
    let new = NewApiKey::parse(
        body.name.as_deref(),
        body.scopes.as_deref(),
        body.agent_id.as_deref(),
        body.expires_at,
        now(),
    )
    .map_err(ApiError::validation)?;
    let (key, secret) = state.api_keys.create(&principal.caller(), new).await?;
    let view = CreatedApiKeyView { key: secret.expose().to_owned(), details: key.into() };
    Ok((StatusCode::CREATED, Json(view)))
}

/// List the account's live API keys, newest first.
#[utoipa::path(get, path = "/api/api-keys", operation_id = "listApiKeys",
    tag = "api-keys", security(("bearer" = [])), responses(
    (status = 200, body = ApiKeyList),
    (status = 401, body = ErrorEnvelope),
    (status = 403, body = ErrorEnvelope, description = "Called with an API key"),
))]
pub async fn list(State(state): State<AppState>, principal: Principal) -> Result<Json<ApiKeyList>, ApiError> {
    principal.require_session()?;
    let keys = state.api_keys.list(principal.account.id).await?;
    Ok(Json(ApiKeyList { data: keys.into_iter().map(Into::into).collect() }))
}

/// Revoke an API key; requests with it are refused from now on.
#[utoipa::path(delete, path = "/api/api-keys/{id}", operation_id = "revokeApiKey",
    tag = "api-keys", security(("bearer" = [])),
    params(("id" = String, Path, description = "The key's id")), responses(
    (status = 204, description = "Revoked"),
    (status = 401, body = ErrorEnvelope),
    (status = 403, body = ErrorEnvelope, description = "Called with an API key"),
    (status = 404, body = ErrorEnvelope),
))]
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    principal.require_session()?;
    let id = ApiKeyId::parse(&id).map_err(|_| ApiError::not_found("API key"))?;
    state.api_keys.revoke(&principal.caller(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use utoipa::PartialSchema;

    use super::*;
    use crate::api::extract::json::parse;

    #[test]
    fn the_documented_scopes_are_the_ones_keys_carry() {
        let schema = serde_json::to_value(ApiKeyScope::schema()).unwrap();
        let documented: Vec<&str> = schema["enum"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        let known: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(documented, known);
    }

    #[test]
    fn unknown_fields_are_named() {
        let err = parse::<CreateApiKeyRequest>(br#"{"name": "k", "scopes": ["chat"], "scope": "chat", "ttl": 5}"#)
            .err()
            .unwrap();
        let fields: Vec<_> = err.details().iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["scope", "ttl"]);
    }
}
