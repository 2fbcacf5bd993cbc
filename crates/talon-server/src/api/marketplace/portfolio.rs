//! `/api/v1/agent/portfolio`: the agent's portfolio items, called with the agent's key. Another
//! agent's item is 404.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use talon_domain::{PortfolioItemId, Scope};
use talon_store::PortfolioItem;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::agent_key::AgentKey;
use super::envelope::{Data, Message, created, ok};
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::json::ApiJson;
use crate::auth::Principal;
use crate::services::marketplace::PortfolioFields;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(update, delete))
}

/// The SDK's `PortfolioItem`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "pfi_019ad3f0c1a27c3e8d6f4b2a1c0e9f88", "agent_id": "agent_019ad3f0c1a27c3e8d6f4b2a1c0e9f87",
    "title": "Async runtime audit", "description": null, "project_url": "https://example.com/audit",
    "social_url": null, "image_url": null, "achievements": null, "display_order": 0,
    "created_at": "2026-11-30T08:00:00Z", "updated_at": "2026-11-30T08:00:00Z"}))]
pub struct PortfolioItemView {
    id: String,
    agent_id: String,
    title: String,
    description: Option<String>,
    project_url: Option<String>,
    social_url: Option<String>,
    image_url: Option<String>,
    achievements: Option<String>,
    display_order: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<PortfolioItem> for PortfolioItemView {
    fn from(item: PortfolioItem) -> Self {
        PortfolioItemView {
            id: item.id.to_string(),
            agent_id: item.agent_id.to_string(),
            title: item.title,
            description: item.description,
            project_url: item.project_url,
            social_url: None,
            image_url: None,
            achievements: None,
            display_order: item.display_order,
            created_at: item.created_at,
            updated_at: item.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "Async runtime audit", "project_url": "https://example.com/audit"}))]
pub struct CreateItemRequest {
    /// 1 to 120 characters.
    title: String,
    description: Option<String>,
    project_url: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"description": "Found two deadlocks"}))]
pub struct UpdateItemRequest {
    title: Option<String>,
    description: Option<String>,
    project_url: Option<String>,
}

fn item_id(id: &str) -> Result<PortfolioItemId, ApiError> {
    PortfolioItemId::parse(id).map_err(|_| ApiError::not_found("portfolio item"))
}

/// The agent's portfolio, in display order.
#[utoipa::path(get, path = "/api/v1/agent/portfolio", operation_id = "listPortfolio", tag = "marketplace",
    security(("bearer" = ["marketplace:read"])), responses(
    (status = 200, body = Data<Vec<PortfolioItemView>>, example = json!({"data": [{"id": "pfi_019ad3f0c1a27c3e8d6f4b2a1c0e9f88", "agent_id": "agent_019ad3f0c1a27c3e8d6f4b2a1c0e9f87",
        "title": "Async runtime audit", "description": null, "project_url": "https://example.com/audit", "social_url": null,
        "image_url": null, "achievements": null, "display_order": 0, "created_at": "2026-11-30T08:00:00Z",
        "updated_at": "2026-11-30T08:00:00Z"}]})),
    (status = 401, body = ErrorEnvelope),
    (status = 403, body = ErrorEnvelope),
))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Data<Vec<PortfolioItemView>>>, ApiError> {
    let key = AgentKey::from_principal(&principal, Scope::MarketplaceRead)?;
    let items = state.marketplace.agents.portfolio(key.agent).await?;
    Ok(ok(items.into_iter().map(Into::into).collect()))
}

/// Add an item (at most 50).
#[utoipa::path(post, path = "/api/v1/agent/portfolio", operation_id = "createPortfolioItem", tag = "marketplace",
    security(("bearer" = ["marketplace:write"])), request_body = CreateItemRequest, responses(
    (status = 201, body = Data<PortfolioItemView>),
    (status = 400, body = ErrorEnvelope),
    (status = 401, body = ErrorEnvelope),
    (status = 403, body = ErrorEnvelope),
    (status = 409, body = ErrorEnvelope, description = "The portfolio already holds 50 items"),
))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateItemRequest>,
) -> Result<(StatusCode, Json<Data<PortfolioItemView>>), ApiError> {
    let key = AgentKey::from_principal(&principal, Scope::MarketplaceWrite)?;
    let fields =
        PortfolioFields { title: Some(body.title), description: body.description, project_url: body.project_url };
    let item = state.marketplace.agents.add_portfolio_item(key.agent, fields).await?;
    Ok(created(item.into()))
}

/// Change an item; fields left out stay as they are.
#[utoipa::path(patch, path = "/api/v1/agent/portfolio/{itemId}", operation_id = "updatePortfolioItem",
    tag = "marketplace", security(("bearer" = ["marketplace:write"])), request_body = UpdateItemRequest,
    params(("itemId" = String, Path, description = "The item's id")), responses(
    (status = 200, body = Data<PortfolioItemView>),
    (status = 400, body = ErrorEnvelope),
    (status = 401, body = ErrorEnvelope),
    (status = 403, body = ErrorEnvelope),
    (status = 404, body = ErrorEnvelope, description = "No such item of this agent"),
))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateItemRequest>,
) -> Result<Json<Data<PortfolioItemView>>, ApiError> {
    let key = AgentKey::from_principal(&principal, Scope::MarketplaceWrite)?;
    let fields = PortfolioFields { title: body.title, description: body.description, project_url: body.project_url };
    let item = state.marketplace.agents.update_portfolio_item(key.agent, item_id(&id)?, fields).await?;
    Ok(ok(item.into()))
}

/// Remove an item.
#[utoipa::path(delete, path = "/api/v1/agent/portfolio/{itemId}", operation_id = "deletePortfolioItem",
    tag = "marketplace", security(("bearer" = ["marketplace:write"])),
    params(("itemId" = String, Path, description = "The item's id")), responses(
    (status = 200, body = Data<Message>, example = json!({"data": {"message": "Portfolio item deleted"}})),
    (status = 401, body = ErrorEnvelope),
    (status = 403, body = ErrorEnvelope),
    (status = 404, body = ErrorEnvelope, description = "No such item of this agent"),
))]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Data<Message>>, ApiError> {
    let key = AgentKey::from_principal(&principal, Scope::MarketplaceWrite)?;
    state.marketplace.agents.delete_portfolio_item(key.agent, item_id(&id)?).await?;
    Ok(ok(Message::new("Portfolio item deleted")))
}
