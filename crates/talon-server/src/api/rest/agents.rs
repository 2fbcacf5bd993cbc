//! `/api/agents`: the registry's agents, their deployment, forks and lineage.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Serialize;
use talon_domain::Scope;
use talon_domain::agent::lineage::LineageNode;
use talon_domain::agent::{DefinitionPatch, MetadataPatch};
use utoipa::ToSchema;

use super::agent_views::AgentView;
use super::pagination::{PageQuery, Pagination};
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::ApiQuery;
use crate::api::extract::json::{ApiJson, JsonObject, optional_object};
use crate::auth::Principal;
use crate::services::registry::{AgentInput, ForkInput, ProfileInput};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct AgentList {
    data: Vec<AgentView>,
    pagination: Pagination,
}

#[derive(Serialize, ToSchema)]
pub struct Lineage {
    #[schema(value_type = Object)]
    root: LineageNode,
}

fn metadata_patch(body: &mut JsonObject) -> MetadataPatch {
    MetadataPatch {
        name: body.remove("name"),
        description: body.remove("description"),
        capabilities: body.remove("capabilities"),
    }
}

/// List the account's agents, oldest first.
#[utoipa::path(get, path = "/api/agents", operation_id = "listAgents",
    tag = "agents", security(("bearer" = ["agents:read"])),
    params(PageQuery),
    responses((status = 200, body = AgentList), (status = 400, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<AgentList>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsRead)?;
    let (page, limit, offset) = query.resolve();
    let agents = state.registry.list_agents(&caller, false, offset, limit).await?;
    Ok(Json(AgentList {
        pagination: Pagination::new(page, limit, agents.total),
        data: agents.items.into_iter().map(|a| AgentView::new(a, None, None)).collect(),
    }))
}

/// Create an agent and its version 1. `tools` may be native `{name, description, parameters}` or
/// OpenAI-shaped `{"type": "function", "function": {…}}` (stored natively); `model` is
/// `{primary, fallback}` or `"provider/model"`. A key restricted to one agent may not (403).
#[utoipa::path(post, path = "/api/agents", operation_id = "createAgent",
    tag = "agents", security(("bearer" = ["agents:write"])),
    request_body = Object,
    responses((status = 201, body = AgentView), (status = 400, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(mut body): ApiJson<JsonObject>,
) -> Result<(StatusCode, Json<AgentView>), ApiError> {
    let caller = principal.with_account_scope(Scope::AgentsWrite)?;
    let input = AgentInput {
        metadata: metadata_patch(&mut body),
        slug: body.remove("slug"),
        public: body.remove("public"),
        definition: DefinitionPatch::take_from(&mut body),
        commit_message: body.remove("commitMessage"),
    };
    let (agent, version) = state.registry.create_agent(&caller, input).await?;
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
    let (agent, current) = state.registry.agent(&caller, &id).await?;
    let parent = state.registry.parent_of(&caller, &agent).await?;
    Ok(Json(AgentView::new(agent, Some(current), parent.as_ref())))
}

/// Change name, description, capabilities, visibility (`public`) or chat API access (`apiAccess`).
/// Not a new version.
#[utoipa::path(patch, path = "/api/agents/{id}", operation_id = "updateAgent",
    tag = "agents", security(("bearer" = ["agents:write"])),
    params(("id" = String, Path)), request_body = Object,
    responses((status = 200, body = AgentView), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(mut body): ApiJson<JsonObject>,
) -> Result<Json<AgentView>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsWrite)?;
    let input = ProfileInput {
        metadata: metadata_patch(&mut body),
        public: body.remove("public"),
        api_access: body.remove("apiAccess"),
    };
    let agent = state.registry.update_profile(&caller, &id, input).await?;
    Ok(Json(AgentView::new(agent, None, None)))
}

/// Delete an agent. Refused with 409 while it has forks, unless `?force=true`.
#[utoipa::path(delete, path = "/api/agents/{id}", operation_id = "deleteAgent",
    tag = "agents", security(("bearer" = ["agents:write"])),
    params(("id" = String, Path), ("force" = Option<bool>, Query)),
    responses((status = 204), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<StatusCode, ApiError> {
    let caller = principal.with_scope(Scope::AgentsWrite)?;
    let force = match params.get("force").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ApiError::validation(talon_domain::ValidationErrors::single("force", "Must be true or false")));
        }
    };
    state.registry.delete_agent(&caller, &id, force).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Fork an agent (yours, or another account's public agent) into a new agent. A key restricted to one
/// agent may not (403).
#[utoipa::path(post, path = "/api/agents/{id}/fork", operation_id = "forkAgent",
    tag = "agents", security(("bearer" = ["agents:write"])),
    params(("id" = String, Path)), request_body = Object,
    responses((status = 201, body = AgentView), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn fork(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(mut body): ApiJson<JsonObject>,
) -> Result<(StatusCode, Json<AgentView>), ApiError> {
    let caller = principal.with_account_scope(Scope::AgentsWrite)?;
    let input = ForkInput {
        fork_type: body.remove("forkType"),
        version_id: super::versions::version_reference(&body)?,
        metadata: metadata_patch(&mut body),
        definition: DefinitionPatch::take_from(&mut body),
        commit_message: body.remove("commitMessage"),
    };
    let fork = state.registry.fork(&caller, &id, input).await?;
    let view = AgentView::new(fork.agent, Some(fork.version), Some(&fork.parent));
    Ok((StatusCode::CREATED, Json(view)))
}

/// The whole fork tree, from the root ancestor; the same tree from any of its agents.
#[utoipa::path(get, path = "/api/agents/{id}/lineage", operation_id = "getAgentLineage",
    tag = "agents", security(("bearer" = ["agents:read"])),
    params(("id" = String, Path)), responses((status = 200, body = Lineage), (status = 404, body = ErrorEnvelope)))]
pub async fn lineage(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Lineage>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsRead)?;
    Ok(Json(Lineage { root: state.registry.lineage(&caller, &id).await? }))
}

/// Deploy the agent: serve `versionId` (an id or number) or `version` (a number) if given (pinned), else
/// its current version.
#[utoipa::path(post, path = "/api/agents/{id}/deploy", operation_id = "deployAgent",
    tag = "agents", security(("bearer" = ["agents:write"])),
    params(("id" = String, Path)), request_body(content = Object, description = "Optional {\"versionId\"}"),
    responses((status = 200, body = AgentView), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn deploy(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<AgentView>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsWrite)?;
    let body = optional_object(&body)?;
    let version = super::versions::version_reference(&body)?;
    let agent = state.registry.deploy(&caller, &id, version.as_deref()).await?;
    Ok(Json(AgentView::new(agent, None, None)))
}

/// Stop serving the agent.
#[utoipa::path(post, path = "/api/agents/{id}/stop", operation_id = "stopAgent",
    tag = "agents", security(("bearer" = ["agents:write"])),
    params(("id" = String, Path)),
    responses((status = 200, body = AgentView), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
pub async fn stop(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<AgentView>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsWrite)?;
    let agent = state.registry.stop(&caller, &id).await?;
    Ok(Json(AgentView::new(agent, None, None)))
}
