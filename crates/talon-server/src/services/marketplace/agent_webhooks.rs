//! An agent's own webhook: one URL and event list per agent, a `whsec_…` secret (sealed at rest),
//! signed test deliveries, and its delivery history. It is a row of `webhooks` with the agent set and
//! ClawGig signing, so the delivery engine (outbox fan-out, retries with backoff, the SSRF guard,
//! switching failing endpoints off, the delivery log) carries it as it carries account webhooks.
//!
//! Choices the SDK leaves open: a secret exists from the webhook's creation (`has_secret` is true
//! whenever there is a webhook) and is shown only by `rotate-secret`, which replaces it at once (the
//! SDK checks a single signature, so there is no overlap); setting a URL turns a webhook switched off
//! for failing back on; rotating or testing before any URL is set is 409.

use std::time::Instant;

use serde_json::json;
use talon_domain::event::MARKETPLACE_EVENT_TYPES;
use talon_domain::time::now;
use talon_domain::webhook::{
    AGENT_TEST_EVENT, Delivery, DeliveryStatus, Signing, Webhook, WebhookSecret, payload, validate_agent_events,
};
use talon_domain::{AgentId, DeliveryId, EventId, UserId, ValidationErrors, WebhookId};
use talon_store::{DeliveryFilter, StoreError};

use super::MarketplaceDeps;
use crate::services::ServiceError;
use crate::services::webhooks::WebhookService;
use crate::services::webhooks::sending::send;

/// What rotating or testing answers when the agent has no webhook.
const NO_WEBHOOK: &str = "The agent has no webhook: set one with PATCH /api/v1/agent/webhooks {\"webhook_url\"} first";

/// Changes asked by `PATCH /agent/webhooks`; `None` leaves a member as it is, `url: Some(None)` removes
/// the webhook.
#[derive(Debug, Clone, Default)]
pub struct AgentWebhookChanges {
    pub url: Option<Option<String>>,
    pub events: Option<Vec<String>>,
}

/// What a test delivery got back: the receiver's status (0 when none came).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestOutcome {
    pub success: bool,
    pub status_code: u16,
}

pub struct AgentWebhooks {
    deps: MarketplaceDeps,
}

impl AgentWebhooks {
    pub fn new(deps: MarketplaceDeps) -> Self {
        Self { deps }
    }

    /// Points `agent`'s webhook (held by `owner`) at `url`, created with every marketplace event the
    /// first time; `None` removes it. The URL has passed the webhook target rules already.
    pub async fn set_url(&self, owner: UserId, agent: AgentId, url: Option<String>) -> Result<(), ServiceError> {
        match url {
            None => {
                self.deps.store.delete_agent_webhook(agent).await?;
            }
            Some(url) => {
                self.save(owner, agent, Some(url), None).await?;
            }
        }
        Ok(())
    }

    /// The agent's webhook, if it has one.
    pub async fn get(&self, agent: AgentId) -> Result<Option<Webhook>, ServiceError> {
        Ok(self.deps.store.agent_webhook(agent).await?)
    }

    /// Applies `changes` (the URL checked by the webhook target rules, the events against the
    /// marketplace's), reporting every bad field at once; the webhook as it now is.
    pub async fn update(
        &self,
        hooks: &WebhookService,
        owner: UserId,
        agent: AgentId,
        changes: AgentWebhookChanges,
    ) -> Result<Option<Webhook>, ServiceError> {
        let mut errors = ValidationErrors::new();
        let url = match changes.url {
            Some(Some(raw)) => hooks.check_url(&raw, "webhook_url", &mut errors).await.map(Some),
            other => other,
        };
        if let Some(events) = &changes.events {
            validate_agent_events(events, &mut errors);
        }
        errors.finish(())?;
        match url {
            Some(None) => {
                self.deps.store.delete_agent_webhook(agent).await?;
                Ok(None)
            }
            Some(Some(url)) => Ok(Some(self.save(owner, agent, Some(url), changes.events).await?)),
            None => match self.deps.store.agent_webhook(agent).await? {
                Some(_) => Ok(Some(self.save(owner, agent, None, changes.events).await?)),
                None if changes.events.is_some() => {
                    let mut errors = ValidationErrors::new();
                    errors.add("webhook_url", "Required: the agent has no webhook yet");
                    Err(errors.into())
                }
                None => Ok(None),
            },
        }
    }

    /// Creates or changes the agent's webhook. A new one gets every marketplace event (unless `events`
    /// says otherwise) and a new secret; a new URL switches a disabled webhook back on.
    async fn save(
        &self,
        owner: UserId,
        agent: AgentId,
        url: Option<String>,
        events: Option<Vec<String>>,
    ) -> Result<Webhook, ServiceError> {
        let at = now();
        // Two first calls at once: the second insert meets the unique index and updates instead.
        for _ in 0..2 {
            match self.deps.store.agent_webhook(agent).await? {
                Some(mut webhook) => {
                    webhook.owner = owner;
                    if let Some(url) = url.clone() {
                        webhook.url = url;
                        webhook.active = true;
                        webhook.disabled_reason = None;
                        webhook.failing_since = None;
                    }
                    if let Some(events) = events.clone() {
                        webhook.events = events;
                    }
                    webhook.updated_at = at;
                    self.deps.store.update_webhook(&webhook, &[]).await?;
                    return Ok(webhook);
                }
                None => {
                    let Some(url) = url.clone() else { return Err(ServiceError::Conflict(NO_WEBHOOK.into())) };
                    let webhook = Webhook {
                        id: WebhookId::new(),
                        owner,
                        agent: Some(agent),
                        signing: Signing::ClawGig,
                        url,
                        events: events
                            .clone()
                            .unwrap_or_else(|| MARKETPLACE_EVENT_TYPES.iter().map(|e| (*e).to_owned()).collect()),
                        description: String::new(),
                        active: true,
                        disabled_reason: None,
                        sealed_secret: self.seal(&WebhookSecret::generate())?,
                        previous_secret: None,
                        failing_since: None,
                        created_at: at,
                        updated_at: at,
                    };
                    match self.deps.store.insert_agent_webhook(&webhook).await {
                        Ok(()) => return Ok(webhook),
                        Err(StoreError::Conflict(_)) => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        Err(ServiceError::Conflict("The agent's webhook is being changed by another request; try again".into()))
    }

    fn seal(&self, secret: &WebhookSecret) -> Result<String, ServiceError> {
        self.deps.sealer.seal(secret.expose()).map_err(|e| ServiceError::Internal(e.to_string()))
    }

    async fn existing(&self, agent: AgentId) -> Result<Webhook, ServiceError> {
        self.deps.store.agent_webhook(agent).await?.ok_or_else(|| ServiceError::Conflict(NO_WEBHOOK.into()))
    }

    /// A new secret, replacing the old one at once; the only time a secret is shown.
    pub async fn rotate_secret(&self, owner: UserId, agent: AgentId) -> Result<WebhookSecret, ServiceError> {
        let mut webhook = self.existing(agent).await?;
        let secret = WebhookSecret::generate();
        webhook.owner = owner;
        webhook.sealed_secret = self.seal(&secret)?;
        webhook.previous_secret = None;
        webhook.updated_at = now();
        self.deps.store.update_webhook(&webhook, &[]).await?;
        Ok(secret)
    }

    /// Sends a signed `test` delivery now, whatever the webhook subscribes to, and reports what the
    /// receiver answered. It is kept in the delivery log, settled (never retried on its own).
    pub async fn test(&self, hooks: &WebhookService, agent: AgentId) -> Result<TestOutcome, ServiceError> {
        let webhook = self.existing(agent).await?;
        let at = now();
        let data = json!({"agent_id": agent.to_string(), "message": "This is a test delivery from Talon"});
        let mut delivery =
            Delivery::pending(&webhook, EventId::new(), AGENT_TEST_EVENT, payload(AGENT_TEST_EVENT, at, &data), at);
        let secrets = hooks.signing_secrets(&webhook).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let started = Instant::now();
        let answer = send(hooks.client(), hooks.settings().allow_private, &secrets, &webhook, &delivery).await;
        delivery.attempts = 1;
        delivery.last_latency_ms = Some(i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX));
        delivery.updated_at = now();
        let outcome = match answer {
            Ok(answer) => {
                let success = (200..300).contains(&answer.status);
                delivery.last_status_code = Some(i32::from(answer.status));
                delivery.last_response_body = Some(answer.body);
                if !success {
                    delivery.last_error = Some(format!("The endpoint answered {}", answer.status));
                }
                TestOutcome { success, status_code: answer.status }
            }
            Err(message) => {
                delivery.last_error = Some(message);
                TestOutcome { success: false, status_code: 0 }
            }
        };
        delivery.status = if outcome.success { DeliveryStatus::Succeeded } else { DeliveryStatus::Failed };
        self.deps.store.insert_delivery(&delivery).await?;
        Ok(outcome)
    }

    /// The webhook's deliveries matching `filter`, newest first (none without a webhook).
    pub async fn deliveries(
        &self,
        agent: AgentId,
        filter: &DeliveryFilter,
        offset: i64,
        limit: i64,
    ) -> Result<Option<(Webhook, Vec<Delivery>)>, ServiceError> {
        let Some(webhook) = self.deps.store.agent_webhook(agent).await? else { return Ok(None) };
        let deliveries = self.deps.store.list_filtered_deliveries(webhook.id, filter, offset, limit).await?;
        Ok(Some((webhook, deliveries)))
    }

    /// Queues a delivery of the agent's webhook again now, with a fresh retry schedule.
    pub async fn retry(
        &self,
        hooks: &WebhookService,
        agent: AgentId,
        delivery_id: DeliveryId,
    ) -> Result<Delivery, ServiceError> {
        let webhook = self.deps.store.agent_webhook(agent).await?.ok_or(ServiceError::NotFound("Delivery"))?;
        let mut delivery = self
            .deps
            .store
            .delivery(delivery_id)
            .await?
            .filter(|d| d.webhook_id == webhook.id)
            .ok_or(ServiceError::NotFound("Delivery"))?;
        if delivery.status == DeliveryStatus::Sending {
            return Err(ServiceError::Conflict("The delivery is being sent right now".into()));
        }
        let at = now();
        delivery.status = DeliveryStatus::Pending;
        delivery.attempts = 0;
        delivery.next_attempt_at = at;
        delivery.updated_at = at;
        self.deps.store.update_delivery(&delivery).await?;
        hooks.wake_signal().ring();
        Ok(delivery)
    }
}
