//! `GET /api/v1/agents`: the account's deployed agents in the snake_case shape of the Agents API.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use talon_domain::Scope;
use talon_domain::agent::Agent;
use talon_store::Window;
use utoipa::ToSchema;

use super::pagination::LimitOffsetQuery;
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::ApiQuery;
use crate::auth::Principal;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct ModelView {
    primary: String,
    fallback: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DeployedAgent {
    /// The agent's UUID.
    agent_id: String,
    name: String,
    slug: String,
    description: String,
    /// `deployed`, `stopped` or `error`.
    status: &'static str,
    model: ModelView,
    deployed_at: Option<DateTime<Utc>>,
}

/// Deployed agents, snake_case, as the deployed-agents API lists them.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"agents": [{"agent_id": "01a22b0b-dc64-74ea-9576-9740ef285ef0", "name": "Support Bot",
    "slug": "support-bot", "description": "", "status": "deployed", "model": {"primary": "test/echo", "fallback": null},
    "deployed_at": "2026-11-30T06:02:07.360677Z"}], "total": 1, "has_more": false}))]
pub struct DeployedAgentList {
    agents: Vec<DeployedAgent>,
    total: i64,
    has_more: bool,
}

/// Agents that have been deployed (status deployed, stopped or error), oldest first. Readable with the
/// `agents:read` or the `chat` scope.
#[utoipa::path(get, path = "/api/v1/agents", operation_id = "listDeployedAgents",
    tag = "agents", security(("bearer" = ["agents:read"]), ("bearer" = ["chat"])),
    params(LimitOffsetQuery),
    responses((status = 200, body = DeployedAgentList), (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<LimitOffsetQuery>,
) -> Result<Json<DeployedAgentList>, ApiError> {
    // Its document has chat clients discover agents here before chatting: a `chat` key reads it too.
    let caller = match principal.with_scope(Scope::AgentsRead) {
        Ok(caller) => caller,
        Err(missing) => principal.with_scope(Scope::Chat).map_err(|_| missing)?,
    };
    let (limit, offset) = query.resolve();
    let page = state.registry.list_agents(&caller, true, Window::Offset { offset, limit }).await?;
    let mut agents = Vec::with_capacity(page.items.len());
    for agent in page.items {
        let served = state.registry.served_version(&agent).await?;
        agents.push(view(agent, served.definition.model));
    }
    Ok(Json(DeployedAgentList { agents, total: page.total, has_more: page.has_more }))
}

fn view(agent: Agent, model: talon_domain::agent::ModelSpec) -> DeployedAgent {
    DeployedAgent {
        agent_id: agent.id.as_uuid().to_string(),
        name: agent.metadata.name,
        slug: agent.slug,
        description: agent.metadata.description,
        status: agent.status.as_str(),
        model: ModelView { primary: model.primary, fallback: model.fallback },
        deployed_at: agent.deployed_at,
    }
}
