//! `/api/agents/{id}/merge` and `merge-preview`: merging a fork back into an agent it descends from.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use talon_domain::agent::merge::{Choice, Conflict, PromptHunk, Resolution};
use talon_domain::agent::{AgentRef, Definition, ModelSpec, Tool, Version, VersionRef};
use talon_domain::{FieldError, Scope, ValidationErrors, VersionId};
use utoipa::{IntoParams, ToSchema};

use super::agent_inputs::{VersionSelector, agent_ref, selected_version};
use super::agent_views::VersionWithDiff;
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::{ApiJson, ApiQuery, Patch, free_json};
use crate::api::middleware::request_id::current_request_id;
use crate::auth::Principal;
use crate::services::registry::{MergeOutcome, MergePreview, MergeRequest};
use crate::state::AppState;

/// `POST /api/agents/{id}/merge`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({
    "fromAgentId": "agent_0193a4c1e5d27c3e8f1a2b3c4d5e6f70", "commitMessage": "Merge the French fork",
    "resolutions": [{"field": "prompt", "choice": "theirs"}, {"field": "config.temperature", "choice": "value", "value": 0.4}]
}))]
pub struct MergeForkRequest {
    /// The fork: an agent id, or a slug of yours. Its lineage must reach this agent; another account's
    /// agent must be public.
    #[schema(required = true, value_type = String, example = "agent_0193a4c1e5d27c3e8f1a2b3c4d5e6f70")]
    from_agent_id: Option<String>,
    /// The fork's version to merge (id, number or label); its current version when left out.
    from_version_id: Option<VersionSelector>,
    /// At most 1000 characters; "Merge fork <name> at version <N>" when left out.
    #[schema(max_length = 1000)]
    commit_message: Option<String>,
    /// One per conflict the merge has (see `merge-preview`); without them a merge with conflicts is 409.
    resolutions: Option<Vec<ResolutionRequest>>,
    /// Refuse (409) unless this is still the agent's current version: the one a preview was computed on.
    #[schema(example = "ver_0193a4c1e5d27c3e8f1a2b3c4d5e6f70")]
    expected_version_id: Option<String>,
}

/// How to resolve one conflict.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolutionRequest {
    /// The conflict's `field`.
    #[schema(example = "config.temperature")]
    field: String,
    choice: ResolutionChoice,
    /// With `choice: "value"` only: for a prompt conflict the hunk's replacement text; for a config key
    /// its value; for a tool the tool (`{name, description, parameters}`, or null to have none); for the
    /// model `provider/model` or `{primary, fallback}`.
    #[serde(default, deserialize_with = "free_json::object")]
    #[schema(value_type = Option<Value>)]
    value: Patch<Value>,
}

/// `ours` keeps this agent's side, `theirs` the fork's, `value` the given value.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ResolutionChoice {
    Ours,
    Theirs,
    Value,
}

impl MergeForkRequest {
    fn into_request(self) -> Result<MergeRequest, ApiError> {
        let mut errors = ValidationErrors::new();
        let from_agent = match self.from_agent_id.as_deref() {
            None => {
                errors.add("fromAgentId", "Required field missing");
                None
            }
            Some(text) => match AgentRef::parse(text) {
                Some(reference) => Some(reference),
                None => return Err(not_found_at("Agent", "fromAgentId")),
            },
        };
        let mut resolutions = None;
        if let Some(list) = self.resolutions {
            let mut converted = Vec::with_capacity(list.len());
            for (i, r) in list.into_iter().enumerate() {
                let choice = match (r.choice, r.value) {
                    // `null` counts as leaving the value out, as everywhere in the document.
                    (ResolutionChoice::Ours, Patch::Absent | Patch::Null) => Choice::Ours,
                    (ResolutionChoice::Theirs, Patch::Absent | Patch::Null) => Choice::Theirs,
                    (ResolutionChoice::Value, Patch::Value(value)) => Choice::Value(value),
                    (ResolutionChoice::Value, Patch::Null) => Choice::Value(Value::Null),
                    (ResolutionChoice::Value, Patch::Absent) => {
                        errors.add(format!("resolutions[{i}].value"), "Required with choice value");
                        continue;
                    }
                    (_, _) => {
                        errors.add(format!("resolutions[{i}].value"), "Only with choice value");
                        continue;
                    }
                };
                converted.push(Resolution { field: r.field, choice });
            }
            resolutions = Some(converted);
        }
        let expected_version_id =
            match self.expected_version_id {
                // Text that is no version id cannot be the current version's: the same 409 as a stale id.
                Some(raw) => Some(VersionId::parse(&raw).map_err(|_| {
                    ApiError::conflict(format!("`{raw}` is not the current version (not a version id)"))
                })?),
                None => None,
            };
        let from_version = selected_version(self.from_version_id, None, || not_found_at("Version", "fromVersionId"))?;
        match from_agent {
            Some(from_agent) if errors.is_empty() => Ok(MergeRequest {
                from_agent,
                from_version,
                commit_message: self.commit_message,
                resolutions,
                expected_version_id,
            }),
            _ => Err(ApiError::validation(errors)),
        }
    }
}

/// A 404 naming the field of the request at fault: text that can name nothing, like a thing that is not there.
fn not_found_at(what: &'static str, field: &str) -> ApiError {
    ApiError::from(crate::services::ServiceError::NotFoundAt { what, field: field.to_owned() })
}

/// `GET /api/agents/{id}/merge-preview`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct MergePreviewQuery {
    /// The fork: an agent id, or a slug of yours.
    #[param(required = true, value_type = String, example = "agent_0193a4c1e5d27c3e8f1a2b3c4d5e6f70")]
    from_agent_id: Option<String>,
    /// The fork's version (id, number or label); its current version when left out.
    #[param(example = "3")]
    from_version_id: Option<String>,
}

/// One conflict: the same part changed differently by this agent (ours) and the fork (theirs) since
/// their common ancestor (base).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MergeConflictView {
    /// `prompt` (`prompt[0]`, `prompt[1]`, … when several hunks of the prompt conflict),
    /// `config.<key>`, `tools.<name>` or `model`: what a resolution names.
    #[schema(example = "config.temperature")]
    field: String,
    /// The base's value: the hunk's lines for the prompt, the key's value, the tool, the model; null
    /// where there is no such key or tool.
    base: Value,
    ours: Value,
    theirs: Value,
    /// For a prompt conflict: where the hunk is (1-based first line and number of lines on each side).
    #[serde(skip_serializing_if = "Option::is_none")]
    hunk: Option<PromptHunkView>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromptHunkView {
    base_start: usize,
    base_lines: usize,
    ours_start: usize,
    ours_lines: usize,
    theirs_start: usize,
    theirs_lines: usize,
}

impl From<PromptHunk> for PromptHunkView {
    fn from(h: PromptHunk) -> Self {
        PromptHunkView {
            base_start: h.base_start,
            base_lines: h.base_lines,
            ours_start: h.ours_start,
            ours_lines: h.ours_lines,
            theirs_start: h.theirs_start,
            theirs_lines: h.theirs_lines,
        }
    }
}

impl From<Conflict> for MergeConflictView {
    fn from(c: Conflict) -> Self {
        MergeConflictView { field: c.field, base: c.base, ours: c.ours, theirs: c.theirs, hunk: c.hunk.map(Into::into) }
    }
}

/// A version taking part in a merge.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MergeVersionView {
    id: String,
    agent_id: String,
    version_number: i64,
}

impl From<&Version> for MergeVersionView {
    fn from(v: &Version) -> Self {
        MergeVersionView { id: v.id.to_string(), agent_id: v.agent_id.to_string(), version_number: v.number }
    }
}

/// A definition as a merge makes it.
#[derive(Serialize, ToSchema)]
pub struct MergedDefinitionView {
    prompt: String,
    #[schema(value_type = Vec<Object>)]
    tools: Vec<Tool>,
    #[schema(value_type = Object)]
    config: serde_json::Map<String, Value>,
    #[schema(value_type = Object)]
    model: ModelSpec,
}

impl From<Definition> for MergedDefinitionView {
    fn from(d: Definition) -> Self {
        MergedDefinitionView { prompt: d.prompt, tools: d.tools, config: d.config, model: d.model }
    }
}

/// What merging the fork would make, written nowhere.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MergePreviewView {
    /// Every change of both sides that does not conflict; each conflict holds this agent's side.
    merged: MergedDefinitionView,
    conflicts: Vec<MergeConflictView>,
    /// The common ancestor.
    base: MergeVersionView,
    /// This agent's current version: pass its id as `expectedVersionId` to merge exactly this.
    ours: MergeVersionView,
    /// The fork's version.
    theirs: MergeVersionView,
}

impl From<MergePreview> for MergePreviewView {
    fn from(p: MergePreview) -> Self {
        MergePreviewView {
            base: (&p.base).into(),
            ours: (&p.ours).into(),
            theirs: (&p.theirs).into(),
            conflicts: p.merge.conflicts.into_iter().map(Into::into).collect(),
            merged: p.merge.definition.into(),
        }
    }
}

/// The 409 of a merge: the error envelope with the merge's conflicts (none for a head that moved).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"error": {"code": "CONFLICT", "message": "The merge has 1 conflict; resolve it with `resolutions`",
    "details": [{"field": "config.temperature", "message": "Changed differently by this agent and the fork"}],
    "requestId": "req_01a22b0bdd4f7a2c8b1e3d5f7a9c0e2b",
    "conflicts": [{"field": "config.temperature", "base": 0.7, "ours": 0.2, "theirs": 1.0}]}}))]
pub struct MergeConflictEnvelope {
    error: MergeConflictBody,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MergeConflictBody {
    /// `CONFLICT`.
    code: &'static str,
    message: String,
    #[schema(value_type = Vec<Object>)]
    details: Vec<FieldError>,
    request_id: String,
    /// The conflicts to resolve; left out when the agent's current version moved instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    conflicts: Option<Vec<MergeConflictView>>,
}

fn conflicts_response(preview: MergePreview) -> Response {
    let conflicts: Vec<MergeConflictView> = preview.merge.conflicts.into_iter().map(Into::into).collect();
    let mut details = ValidationErrors::new();
    for c in &conflicts {
        details.add(c.field.clone(), "Changed differently by this agent and the fork");
    }
    let count = conflicts.len();
    let message = format!(
        "The merge has {count} conflict{}; resolve {} with `resolutions`",
        if count == 1 { "" } else { "s" },
        if count == 1 { "it" } else { "them" }
    );
    let body = MergeConflictEnvelope {
        error: MergeConflictBody {
            code: "CONFLICT",
            message,
            details: details.into_fields(),
            request_id: current_request_id(),
            conflicts: Some(conflicts),
        },
    };
    (StatusCode::CONFLICT, Json(body)).into_response()
}

/// Merge a fork (an agent whose lineage reaches this one) back: a three-way merge of the fork's version
/// into this agent's current version against their common ancestor, per config key, tool (by name),
/// the model, and the prompt line by line. Without conflicts, or with `resolutions` for every conflict,
/// the result is a new version recording the fork's version as `mergedFrom` (201); 200 returns the
/// current version when the merge changes nothing. Conflicts without resolutions are 409 with the
/// conflicts listed, and nothing is written; so is a current version that moved meanwhile.
#[utoipa::path(post, path = "/api/agents/{id}/merge", operation_id = "mergeAgentFork",
    tag = "versions", security(("bearer" = ["agents:write"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug")),
    request_body = MergeForkRequest,
    responses((status = 201, body = VersionWithDiff), (status = 200, body = VersionWithDiff, description = "Nothing to merge"),
        (status = 400, body = ErrorEnvelope, description = "Invalid request, resolutions that do not match the conflicts, or an agent that is not a fork of this one"),
        (status = 404, body = ErrorEnvelope),
        (status = 409, body = MergeConflictEnvelope, description = "Conflicts to resolve, or the current version moved")))]
pub async fn merge(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<MergeForkRequest>,
) -> Result<Response, ApiError> {
    let caller = principal.with_scope(Scope::AgentsWrite)?;
    let parent = agent_ref(&id)?;
    let input = request.into_request()?;
    match state.registry.merge(&caller, &parent, input).await? {
        MergeOutcome::Merged(new) => {
            let status = if new.created { StatusCode::CREATED } else { StatusCode::OK };
            let body = VersionWithDiff { version: new.version.into(), diff_from_parent: new.diff_from_parent };
            Ok((status, Json(body)).into_response())
        }
        MergeOutcome::Conflicts(preview) => Ok(conflicts_response(*preview)),
    }
}

/// What merging the fork would make: the merged definition, its conflicts, and the base, ours and
/// theirs versions. Nothing is written.
#[utoipa::path(get, path = "/api/agents/{id}/merge-preview", operation_id = "previewAgentMerge",
    tag = "versions", security(("bearer" = ["agents:read"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug"), MergePreviewQuery),
    responses((status = 200, body = MergePreviewView),
        (status = 400, body = ErrorEnvelope, description = "Invalid query, or an agent that is not a fork of this one"),
        (status = 404, body = ErrorEnvelope)))]
pub async fn preview(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<MergePreviewQuery>,
) -> Result<Json<MergePreviewView>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsRead)?;
    let parent = agent_ref(&id)?;
    let Some(from) = query.from_agent_id else {
        return Err(ApiError::validation(ValidationErrors::single("fromAgentId", "Required")));
    };
    let from_agent = AgentRef::parse(&from).ok_or_else(|| not_found_at("Agent", "fromAgentId"))?;
    let from_version = match query.from_version_id.as_deref() {
        Some(text) => Some(VersionRef::parse(text).ok_or_else(|| not_found_at("Version", "fromVersionId"))?),
        None => None,
    };
    let preview = state.registry.merge_preview(&caller, &parent, &from_agent, from_version.as_ref()).await?;
    Ok(Json(preview.into()))
}
