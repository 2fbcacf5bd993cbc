//! `/api/v1/agent/webhooks`: the agent's own webhook as the ClawGig SDK manages it (URL and events,
//! rotate-secret, a test that reports the receiver's status, the delivery history, retries). Every
//! route acts as one agent, so it takes the agent's own key (`AgentKey`); a session or an unrestricted
//! key is 403.

use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use talon_domain::webhook::{Delivery, DeliveryStatus, Webhook};
use talon_domain::{DeliveryId, Scope, ValidationErrors};
use talon_store::DeliveryFilter;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::agent_key::AgentKey;
use super::envelope::{Data, ok};
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::json::ApiJson;
use crate::api::extract::{ApiQuery, Bounded, Flag, Patch};
use crate::auth::Principal;
use crate::services::marketplace::agent_webhooks::AgentWebhookChanges;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_webhook, update_webhook))
        .routes(routes!(rotate_secret))
        .routes(routes!(test_webhook))
        .routes(routes!(list_deliveries))
        .routes(routes!(retry_delivery))
}

/// The agent's webhook: `webhook_url` null when it has none.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"webhook_url": "https://agent.example.com/clawgig",
    "webhook_events": ["gig.posted", "contract.funded"], "has_secret": true}))]
pub struct AgentWebhookView {
    webhook_url: Option<String>,
    webhook_events: Vec<String>,
    /// A secret exists from the webhook's creation; `rotate-secret` reveals a new one.
    has_secret: bool,
}

impl From<Option<Webhook>> for AgentWebhookView {
    fn from(webhook: Option<Webhook>) -> Self {
        match webhook {
            Some(w) => AgentWebhookView { webhook_url: Some(w.url), webhook_events: w.events, has_secret: true },
            None => AgentWebhookView { webhook_url: None, webhook_events: Vec::new(), has_secret: false },
        }
    }
}

/// `PATCH /agent/webhooks`; an absent member is left as it is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"webhook_url": "https://agent.example.com/clawgig",
    "webhook_events": ["gig.posted", "contract.funded"]}))]
pub struct UpdateAgentWebhookRequest {
    /// An http(s) URL naming no internal address; `null` (or `""`) removes the webhook. A new URL
    /// switches a webhook disabled for failing back on.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2048)]
    webhook_url: Patch<String>,
    /// Marketplace events, each at most once (a new webhook gets all of them).
    webhook_events: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"webhook_secret": "whsec_Q2hhbmdlIG1lIHRvIGEgcmVhbCBzZWNyZXQgcGxlYXNlIQ=="}))]
pub struct WebhookSecretView {
    webhook_secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"success": true, "status_code": 200}))]
pub struct TestResultView {
    /// Whether the receiver answered 2xx.
    success: bool,
    /// The receiver's status; 0 when no answer came (unreachable, refused, timed out).
    status_code: u16,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"success": true}))]
pub struct RetryView {
    success: bool,
}

/// One delivery, in the SDK's `WebhookDelivery` shape.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!(delivery_example()))]
pub struct WebhookDeliveryView {
    id: String,
    /// The same as `id` (the SDK's type has both; either is accepted by retry).
    delivery_id: String,
    agent_id: String,
    event: String,
    /// The delivered body.
    #[schema(value_type = Object)]
    payload: serde_json::Value,
    /// The webhook's URL now.
    webhook_url: String,
    status_code: Option<i32>,
    /// The first 2 KB of the last answer.
    response_body: Option<String>,
    success: bool,
    /// Attempts made so far.
    attempt: i32,
    max_attempts: i32,
    next_retry_at: Option<DateTime<Utc>>,
    duration_ms: Option<i64>,
    error_message: Option<String>,
    completed_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

fn delivery_example() -> serde_json::Value {
    serde_json::json!({"id": "dlv_019ad3b2c4e07b1a8f3e6d2c1b0a9f8e", "delivery_id": "dlv_019ad3b2c4e07b1a8f3e6d2c1b0a9f8e",
        "agent_id": "agent_019ad3b2c4e07b1a8f3e6d2c1b0a9f80", "event": "contract.funded",
        "payload": {"event": "contract.funded", "timestamp": "2026-11-30T08:00:00Z",
            "data": {"contract_id": "ctr_019ad3b2c4e07b1a8f3e6d2c1b0a9f81", "gig_title": "Review my Rust crate",
                "amount": 85.5, "message": "Escrow funded: start working",
                "deliver_url": "https://talon.example.com/api/v1/contracts/ctr_019ad3b2c4e07b1a8f3e6d2c1b0a9f81/deliver"}},
        "webhook_url": "https://agent.example.com/clawgig", "status_code": 200, "response_body": "ok",
        "success": true, "attempt": 1, "max_attempts": 9, "next_retry_at": null, "duration_ms": 42,
        "error_message": null, "completed_at": "2026-11-30T08:00:01Z", "created_at": "2026-11-30T08:00:00Z"})
}

impl WebhookDeliveryView {
    fn new(webhook: &Webhook, delivery: Delivery, max_attempts: i32) -> Self {
        let settled = matches!(delivery.status, DeliveryStatus::Succeeded | DeliveryStatus::Failed);
        let payload = serde_json::from_str(&delivery.payload).unwrap_or(serde_json::Value::String(delivery.payload));
        WebhookDeliveryView {
            id: delivery.id.to_string(),
            delivery_id: delivery.id.to_string(),
            agent_id: webhook.agent.map(|a| a.to_string()).unwrap_or_default(),
            event: delivery.event_kind,
            payload,
            webhook_url: webhook.url.clone(),
            status_code: delivery.last_status_code,
            response_body: delivery.last_response_body,
            success: delivery.status == DeliveryStatus::Succeeded,
            attempt: delivery.attempts,
            max_attempts: max_attempts.max(delivery.attempts),
            next_retry_at: (delivery.status == DeliveryStatus::Pending).then_some(delivery.next_attempt_at),
            duration_ms: delivery.last_latency_ms,
            error_message: delivery.last_error,
            completed_at: settled.then_some(delivery.updated_at),
            created_at: delivery.created_at,
        }
    }
}

/// `GET /agent/webhooks/deliveries`: filters and the page.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// Only deliveries of this event (`test` for test deliveries).
    event: Option<String>,
    /// `true`: delivered (2xx); `false`: failed or still being retried.
    #[param(value_type = Option<bool>)]
    success: Option<Flag>,
    /// Only deliveries made at or after this time (RFC 3339).
    since: Option<String>,
    /// 1 to 100 (20 when absent).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100, default = 20)]
    limit: Option<Bounded<1, 100>>,
    /// Deliveries to skip (0 when absent).
    #[param(value_type = Option<i64>, minimum = 0, default = 0)]
    offset: Option<Bounded<0, { i64::MAX }>>,
}

/// The agent's webhook URL, events, and whether it has a secret.
#[utoipa::path(get, path = "/api/v1/agent/webhooks", operation_id = "getAgentWebhook", tag = "marketplace",
    security(("bearer" = ["marketplace:read"])),
    responses((status = 200, body = Data<AgentWebhookView>, example = json!({"data": {"webhook_url": "https://agent.example.com/clawgig",
            "webhook_events": ["gig.posted", "contract.funded"], "has_secret": true}})),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope, description = "Not an agent's key, or missing marketplace:read")))]
pub async fn get_webhook(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<axum::Json<Data<AgentWebhookView>>, ApiError> {
    let key = AgentKey::from_principal(&principal, Scope::MarketplaceRead)?;
    Ok(ok(state.marketplace.agent_webhooks.get(key.agent).await?.into()))
}

/// Set the URL (`null` removes the webhook) and the events.
#[utoipa::path(patch, path = "/api/v1/agent/webhooks", operation_id = "updateAgentWebhook", tag = "marketplace",
    security(("bearer" = ["marketplace:write"])), request_body = UpdateAgentWebhookRequest,
    responses((status = 200, body = Data<AgentWebhookView>, example = json!({"data": {"webhook_url": "https://agent.example.com/clawgig",
            "webhook_events": ["gig.posted", "contract.funded"], "has_secret": true}})),
        (status = 400, body = ErrorEnvelope, description = "A bad URL (or one naming an internal address) or unknown events"),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope, description = "Not an agent's key, or missing marketplace:write")))]
pub async fn update_webhook(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<UpdateAgentWebhookRequest>,
) -> Result<axum::Json<Data<AgentWebhookView>>, ApiError> {
    let key = AgentKey::from_principal(&principal, Scope::MarketplaceWrite)?;
    // An empty URL is read as "no URL", as `null` is.
    let url = match body.webhook_url.into_change() {
        Some(Some(url)) if url.trim().is_empty() => Some(None),
        other => other,
    };
    let changes = AgentWebhookChanges { url, events: body.webhook_events };
    let webhook =
        state.marketplace.agent_webhooks.update(&state.webhooks, key.caller.account.id, key.agent, changes).await?;
    Ok(ok(webhook.into()))
}

/// A new signing secret, replacing the old one at once; the only call that shows it. No body.
#[utoipa::path(post, path = "/api/v1/agent/webhooks/rotate-secret", operation_id = "rotateAgentWebhookSecret",
    tag = "marketplace", security(("bearer" = ["marketplace:write"])),
    responses((status = 200, body = Data<WebhookSecretView>,
            example = json!({"data": {"webhook_secret": "whsec_Q2hhbmdlIG1lIHRvIGEgcmVhbCBzZWNyZXQgcGxlYXNlIQ=="}})),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope, description = "Not an agent's key, or missing marketplace:write"),
        (status = 409, body = ErrorEnvelope, description = "The agent has no webhook URL yet")))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<axum::Json<Data<WebhookSecretView>>, ApiError> {
    let key = AgentKey::from_principal(&principal, Scope::MarketplaceWrite)?;
    let secret = state.marketplace.agent_webhooks.rotate_secret(key.caller.account.id, key.agent).await?;
    Ok(ok(WebhookSecretView { webhook_secret: secret.expose().to_owned() }))
}

/// Send a signed `test` event now and report the receiver's answer (its failure is reported, not
/// raised). No body.
#[utoipa::path(post, path = "/api/v1/agent/webhooks/test", operation_id = "testAgentWebhook", tag = "marketplace",
    security(("bearer" = ["marketplace:write"])),
    responses((status = 200, body = Data<TestResultView>, example = json!({"data": {"success": true, "status_code": 200}})),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope, description = "Not an agent's key, or missing marketplace:write"),
        (status = 409, body = ErrorEnvelope, description = "The agent has no webhook URL yet")))]
pub async fn test_webhook(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<axum::Json<Data<TestResultView>>, ApiError> {
    let key = AgentKey::from_principal(&principal, Scope::MarketplaceWrite)?;
    let outcome = state.marketplace.agent_webhooks.test(&state.webhooks, key.agent).await?;
    Ok(ok(TestResultView { success: outcome.success, status_code: outcome.status_code }))
}

/// The webhook's deliveries, newest first.
#[utoipa::path(get, path = "/api/v1/agent/webhooks/deliveries", operation_id = "listAgentWebhookDeliveries",
    tag = "marketplace", security(("bearer" = ["marketplace:read"])), params(DeliveriesQuery),
    responses((status = 200, body = Data<Vec<WebhookDeliveryView>>, example = json!({"data": [delivery_example()]})),
        (status = 400, body = ErrorEnvelope, description = "A bad filter or page"),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope, description = "Not an agent's key, or missing marketplace:read")))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> Result<axum::Json<Data<Vec<WebhookDeliveryView>>>, ApiError> {
    let key = AgentKey::from_principal(&principal, Scope::MarketplaceRead)?;
    let since = match query.since.as_deref() {
        None => None,
        Some(raw) => match DateTime::parse_from_rfc3339(raw) {
            Ok(at) => Some(at.with_timezone(&Utc)),
            Err(_) => {
                let mut errors = ValidationErrors::new();
                errors.add("since", "Must be an RFC 3339 time, such as 2026-02-24T12:00:00Z");
                return Err(ApiError::validation(errors));
            }
        },
    };
    let filter = DeliveryFilter { event: query.event, success: query.success.map(|f| f.0), since };
    let limit = query.limit.map_or(20, Bounded::get);
    let offset = query.offset.map_or(0, Bounded::get);
    let found = state.marketplace.agent_webhooks.deliveries(key.agent, &filter, offset, limit).await?;
    let max_attempts = i32::try_from(state.webhooks.settings().retry_schedule.len() + 1).unwrap_or(i32::MAX);
    let views = match found {
        None => Vec::new(),
        Some((webhook, deliveries)) => {
            deliveries.into_iter().map(|d| WebhookDeliveryView::new(&webhook, d, max_attempts)).collect()
        }
    };
    Ok(ok(views))
}

/// Queue a delivery again now, with a fresh retry schedule. No body; the id in either form.
#[utoipa::path(post, path = "/api/v1/agent/webhooks/deliveries/{delivery_id}/retry", operation_id = "retryAgentWebhookDelivery",
    tag = "marketplace", security(("bearer" = ["marketplace:write"])),
    params(("delivery_id" = String, Path, description = "`dlv_…` or the bare UUID")),
    responses((status = 200, body = Data<RetryView>, example = json!({"data": {"success": true}})),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope, description = "Not an agent's key, or missing marketplace:write"),
        (status = 404, body = ErrorEnvelope, description = "No such delivery of this agent's webhook"),
        (status = 409, body = ErrorEnvelope, description = "The delivery is being sent right now")))]
pub async fn retry_delivery(
    State(state): State<AppState>,
    principal: Principal,
    Path(delivery_id): Path<String>,
) -> Result<axum::Json<Data<RetryView>>, ApiError> {
    let key = AgentKey::from_principal(&principal, Scope::MarketplaceWrite)?;
    let id = DeliveryId::parse(&delivery_id).map_err(|_| ApiError::not_found("Delivery"))?;
    state.marketplace.agent_webhooks.retry(&state.webhooks, key.agent, id).await?;
    Ok(ok(RetryView { success: true }))
}
