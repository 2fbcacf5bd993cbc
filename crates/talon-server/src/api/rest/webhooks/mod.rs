//! `/api/webhooks`: endpoints, secrets, the delivery log, redelivery and test pings. Webhooks span the
//! account, so a key restricted to one agent is refused (403) on every one of these routes.

mod requests;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use talon_domain::webhook::{Delivery, Webhook, WebhookSecret};
use talon_domain::{DeliveryId, Scope, WebhookId};
use utoipa::ToSchema;

use super::pagination::{PageQuery, Pagination};
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::ApiQuery;
use crate::api::extract::json::ApiJson;
use crate::auth::Principal;
use crate::state::AppState;

pub use requests::{CreateWebhookRequest, UpdateWebhookRequest, WebhookEvent};

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    id: String,
    url: String,
    events: Vec<String>,
    description: String,
    active: bool,
    disabled_reason: Option<String>,
    /// Shown only when created or rotated.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl WebhookView {
    fn new(webhook: Webhook, secret: Option<WebhookSecret>) -> Self {
        WebhookView {
            id: webhook.id.to_string(),
            url: webhook.url,
            events: webhook.events,
            description: webhook.description,
            active: webhook.active,
            disabled_reason: webhook.disabled_reason,
            secret: secret.map(|s| s.expose().to_owned()),
            created_at: webhook.created_at,
            updated_at: webhook.updated_at,
        }
    }
}

/// The account's webhook endpoints (never their secrets).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"data": [{"id": "hook_01a22b0bdca3761396aa517a86af8cea", "url": "https://hooks.example.com/talon",
    "events": ["task.completed"], "description": "", "active": true, "disabledReason": null,
    "createdAt": "2026-11-30T06:02:07.395746Z", "updatedAt": "2026-11-30T06:02:07.395746Z"}]}))]
pub struct WebhookList {
    data: Vec<WebhookView>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    id: String,
    webhook_id: String,
    event_id: String,
    event: String,
    status: &'static str,
    attempts: i32,
    /// When the next attempt is due (pending deliveries).
    next_attempt_at: Option<DateTime<Utc>>,
    last_status_code: Option<i32>,
    last_latency_ms: Option<i64>,
    last_error: Option<String>,
    /// The first 2 KB of the last response.
    last_response_body: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        let pending = d.status == talon_domain::webhook::DeliveryStatus::Pending;
        DeliveryView {
            id: d.id.to_string(),
            webhook_id: d.webhook_id.to_string(),
            event_id: d.event_id.to_string(),
            event: d.event_kind,
            status: d.status.as_str(),
            attempts: d.attempts,
            next_attempt_at: pending.then_some(d.next_attempt_at),
            last_status_code: d.last_status_code,
            last_latency_ms: d.last_latency_ms,
            last_error: d.last_error,
            last_response_body: d.last_response_body,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    data: Vec<DeliveryView>,
    pagination: Pagination,
}

/// A webhook id from the path; one that cannot name a webhook is "not found", as an unknown one is.
fn webhook_id(raw: &str) -> Result<WebhookId, ApiError> {
    WebhookId::parse(raw).map_err(|_| ApiError::not_found("Webhook"))
}

fn delivery_id(raw: &str) -> Result<DeliveryId, ApiError> {
    DeliveryId::parse(raw).map_err(|_| ApiError::not_found("Delivery"))
}

/// Register an endpoint for events (`*` for all, each event at most once). The URL is stored as the
/// delivery client parses it and must not name an internal address; an account has at most 50
/// webhooks (409). The response holds the signing secret, shown once.
#[utoipa::path(post, path = "/api/webhooks", operation_id = "createWebhook",
    tag = "webhooks", security(("bearer" = ["webhooks:write"])), request_body = CreateWebhookRequest,
    responses((status = 201, body = WebhookView), (status = 400, body = ErrorEnvelope, description = "Unknown or invalid fields"),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope, description = "Missing the webhooks:write scope, or a key restricted to one agent"),
        (status = 409, body = ErrorEnvelope, description = "The account already has 50 webhooks")))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateWebhookRequest>,
) -> Result<(StatusCode, Json<WebhookView>), ApiError> {
    let caller = principal.with_account_scope(Scope::WebhooksWrite)?;
    let (webhook, secret) = state.webhooks.create(&caller, body.into()).await?;
    Ok((StatusCode::CREATED, Json(WebhookView::new(webhook, Some(secret)))))
}

/// The account's webhooks.
#[utoipa::path(get, path = "/api/webhooks", operation_id = "listWebhooks",
    tag = "webhooks", security(("bearer" = ["webhooks:read"])),
    responses((status = 200, body = WebhookList), (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope, description = "Missing the webhooks:read scope, or a key restricted to one agent")))]
pub async fn list(State(state): State<AppState>, principal: Principal) -> Result<Json<WebhookList>, ApiError> {
    let caller = principal.with_account_scope(Scope::WebhooksRead)?;
    let hooks = state.webhooks.list(&caller).await?;
    Ok(Json(WebhookList { data: hooks.into_iter().map(|w| WebhookView::new(w, None)).collect() }))
}

#[utoipa::path(get, path = "/api/webhooks/{id}", operation_id = "getWebhook",
    tag = "webhooks", security(("bearer" = ["webhooks:read"])),
    params(("id" = String, Path)), responses((status = 200, body = WebhookView), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<WebhookView>, ApiError> {
    let caller = principal.with_account_scope(Scope::WebhooksRead)?;
    Ok(Json(WebhookView::new(state.webhooks.get(&caller, webhook_id(&id)?).await?, None)))
}

/// Change `url`, `events`, `description` or `active` (re-activating clears a disabled state);
/// `description: null` clears the description.
#[utoipa::path(patch, path = "/api/webhooks/{id}", operation_id = "updateWebhook",
    tag = "webhooks", security(("bearer" = ["webhooks:write"])),
    params(("id" = String, Path)), request_body = UpdateWebhookRequest,
    responses((status = 200, body = WebhookView), (status = 400, body = ErrorEnvelope, description = "Unknown or invalid fields, or nothing to change"),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope, description = "Missing the webhooks:write scope, or a key restricted to one agent"),
        (status = 404, body = ErrorEnvelope)))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateWebhookRequest>,
) -> Result<Json<WebhookView>, ApiError> {
    let caller = principal.with_account_scope(Scope::WebhooksWrite)?;
    Ok(Json(WebhookView::new(state.webhooks.update(&caller, webhook_id(&id)?, body.into()).await?, None)))
}

#[utoipa::path(delete, path = "/api/webhooks/{id}", operation_id = "deleteWebhook",
    tag = "webhooks", security(("bearer" = ["webhooks:write"])),
    params(("id" = String, Path)), responses((status = 204), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let caller = principal.with_account_scope(Scope::WebhooksWrite)?;
    state.webhooks.delete(&caller, webhook_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret, shown once; the old one keeps signing alongside it for 24 hours.
#[utoipa::path(post, path = "/api/webhooks/{id}/rotate-secret", operation_id = "rotateWebhookSecret",
    tag = "webhooks", security(("bearer" = ["webhooks:write"])),
    params(("id" = String, Path)), responses((status = 200, body = WebhookView), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<WebhookView>, ApiError> {
    let caller = principal.with_account_scope(Scope::WebhooksWrite)?;
    let (webhook, secret) = state.webhooks.rotate_secret(&caller, webhook_id(&id)?).await?;
    Ok(Json(WebhookView::new(webhook, Some(secret))))
}

/// The delivery log, newest first.
#[utoipa::path(get, path = "/api/webhooks/{id}/deliveries", operation_id = "listWebhookDeliveries",
    tag = "webhooks", security(("bearer" = ["webhooks:read"])),
    params(("id" = String, Path), PageQuery),
    responses((status = 200, body = DeliveryList), (status = 400, body = ErrorEnvelope, description = "A page out of range"), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn deliveries(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<DeliveryList>, ApiError> {
    let caller = principal.with_account_scope(Scope::WebhooksRead)?;
    let (page, limit, offset) = query.resolve();
    let found = state.webhooks.deliveries(&caller, webhook_id(&id)?, offset, limit).await?;
    Ok(Json(DeliveryList {
        pagination: Pagination::new(page, limit, found.total),
        data: found.items.into_iter().map(Into::into).collect(),
    }))
}

/// Send a delivery again now.
#[utoipa::path(post, path = "/api/webhooks/{id}/deliveries/{delivery_id}/redeliver", operation_id = "redeliverWebhookDelivery",
    tag = "webhooks",
    security(("bearer" = ["webhooks:write"])), params(("id" = String, Path), ("delivery_id" = String, Path)),
    responses((status = 202, body = DeliveryView), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope, description = "The delivery is being sent right now")))]
pub async fn redeliver(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<(StatusCode, Json<DeliveryView>), ApiError> {
    let caller = principal.with_account_scope(Scope::WebhooksWrite)?;
    let delivery = state.webhooks.redeliver(&caller, webhook_id(&id)?, delivery_id(&delivery)?).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery.into())))
}

/// Send a `ping` event to this webhook.
#[utoipa::path(post, path = "/api/webhooks/{id}/test", operation_id = "testWebhook",
    tag = "webhooks", security(("bearer" = ["webhooks:write"])),
    params(("id" = String, Path)), responses((status = 202, body = DeliveryView), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn test(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<DeliveryView>), ApiError> {
    let caller = principal.with_account_scope(Scope::WebhooksWrite)?;
    let delivery = state.webhooks.ping(&caller, webhook_id(&id)?).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery.into())))
}
