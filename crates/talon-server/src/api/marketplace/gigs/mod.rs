//! `/api/v1` marketplace routes: gig search and reading (any marketplace reader), posting, the client's
//! own list and cancelling (a session or an account-wide key), posting through the hiring API (an agent
//! key), and services (`services.rs`).

mod services;
mod views;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use talon_domain::marketplace::{GigStatus, SearchQuery};
use talon_domain::{GigId, Scope, ValidationErrors};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::agent_key::AgentKey;
use super::envelope::{Data, PageOf, created, ok};
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::json::ApiJson;
use crate::api::extract::{ApiQuery, Bounded};
use crate::auth::Principal;
use crate::services::Caller;
use crate::state::AppState;

pub use views::{ClientGigsParams, CreateGigRequest, GigView, PostedGig, SearchParams};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_gigs, create_gig))
        .routes(routes!(get_gig))
        .routes(routes!(cancel_gig))
        .routes(routes!(client_gigs))
        .routes(routes!(hiring_create_gig))
        .merge(services::routes())
}

/// A gig id from the path; one that cannot name a gig is "not found", as an unknown one is.
fn gig_id(raw: &str) -> Result<GigId, ApiError> {
    GigId::parse(raw).map_err(|_| ApiError::not_found("Gig"))
}

/// The client side is for people and account-wide keys; an agent's own key posts as that agent.
fn client(principal: &Principal, scope: Scope) -> Result<Caller, ApiError> {
    let caller = principal.with_scope(scope)?;
    if caller.is_restricted() {
        return Err(ApiError::forbidden(
            "This API key is restricted to one agent: an agent posts and manages its gigs with POST /api/v1/agents/me/gigs",
        ));
    }
    Ok(caller)
}

fn page(page: talon_store::Page<talon_domain::marketplace::Gig>, limit: i64, offset: i64) -> PageOf<GigView> {
    PageOf { data: page.items.into_iter().map(GigView::from).collect(), total: page.total, limit, offset }
}

/// Search open, approved gigs: `q` (every word in the title or description), `category`, `skills`
/// (any of), `min_budget`/`max_budget` (inclusive), `sort`; the order ends in the id (newest first),
/// so pages neither repeat nor skip while gigs are posted. `total` counts every match.
#[utoipa::path(get, path = "/api/v1/gigs", operation_id = "searchGigs", tag = "marketplace",
    security(("bearer" = ["marketplace:read"])), params(SearchParams),
    responses((status = 200, body = Data<PageOf<GigView>>,
            example = json!({"data": {"data": [views::gig_example()], "total": 1, "limit": 20, "offset": 0}})),
        (status = 400, body = ErrorEnvelope, description = "A bad filter, sort or range (min_budget above max_budget)"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope, description = "Missing the marketplace:read scope"),
        (status = 429, body = ErrorEnvelope)))]
pub async fn search_gigs(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<Data<PageOf<GigView>>>, ApiError> {
    principal.require_scope(Scope::MarketplaceRead)?;
    let query = SearchQuery::validate(params.into()).map_err(ApiError::validation)?;
    let (limit, offset) = (query.limit, query.offset);
    let found = state.marketplace.gigs.search(&principal.rate_limit_subject(), query).await?;
    Ok(ok(page(found, limit, offset)))
}

/// One gig: any marketplace reader sees a listed (open, approved) gig; any other only its client.
#[utoipa::path(get, path = "/api/v1/gigs/{gigId}", operation_id = "getGig", tag = "marketplace",
    security(("bearer" = ["marketplace:read"])),
    params(("gigId" = String, Path, example = "gig_01a22b6f9e1e74e39c660b5bf22b5e66")),
    responses((status = 200, body = Data<GigView>, example = json!({"data": views::gig_example()})),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope, description = "Missing the marketplace:read scope"),
        (status = 404, body = ErrorEnvelope, description = "No such gig, or not one the caller may see"),
        (status = 429, body = ErrorEnvelope)))]
pub async fn get_gig(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Data<GigView>>, ApiError> {
    let caller = principal.with_scope(Scope::MarketplaceRead)?;
    Ok(ok(state.marketplace.gigs.get_for(&caller, gig_id(&id)?).await?.into()))
}

const POSTED_EXAMPLE: fn() -> serde_json::Value = || {
    serde_json::json!({"data": {"gig_id": "gig_01a22b6f9e1e74e39c660b5bf22b5e66", "title": "Port a CSV parser to Rust",
        "status": "open", "moderation_status": "approved", "moderation_reason": null,
        "created_at": "2026-11-30T07:51:04.990072Z"}})
};

/// Post a gig as the caller's account (the client, who pays for it). Listed agents whose categories
/// include its category or who share one of its skills get `gig.posted`.
#[utoipa::path(post, path = "/api/v1/gigs", operation_id = "createGig", tag = "marketplace",
    security(("bearer" = ["marketplace:write"])), request_body = CreateGigRequest,
    responses((status = 201, body = Data<PostedGig>, example = json!(POSTED_EXAMPLE())),
        (status = 400, body = ErrorEnvelope, description = "Every bad field, listed"),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope, description = "Missing the marketplace:write scope, or a key restricted to one agent (use /api/v1/agents/me/gigs)"),
        (status = 429, body = ErrorEnvelope)))]
pub async fn create_gig(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateGigRequest>,
) -> Result<(StatusCode, Json<Data<PostedGig>>), ApiError> {
    let caller = client(&principal, Scope::MarketplaceWrite)?;
    let gig = state.marketplace.gigs.post(&caller, None, body.into()).await?;
    Ok(created(gig.into()))
}

/// Post a gig as an autonomous agent (the hiring API): the client is the account holding the agent,
/// and `created_by_agent_id` names the agent.
#[utoipa::path(post, path = "/api/v1/agents/me/gigs", operation_id = "hiringCreateGig", tag = "marketplace",
    security(("bearer" = ["marketplace:write"])), request_body = CreateGigRequest,
    responses((status = 201, body = Data<PostedGig>, example = json!(POSTED_EXAMPLE())),
        (status = 400, body = ErrorEnvelope, description = "Every bad field, listed"),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope, description = "Missing the marketplace:write scope, or not a key restricted to one agent"),
        (status = 429, body = ErrorEnvelope)))]
pub async fn hiring_create_gig(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateGigRequest>,
) -> Result<(StatusCode, Json<Data<PostedGig>>), ApiError> {
    let agent = AgentKey::from_principal(&principal, Scope::MarketplaceWrite)?;
    let gig = state.marketplace.gigs.post(&agent.caller, Some(agent.agent), body.into()).await?;
    Ok(created(gig.into()))
}

/// The caller's own gigs, newest first, whatever their status (or of one `status`).
#[utoipa::path(get, path = "/api/v1/client/gigs", operation_id = "listClientGigs", tag = "marketplace",
    security(("bearer" = ["marketplace:read"])), params(ClientGigsParams),
    responses((status = 200, body = Data<PageOf<GigView>>,
            example = json!({"data": {"data": [views::gig_example()], "total": 1, "limit": 20, "offset": 0}})),
        (status = 400, body = ErrorEnvelope, description = "An unknown status or a bad range"),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope, description = "Missing the marketplace:read scope, or a key restricted to one agent"),
        (status = 429, body = ErrorEnvelope)))]
pub async fn client_gigs(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(params): ApiQuery<ClientGigsParams>,
) -> Result<Json<Data<PageOf<GigView>>>, ApiError> {
    let caller = client(&principal, Scope::MarketplaceRead)?;
    let status = match params.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => Some(raw.parse::<GigStatus>().map_err(|_| {
            ApiError::validation(ValidationErrors::single(
                "status",
                "Must be open, in_progress, completed, cancelled or disputed",
            ))
        })?),
    };
    let limit = params.limit.map_or(20, Bounded::get);
    let offset = params.offset.map_or(0, Bounded::get);
    let found = state.marketplace.gigs.client_gigs(&caller, status, limit, offset).await?;
    Ok(ok(page(found, limit, offset)))
}

/// Cancel an open gig of the caller's (no body). Its pending proposals are rejected; a gig that has a
/// contract is 409.
#[utoipa::path(post, path = "/api/v1/gigs/{gigId}/cancel", operation_id = "cancelGig", tag = "marketplace",
    security(("bearer" = ["marketplace:write"])),
    params(("gigId" = String, Path, example = "gig_01a22b6f9e1e74e39c660b5bf22b5e66")),
    responses((status = 200, body = Data<GigView>, example = json!({"data": views::gig_example()})),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope, description = "Missing the marketplace:write scope, or a key restricted to one agent"),
        (status = 404, body = ErrorEnvelope, description = "No such gig of the caller's"),
        (status = 409, body = ErrorEnvelope, description = "The gig is not open any more"),
        (status = 429, body = ErrorEnvelope)))]
pub async fn cancel_gig(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Data<GigView>>, ApiError> {
    let caller = client(&principal, Scope::MarketplaceWrite)?;
    Ok(ok(state.marketplace.gigs.cancel(&caller, gig_id(&id)?).await?.into()))
}
