//! `/api/agents/{id}/versions`, compare and rollback: an agent's immutable history.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use talon_domain::agent::diff::DefinitionDiff;
use talon_domain::{Scope, ValidationErrors};
use utoipa::ToSchema;

use super::agent_inputs::{agent_ref, selected_version, version_ref};
use super::agent_requests::{CompareQuery, CreateVersionRequest, RollbackRequest};
use super::agent_views::{MergedFromView, VersionView, VersionWithDiff};
use super::pagination::{PageQuery, Pagination};
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::{ApiJson, ApiQuery};
use crate::auth::Principal;
use crate::services::registry::NewVersion;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct VersionList {
    data: Vec<VersionView>,
    pagination: Pagination,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionRef {
    id: String,
    version_number: i64,
    /// Set when the version merged a fork back (see `VersionView`).
    #[serde(skip_serializing_if = "Option::is_none")]
    merged_from: Option<MergedFromView>,
}

impl From<&talon_domain::agent::Version> for VersionRef {
    fn from(v: &talon_domain::agent::Version) -> Self {
        VersionRef { id: v.id.to_string(), version_number: v.number, merged_from: v.merged_from.map(Into::into) }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Comparison {
    from: VersionRef,
    to: VersionRef,
    #[schema(value_type = Object)]
    diff: DefinitionDiff,
}

/// 201 for a new version, 200 when nothing changed and the current version is returned.
fn created(new: NewVersion) -> (StatusCode, Json<VersionWithDiff>) {
    let status = if new.created { StatusCode::CREATED } else { StatusCode::OK };
    (status, Json(VersionWithDiff { version: new.version.into(), diff_from_parent: new.diff_from_parent }))
}

/// The agent's versions, newest first.
#[utoipa::path(get, path = "/api/agents/{id}/versions", operation_id = "listAgentVersions",
    tag = "versions", security(("bearer" = ["agents:read"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug"), PageQuery),
    responses((status = 200, body = VersionList), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<VersionList>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsRead)?;
    let (page, limit, offset) = query.resolve();
    let versions = state.registry.list_versions(&caller, &agent_ref(&id)?, offset, limit).await?;
    Ok(Json(VersionList {
        pagination: Pagination::new(page, limit, versions.total),
        data: versions.items.into_iter().map(Into::into).collect(),
    }))
}

/// Create a version from any subset of prompt, tools, config and model; the rest carries over. A request
/// that changes nothing returns the current version with 200. `expectedVersionId` (or `If-Match`) that is
/// no longer current is 409.
#[utoipa::path(post, path = "/api/agents/{id}/versions", operation_id = "createAgentVersion",
    tag = "versions", security(("bearer" = ["agents:write"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug"),
        ("If-Match" = Option<String>, Header, description = "The version id that must still be current")),
    request_body = CreateVersionRequest,
    responses((status = 201, body = VersionWithDiff), (status = 200, body = VersionWithDiff, description = "No change"),
        (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<CreateVersionRequest>,
) -> Result<(StatusCode, Json<VersionWithDiff>), ApiError> {
    let caller = principal.with_scope(Scope::AgentsWrite)?;
    // An empty If-Match names no version: the same as leaving the header out.
    let if_match = headers
        .get("if-match")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().trim_matches('"').to_owned())
        .filter(|v| !v.is_empty());
    let input = request.into_request(if_match)?;
    Ok(created(state.registry.create_version(&caller, &agent_ref(&id)?, input).await?))
}

/// The difference between two versions of the agent, or of the agent and an agent of its fork tree.
/// `from` and `to` are version ids or numbers of this agent (`1`, `2`, …).
#[utoipa::path(get, path = "/api/agents/{id}/versions/compare", operation_id = "compareAgentVersions",
    tag = "versions", security(("bearer" = ["agents:read"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug"), CompareQuery),
    responses((status = 200, body = Comparison), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn compare(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<CompareQuery>,
) -> Result<Json<Comparison>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsRead)?;
    let agent = agent_ref(&id)?;
    let (from, to) = query.versions()?;
    let (from, to) = (version_ref(&from)?, version_ref(&to)?);
    let (from, to, diff) = state.registry.compare(&caller, &agent, from, to).await?;
    Ok(Json(Comparison { from: VersionRef::from(&from), to: VersionRef::from(&to), diff }))
}

/// One version, by id or by number.
#[utoipa::path(get, path = "/api/agents/{id}/versions/{version_id}", operation_id = "getAgentVersion",
    tag = "versions", security(("bearer" = ["agents:read"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug"),
        ("version_id" = String, Path, description = "Version id or number")),
    responses((status = 200, body = VersionView), (status = 404, body = ErrorEnvelope)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, version_id)): Path<(String, String)>,
) -> Result<Json<VersionView>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsRead)?;
    let (agent, version) = (agent_ref(&id)?, version_ref(&version_id)?);
    Ok(Json(state.registry.version(&caller, &agent, version).await?.into()))
}

/// Make a new version whose content equals an earlier one ("Rollback to version N"), named by
/// `{"versionId": "ver_…" | N}` or `{"version": N}`.
#[utoipa::path(post, path = "/api/agents/{id}/rollback", operation_id = "rollbackAgent",
    tag = "versions", security(("bearer" = ["agents:write"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug")), request_body = RollbackRequest,
    responses((status = 201, body = VersionWithDiff), (status = 200, body = VersionWithDiff, description = "Already current"),
        (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope, description = "The agent is changing too fast")))]
pub async fn rollback(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<RollbackRequest>,
) -> Result<(StatusCode, Json<VersionWithDiff>), ApiError> {
    let caller = principal.with_scope(Scope::AgentsWrite)?;
    let agent = agent_ref(&id)?;
    let target = selected_version(request.version_id, request.version, || ApiError::not_found("Version"))?
        .ok_or_else(|| ApiError::validation(ValidationErrors::single("versionId", "Required field missing")))?;
    Ok(created(state.registry.rollback(&caller, &agent, target).await?))
}
