//! `GET /api/agents/:id/usage`: what an agent's versions served over a period.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use talon_domain::Scope;
use talon_domain::time::now;
use talon_domain::usage::{UsageRange, VersionUsage};
use utoipa::{IntoParams, ToSchema};

use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::ApiQuery;
use crate::auth::Principal;
use crate::state::AppState;
use talon_domain::agent::{AgentRef, VersionRef};

/// `?from=&to=`: the half-open period `[from, to)`, of any length. Both are RFC 3339 timestamps.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// The start (inclusive); 30 days before `to` when absent. The period may be of any length (the answer
    /// has one row per version that answered in it); a `from` at or after `to` is an empty period, answered
    /// with no usage.
    #[param(value_type = Option<String>, format = DateTime, example = "2026-11-01T00:00:00Z")]
    from: Option<String>,
    /// The end (exclusive); now when absent.
    #[param(value_type = Option<String>, format = DateTime, example = "2026-12-01T00:00:00Z")]
    to: Option<String>,
}

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
/// defaults to now; any length, and an empty period when `from` is not before `to`). Records reach the summary within moments of each answer's end.
#[utoipa::path(get, path = "/api/agents/{id}/usage", operation_id = "getAgentUsage",
    tag = "agents", security(("bearer" = ["agents:read"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug"), UsageQuery),
    responses((status = 200, body = UsageReport),
        (status = 400, body = ErrorEnvelope, description = "A timestamp that is not RFC 3339"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope, description = "Missing the agents:read scope"),
        (status = 404, body = ErrorEnvelope)))]
pub async fn usage(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<UsageQuery>,
) -> Result<Json<UsageReport>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsRead)?;
    let range = UsageRange::parse(query.from.as_deref(), query.to.as_deref(), now()).map_err(ApiError::validation)?;
    let agent = AgentRef::parse(&id).ok_or_else(|| ApiError::not_found("Agent"))?;
    let summary = state.usage.summary(&caller, &agent, range).await?;
    Ok(Json(UsageReport {
        agent_id: summary.agent.id.to_string(),
        from: summary.range.from,
        to: summary.range.to,
        versions: summary.versions.iter().map(|v| UsageFigures::of(v, true)).collect(),
        total: UsageFigures::of(&summary.total, false),
    }))
}

/// `?from=&to=` (the two versions, by number, id or label) and the period `?since=&until=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CompareUsageQuery {
    /// The first version (usually the one serving before a canary): a number, id or label.
    #[param(example = "production")]
    from: String,
    /// The second version (usually the canary): a number, id or label.
    #[param(example = "staging")]
    to: String,
    /// The start of the period (inclusive, RFC 3339); 30 days before `until` when absent.
    #[param(value_type = Option<String>, format = DateTime)]
    since: Option<String>,
    /// The end of the period (exclusive, RFC 3339); now when absent.
    #[param(value_type = Option<String>, format = DateTime)]
    until: Option<String>,
}

/// Two versions' usage side by side: one per arm of a canary split.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageComparisonReport {
    agent_id: String,
    since: chrono::DateTime<chrono::Utc>,
    until: chrono::DateTime<chrono::Utc>,
    from: UsageFigures,
    to: UsageFigures,
}

/// Compare two versions' chat usage (requests, failures, latency, tokens) over a period: the arms of a
/// canary split, before promoting or aborting it.
#[utoipa::path(get, path = "/api/agents/{id}/usage/compare", operation_id = "compareAgentUsage",
    tag = "agents", security(("bearer" = ["agents:read"])),
    params(("id" = String, Path, description = "Agent id (agent_… or UUID) or slug"), CompareUsageQuery),
    responses((status = 200, body = UsageComparisonReport),
        (status = 400, body = ErrorEnvelope, description = "A missing version, or a timestamp that is not RFC 3339"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope, description = "Missing the agents:read scope"),
        (status = 404, body = ErrorEnvelope, description = "No such agent, version or label")))]
pub async fn compare(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<CompareUsageQuery>,
) -> Result<Json<UsageComparisonReport>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsRead)?;
    let range =
        UsageRange::parse(query.since.as_deref(), query.until.as_deref(), now()).map_err(ApiError::validation)?;
    let agent = AgentRef::parse(&id).ok_or_else(|| ApiError::not_found("Agent"))?;
    let version = |text: &str| VersionRef::parse(text).ok_or_else(|| ApiError::not_found("Version"));
    let (from, to) = (version(&query.from)?, version(&query.to)?);
    let compared = state.usage.compare(&caller, &agent, from, to, range).await?;
    Ok(Json(UsageComparisonReport {
        agent_id: compared.agent.id.to_string(),
        since: compared.range.from,
        until: compared.range.to,
        from: UsageFigures::of(&compared.from, true),
        to: UsageFigures::of(&compared.to, true),
    }))
}
