//! `GET /api/agents/:id/usage`: what an agent's versions served over a period.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Serialize;
use talon_domain::Scope;
use talon_domain::time::now;
use talon_domain::usage::{UsageRange, VersionUsage};
use utoipa::ToSchema;

use crate::api::error::{ApiError, ErrorEnvelope};
use crate::auth::Principal;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageReport {
    agent_id: String,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
    versions: Vec<UsageFigures>,
    total: UsageFigures,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageFigures {
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<i64>,
    requests: u64,
    succeeded: u64,
    failed: u64,
    client_closed: u64,
    fallbacks: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    avg_latency_ms: f64,
    max_latency_ms: f64,
    avg_time_to_first_token_ms: Option<f64>,
}

impl UsageFigures {
    fn of(usage: &VersionUsage, per_version: bool) -> Self {
        let round = |ms: f64| (ms * 1000.0).round() / 1000.0;
        UsageFigures {
            version_id: usage.version_id.filter(|_| per_version).map(|v| v.to_string()),
            version: per_version.then_some(usage.version),
            requests: usage.requests,
            succeeded: usage.succeeded,
            failed: usage.failed,
            client_closed: usage.client_closed,
            fallbacks: usage.fallbacks,
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: usage.prompt_tokens + usage.completion_tokens,
            avg_latency_ms: round(usage.avg_latency_ms),
            max_latency_ms: round(usage.max_latency_ms),
            avg_time_to_first_token_ms: usage.avg_first_token_ms.map(round),
        }
    }
}

/// Chat usage per version over `[from, to)` (RFC 3339; default: the 30 days before `to`, which
/// defaults to now). Records reach the summary within moments of each answer's end.
#[utoipa::path(get, path = "/api/agents/{id}/usage", operation_id = "getAgentUsage",
    tag = "agents", security(("bearer" = ["agents:read"])),
    params(("id" = String, Path), ("from" = Option<String>, Query, format = DateTime), ("to" = Option<String>, Query, format = DateTime)),
    responses((status = 200, body = UsageReport), (status = 400, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope)))]
pub async fn usage(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<UsageReport>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsRead)?;
    let range = UsageRange::parse(params.get("from").map(String::as_str), params.get("to").map(String::as_str), now())
        .map_err(ApiError::validation)?;
    let summary = state.usage.summary(&caller, &id, range).await?;
    Ok(Json(UsageReport {
        agent_id: summary.agent.id.to_string(),
        from: summary.range.from,
        to: summary.range.to,
        versions: summary.versions.iter().map(|v| UsageFigures::of(v, true)).collect(),
        total: UsageFigures::of(&summary.total, false),
    }))
}
