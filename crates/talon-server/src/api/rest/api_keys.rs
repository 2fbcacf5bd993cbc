use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use talon_domain::{ApiKey, Scope};
use utoipa::ToSchema;

use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::json::ApiJson;
use crate::auth::Principal;
use crate::services::api_keys::CreateKey;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateApiKeyRequest {
    #[schema(example = "Production API Key")]
    name: Option<String>,
    #[schema(example = json!(["agents:read", "agents:write", "tasks:read", "tasks:write"]))]
    scopes: Option<Vec<String>>,
    /// Restrict the key to one agent.
    agent_id: Option<String>,
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

#[derive(Serialize, ToSchema)]
pub struct ApiKeyList {
    data: Vec<ApiKeyView>,
}

/// Create an API key (session token only). The response is the only time the key is shown.
#[utoipa::path(post, path = "/api/api-keys", operation_id = "createApiKey", tag = "api-keys", security(("bearer" = [])),
    request_body = CreateApiKeyRequest, responses(
    (status = 201, body = CreatedApiKeyView),
    (status = 400, body = ErrorEnvelope),
    (status = 401, body = ErrorEnvelope),
    (status = 403, body = ErrorEnvelope, description = "Called with an API key"),
))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateApiKeyRequest>,
) -> Result<(StatusCode, Json<CreatedApiKeyView>), ApiError> {
    principal.require_session()?;
    let request = CreateKey {
        name: body.name.as_deref(),
        scopes: body.scopes.as_deref(),
        agent_id: body.agent_id.as_deref(),
        expires_at: body.expires_at,
    };
    let (key, secret) = state.api_keys.create(principal.account.id, request).await?;
    let view = CreatedApiKeyView { key: secret.expose().to_owned(), details: key.into() };
    Ok((StatusCode::CREATED, Json(view)))
}

/// List the account's live API keys, newest first.
#[utoipa::path(get, path = "/api/api-keys", operation_id = "listApiKeys",
    tag = "api-keys", security(("bearer" = [])), responses(
    (status = 200, body = ApiKeyList),
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
    (status = 403, body = ErrorEnvelope, description = "Called with an API key"),
    (status = 404, body = ErrorEnvelope),
))]
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    principal.require_session()?;
    state.api_keys.revoke(principal.account.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
