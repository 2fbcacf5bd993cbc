//! Webhook endpoints: their lifecycle, secrets (sealed at rest, shown on create and rotate), the
//! delivery log, redelivery and test pings.

pub mod client;
pub mod sealing;
pub mod sending;
mod settings;

pub use settings::WebhookSettings;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use talon_domain::audit::{self, AuditEntry};
use talon_domain::time::now;
use talon_domain::webhook::{
    Delivery, DeliveryStatus, FORBIDDEN_TARGET, MAX_WEBHOOKS_PER_ACCOUNT, PING, Signing, Webhook, WebhookSecret,
    payload, validate_description, validate_events, validate_url,
};
use talon_domain::{DeliveryId, EventId, ValidationErrors, WebhookId};
use talon_store::{ClaimBounds, DeliveryJob, EndpointOutcome, Page, Store, StoreError};

use super::{Caller, ServiceError, Signal};
use client::{ClientError, check_target};
use sealing::{SealError, SecretBox};

/// During a rotation the old secret keeps signing for this long.
const ROTATION_OVERLAP: chrono::Duration = chrono::Duration::hours(24);

pub struct WebhookService {
    store: Arc<dyn Store>,
    sealer: SecretBox,
    settings: WebhookSettings,
    /// The guarded client deliveries go out through.
    client: reqwest::Client,
    /// Wakes the sender when events or deliveries are due now.
    wake: Signal,
}

/// A new webhook's fields, typed but not yet checked.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub active: Option<bool>,
}

/// Changes to a webhook; `None` leaves a field as it is. `description: Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct WebhookChanges {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<Option<String>>,
    pub active: Option<bool>,
}

impl WebhookChanges {
    fn is_empty(&self) -> bool {
        self.url.is_none() && self.events.is_none() && self.description.is_none() && self.active.is_none()
    }
}

impl From<NewWebhook> for WebhookChanges {
    fn from(new: NewWebhook) -> Self {
        WebhookChanges {
            url: Some(new.url),
            events: Some(new.events),
            description: new.description.map(Some),
            active: new.active,
        }
    }
}

impl WebhookService {
    pub fn new(
        store: Arc<dyn Store>,
        key: &[u8; 32],
        settings: WebhookSettings,
        wake: Signal,
    ) -> Result<Self, ClientError> {
        let client = client::build(settings.timeout, settings.allow_private)?;
        Ok(Self { store, sealer: SecretBox::new(key), settings, client, wake })
    }

    pub fn settings(&self) -> &WebhookSettings {
        &self.settings
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn wake_signal(&self) -> Signal {
        self.wake.clone()
    }

    /// The secrets a delivery is signed with now: the current one, then the previous one while a
    /// rotation's overlap lasts.
    pub fn signing_secrets(&self, webhook: &Webhook) -> Result<Vec<WebhookSecret>, SealError> {
        let mut secrets = vec![WebhookSecret::from_stored(self.sealer.open(&webhook.sealed_secret)?)];
        if let Some((sealed, until)) = &webhook.previous_secret
            && *until > now()
        {
            secrets.push(WebhookSecret::from_stored(self.sealer.open(sealed)?));
        }
        Ok(secrets)
    }

    /// Checks an endpoint URL by the webhook target rules (a valid http(s) URL, no internal address
    /// unless private targets are allowed), reporting problems under `field`; the URL as it is stored
    /// (as the delivery client reads it).
    pub async fn check_url(&self, raw: &str, field: &str, errors: &mut ValidationErrors) -> Option<String> {
        let mut found = ValidationErrors::new();
        let url = validate_url(raw, &mut found);
        for problem in found.fields() {
            errors.add(field, problem.message.clone());
        }
        let url = url?;
        if check_target(&url, self.settings.allow_private).await.is_err() {
            errors.add(field, FORBIDDEN_TARGET);
            return None;
        }
        Some(url.into())
    }

    /// Checks `changes` and applies them to `base`, reporting every bad field at once.
    async fn apply(&self, changes: WebhookChanges, base: &mut Webhook) -> Result<(), ServiceError> {
        let mut errors = ValidationErrors::new();
        if let Some(raw) = changes.url
            && let Some(url) = validate_url(&raw, &mut errors)
        {
            if check_target(&url, self.settings.allow_private).await.is_err() {
                errors.add("url", FORBIDDEN_TARGET);
            }
            // Stored as the delivery client reads it, so what is shown is what is called.
            base.url = url.into();
        }
        if let Some(events) = changes.events {
            validate_events(&events, &mut errors);
            base.events = events;
        }
        match changes.description {
            None => {}
            Some(None) => base.description.clear(),
            Some(Some(description)) => {
                validate_description(&description, &mut errors);
                base.description = description;
            }
        }
        if let Some(active) = changes.active {
            if active && !base.active {
                base.disabled_reason = None;
                base.failing_since = None;
            }
            base.active = active;
        }
        errors.finish(()).map_err(Into::into)
    }

    pub async fn create(&self, caller: &Caller, new: NewWebhook) -> Result<(Webhook, WebhookSecret), ServiceError> {
        let secret = WebhookSecret::generate();
        let at = now();
        let mut webhook = Webhook {
            id: WebhookId::new(),
            owner: caller.account.id,
            agent: None,
            signing: Signing::Talon,
            url: String::new(),
            events: Vec::new(),
            description: String::new(),
            active: true,
            disabled_reason: None,
            sealed_secret: self.seal(&secret)?,
            previous_secret: None,
            failing_since: None,
            created_at: at,
            updated_at: at,
        };
        self.apply(new.into(), &mut webhook).await?;
        if self.store.list_webhooks(caller.account.id).await?.len() >= MAX_WEBHOOKS_PER_ACCOUNT {
            return Err(ServiceError::Conflict(format!(
                "An account may have at most {MAX_WEBHOOKS_PER_ACCOUNT} webhooks; delete one first"
            )));
        }
        let entry = audit_entry(caller, audit::WEBHOOK_CREATED, &webhook, settings_of(&webhook), at);
        self.store.insert_webhook(&webhook, &[entry]).await?;
        Ok((webhook, secret))
    }

    fn seal(&self, secret: &WebhookSecret) -> Result<String, ServiceError> {
        self.sealer.seal(secret.expose()).map_err(|e| ServiceError::Internal(e.to_string()))
    }

    pub async fn get(&self, caller: &Caller, id: WebhookId) -> Result<Webhook, ServiceError> {
        // An agent's webhook is managed through the agent (`/api/v1/agent/webhooks`), never here.
        self.store
            .webhook(id)
            .await?
            .filter(|w| w.owner == caller.account.id && w.agent.is_none())
            .ok_or(ServiceError::NotFound("Webhook"))
    }

    pub async fn list(&self, caller: &Caller) -> Result<Vec<Webhook>, ServiceError> {
        Ok(self.store.list_webhooks(caller.account.id).await?)
    }

    pub async fn update(
        &self,
        caller: &Caller,
        id: WebhookId,
        changes: WebhookChanges,
    ) -> Result<Webhook, ServiceError> {
        let mut webhook = self.get(caller, id).await?;
        // An empty PATCH changes nothing and answers with the webhook as it is.
        if changes.is_empty() {
            return Ok(webhook);
        }
        let changed: Vec<&str> = [
            ("url", changes.url.is_some()),
            ("events", changes.events.is_some()),
            ("description", changes.description.is_some()),
            ("active", changes.active.is_some()),
        ]
        .into_iter()
        .filter_map(|(field, given)| given.then_some(field))
        .collect();
        self.apply(changes, &mut webhook).await?;
        webhook.updated_at = now();
        let mut detail = settings_of(&webhook);
        detail["changed"] = json!(changed);
        let entry = audit_entry(caller, audit::WEBHOOK_UPDATED, &webhook, detail, webhook.updated_at);
        if !self.store.update_webhook(&webhook, &[entry]).await? {
            return Err(ServiceError::NotFound("Webhook"));
        }
        Ok(webhook)
    }

    pub async fn delete(&self, caller: &Caller, id: WebhookId) -> Result<(), ServiceError> {
        let webhook = self.get(caller, id).await?;
        let entry = audit_entry(caller, audit::WEBHOOK_DELETED, &webhook, settings_of(&webhook), now());
        if self.store.delete_webhook(caller.account.id, webhook.id, &[entry]).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound("Webhook"))
        }
    }

    /// A new secret; the old one keeps signing (alongside) for 24 hours.
    pub async fn rotate_secret(
        &self,
        caller: &Caller,
        id: WebhookId,
    ) -> Result<(Webhook, WebhookSecret), ServiceError> {
        let mut webhook = self.get(caller, id).await?;
        let secret = WebhookSecret::generate();
        let at = now();
        webhook.previous_secret = Some((webhook.sealed_secret.clone(), at + ROTATION_OVERLAP));
        webhook.sealed_secret = self.seal(&secret)?;
        webhook.updated_at = at;
        let detail = json!({"previousSecretExpiresAt": at + ROTATION_OVERLAP});
        let entry = audit_entry(caller, audit::WEBHOOK_SECRET_ROTATED, &webhook, detail, at);
        if !self.store.update_webhook(&webhook, &[entry]).await? {
            return Err(ServiceError::NotFound("Webhook"));
        }
        Ok((webhook, secret))
    }

    pub async fn deliveries(
        &self,
        caller: &Caller,
        id: WebhookId,
        offset: i64,
        limit: i64,
    ) -> Result<Page<Delivery>, ServiceError> {
        let webhook = self.get(caller, id).await?;
        Ok(self.store.list_deliveries(webhook.id, offset, limit).await?)
    }

    /// Sends a delivery again now, with a fresh retry schedule, under the same `webhook-id`.
    pub async fn redeliver(
        &self,
        caller: &Caller,
        id: WebhookId,
        delivery_id: DeliveryId,
    ) -> Result<Delivery, ServiceError> {
        let webhook = self.get(caller, id).await?;
        let mut delivery = self
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
        self.store.update_delivery(&delivery).await?;
        self.wake.ring();
        Ok(delivery)
    }

    /// Sends a `ping` event to this webhook only (whatever it subscribes to).
    pub async fn ping(&self, caller: &Caller, id: WebhookId) -> Result<Delivery, ServiceError> {
        let webhook = self.get(caller, id).await?;
        let at = now();
        let body = payload(PING, at, &json!({"webhookId": webhook.id.to_string()}));
        let delivery = Delivery::pending(&webhook, EventId::new(), PING, body, at);
        self.store.insert_delivery(&delivery).await?;
        self.wake.ring();
        Ok(delivery)
    }

    /// Turns up to `limit` outbox events into deliveries; how many events were dispatched.
    pub async fn fan_out(&self, limit: i64) -> Result<usize, StoreError> {
        let fanned = self.store.fan_out_events(limit, now()).await?;
        if fanned > 0 {
            // The deliveries may be another replica's to send (this one may have no free slot).
            self.wake.ring();
        }
        Ok(fanned)
    }

    /// Takes up to `limit` due deliveries to send, each held for `hold` (then another sender may take it).
    pub async fn claim_due(
        &self,
        limit: i64,
        hold: chrono::Duration,
        bounds: ClaimBounds,
    ) -> Result<Vec<DeliveryJob>, StoreError> {
        let at = now();
        self.store.claim_deliveries(at, limit, at + hold, bounds).await
    }

    /// Records one attempt: what it taught about the endpoint (written to the webhook only if its URL is
    /// still `webhook.url`), then the delivery's new state. Both are tried even if the first fails.
    pub async fn record_attempt(&self, webhook: &Webhook, delivery: &Delivery, outcome: &EndpointOutcome) {
        let recorded = self.store.record_endpoint_outcome(webhook.id, &webhook.url, outcome).await;
        if let Err(e) = recorded {
            tracing::warn!(webhook_id = %webhook.id, error = %e, "could not record webhook state");
        }
        metrics::counter!("talon_webhook_attempts_total", "outcome" => delivery.status.as_str()).increment(1);
        if let Err(e) = self.store.update_delivery(delivery).await {
            tracing::error!(delivery_id = %delivery.id, error = %e, "could not record a delivery attempt");
        }
        // The attempt's place is free (deliveries held back by the in-flight bounds may go now, from any
        // replica), and a retry rings when it falls due.
        self.wake.ring();
        if delivery.status == DeliveryStatus::Pending {
            self.wake.ring_at(delivery.next_attempt_at);
        }
    }
}

/// The audit entry of a change to `webhook`, written in the change's transaction. The detail never
/// holds its secret, nor its URL (which may carry a token of the receiver's).
fn audit_entry(caller: &Caller, action: &str, webhook: &Webhook, detail: Value, at: DateTime<Utc>) -> AuditEntry {
    let resource = ("webhook", webhook.id.to_string());
    AuditEntry::new(caller.account.id, caller.actor, action, resource, None, detail, at)
}

/// What the audit log keeps of a webhook's settings: what it subscribes to and whether it is active.
fn settings_of(webhook: &Webhook) -> Value {
    json!({"events": webhook.events, "active": webhook.active})
}
