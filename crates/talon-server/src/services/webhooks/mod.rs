//! Webhook endpoints: their lifecycle, secrets (sealed at rest, shown on create and rotate), the
//! delivery log, redelivery and test pings.

pub mod client;
pub mod sealing;
mod settings;

pub use settings::WebhookSettings;

use std::sync::Arc;

use serde_json::{Value, json};
use talon_domain::time::now;
use talon_domain::webhook::{
    Delivery, DeliveryStatus, FORBIDDEN_TARGET, MAX_WEBHOOKS_PER_ACCOUNT, PING, Webhook, WebhookSecret, payload,
    validate_description, validate_events, validate_url,
};
use talon_domain::{DeliveryId, EventId, ValidationErrors, WebhookId};
use talon_store::{Page, Store};

use super::{Caller, OutboxSignal, ServiceError};
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
    wake: OutboxSignal,
}

/// The editable fields of a webhook, as the request sends them.
#[derive(Debug, Default)]
pub struct WebhookInput {
    pub url: Option<Value>,
    pub events: Option<Value>,
    pub description: Option<Value>,
    pub active: Option<Value>,
}

impl WebhookService {
    pub fn new(
        store: Arc<dyn Store>,
        key: &[u8; 32],
        settings: WebhookSettings,
        wake: OutboxSignal,
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

    pub fn wake_signal(&self) -> OutboxSignal {
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

    async fn parse(&self, input: &WebhookInput, base: &mut Webhook, creating: bool) -> Result<(), ServiceError> {
        let mut errors = ValidationErrors::new();
        match &input.url {
            Some(Value::String(raw)) => {
                if let Some(url) = validate_url(raw, &mut errors) {
                    if check_target(&url, self.settings.allow_private).await.is_err() {
                        errors.add("url", FORBIDDEN_TARGET);
                    }
                    // Stored as the delivery client reads it, so what is shown is what is called.
                    base.url = url.into();
                }
            }
            None if creating => errors.add("url", "Required field missing"),
            None => {}
            Some(_) => errors.add("url", "Must be a string"),
        }
        match &input.events {
            Some(Value::Array(items)) => {
                let events: Option<Vec<String>> = items.iter().map(|e| e.as_str().map(str::to_owned)).collect();
                match events {
                    Some(events) => {
                        validate_events(&events, &mut errors);
                        base.events = events;
                    }
                    None => errors.add("events", "Must be an array of event names"),
                }
            }
            None if creating => errors.add("events", "Required field missing"),
            None => {}
            Some(_) => errors.add("events", "Must be an array of event names"),
        }
        match &input.description {
            None => {}
            Some(Value::Null) => base.description.clear(),
            Some(Value::String(d)) => {
                validate_description(d, &mut errors);
                base.description = d.clone();
            }
            Some(_) => errors.add("description", "Must be a string"),
        }
        match &input.active {
            None => {}
            Some(Value::Bool(active)) => {
                if *active && !base.active {
                    base.disabled_reason = None;
                    base.failing_since = None;
                }
                base.active = *active;
            }
            Some(_) => errors.add("active", "Must be true or false"),
        }
        errors.finish(()).map_err(Into::into)
    }

    pub async fn create(&self, caller: &Caller, input: WebhookInput) -> Result<(Webhook, WebhookSecret), ServiceError> {
        let secret = WebhookSecret::generate();
        let at = now();
        let mut webhook = Webhook {
            id: WebhookId::new(),
            owner: caller.account.id,
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
        self.parse(&input, &mut webhook, true).await?;
        if self.store.list_webhooks(caller.account.id).await?.len() >= MAX_WEBHOOKS_PER_ACCOUNT {
            return Err(ServiceError::Conflict(format!(
                "An account may have at most {MAX_WEBHOOKS_PER_ACCOUNT} webhooks; delete one first"
            )));
        }
        self.store.insert_webhook(&webhook).await?;
        Ok((webhook, secret))
    }

    fn seal(&self, secret: &WebhookSecret) -> Result<String, ServiceError> {
        self.sealer.seal(secret.expose()).map_err(|e| ServiceError::Internal(e.to_string()))
    }

    pub async fn get(&self, caller: &Caller, id: &str) -> Result<Webhook, ServiceError> {
        let id = WebhookId::parse(id).map_err(|_| ServiceError::NotFound("Webhook"))?;
        self.store.webhook(id).await?.filter(|w| w.owner == caller.account.id).ok_or(ServiceError::NotFound("Webhook"))
    }

    pub async fn list(&self, caller: &Caller) -> Result<Vec<Webhook>, ServiceError> {
        Ok(self.store.list_webhooks(caller.account.id).await?)
    }

    pub async fn update(&self, caller: &Caller, id: &str, input: WebhookInput) -> Result<Webhook, ServiceError> {
        let mut webhook = self.get(caller, id).await?;
        if input.url.is_none() && input.events.is_none() && input.description.is_none() && input.active.is_none() {
            return Err(
                ValidationErrors::single("body", "Nothing to change: send url, events, description or active").into()
            );
        }
        self.parse(&input, &mut webhook, false).await?;
        webhook.updated_at = now();
        self.store.update_webhook(&webhook).await?;
        Ok(webhook)
    }

    pub async fn delete(&self, caller: &Caller, id: &str) -> Result<(), ServiceError> {
        let webhook = self.get(caller, id).await?;
        if self.store.delete_webhook(caller.account.id, webhook.id).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound("Webhook"))
        }
    }

    /// A new secret; the old one keeps signing (alongside) for 24 hours.
    pub async fn rotate_secret(&self, caller: &Caller, id: &str) -> Result<(Webhook, WebhookSecret), ServiceError> {
        let mut webhook = self.get(caller, id).await?;
        let secret = WebhookSecret::generate();
        let at = now();
        webhook.previous_secret = Some((webhook.sealed_secret.clone(), at + ROTATION_OVERLAP));
        webhook.sealed_secret = self.seal(&secret)?;
        webhook.updated_at = at;
        self.store.update_webhook(&webhook).await?;
        Ok((webhook, secret))
    }

    pub async fn deliveries(
        &self,
        caller: &Caller,
        id: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Page<Delivery>, ServiceError> {
        let webhook = self.get(caller, id).await?;
        Ok(self.store.list_deliveries(webhook.id, offset, limit).await?)
    }

    /// Sends a delivery again now, with a fresh retry schedule, under the same `webhook-id`.
    pub async fn redeliver(&self, caller: &Caller, id: &str, delivery: &str) -> Result<Delivery, ServiceError> {
        let webhook = self.get(caller, id).await?;
        let delivery_id = DeliveryId::parse(delivery).map_err(|_| ServiceError::NotFound("Delivery"))?;
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
        self.wake.written();
        Ok(delivery)
    }

    /// Sends a `ping` event to this webhook only (whatever it subscribes to).
    pub async fn ping(&self, caller: &Caller, id: &str) -> Result<Delivery, ServiceError> {
        let webhook = self.get(caller, id).await?;
        let at = now();
        let body = payload(PING, at, &json!({"webhookId": webhook.id.to_string()}));
        let delivery = Delivery::pending(&webhook, EventId::new(), PING, body, at);
        self.store.insert_delivery(&delivery).await?;
        self.wake.written();
        Ok(delivery)
    }
}
