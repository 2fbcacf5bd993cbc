//! `/api/agents/{id}/deploy/promote` and `/deploy/abort`: ending a canary split one way or the other.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use talon_domain::{Scope, ValidationErrors};
use utoipa::ToSchema;

use super::agent_inputs::{VersionNumber, VersionSelector, agent_ref, selected_version};
use super::agent_views::AgentView;
use super::evaluations::RequireEvaluation;
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::ApiJson;
use crate::auth::Principal;
use crate::state::AppState;

/// The version to serve alone: `versionId` (an id, number or label) or `version` (a number).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"versionId": "ver_0193a4c1e5d27c3e8f1a2b3c4d5e6f71"}))]
pub struct PromoteRequest {
    version_id: Option<VersionSelector>,
    version: Option<VersionNumber>,
    /// Refuse (409, naming the failing cases) unless the version passed a completed evaluation on the
    /// current revision of this dataset at this rate.
    require_evaluation: Option<RequireEvaluation>,
}

/// Promote: serve one version (usually the canary arm) to all traffic, pinned; ends the split.
#[utoipa::path(post, path = "/api/agents/{id}/deploy/promote", operation_id = "promoteAgentVersion",
    tag = "agents", security(("bearer" = ["agents:write"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug")),
    request_body = PromoteRequest,
    responses((status = 200, body = AgentView),
        (status = 400, body = ErrorEnvelope, description = "No version named"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope, description = "Missing the agents:write scope"),
        (status = 404, body = ErrorEnvelope, description = "No such agent, version or label"),
        (status = 409, body = ErrorEnvelope, description = "`requireEvaluation` not met: the details name the failing cases")))]
pub async fn promote(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<PromoteRequest>,
) -> Result<Json<AgentView>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsWrite)?;
    let agent = agent_ref(&id)?;
    let version = selected_version(request.version_id, request.version, || ApiError::not_found("Version"))?
        .ok_or_else(|| {
            ApiError::validation(ValidationErrors::single("versionId", "Required: the version to promote"))
        })?;
    let gate = request.require_evaluation.map(RequireEvaluation::into_gate).transpose()?;
    let agent = state.registry.promote(&caller, &agent, version, gate.as_ref()).await?;
    Ok(Json(AgentView::new(agent, None, None)))
}

/// Abort the canary split: serve again, to all traffic, the version served before the split began.
#[utoipa::path(post, path = "/api/agents/{id}/deploy/abort", operation_id = "abortAgentSplit",
    tag = "agents", security(("bearer" = ["agents:write"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug")),
    responses((status = 200, body = AgentView),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope, description = "Missing the agents:write scope"),
        (status = 404, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope, description = "The agent has no canary split")))]
pub async fn abort(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<AgentView>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsWrite)?;
    let agent = state.registry.abort_split(&caller, &agent_ref(&id)?).await?;
    Ok(Json(AgentView::new(agent, None, None)))
}
