//! `/api/agents/{id}/labels`: named pointers to an agent's versions (`production`, `staging`), which
//! `slug@label` names wherever a version can be named.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use talon_domain::{Scope, ValidationErrors};
use utoipa::ToSchema;

use super::agent_inputs::{VersionNumber, VersionSelector, agent_ref, selected_version};
use super::agent_views::LabelView;
use super::evaluations::RequireEvaluation;
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::{ApiJson, Patch};
use crate::auth::Principal;
use crate::state::AppState;

/// The version a label is to point at: `versionId` (an id, number or another label) or `version`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"versionId": 3}))]
pub struct MoveLabelRequest {
    /// A version of this agent: its id, number, or a label (whose version this label then points at too).
    version_id: Option<VersionSelector>,
    /// A version number (instead of `versionId`).
    version: Option<VersionNumber>,
    /// What the label requires of a version from now on, this move included: a completed evaluation on
    /// the current revision of `dataset` at `minPassRate` (409 naming the failing cases otherwise).
    /// Absent keeps the label's requirement; null removes it.
    #[serde(default)]
    #[schema(value_type = Option<RequireEvaluation>)]
    require_evaluation: Patch<RequireEvaluation>,
}

/// An agent's labels, by name.
#[derive(Serialize, ToSchema)]
pub struct LabelList {
    data: Vec<LabelView>,
}

/// Point the label at a version of the agent, creating the label if need be. The label's name is 1 to
/// 32 of `a-z`, `0-9` and `-`, and not only digits. Every move sends `agent.label_moved` (with the
/// previous version) to webhooks.
#[utoipa::path(put, path = "/api/agents/{id}/labels/{label}", operation_id = "moveAgentLabel",
    tag = "agents", security(("bearer" = ["agents:write"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug"),
        ("label" = String, Path, description = "The label's name, e.g. `production`: 1 to 32 of `a-z`, `0-9` and `-`, not only digits, and not 32 hexadecimal digits (a version id)", pattern = r"^(?![0-9]+$)(?![0-9a-f]{32}$)[a-z0-9-]{1,32}$")),
    request_body = MoveLabelRequest,
    responses((status = 200, body = LabelView),
        (status = 400, body = ErrorEnvelope, description = "An invalid label name, or no version named"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope, description = "Missing the agents:write scope"),
        (status = 404, body = ErrorEnvelope, description = "No such agent, or no such version of it, or no such dataset"),
        (status = 409, body = ErrorEnvelope, description = "The version has not passed the label's required evaluation: the details name the failing cases")))]
pub async fn move_label(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, label)): Path<(String, String)>,
    ApiJson(request): ApiJson<MoveLabelRequest>,
) -> Result<Json<LabelView>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsWrite)?;
    let agent = agent_ref(&id)?;
    let version = selected_version(request.version_id, request.version, || ApiError::not_found("Version"))?
        .ok_or_else(|| {
            ApiError::validation(ValidationErrors::single("versionId", "Required: the version to point at"))
        })?;
    let gate = match request.require_evaluation.into_change() {
        Some(Some(required)) => Some(Some(required.into_gate()?)),
        Some(None) => Some(None),
        None => None,
    };
    let moved = state.registry.move_label(&caller, &agent, &label, version, gate).await?;
    Ok(Json(moved.into()))
}

/// The agent's labels and the versions they point at.
#[utoipa::path(get, path = "/api/agents/{id}/labels", operation_id = "listAgentLabels",
    tag = "agents", security(("bearer" = ["agents:read"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug")),
    responses((status = 200, body = LabelList),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope, description = "Missing the agents:read scope"),
        (status = 404, body = ErrorEnvelope)))]
pub async fn list_labels(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<LabelList>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsRead)?;
    let labels = state.registry.labels(&caller, &agent_ref(&id)?).await?;
    Ok(Json(LabelList { data: labels.into_iter().map(Into::into).collect() }))
}

/// Delete the label; sends `agent.label_deleted` to webhooks.
#[utoipa::path(delete, path = "/api/agents/{id}/labels/{label}", operation_id = "deleteAgentLabel",
    tag = "agents", security(("bearer" = ["agents:write"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug"),
        ("label" = String, Path, description = "The label's name", pattern = r"^(?![0-9]+$)(?![0-9a-f]{32}$)[a-z0-9-]{1,32}$")),
    responses((status = 204),
        (status = 400, body = ErrorEnvelope, description = "An invalid label name"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope, description = "Missing the agents:write scope"),
        (status = 404, body = ErrorEnvelope, description = "No such agent, or no such label")))]
pub async fn delete_label(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, label)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let caller = principal.with_scope(Scope::AgentsWrite)?;
    state.registry.delete_label(&caller, &agent_ref(&id)?, &label).await?;
    Ok(StatusCode::NO_CONTENT)
}
