//! `/api/agents`: the registry's agents, their deployment, forks and lineage.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use talon_domain::agent::lineage::LineageNode;
use talon_domain::{AgentId, Scope};
use utoipa::{IntoParams, ToSchema};

use super::agent_inputs::agent_ref;
use super::agent_requests::{
    CreateAgentRequest, DeleteAgentQuery, DeployAgentRequest, DeployTarget, ForkAgentRequest, UpdateAgentRequest,
};
use super::agent_views::AgentView;
use super::pagination::{CursorPageQuery, MAX_LIMIT, Pagination};
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::{ApiJson, ApiQuery, Bounded, MaybeJson};
use crate::auth::Principal;
use crate::state::AppState;

/// A page of the account's agents.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"data": [{"id": "agent_01a22b0bdc6474ea95769740ef285ef0", "name": "Support Bot", "slug": "support-bot",
    "description": "", "capabilities": [], "status": "deployed", "public": false, "apiAccess": false,
    "currentVersionId": "ver_01a22b0bdc6474ea9576974139241b8f", "deployedVersionId": null,
    "deployedAt": "2026-11-30T06:02:07.360677Z", "forkCount": 0, "parentAgent": null, "forkType": null,
    "createdAt": "2026-11-30T06:02:07.332655Z", "updatedAt": "2026-11-30T06:02:07.360677Z"}],
    "pagination": {"page": 1, "limit": 20, "total": 1, "totalPages": 1}}))]
pub struct AgentList {
    data: Vec<AgentView>,
    pagination: Pagination,
}

#[derive(Serialize, ToSchema)]
pub struct Lineage {
    #[schema(value_type = Object)]
    root: LineageNode,
}

/// `GET /api/agents`: the page, or a cursor instead of it.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AgentListQuery {
    /// The page, from 1 (not with a cursor).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 2147483647, default = 1)]
    page: Option<Bounded<1, 2147483647>>,
    /// Items a page, 1 to 100.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100, default = 20)]
    limit: Option<Bounded<1, MAX_LIMIT>>,
    /// An agent's id: the page holds the (newer) agents after it. A response's `pagination.nextCursor`.
    /// Not with `page` or `endingBefore`.
    #[param(
        pattern = "^(agent_[0-9a-f]{32}|[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
    )]
    starting_after: Option<String>,
    /// An agent's id: the page holds the (older) agents just before it. Not with `page` or
    /// `startingAfter`.
    #[param(
        pattern = "^(agent_[0-9a-f]{32}|[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
    )]
    ending_before: Option<String>,
}

/// List the account's agents, oldest first.
#[utoipa::path(get, path = "/api/agents", operation_id = "listAgents",
    tag = "agents", security(("bearer" = ["agents:read"])),
    params(AgentListQuery),
    responses((status = 200, body = AgentList), (status = 400, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<AgentListQuery>,
) -> Result<Json<AgentList>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsRead)?;
    let query = CursorPageQuery {
        page: query.page,
        limit: query.limit,
        starting_after: query.starting_after,
        ending_before: query.ending_before,
    };
    let (page, window) = query.window(|id| AgentId::parse(id).ok().map(|a| *a.as_uuid()))?;
    let agents = state.registry.list_agents(&caller, false, window).await?;
    Ok(Json(AgentList {
        pagination: Pagination::of_window(page, window, &agents, |a| a.id.to_string()),
        data: agents.items.into_iter().map(|a| AgentView::new(a, None, None)).collect(),
    }))
}

/// Create an agent and its version 1. `tools` may be native `{name, description, parameters}` or
/// OpenAI-shaped `{"type": "function", "function": {…}}` (stored natively); `model` is
/// `{primary, fallback}` or `"provider/model"`. A key restricted to one agent may not (403).
#[utoipa::path(post, path = "/api/agents", operation_id = "createAgent",
    tag = "agents", security(("bearer" = ["agents:write"])),
    request_body = CreateAgentRequest,
    responses((status = 201, body = AgentView), (status = 400, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope, description = "The slug is taken")))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(request): ApiJson<CreateAgentRequest>,
) -> Result<(StatusCode, Json<AgentView>), ApiError> {
    let caller = principal.with_account_scope(Scope::AgentsWrite)?;
    let (agent, version) = state.registry.create_agent(&caller, request.into()).await?;
    Ok((StatusCode::CREATED, Json(AgentView::new(agent, Some(version), None))))
}

/// An agent with its current version.
#[utoipa::path(get, path = "/api/agents/{id}", operation_id = "getAgent",
    tag = "agents", security(("bearer" = ["agents:read"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug")),
    responses((status = 200, body = AgentView), (status = 404, body = ErrorEnvelope)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<AgentView>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsRead)?;
    let (agent, current) = state.registry.agent(&caller, &agent_ref(&id)?).await?;
    let parent = state.registry.parent_of(&caller, &agent).await?;
    let labels = state.registry.labels_of(&agent).await?;
    Ok(Json(AgentView::new(agent, Some(current), parent.as_deref()).with_labels(labels)))
}

/// Change name, description, capabilities, visibility (`public`) or chat API access (`apiAccess`).
/// Not a new version.
#[utoipa::path(patch, path = "/api/agents/{id}", operation_id = "updateAgent",
    tag = "agents", security(("bearer" = ["agents:write"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug")), request_body = UpdateAgentRequest,
    responses((status = 200, body = AgentView), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<UpdateAgentRequest>,
) -> Result<Json<AgentView>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsWrite)?;
    let agent = state.registry.update_profile(&caller, &agent_ref(&id)?, request.into()).await?;
    Ok(Json(AgentView::new(agent, None, None)))
}

/// Delete an agent. Refused with 409 while it has forks, unless `?force=true`.
#[utoipa::path(delete, path = "/api/agents/{id}", operation_id = "deleteAgent",
    tag = "agents", security(("bearer" = ["agents:write"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug"), DeleteAgentQuery),
    responses((status = 204), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope, description = "It has forks or running tasks and `force` is not true")))]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<DeleteAgentQuery>,
) -> Result<StatusCode, ApiError> {
    let caller = principal.with_scope(Scope::AgentsWrite)?;
    state.registry.delete_agent(&caller, &agent_ref(&id)?, query.force()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Fork an agent (yours, or another account's public agent) into a new agent. A key restricted to one
/// agent may not (403).
#[utoipa::path(post, path = "/api/agents/{id}/fork", operation_id = "forkAgent",
    tag = "agents", security(("bearer" = ["agents:write"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug")), request_body = ForkAgentRequest,
    responses((status = 201, body = AgentView), (status = 400, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope, description = "The lineage is too deep, or the fork would not change what its kind names (the prompt; the tools or config) from the version being forked")))]
pub async fn fork(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<ForkAgentRequest>,
) -> Result<(StatusCode, Json<AgentView>), ApiError> {
    let caller = principal.with_account_scope(Scope::AgentsWrite)?;
    let source = agent_ref(&id)?;
    let fork = state.registry.fork(&caller, &source, request.into_request()?).await?;
    let view = AgentView::new(fork.agent, Some(fork.version), Some(&fork.parent));
    Ok((StatusCode::CREATED, Json(view)))
}

/// The whole fork tree, from the root ancestor; the same tree from any of its agents. A node whose
/// versions merged a fork back lists them in `merges` (`versionId`, `versionNumber`, `fromAgentId`,
/// `fromVersionId`, `fromVersionNumber`), left out when there are none.
#[utoipa::path(get, path = "/api/agents/{id}/lineage", operation_id = "getAgentLineage",
    tag = "agents", security(("bearer" = ["agents:read"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug")),
    responses((status = 200, body = Lineage), (status = 404, body = ErrorEnvelope)))]
pub async fn lineage(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let caller = principal.with_scope(Scope::AgentsRead)?;
    let tree = state.registry.lineage(&caller, &agent_ref(&id)?).await?;
    // `Lineage`, written around the tree the registry rendered (and may have kept) as JSON.
    let mut body = String::with_capacity(tree.as_str().len() + 10);
    body.push_str("{\"root\":");
    body.push_str(tree.as_str());
    body.push('}');
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Deploy the agent: serve `versionId` (an id, number or label) or `version` (a number) if given
/// (pinned), else its current version; or, with `split`, share the traffic between versions by weight
/// (a canary), each end user staying on one arm. A deploy without `split` ends any split.
#[utoipa::path(post, path = "/api/agents/{id}/deploy", operation_id = "deployAgent",
    tag = "agents", security(("bearer" = ["agents:write"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug")),
    request_body(content = DeployAgentRequest, description = "The version to pin, or the split. The body may be left out (an empty body is `{}`)"),
    responses((status = 200, body = AgentView), (status = 400, body = ErrorEnvelope, description = "Invalid split: fewer than 2 arms, a weight outside 1 to 100, weights not adding up to 100, a version named twice"),
        (status = 403, body = ErrorEnvelope, description = "Missing the agents:write scope"),
        (status = 404, body = ErrorEnvelope, description = "No such agent, version or label"),
        (status = 409, body = ErrorEnvelope, description = "Not deployable from its status, or `requireEvaluation` not met (the details name the failing cases)")))]
pub async fn deploy(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    MaybeJson(request): MaybeJson<DeployAgentRequest>,
) -> Result<Json<AgentView>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsWrite)?;
    let agent_ref = agent_ref(&id)?;
    let gate = request.gate()?;
    let agent = match request.into_target()? {
        DeployTarget::Serve(version) => state.registry.deploy(&caller, &agent_ref, version, gate.as_ref()).await?,
        DeployTarget::Split(arms) => state.registry.deploy_split(&caller, &agent_ref, arms, gate.as_ref()).await?,
    };
    Ok(Json(AgentView::new(agent, None, None)))
}

/// Stop serving the agent.
#[utoipa::path(post, path = "/api/agents/{id}/stop", operation_id = "stopAgent",
    tag = "agents", security(("bearer" = ["agents:write"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug")),
    responses((status = 200, body = AgentView), (status = 404, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope, description = "Not deployed")))]
pub async fn stop(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<AgentView>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsWrite)?;
    let agent = state.registry.stop(&caller, &agent_ref(&id)?).await?;
    Ok(Json(AgentView::new(agent, None, None)))
}
