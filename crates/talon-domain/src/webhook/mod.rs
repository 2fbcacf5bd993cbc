//! Webhooks: endpoints and their deliveries, and the event names they subscribe to. The rules for
//! secrets and signatures, target addresses and retries live in the submodules; all of it is pure.

mod retry;
mod secret;
mod target;

pub use retry::{DEFAULT_RETRY_SCHEDULE, DISABLE_AFTER_FAILING, failed_too_long, next_delay, parse_schedule};
pub use secret::{SECRET_PREFIX, WebhookSecret};
pub use target::{FORBIDDEN_TARGET, is_forbidden_target, literal_address, parse_endpoint, validate_url};

use crate::event::{EVENT_TYPES, MARKETPLACE_EVENT_TYPES};
use crate::validation::ValidationErrors;

const DESCRIPTION_MAX_CHARS: usize = 500;
/// Webhooks one account may have. Every event of the account fans out to each of them, so this bounds
/// how much work one account's event makes.
pub const MAX_WEBHOOKS_PER_ACCOUNT: usize = 50;
/// The event sent by `POST /api/webhooks/:id/test`.
pub const PING: &str = "ping";
/// How much of a receiver's answer is kept in the delivery log.
pub const RESPONSE_BODY_KEPT: usize = 2048;

/// Event names a webhook subscribes to: known event types, or `*` for all, each at most once.
pub fn validate_events(events: &[String], errors: &mut ValidationErrors) {
    if events.is_empty() {
        errors.add("events", "Must list at least one event, or \"*\" for all");
    }
    let most = EVENT_TYPES.len() + 1;
    if events.len() > most {
        errors.add("events", format!("Must list at most {most} events (each known event once, or \"*\")"));
        return;
    }
    for (i, event) in events.iter().enumerate() {
        if event != "*" && !EVENT_TYPES.contains(&event.as_str()) {
            errors.add(format!("events[{i}]"), format!("Unknown event `{event}`; known: {}", EVENT_TYPES.join(", ")));
        } else if events[..i].contains(event) {
            errors.add(format!("events[{i}]"), format!("`{event}` is listed twice"));
        }
    }
}

pub fn validate_description(description: &str, errors: &mut ValidationErrors) {
    if description.chars().count() > DESCRIPTION_MAX_CHARS {
        errors.add("description", "Must be at most 500 characters");
    }
}

/// Whether a webhook subscribed to `events` receives `kind`.
pub fn subscribes(events: &[String], kind: &str) -> bool {
    events.iter().any(|e| e == "*" || e == kind)
}

/// The event `POST /api/v1/agent/webhooks/test` sends (the name the ClawGig SDK's own tests sign).
pub const AGENT_TEST_EVENT: &str = "test";

/// Whether `hook` receives an event of its account of `kind` meant for `agent` that happened at
/// `occurred`: an account's webhook takes every event of the account it subscribes to; an agent's webhook
/// only those meant for its agent. Neither takes events from before it existed, even when the dispatcher
/// reaches them after it was made (a backlog of thousands of old events once went to a new webhook).
pub fn receives(
    hook: &Webhook,
    kind: &str,
    agent: Option<crate::id::AgentId>,
    occurred: chrono::DateTime<chrono::Utc>,
) -> bool {
    let addressed = match hook.agent {
        None => true,
        Some(own) => agent == Some(own),
    };
    addressed && subscribes(&hook.events, kind) && occurred >= hook.created_at
}

/// An agent's webhook events (`webhook_events`): marketplace event names, each at most once. An empty
/// list is allowed: the webhook then receives nothing but tests.
pub fn validate_agent_events(events: &[String], errors: &mut ValidationErrors) {
    if events.len() > MARKETPLACE_EVENT_TYPES.len() {
        errors.add("webhook_events", format!("Must list at most {} events, each once", MARKETPLACE_EVENT_TYPES.len()));
        return;
    }
    for (i, event) in events.iter().enumerate() {
        if !MARKETPLACE_EVENT_TYPES.contains(&event.as_str()) {
            errors.add(
                format!("webhook_events[{i}]"),
                format!("Unknown event `{event}`; known: {}", MARKETPLACE_EVENT_TYPES.join(", ")),
            );
        } else if events[..i].contains(event) {
            errors.add(format!("webhook_events[{i}]"), format!("`{event}` is listed twice"));
        }
    }
}

/// `X-ClawGig-Timestamp`: RFC 3339 in UTC with milliseconds (`2026-02-24T12:00:00.000Z`), which
/// JavaScript's `Date` parses (Unix seconds would not).
pub fn clawgig_timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Which signature headers (and which rotation rule) a webhook's deliveries carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// Talon's own: `X-Talon-Signature` (`sha256=<hex>`) and Standard Webhooks' `webhook-*` headers; a
    /// rotated secret keeps signing alongside the new one for a day.
    Talon,
    /// The ClawGig SDK's: `X-ClawGig-Signature` (bare lowercase hex), `X-ClawGig-Timestamp` (RFC 3339)
    /// and `X-ClawGig-Delivery-ID`. The SDK checks one signature, so a rotation takes effect at once.
    ClawGig,
}

impl Signing {
    pub const fn as_str(self) -> &'static str {
        match self {
            Signing::Talon => "talon",
            Signing::ClawGig => "clawgig",
        }
    }
}

impl std::str::FromStr for Signing {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "talon" => Ok(Signing::Talon),
            "clawgig" => Ok(Signing::ClawGig),
            other => Err(format!("unknown webhook signing `{other}`")),
        }
    }
}

/// A webhook endpoint. Its secrets are kept sealed (encrypted with the server's key); the server opens
/// them only to sign a delivery or to show a new secret once.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub id: crate::id::WebhookId,
    pub owner: crate::id::UserId,
    /// Set on an agent's own webhook (one per agent, receiving the events meant for that agent);
    /// `None` on the account's webhooks, which receive every event of the account.
    pub agent: Option<crate::id::AgentId>,
    pub signing: Signing,
    pub url: String,
    pub events: Vec<String>,
    pub description: String,
    pub active: bool,
    /// Why the server turned the webhook off (410 Gone, failing for days), if it did.
    pub disabled_reason: Option<String>,
    pub sealed_secret: String,
    /// After a rotation, the old secret still signs until this time.
    pub previous_secret: Option<(String, chrono::DateTime<chrono::Utc>)>,
    pub failing_since: Option<chrono::DateTime<chrono::Utc>>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Sending,
    Succeeded,
    Failed,
}

impl DeliveryStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sending => "sending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }
}

impl std::str::FromStr for DeliveryStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pending" => Ok(DeliveryStatus::Pending),
            "sending" => Ok(DeliveryStatus::Sending),
            "succeeded" => Ok(DeliveryStatus::Succeeded),
            "failed" => Ok(DeliveryStatus::Failed),
            other => Err(format!("unknown delivery status `{other}`")),
        }
    }
}

/// One event's delivery to one webhook. The payload is fixed when the delivery is made, so every
/// attempt sends the same bytes under the same `webhook-id` (the event's id).
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: crate::id::DeliveryId,
    pub webhook_id: crate::id::WebhookId,
    pub owner: crate::id::UserId,
    pub event_id: crate::id::EventId,
    pub event_kind: String,
    pub payload: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: chrono::DateTime<chrono::Utc>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub last_latency_ms: Option<i64>,
    pub last_response_body: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl Delivery {
    /// A first attempt of `event_kind` to `webhook`, due at `at`.
    pub fn pending(
        webhook: &Webhook,
        event_id: crate::id::EventId,
        event_kind: &str,
        payload: String,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        Self {
            id: crate::id::DeliveryId::new(),
            webhook_id: webhook.id,
            owner: webhook.owner,
            event_id,
            event_kind: event_kind.to_owned(),
            payload,
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: at,
            last_status_code: None,
            last_error: None,
            last_latency_ms: None,
            last_response_body: None,
            created_at: at,
            updated_at: at,
        }
    }
}

/// The body every delivery sends: `{"event", "timestamp", "data"}`.
pub fn payload(kind: &str, timestamp: chrono::DateTime<chrono::Utc>, data: &serde_json::Value) -> String {
    serde_json::json!({
        "event": kind,
        "timestamp": timestamp.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "data": data,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_checked_against_what_the_server_emits() {
        let mut errors = ValidationErrors::new();
        validate_events(&["task.completed".into(), "*".into(), "task.exploded".into()], &mut errors);
        assert_eq!(errors.fields()[0].field, "events[2]");
        let mut errors = ValidationErrors::new();
        validate_events(&["task.failed".into(), "task.failed".into()], &mut errors);
        assert_eq!(errors.fields()[0].field, "events[1]");
        let mut errors = ValidationErrors::new();
        validate_events(&vec!["task.failed".to_owned(); 10_000], &mut errors);
        assert_eq!(errors.fields().len(), 1, "one error for an oversized list, not one per entry");
        assert_eq!(errors.fields()[0].field, "events");
        let mut errors = ValidationErrors::new();
        let every: Vec<String> = EVENT_TYPES.iter().map(|e| (*e).to_owned()).chain(["*".to_owned()]).collect();
        validate_events(&every, &mut errors);
        assert!(errors.fields().is_empty(), "every event once, and `*`, is fine");
        assert!(subscribes(&["*".into()], "agent.forked"));
        assert!(!subscribes(&["task.failed".into()], "agent.forked"));
    }

    fn hook(agent: Option<crate::id::AgentId>, events: &[&str]) -> Webhook {
        let at = chrono::Utc::now();
        Webhook {
            id: crate::id::WebhookId::new(),
            owner: crate::id::UserId::new(),
            agent,
            signing: if agent.is_some() { Signing::ClawGig } else { Signing::Talon },
            url: "https://example.com/hook".into(),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            description: String::new(),
            active: true,
            disabled_reason: None,
            sealed_secret: String::new(),
            previous_secret: None,
            failing_since: None,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn agent_webhooks_receive_only_their_agents_events() {
        let (mine, other) = (crate::id::AgentId::new(), crate::id::AgentId::new());
        let agent_hook = hook(Some(mine), &["contract.funded"]);
        let account_hook = hook(None, &["contract.funded"]);
        let now = chrono::Utc::now();
        assert!(receives(&agent_hook, "contract.funded", Some(mine), now));
        assert!(!receives(&agent_hook, "contract.funded", Some(other), now), "another agent's event");
        assert!(!receives(&agent_hook, "contract.funded", None, now), "an account-wide event");
        assert!(!receives(&agent_hook, "contract.approved", Some(mine), now), "not subscribed");
        assert!(receives(&account_hook, "contract.funded", Some(mine), now), "accounts see their agents' events");
        assert!(receives(&account_hook, "contract.funded", None, now));
        assert!(!receives(&account_hook, "task.failed", None, now));
    }

    #[test]
    fn a_webhook_takes_no_event_from_before_it_existed() {
        let account_hook = hook(None, &["*"]);
        let made = account_hook.created_at;
        assert!(!receives(&account_hook, "task.created", None, made - chrono::Duration::milliseconds(1)));
        assert!(receives(&account_hook, "task.created", None, made));
        assert!(receives(&account_hook, "task.created", None, made + chrono::Duration::seconds(1)));
    }

    #[test]
    fn agent_events_are_marketplace_events() {
        let mut errors = ValidationErrors::new();
        validate_agent_events(&["gig.posted".into(), "task.failed".into(), "gig.posted".into()], &mut errors);
        let fields: Vec<&str> = errors.fields().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["webhook_events[1]", "webhook_events[2]"]);
        let mut errors = ValidationErrors::new();
        validate_agent_events(&[], &mut errors);
        assert!(errors.fields().is_empty());
        let every: Vec<String> = MARKETPLACE_EVENT_TYPES.iter().map(|e| (*e).to_owned()).collect();
        validate_agent_events(&every, &mut errors);
        assert!(errors.fields().is_empty());
    }

    #[test]
    fn clawgig_timestamps_have_milliseconds_and_z() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-02-24T12:00:00Z").unwrap().with_timezone(&chrono::Utc);
        assert_eq!(clawgig_timestamp(at), "2026-02-24T12:00:00.000Z");
    }
}
