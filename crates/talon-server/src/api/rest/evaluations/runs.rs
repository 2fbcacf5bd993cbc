//! The evaluation routes: start one, list them, read a report, cancel one.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use talon_domain::{EvaluationId, Scope};
use utoipa::{IntoParams, ToSchema};

use super::requests::StartEvaluationRequest;
use super::views::{EvaluationReportView, EvaluationView};
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::{ApiJson, ApiQuery, Bounded};
use crate::api::rest::agent_inputs::agent_ref;
use crate::api::rest::pagination::{CursorPageQuery, MAX_LIMIT, Pagination};
use crate::auth::Principal;
use crate::state::AppState;

#[cfg(test)]
const ID_PATTERN: &str =
    "^(eval_[0-9a-f]{32}|[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$";

/// Run every case of a dataset against each version (1 to 5) as runtime tasks, at most `concurrency`
/// of them in the queue at once, retried as tasks are. The versions need not be deployed. The report
/// fills in as cases settle; `evaluation.completed` goes to webhooks at the end. Needs `agents:write`
/// and `tasks:write`.
#[utoipa::path(post, path = "/api/agents/{id}/evaluations", operation_id = "startEvaluation",
    tag = "evaluations", security(("bearer" = ["agents:write", "tasks:write"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug")),
    request_body = StartEvaluationRequest,
    responses((status = 202, body = EvaluationReportView, description = "Started"),
        (status = 400, body = ErrorEnvelope, description = "No versions or too many, a version named twice, a concurrency outside 1 to 16"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope, description = "Missing the agents:write or tasks:write scope"),
        (status = 404, body = ErrorEnvelope, description = "No such agent, version or dataset")))]
pub async fn start(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<StartEvaluationRequest>,
) -> Result<(StatusCode, Json<EvaluationReportView>), ApiError> {
    principal.require_scope(Scope::TasksWrite)?;
    let caller = principal.with_scope(Scope::AgentsWrite)?;
    let report = state.evaluations.start(&caller, &agent_ref(&id)?, request.into_start()?).await?;
    Ok((StatusCode::ACCEPTED, Json(report.into())))
}

/// `GET /api/agents/{id}/evaluations`: the page.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct EvaluationListQuery {
    /// The page, from 1 (not with a cursor).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 2147483647, default = 1)]
    pub page: Option<Bounded<1, 2147483647>>,
    /// Evaluations a page, 1 to 100.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<Bounded<1, MAX_LIMIT>>,
    /// An evaluation's id: the page holds the (older) ones after it. A response's `pagination.nextCursor`.
    #[param(
        pattern = "^(eval_[0-9a-f]{32}|[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
    )]
    pub starting_after: Option<String>,
    /// An evaluation's id: the page holds the (newer) ones just before it.
    #[param(
        pattern = "^(eval_[0-9a-f]{32}|[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
    )]
    pub ending_before: Option<String>,
}

/// A page of the agent's evaluations, newest first.
#[derive(Serialize, ToSchema)]
pub struct EvaluationList {
    data: Vec<EvaluationView>,
    pagination: Pagination,
}

/// The agent's evaluations, newest first, with each version's summary once completed.
#[utoipa::path(get, path = "/api/agents/{id}/evaluations", operation_id = "listEvaluations",
    tag = "evaluations", security(("bearer" = ["agents:read"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug"), EvaluationListQuery),
    responses((status = 200, body = EvaluationList),
        (status = 400, body = ErrorEnvelope, description = "A page or cursor that cannot be read"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope, description = "Missing the agents:read scope"),
        (status = 404, body = ErrorEnvelope)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<EvaluationListQuery>,
) -> Result<Json<EvaluationList>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsRead)?;
    let cursor = CursorPageQuery {
        page: query.page,
        limit: query.limit,
        starting_after: query.starting_after,
        ending_before: query.ending_before,
    };
    let (page, window) = cursor.window(|id| EvaluationId::parse(id).ok().map(|e| *e.as_uuid()))?;
    let (evaluations, numbers) = state.evaluations.list(&caller, &agent_ref(&id)?, window).await?;
    Ok(Json(EvaluationList {
        pagination: Pagination::of_window(page, window, &evaluations, |e| e.id.to_string()),
        data: evaluations.items.iter().map(|e| EvaluationView::new(e, &numbers)).collect(),
    }))
}

/// The evaluation's report: each version's summary (so far, while running), the cases whose verdict
/// differs between the versions, and each case's result on each version (answer, checks, latency,
/// tokens, its task).
#[utoipa::path(get, path = "/api/agents/{id}/evaluations/{evaluationId}", operation_id = "getEvaluation",
    tag = "evaluations", security(("bearer" = ["agents:read"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug"),
        ("evaluationId" = String, Path, description = "The evaluation's id", pattern = "^(eval_[0-9a-f]{32}|[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")),
    responses((status = 200, body = EvaluationReportView),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope, description = "Missing the agents:read scope"),
        (status = 404, body = ErrorEnvelope, description = "No such agent, or no such evaluation of it")))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, evaluation)): Path<(String, String)>,
) -> Result<Json<EvaluationReportView>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsRead)?;
    let evaluation = EvaluationId::parse(&evaluation).map_err(|_| ApiError::not_found("Evaluation"))?;
    let report = state.evaluations.report(&caller, &agent_ref(&id)?, evaluation).await?;
    Ok(Json(report.into()))
}

/// Cancel a running evaluation: its queued and running tasks are cancelled; what settled stays.
#[utoipa::path(post, path = "/api/agents/{id}/evaluations/{evaluationId}/cancel", operation_id = "cancelEvaluation",
    tag = "evaluations", security(("bearer" = ["agents:write"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug"),
        ("evaluationId" = String, Path, description = "The evaluation's id", pattern = "^(eval_[0-9a-f]{32}|[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")),
    responses((status = 200, body = EvaluationReportView),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope, description = "Missing the agents:write scope"),
        (status = 404, body = ErrorEnvelope, description = "No such agent, or no such evaluation of it"),
        (status = 409, body = ErrorEnvelope, description = "The evaluation is not running")))]
pub async fn cancel(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, evaluation)): Path<(String, String)>,
) -> Result<Json<EvaluationReportView>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsWrite)?;
    let evaluation = EvaluationId::parse(&evaluation).map_err(|_| ApiError::not_found("Evaluation"))?;
    let report = state.evaluations.cancel(&caller, &agent_ref(&id)?, evaluation).await?;
    Ok(Json(report.into()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_documented_id_pattern_takes_every_form_of_an_evaluation_id() {
        let pattern = regex::Regex::new(super::ID_PATTERN).unwrap();
        let id = talon_domain::EvaluationId::new();
        for form in [id.to_string(), id.as_uuid().simple().to_string(), id.as_uuid().to_string()] {
            assert!(pattern.is_match(&form), "{form}");
            assert!(talon_domain::EvaluationId::parse(&form).is_ok(), "{form}");
        }
        assert!(!pattern.is_match("eval_xyz"));
    }
}
