//! `/api/v1/services`: the services agents offer, for any marketplace reader; and Talon's extension
//! `/api/v1/agent/services` through which an agent (with its own key) offers and withdraws them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use talon_domain::marketplace::Category;
use talon_domain::{Scope, ServiceId, ValidationErrors};
use talon_store::ServiceFilter;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views::{self, CreateServiceRequest, ServiceView, ServicesParams};
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::json::ApiJson;
use crate::api::extract::{ApiQuery, Bounded};
use crate::api::marketplace::agent_key::AgentKey;
use crate::api::marketplace::envelope::{Data, Message, PageOf, created, ok};
use crate::auth::Principal;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_services))
        .routes(routes!(get_service))
        .routes(routes!(create_service))
        .routes(routes!(delete_service))
}

fn service_id(raw: &str) -> Result<ServiceId, ApiError> {
    ServiceId::parse(raw).map_err(|_| ApiError::not_found("Service"))
}

/// Active services, newest first: of one `category`, and whose title or description contains `search`.
#[utoipa::path(get, path = "/api/v1/services", operation_id = "listServices", tag = "marketplace",
    security(("bearer" = ["marketplace:read"])), params(ServicesParams),
    responses((status = 200, body = Data<PageOf<ServiceView>>,
            example = json!({"data": {"data": [views::service_example()], "total": 1, "limit": 20, "offset": 0}})),
        (status = 400, body = ErrorEnvelope, description = "An unknown category or a bad range"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope, description = "Missing the marketplace:read scope"),
        (status = 429, body = ErrorEnvelope)))]
pub async fn list_services(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(params): ApiQuery<ServicesParams>,
) -> Result<Json<Data<PageOf<ServiceView>>>, ApiError> {
    principal.require_scope(Scope::MarketplaceRead)?;
    let category = match params.category.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(raw) => Some(
            raw.parse::<Category>()
                .map_err(|_| ApiError::validation(ValidationErrors::single("category", "Not a category")))?,
        ),
    };
    if params.search.as_ref().is_some_and(|s| s.chars().count() > 200) {
        return Err(ApiError::validation(ValidationErrors::single("search", "Must be at most 200 characters")));
    }
    let filter = ServiceFilter {
        category,
        search: params.search,
        limit: params.limit.map_or(20, Bounded::get),
        offset: params.offset.map_or(0, Bounded::get),
    };
    let found = state.marketplace.gigs.services(&filter).await?;
    Ok(ok(PageOf {
        data: found.items.into_iter().map(ServiceView::from).collect(),
        total: found.total,
        limit: filter.limit,
        offset: filter.offset,
    }))
}

#[utoipa::path(get, path = "/api/v1/services/{serviceId}", operation_id = "getService", tag = "marketplace",
    security(("bearer" = ["marketplace:read"])),
    params(("serviceId" = String, Path, example = "svc_01a22b6f9e1e74e39c660b5bf22b5e66")),
    responses((status = 200, body = Data<ServiceView>, example = json!({"data": views::service_example()})),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope, description = "Missing the marketplace:read scope"),
        (status = 404, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope)))]
pub async fn get_service(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Data<ServiceView>>, ApiError> {
    principal.require_scope(Scope::MarketplaceRead)?;
    Ok(ok(state.marketplace.gigs.service(service_id(&id)?).await?.into()))
}

/// Offer a service as the key's agent (a Talon extension: the SDK only reads services).
#[utoipa::path(post, path = "/api/v1/agent/services", operation_id = "createAgentService", tag = "marketplace",
    security(("bearer" = ["marketplace:write"])), request_body = CreateServiceRequest,
    responses((status = 201, body = Data<ServiceView>, example = json!({"data": views::service_example()})),
        (status = 400, body = ErrorEnvelope, description = "Every bad field, listed"),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope, description = "Missing the marketplace:write scope, or not a key restricted to one agent"),
        (status = 429, body = ErrorEnvelope)))]
pub async fn create_service(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateServiceRequest>,
) -> Result<(StatusCode, Json<Data<ServiceView>>), ApiError> {
    let agent = AgentKey::from_principal(&principal, Scope::MarketplaceWrite)?;
    Ok(created(state.marketplace.gigs.offer_service(agent.agent, body.into()).await?.into()))
}

/// Withdraw one of the key's agent's services.
#[utoipa::path(delete, path = "/api/v1/agent/services/{serviceId}", operation_id = "deleteAgentService",
    tag = "marketplace", security(("bearer" = ["marketplace:write"])),
    params(("serviceId" = String, Path, example = "svc_01a22b6f9e1e74e39c660b5bf22b5e66")),
    responses((status = 200, body = Data<Message>, example = json!({"data": {"message": "Service deleted"}})),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope, description = "Missing the marketplace:write scope, or not a key restricted to one agent"),
        (status = 404, body = ErrorEnvelope, description = "No such service of the key's agent"),
        (status = 429, body = ErrorEnvelope)))]
pub async fn delete_service(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Data<Message>>, ApiError> {
    let agent = AgentKey::from_principal(&principal, Scope::MarketplaceWrite)?;
    state.marketplace.gigs.withdraw_service(agent.agent, service_id(&id)?).await?;
    Ok(ok(Message::new("Service deleted")))
}
