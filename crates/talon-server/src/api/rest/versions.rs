//! `/api/agents/{id}/versions`, compare and rollback: an agent's immutable history.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::Value;
use talon_domain::agent::diff::DefinitionDiff;
use talon_domain::{Scope, ValidationErrors};
use utoipa::ToSchema;

use super::agent_views::{VersionView, VersionWithDiff};
use super::pagination::{PageQuery, Pagination};
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::ApiQuery;
use crate::api::extract::json::{ApiJson, JsonObject, optional_string};
use crate::auth::Principal;
use crate::services::registry::{NewVersion, VersionInput};
use crate::state::AppState;
use talon_domain::agent::DefinitionPatch;

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
    params(("id" = String, Path), PageQuery),
    responses((status = 200, body = VersionList), (status = 404, body = ErrorEnvelope)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<VersionList>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsRead)?;
    let (page, limit, offset) = query.resolve();
    let versions = state.registry.list_versions(&caller, &id, offset, limit).await?;
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
    params(("id" = String, Path)), request_body = Object,
    responses((status = 201, body = VersionWithDiff), (status = 200, body = VersionWithDiff, description = "No change"),
        (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(mut body): ApiJson<JsonObject>,
) -> Result<(StatusCode, Json<VersionWithDiff>), ApiError> {
    let caller = principal.with_scope(Scope::AgentsWrite)?;
    let if_match = headers.get("if-match").and_then(|v| v.to_str().ok()).map(|v| v.trim().trim_matches('"').to_owned());
    let input = VersionInput {
        expected_version_id: optional_string(&body, "expectedVersionId")?.or(if_match),
        commit_message: body.remove("commitMessage"),
        definition: DefinitionPatch::take_from(&mut body),
    };
    Ok(created(state.registry.create_version(&caller, &id, input).await?))
}

/// The difference between two versions of the agent, or of the agent and an agent of its fork tree.
/// `from` and `to` are version ids or numbers of this agent (`1`, `2`, …).
#[utoipa::path(get, path = "/api/agents/{id}/versions/compare", operation_id = "compareAgentVersions",
    tag = "versions", security(("bearer" = ["agents:read"])),
    params(("id" = String, Path), ("from" = String, Query, description = "Version id, or number of this agent"),
        ("to" = String, Query, description = "Version id, or number of this agent")),
    responses((status = 200, body = Comparison), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn compare(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Comparison>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsRead)?;
    let from = params.get("from").map(String::as_str);
    let to = params.get("to").map(String::as_str);
    let (from, to, diff) = state.registry.compare(&caller, &id, from, to).await?;
    Ok(Json(Comparison {
        from: VersionRef { id: from.id.to_string(), version_number: from.number },
        to: VersionRef { id: to.id.to_string(), version_number: to.number },
        diff,
    }))
}

/// One version, by id or by number.
#[utoipa::path(get, path = "/api/agents/{id}/versions/{version_id}", operation_id = "getAgentVersion",
    tag = "versions", security(("bearer" = ["agents:read"])),
    params(("id" = String, Path), ("version_id" = String, Path, description = "Version id or number")),
    responses((status = 200, body = VersionView), (status = 404, body = ErrorEnvelope)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, version_id)): Path<(String, String)>,
) -> Result<Json<VersionView>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsRead)?;
    Ok(Json(state.registry.version(&caller, &id, &version_id).await?.into()))
}

/// Make a new version whose content equals an earlier one ("Rollback to version N"), named by
/// `{"versionId": "ver_…" | N}` or `{"version": N}`.
#[utoipa::path(post, path = "/api/agents/{id}/rollback", operation_id = "rollbackAgent",
    tag = "versions", security(("bearer" = ["agents:write"])),
    params(("id" = String, Path)), request_body = Object,
    responses((status = 201, body = VersionWithDiff), (status = 200, body = VersionWithDiff, description = "Already current"),
        (status = 404, body = ErrorEnvelope)))]
pub async fn rollback(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<JsonObject>,
) -> Result<(StatusCode, Json<VersionWithDiff>), ApiError> {
    let caller = principal.with_scope(Scope::AgentsWrite)?;
    let target = version_reference(&body)?;
    Ok(created(state.registry.rollback(&caller, &id, target.as_deref()).await?))
}

/// The version a body names: `versionId` (an id, or a version number) or `version` (a number).
pub(super) fn version_reference(body: &JsonObject) -> Result<Option<String>, ApiError> {
    let mut named = None;
    for field in ["versionId", "version"] {
        let reference = match body.get(field) {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) if field == "versionId" => s.clone(),
            Some(Value::Number(n)) if n.as_i64().is_some_and(|n| n >= 1) => n.to_string(),
            Some(_) => {
                let expected = if field == "version" { "a version number" } else { "a version id or number" };
                return Err(ApiError::validation(ValidationErrors::single(field, format!("Must be {expected}"))));
            }
        };
        if named.is_some() {
            return Err(ApiError::validation(ValidationErrors::single(
                "version",
                "Send versionId or version, not both",
            )));
        }
        named = Some(reference);
    }
    Ok(named)
}
