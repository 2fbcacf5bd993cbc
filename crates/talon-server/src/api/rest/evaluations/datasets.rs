//! The dataset routes.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use talon_domain::Scope;

use super::requests::{CreateDatasetRequest, PutDatasetRequest, dataset_input};
use super::views::{DatasetList, DatasetView};
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::ApiJson;
use crate::api::rest::agent_inputs::agent_ref;
use crate::auth::Principal;
use crate::state::AppState;

#[cfg(test)]
const NAME_PATTERN: &str = "^[a-z0-9_-]{1,64}$";

/// Create a dataset: named cases, each an input (as a task's) and checks on the answer (exact,
/// contains, regex, JSON Schema, numeric tolerance at a JSONPath, or a judge agent). A judge must name
/// an agent of yours. Sends `dataset.created` to webhooks.
#[utoipa::path(post, path = "/api/agents/{id}/datasets", operation_id = "createDataset",
    tag = "evaluations", security(("bearer" = ["agents:write"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug")),
    request_body = CreateDatasetRequest,
    responses((status = 201, body = DatasetView),
        (status = 400, body = ErrorEnvelope, description = "An invalid name, case or check (a regex, schema or path that does not compile)"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope, description = "Missing the agents:write scope"),
        (status = 404, body = ErrorEnvelope, description = "No such agent, or a judge names no agent of yours (`cases[i].checks[j].agent`)"),
        (status = 409, body = ErrorEnvelope, description = "The agent has a dataset by that name, or 100 datasets already")))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<CreateDatasetRequest>,
) -> Result<(StatusCode, Json<DatasetView>), ApiError> {
    let caller = principal.with_scope(Scope::AgentsWrite)?;
    let input = dataset_input(request.description, request.cases);
    let dataset = state.evaluations.create_dataset(&caller, &agent_ref(&id)?, &request.name, input).await?;
    Ok((StatusCode::CREATED, Json(dataset.into())))
}

/// The agent's datasets, by name, without their cases.
#[utoipa::path(get, path = "/api/agents/{id}/datasets", operation_id = "listDatasets",
    tag = "evaluations", security(("bearer" = ["agents:read"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug")),
    responses((status = 200, body = DatasetList),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope, description = "Missing the agents:read scope"),
        (status = 404, body = ErrorEnvelope)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<DatasetList>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsRead)?;
    let datasets = state.evaluations.datasets(&caller, &agent_ref(&id)?).await?;
    Ok(Json(DatasetList { data: datasets.into_iter().map(Into::into).collect() }))
}

/// A dataset with its cases.
#[utoipa::path(get, path = "/api/agents/{id}/datasets/{name}", operation_id = "getDataset",
    tag = "evaluations", security(("bearer" = ["agents:read"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug"),
        ("name" = String, Path, description = "The dataset's name", pattern = "^[a-z0-9_-]{1,64}$")),
    responses((status = 200, body = DatasetView),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope, description = "Missing the agents:read scope"),
        (status = 404, body = ErrorEnvelope, description = "No such agent or dataset")))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, name)): Path<(String, String)>,
) -> Result<Json<DatasetView>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsRead)?;
    let dataset = state.evaluations.dataset(&caller, &agent_ref(&id)?, &name).await?;
    Ok(Json(dataset.into()))
}

/// Replace the dataset's description and cases (its next revision: a gate then needs an evaluation of
/// this revision), or create it (201). Sends `dataset.updated` (or `dataset.created`).
#[utoipa::path(put, path = "/api/agents/{id}/datasets/{name}", operation_id = "putDataset",
    tag = "evaluations", security(("bearer" = ["agents:write"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug"),
        ("name" = String, Path, description = "The dataset's name: 1 to 64 of `a-z`, `0-9`, `-` and `_`", pattern = "^[a-z0-9_-]{1,64}$")),
    request_body = PutDatasetRequest,
    responses((status = 200, body = DatasetView, description = "Replaced"), (status = 201, body = DatasetView, description = "Created"),
        (status = 400, body = ErrorEnvelope, description = "An invalid name, case or check"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope, description = "Missing the agents:write scope"),
        (status = 404, body = ErrorEnvelope, description = "No such agent, or a judge names no agent of yours (`cases[i].checks[j].agent`)"),
        (status = 409, body = ErrorEnvelope, description = "The agent has 100 datasets already")))]
pub async fn put(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, name)): Path<(String, String)>,
    ApiJson(request): ApiJson<PutDatasetRequest>,
) -> Result<(StatusCode, Json<DatasetView>), ApiError> {
    let caller = principal.with_scope(Scope::AgentsWrite)?;
    let input = dataset_input(request.description, request.cases);
    let (dataset, created) = state.evaluations.put_dataset(&caller, &agent_ref(&id)?, &name, input).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(dataset.into())))
}

/// Delete the dataset; evaluations already run on it keep their cases and results. Sends
/// `dataset.deleted`.
#[utoipa::path(delete, path = "/api/agents/{id}/datasets/{name}", operation_id = "deleteDataset",
    tag = "evaluations", security(("bearer" = ["agents:write"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug"),
        ("name" = String, Path, description = "The dataset's name", pattern = "^[a-z0-9_-]{1,64}$")),
    responses((status = 204),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope, description = "Missing the agents:write scope"),
        (status = 404, body = ErrorEnvelope, description = "No such agent or dataset")))]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let caller = principal.with_scope(Scope::AgentsWrite)?;
    state.evaluations.delete_dataset(&caller, &agent_ref(&id)?, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_documented_name_pattern_is_the_domain_rule() {
        let pattern = regex::Regex::new(super::NAME_PATTERN).unwrap();
        for name in ["smoke", "a", "x_1-2", &"n".repeat(64), "", "Smoke", "a b", &"n".repeat(65), "é"] {
            let domain = talon_domain::evaluation::validate_dataset_name(name).is_ok();
            assert_eq!(pattern.is_match(name), domain, "{name:?}");
        }
    }
}
