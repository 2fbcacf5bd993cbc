//! Webhook, delivery and pending-event rows, their conversion into domain types, and the argument
//! lists of the statements that write webhooks and deliveries.

use chrono::{DateTime, Utc};
use talon_domain::webhook::{Delivery, Webhook, payload, receives};
use talon_domain::{AgentId, DeliveryId, EventId, UserId, WebhookId};
use uuid::Uuid;

use crate::StoreError;
use crate::db::Bind;
use crate::error::corrupt;

#[derive(sqlx::FromRow)]
pub(crate) struct WebhookRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub agent_id: Option<Uuid>,
    pub signing: String,
    pub url: String,
    pub events: String,
    pub description: String,
    pub active: bool,
    pub disabled_reason: Option<String>,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) const WEBHOOK_COLUMNS: &str = "id, user_id, agent_id, signing, url, events, description, active, \
     disabled_reason, secret, previous_secret, previous_secret_expires_at, failing_since, created_at, updated_at";

impl TryFrom<WebhookRow> for Webhook {
    type Error = StoreError;
    fn try_from(row: WebhookRow) -> Result<Self, StoreError> {
        Ok(Webhook {
            id: WebhookId::from_uuid(row.id),
            owner: UserId::from_uuid(row.user_id),
            agent: row.agent_id.map(AgentId::from_uuid),
            signing: row.signing.parse().map_err(corrupt("webhook signing"))?,
            url: row.url,
            events: serde_json::from_str(&row.events)
                .map_err(|e| StoreError::Corrupt(format!("webhook events: {e}")))?,
            description: row.description,
            active: row.active,
            disabled_reason: row.disabled_reason,
            sealed_secret: row.secret,
            previous_secret: row.previous_secret.zip(row.previous_secret_expires_at),
            failing_since: row.failing_since,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DeliveryRow {
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub user_id: Uuid,
    pub event_id: Uuid,
    pub event_kind: String,
    pub payload: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub last_latency_ms: Option<i64>,
    pub last_response_body: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) const DELIVERY_COLUMNS: &str = "id, webhook_id, user_id, event_id, event_kind, payload, status, attempts, \
     next_attempt_at, last_status_code, last_error, last_latency_ms, last_response_body, created_at, updated_at";

impl TryFrom<DeliveryRow> for Delivery {
    type Error = StoreError;
    fn try_from(row: DeliveryRow) -> Result<Self, StoreError> {
        Ok(Delivery {
            id: DeliveryId::from_uuid(row.id),
            webhook_id: WebhookId::from_uuid(row.webhook_id),
            owner: UserId::from_uuid(row.user_id),
            event_id: EventId::from_uuid(row.event_id),
            event_kind: row.event_kind,
            payload: row.payload,
            status: row.status.parse().map_err(corrupt("delivery status"))?,
            attempts: row.attempts,
            next_attempt_at: row.next_attempt_at,
            last_status_code: row.last_status_code,
            last_error: row.last_error,
            last_latency_ms: row.last_latency_ms,
            last_response_body: row.last_response_body,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct PendingEventRow {
    pub id: Uuid,
    pub user_id: Uuid,
    /// The agent a marketplace event is meant for (its own webhook receives it too).
    pub agent_id: Option<Uuid>,
    pub kind: String,
    pub data: String,
    pub created_at: DateTime<Utc>,
}

/// One new delivery per webhook that receives the event: the account's webhooks that subscribe to its
/// kind, and the webhook of the agent it is meant for if that one subscribes.
pub(crate) fn deliveries_for(
    event: &PendingEventRow,
    hooks: &[&Webhook],
    now: DateTime<Utc>,
) -> Result<Vec<Delivery>, StoreError> {
    let agent = event.agent_id.map(AgentId::from_uuid);
    let subscribed: Vec<&Webhook> =
        hooks.iter().copied().filter(|h| receives(h, &event.kind, agent, event.created_at)).collect();
    if subscribed.is_empty() {
        return Ok(Vec::new());
    }
    let data: serde_json::Value =
        serde_json::from_str(&event.data).map_err(|e| StoreError::Corrupt(format!("event data: {e}")))?;
    let body = payload(&event.kind, event.created_at, &data);
    Ok(subscribed
        .into_iter()
        .map(|hook| Delivery::pending(hook, EventId::from_uuid(event.id), &event.kind, body.clone(), now))
        .collect())
}

/// Binds a `Webhook` to `sql::INSERT_WEBHOOK` (and, in the same order, `sql::UPDATE_WEBHOOK`): the
/// agent and the signing come last, as `$14` and `$15`.
pub(crate) fn bind_webhook<'q, Q: Bind<'q>>(query: Q, webhook: &Webhook) -> Q {
    query
        .bind(*webhook.id.as_uuid())
        .bind(*webhook.owner.as_uuid())
        .bind(webhook.url.clone())
        .bind(serde_json::to_string(&webhook.events).unwrap_or_else(|_| "[]".to_owned()))
        .bind(webhook.description.clone())
        .bind(webhook.active)
        .bind(webhook.disabled_reason.clone())
        .bind(webhook.sealed_secret.clone())
        .bind(webhook.previous_secret.as_ref().map(|(s, _)| s.clone()))
        .bind(webhook.previous_secret.as_ref().map(|(_, until)| *until))
        .bind(webhook.failing_since)
        .bind(webhook.created_at)
        .bind(webhook.updated_at)
        .bind(webhook.agent.map(|agent| *agent.as_uuid()))
        .bind(webhook.signing.as_str())
}

/// Binds a `Delivery` to `sql::INSERT_DELIVERY`.
pub(crate) fn bind_delivery<'q, Q: Bind<'q>>(query: Q, delivery: &Delivery) -> Q {
    query
        .bind(*delivery.id.as_uuid())
        .bind(*delivery.webhook_id.as_uuid())
        .bind(*delivery.owner.as_uuid())
        .bind(*delivery.event_id.as_uuid())
        .bind(delivery.event_kind.clone())
        .bind(delivery.payload.clone())
        .bind(delivery.status.as_str())
        .bind(delivery.attempts)
        .bind(delivery.next_attempt_at)
        .bind(delivery.last_status_code)
        .bind(delivery.last_error.clone())
        .bind(delivery.last_latency_ms)
        .bind(delivery.last_response_body.clone())
        .bind(delivery.created_at)
        .bind(delivery.updated_at)
}

/// Binds a `Delivery`'s outcome to `sql::UPDATE_DELIVERY`.
pub(crate) fn bind_delivery_update<'q, Q: Bind<'q>>(query: Q, delivery: &Delivery) -> Q {
    query
        .bind(*delivery.id.as_uuid())
        .bind(delivery.status.as_str())
        .bind(delivery.attempts)
        .bind(delivery.next_attempt_at)
        .bind(delivery.last_status_code)
        .bind(delivery.last_error.clone())
        .bind(delivery.last_latency_ms)
        .bind(delivery.last_response_body.clone())
        .bind(delivery.updated_at)
}
