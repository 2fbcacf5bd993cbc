//! Webhooks and their deliveries: fan-out from the outbox, fair claims, outcomes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::audit::AuditEntry;
use talon_domain::event::Event;
use talon_domain::webhook::{Delivery, Webhook};
use talon_domain::{AgentId, DeliveryId, UserId, WebhookId};

use crate::{Page, StoreError};

mod rows;
mod sql;

pub(crate) use rows::DELIVERY_COLUMNS;
pub(crate) use sql::FAIR_DELIVERY_PICK;

/// What one attempt says about its endpoint. Recording it touches only the fields deliveries own (the
/// failure streak, and the switch-off with its reason), and only while the webhook still has the URL
/// the attempt went to, so changes made while the attempt was in flight stand.
#[derive(Debug, Clone, PartialEq)]
pub enum EndpointOutcome {
    /// A 2xx: any failure streak ends.
    Delivered,
    /// A failed attempt at `at`: starts the failure streak unless one is running; a streak that began
    /// at or before `disable_if_failing_since` turns the webhook off with `reason`.
    Failed { at: DateTime<Utc>, disable_if_failing_since: DateTime<Utc>, reason: String },
    /// The endpoint asked to be forgotten (410): the webhook is turned off with `reason`.
    Gone { at: DateTime<Utc>, reason: String },
}

/// How many deliveries may be in flight at once for one webhook and for one account, so a few slow
/// endpoints cannot take every sending slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimBounds {
    pub per_webhook: i64,
    pub per_account: i64,
}

/// Which deliveries of a webhook to list; `None` filters nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryFilter {
    pub event: Option<String>,
    /// `true`: delivered (2xx); `false`: everything else (failed, or still being retried).
    pub success: Option<bool>,
    /// Made at or after this time.
    pub since: Option<DateTime<Utc>>,
}

/// A delivery ready to send, with the endpoint it goes to.
#[derive(Debug, Clone)]
pub struct DeliveryJob {
    pub delivery: Delivery,
    pub webhook: Webhook,
}

#[async_trait]
pub trait WebhookStore {
    /// Inserts an account's webhook and its audit entries, in one transaction.
    async fn insert_webhook(&self, webhook: &Webhook, audit: &[AuditEntry]) -> Result<(), StoreError>;

    /// Any webhook, the account's or an agent's (callers check which they may see).
    async fn webhook(&self, id: WebhookId) -> Result<Option<Webhook>, StoreError>;

    /// The owner's own webhooks (not its agents'), oldest first.
    async fn list_webhooks(&self, owner: UserId) -> Result<Vec<Webhook>, StoreError>;

    /// Writes every mutable field of the webhook and records its audit entries, in one transaction;
    /// `false` (and nothing recorded) when there is no such webhook.
    async fn update_webhook(&self, webhook: &Webhook, audit: &[AuditEntry]) -> Result<bool, StoreError>;

    /// Records what an attempt to `attempted_url` says about the webhook (see `EndpointOutcome`).
    async fn record_endpoint_outcome(
        &self,
        id: WebhookId,
        attempted_url: &str,
        outcome: &EndpointOutcome,
    ) -> Result<(), StoreError>;

    /// Deletes an account webhook and records its audit entries, in one transaction; `false` (and
    /// nothing recorded) when the owner has no such account webhook (an agent's webhook is never
    /// deleted here).
    async fn delete_webhook(&self, owner: UserId, id: WebhookId, audit: &[AuditEntry]) -> Result<bool, StoreError>;

    /// The agent's own webhook (`agent` set, ClawGig signing), active or not.
    async fn agent_webhook(&self, agent: AgentId) -> Result<Option<Webhook>, StoreError>;

    /// Inserts an agent's webhook; `Conflict("agent webhook")` if the agent has one already.
    async fn insert_agent_webhook(&self, webhook: &Webhook) -> Result<(), StoreError>;

    /// `false` when the agent has no webhook.
    async fn delete_agent_webhook(&self, agent: AgentId) -> Result<bool, StoreError>;

    /// Deliveries of the webhook matching `filter`, newest first.
    async fn list_filtered_deliveries(
        &self,
        webhook: WebhookId,
        filter: &DeliveryFilter,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// Writes events to the outbox on their own, in one transaction (for events that record no other
    /// change; a change records its events in its own transaction).
    async fn record_events(&self, events: &[Event]) -> Result<(), StoreError>;

    /// Turns up to `limit` undispatched outbox events into one delivery per active webhook that
    /// receives it (the account's webhooks subscribed to its kind, and the webhook of the agent it is
    /// meant for if subscribed), and marks the events dispatched, in one transaction. Returns how many
    /// events were dispatched.
    async fn fan_out_events(&self, limit: i64, now: DateTime<Utc>) -> Result<usize, StoreError>;

    async fn insert_delivery(&self, delivery: &Delivery) -> Result<(), StoreError>;

    async fn delivery(&self, id: DeliveryId) -> Result<Option<Delivery>, StoreError>;

    /// Deliveries of the webhook, newest first.
    async fn list_deliveries(&self, webhook: WebhookId, offset: i64, limit: i64) -> Result<Page<Delivery>, StoreError>;

    /// Takes up to `limit` due deliveries of active webhooks (pending and due, or left `sending` by a
    /// worker whose hold lapsed), marks them `sending` until `locked_until`, and returns them. Deliveries
    /// already held count against `bounds`; within them, accounts take turns (each account's oldest
    /// due delivery first, then each account's second, …), so one account's backlog cannot starve others.
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        locked_until: DateTime<Utc>,
        bounds: ClaimBounds,
    ) -> Result<Vec<DeliveryJob>, StoreError>;

    /// Records the outcome of an attempt (every mutable field of the delivery).
    async fn update_delivery(&self, delivery: &Delivery) -> Result<(), StoreError>;
}
