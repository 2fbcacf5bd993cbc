//! `GET /api/audit`: the account's audit log, newest first.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use talon_domain::audit::{ActorFilter, AuditEntry};
use talon_domain::{AuditId, Scope, ValidationErrors};
use utoipa::{IntoParams, ToSchema};

use super::pagination::{CursorPageQuery, MAX_LIMIT, Pagination};
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::{ApiQuery, Bounded};
use crate::auth::Principal;
use crate::services::audit::AuditQuery;
use crate::state::AppState;
use talon_domain::agent::AgentRef;

/// `GET /api/audit`: filters and the page.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AuditQueryParams {
    /// Only this agent's entries: its id (`agent_…` or UUID; a deleted agent's too) or slug.
    pub agent_id: Option<String>,
    /// Only this actor's entries: `system`, a session (`sess_…`) or an API key (`key_…`).
    #[param(pattern = "^(system|sess_[0-9a-f]{32}|key_[0-9a-f]{32})$")]
    pub actor: Option<String>,
    /// Entries recorded at or after this (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime, example = "2026-11-01T00:00:00Z")]
    pub from: Option<String>,
    /// Entries recorded before this (RFC 3339); a `to` at or before `from` is an empty period.
    #[param(value_type = Option<String>, format = DateTime, example = "2026-12-01T00:00:00Z")]
    pub to: Option<String>,
    /// The page, from 1 (not with a cursor).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 2147483647, default = 1)]
    pub page: Option<Bounded<1, 2147483647>>,
    /// Entries a page, 1 to 100.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<Bounded<1, MAX_LIMIT>>,
    /// An entry's id: the page holds the (older) entries after it. A response's `pagination.nextCursor`.
    /// Not with `page` or `endingBefore`.
    #[param(
        pattern = "^(aud_[0-9a-f]{32}|[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
    )]
    pub starting_after: Option<String>,
    /// An entry's id: the page holds the (newer) entries just before it. Not with `page` or `startingAfter`.
    #[param(
        pattern = "^(aud_[0-9a-f]{32}|[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
    )]
    pub ending_before: Option<String>,
}

impl AuditQueryParams {
    /// The service's query, every malformed parameter named at once; an agent no reference can name is
    /// "not found", as an unknown one is.
    fn query(&self) -> Result<AuditQuery, ApiError> {
        let mut errors = ValidationErrors::new();
        let actor = self.actor.as_deref().and_then(|raw| {
            let parsed = ActorFilter::parse(raw);
            if parsed.is_none() {
                errors.add("actor", "must be `system`, a session id (`sess_…`) or an API key id (`key_…`)");
            }
            parsed
        });
        let mut time = |field: &str, raw: Option<&str>| {
            raw.and_then(|raw| match DateTime::parse_from_rfc3339(raw) {
                Ok(at) => Some(at.with_timezone(&Utc)),
                Err(_) => {
                    errors.add(field, "must be an RFC 3339 timestamp, such as 2026-11-01T00:00:00Z");
                    None
                }
            })
        };
        let (from, to) = (time("from", self.from.as_deref()), time("to", self.to.as_deref()));
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        let agent = self
            .agent_id
            .as_deref()
            .map(|raw| AgentRef::parse(raw).ok_or_else(|| ApiError::not_found("Agent")))
            .transpose()?;
        Ok(AuditQuery { agent, actor, from, to })
    }

    fn cursor_page(&self) -> CursorPageQuery {
        CursorPageQuery {
            page: self.page,
            limit: self.limit,
            starting_after: self.starting_after.clone(),
            ending_before: self.ending_before.clone(),
        }
    }
}

/// Who made a change.
#[derive(Serialize, ToSchema)]
pub struct AuditActorView {
    /// `session` (a signed-in session, the dashboard's included), `apiKey`, `system` (Talon itself: the
    /// runtime, maintenance) or `otherAccount` (someone of another account forking a public agent).
    #[serde(rename = "type")]
    #[schema(example = "apiKey")]
    kind: &'static str,
    /// The session's (`sess_…`) or the key's (`key_…`) id; null for `system` and `otherAccount`.
    id: Option<String>,
}

/// What was changed.
#[derive(Serialize, ToSchema)]
pub struct AuditResourceView {
    /// `agent`, `version`, `label`, `api_key` or `webhook`.
    #[serde(rename = "type")]
    #[schema(example = "agent")]
    kind: String,
    /// Its id (a label's name).
    id: Option<String>,
}

/// One entry of the audit log.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntryView {
    id: String,
    /// When the change was made.
    at: DateTime<Utc>,
    actor: AuditActorView,
    /// What was done: an event type (`agent.deployed`, `version.created`, `agent.label_moved`),
    /// `version.rolled_back`, `api_key.created`, `api_key.revoked`, `webhook.created`, `webhook.updated`,
    /// `webhook.deleted` or `webhook.secret_rotated`.
    #[schema(example = "agent.deployed")]
    action: String,
    resource: AuditResourceView,
    /// The agent the change concerns, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_id: Option<String>,
    /// Free JSON: a little more about the change (the version deployed, what a label pointed to before).
    /// Never a secret, a prompt or a webhook's URL.
    #[schema(value_type = Object)]
    detail: Value,
}

impl From<AuditEntry> for AuditEntryView {
    fn from(entry: AuditEntry) -> Self {
        AuditEntryView {
            id: entry.id.to_string(),
            at: entry.at,
            actor: AuditActorView { kind: entry.actor.kind(), id: entry.actor.public_id() },
            action: entry.action,
            resource: AuditResourceView { kind: entry.resource_type, id: entry.resource_id },
            agent_id: entry.agent.map(|a| a.to_string()),
            detail: entry.detail,
        }
    }
}

/// A page of the account's audit log, newest first.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"data": [{"id": "aud_019ad5c0e1a07c31b3f3f6d0b6e0f1a2", "at": "2026-11-30T06:02:07.380958Z",
    "actor": {"type": "apiKey", "id": "key_019ad5c0e1a07c31b3f3f6d0b6e0f1a3"}, "action": "agent.deployed",
    "resource": {"type": "agent", "id": "agent_01a22b0bdc6474ea95769740ef285ef0"},
    "agentId": "agent_01a22b0bdc6474ea95769740ef285ef0",
    "detail": {"status": "deployed", "deployedVersionId": "ver_01a22b0bdc6474ea95769740ef285ef1"}}],
    "pagination": {"page": 1, "limit": 20, "total": 1, "totalPages": 1, "hasMore": false}}))]
pub struct AuditList {
    data: Vec<AuditEntryView>,
    pagination: Pagination,
}

/// The account's audit log, newest first: who (a session, an API key, or Talon itself) changed what
/// (agents, versions, rollbacks, forks, deployments, labels, API keys, webhooks) and when. Filter by
/// `agentId`, `actor`, and `[from, to)`; page by number or with `startingAfter`/`endingBefore`. Needs
/// `agents:read`; a key restricted to one agent sees that agent's entries only.
#[utoipa::path(get, path = "/api/audit", operation_id = "listAuditEntries",
    tag = "audit", security(("bearer" = ["agents:read"])), params(AuditQueryParams),
    responses((status = 200, body = AuditList),
        (status = 400, body = ErrorEnvelope, description = "A filter, page or cursor that cannot be read"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope, description = "Missing the agents:read scope"),
        (status = 404, body = ErrorEnvelope, description = "`agentId` names no agent in reach")))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(params): ApiQuery<AuditQueryParams>,
) -> Result<Json<AuditList>, ApiError> {
    let caller = principal.with_scope(Scope::AgentsRead)?;
    let (page, window) = params.cursor_page().window(|id| AuditId::parse(id).ok().map(|a| *a.as_uuid()))?;
    let entries = state.audit.list(&caller, params.query()?, window).await?;
    Ok(Json(AuditList {
        pagination: Pagination::of_window(page, window, &entries, |e| e.id.to_string()),
        data: entries.items.into_iter().map(Into::into).collect(),
    }))
}
