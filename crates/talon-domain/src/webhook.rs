//! Webhooks: endpoint validation, secrets, payload signing (Talon's `X-Talon-Signature` and Standard
//! Webhooks' `webhook-signature`), and the retry schedule. All pure.

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::event::EVENT_TYPES;
use crate::validation::ValidationErrors;

pub const SECRET_PREFIX: &str = "whsec_";
const URL_MAX_CHARS: usize = 2048;
const DESCRIPTION_MAX_CHARS: usize = 500;
/// The event sent by `POST /api/webhooks/:id/test`.
pub const PING: &str = "ping";
/// How much of a receiver's answer is kept in the delivery log.
pub const RESPONSE_BODY_KEPT: usize = 2048;

/// Delays before each retry: about 8 more attempts over about 3 days.
pub const DEFAULT_RETRY_SCHEDULE: [Duration; 8] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(6 * 3600),
    Duration::from_secs(12 * 3600),
    Duration::from_secs(24 * 3600),
    Duration::from_secs(24 * 3600),
];
/// A `Retry-After` longer than this is capped.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// A signing secret: `whsec_` + base64 of 32 random bytes. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        Self(format!("{SECRET_PREFIX}{}", BASE64.encode(bytes)))
    }

    pub fn from_stored(secret: String) -> Self {
        Self(secret)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `sha256=<hex HMAC-SHA256 of the raw body>`, keyed with the whole secret string, as the
    /// documented `verifyWebhook` snippet checks it.
    pub fn talon_signature(&self, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.as_bytes()).expect("HMAC takes any key length");
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    /// Standard Webhooks: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the
    /// base64-decoded part after `whsec_`.
    pub fn standard_signature(&self, message_id: &str, timestamp: i64, body: &[u8]) -> String {
        let encoded = self.0.strip_prefix(SECRET_PREFIX).unwrap_or(&self.0);
        let key = BASE64.decode(encoded).unwrap_or_else(|_| encoded.as_bytes().to_vec());
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
        mac.update(message_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

/// Checks an endpoint URL's shape: http(s), a host, no credentials, at most 2048 characters.
pub fn validate_url(raw: &str, errors: &mut ValidationErrors) -> Option<url_parts::Endpoint> {
    let parsed = url_parts::parse(raw);
    match parsed {
        _ if raw.chars().count() > URL_MAX_CHARS => errors.add("url", "Must be at most 2048 characters"),
        Err(message) => errors.add("url", message),
        Ok(endpoint) => return Some(endpoint),
    }
    None
}

/// Event names a webhook subscribes to: known event types, or `*` for all.
pub fn validate_events(events: &[String], errors: &mut ValidationErrors) {
    if events.is_empty() {
        errors.add("events", "Must list at least one event, or \"*\" for all");
    }
    for (i, event) in events.iter().enumerate() {
        if event != "*" && !EVENT_TYPES.contains(&event.as_str()) {
            errors.add(format!("events[{i}]"), format!("Unknown event `{event}`; known: {}", EVENT_TYPES.join(", ")));
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

/// Addresses a webhook may never reach unless private targets are allowed: loopback, private,
/// link-local (including cloud metadata at 169.254.169.254), shared, multicast and unspecified ones.
pub fn is_forbidden_target(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || (a == 100 && (64..128).contains(&b)) // shared address space (carrier-grade NAT)
                || a == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_forbidden_target(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
        }
    }
}

/// The delay before the next attempt after `attempts` failed ones: the receiver's `Retry-After` if it
/// gave one (capped at a day), else the schedule, with ±10% jitter. `None` when attempts are spent.
pub fn next_delay(
    schedule: &[Duration],
    attempts: u32,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Option<Duration> {
    let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
    let scheduled = *schedule.get(index)?;
    let base = retry_after.map_or(scheduled, |r| r.min(MAX_RETRY_AFTER));
    Some(base.mul_f64(1.0 + 0.1 * jitter.clamp(-1.0, 1.0)))
}

/// A webhook failing without a break for this long is turned off.
pub const DISABLE_AFTER_FAILING: chrono::Duration = chrono::Duration::days(5);

/// Whether a webhook that has failed continuously since `failing_since` should now be disabled.
pub fn failed_too_long(failing_since: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> bool {
    now - failing_since >= DISABLE_AFTER_FAILING
}

/// Parses `TALON_WEBHOOK_RETRY_SCHEDULE`: comma-separated seconds, fractions allowed (`5,300,1800`).
pub fn parse_schedule(raw: &str) -> Result<Vec<Duration>, String> {
    raw.split(',')
        .map(|part| {
            let seconds: f64 =
                part.trim().parse().map_err(|_| format!("`{}` is not a number of seconds", part.trim()))?;
            if seconds.is_finite() && seconds >= 0.0 {
                Ok(Duration::from_secs_f64(seconds))
            } else {
                Err(format!("`{}` is not a number of seconds", part.trim()))
            }
        })
        .collect()
}

pub mod url_parts {
    //! Just enough URL parsing for endpoints: scheme, host (name or IP literal), port.

    use std::net::IpAddr;

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Endpoint {
        pub https: bool,
        pub host: String,
        pub port: u16,
    }

    impl Endpoint {
        pub fn ip_literal(&self) -> Option<IpAddr> {
            self.host.trim_start_matches('[').trim_end_matches(']').parse().ok()
        }
    }

    pub fn parse(raw: &str) -> Result<Endpoint, &'static str> {
        let (https, rest) = if let Some(rest) = raw.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = raw.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err("Must be an http:// or https:// URL");
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err("Must not contain credentials");
        }
        if authority.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("Must be a valid URL");
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => {
                (host, port.parse::<u16>().map_err(|_| "Must have a valid port")?)
            }
            _ => (authority, if https { 443 } else { 80 }),
        };
        if host.is_empty() || host == "[]" {
            return Err("Must have a host");
        }
        Ok(Endpoint { https, host: host.to_ascii_lowercase(), port })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_webhooks_golden_vector() {
        // The test vector published with the Standard Webhooks specification.
        let secret = WebhookSecret::from_stored("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into());
        let signature =
            secret.standard_signature("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn talon_signature_is_hex_hmac_of_the_body_keyed_by_the_secret_string() {
        let secret = WebhookSecret::from_stored("whsec_abc123".into());
        let mut mac = Hmac::<Sha256>::new_from_slice(b"whsec_abc123").unwrap();
        mac.update(b"{\"event\":\"ping\"}");
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(secret.talon_signature(b"{\"event\":\"ping\"}"), expected);
    }

    #[test]
    fn generated_secrets_are_distinct_and_hidden_from_debug() {
        let (a, b) = (WebhookSecret::generate(), WebhookSecret::generate());
        assert_ne!(a, b);
        assert!(a.expose().starts_with("whsec_"));
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn urls() {
        let ok = url_parts::parse("https://your-app.com/webhooks/Talon").unwrap();
        assert_eq!((ok.https, ok.host.as_str(), ok.port), (true, "your-app.com", 443));
        assert_eq!(
            url_parts::parse("http://127.0.0.1:8080/x").unwrap().ip_literal(),
            Some("127.0.0.1".parse().unwrap())
        );
        assert_eq!(url_parts::parse("http://[::1]:9000/").unwrap().ip_literal(), Some("::1".parse().unwrap()));
        for bad in ["ftp://x.com", "https://", "https://user:pw@x.com/", "http://x.com:99999/", "x.com"] {
            assert!(url_parts::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forbidden_targets() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_forbidden_target(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111"] {
            assert!(!is_forbidden_target(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn events_are_checked_against_what_the_server_emits() {
        let mut errors = ValidationErrors::new();
        validate_events(&["task.completed".into(), "*".into(), "task.exploded".into()], &mut errors);
        assert_eq!(errors.fields()[0].field, "events[2]");
        assert!(subscribes(&["*".into()], "agent.forked"));
        assert!(!subscribes(&["task.failed".into()], "agent.forked"));
    }

    #[test]
    fn retry_delays_follow_the_schedule_or_retry_after() {
        let schedule = [Duration::from_secs(5), Duration::from_secs(300)];
        assert_eq!(next_delay(&schedule, 1, None, 0.0), Some(Duration::from_secs(5)));
        assert_eq!(next_delay(&schedule, 2, None, 1.0), Some(Duration::from_secs(330)));
        assert_eq!(next_delay(&schedule, 1, Some(Duration::from_secs(60)), 0.0), Some(Duration::from_secs(60)));
        assert_eq!(next_delay(&schedule, 3, None, 0.0), None, "attempts spent");
        let total: Duration = DEFAULT_RETRY_SCHEDULE.iter().sum();
        assert!((60..=80).contains(&(total.as_secs() / 3600)), "about three days of retries");
    }

    #[test]
    fn five_days_of_failures_disable() {
        let start = chrono::Utc::now();
        assert!(!failed_too_long(start, start + chrono::Duration::days(4)));
        assert!(failed_too_long(start, start + chrono::Duration::days(5)));
    }

    #[test]
    fn schedules_parse_from_seconds() {
        assert_eq!(
            parse_schedule("5,300,0.25").unwrap(),
            [Duration::from_secs(5), Duration::from_secs(300), Duration::from_millis(250)]
        );
        assert!(parse_schedule("5,soon").is_err());
        assert!(parse_schedule("-1").is_err());
    }
}

/// A webhook endpoint. Its secrets are kept sealed (encrypted with the server's key); the server opens
/// them only to sign a delivery or to show a new secret once.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub id: crate::id::WebhookId,
    pub owner: crate::id::UserId,
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

/// The body every delivery sends: `{"event", "timestamp", "data"}`.
pub fn payload(kind: &str, timestamp: chrono::DateTime<chrono::Utc>, data: &serde_json::Value) -> String {
    serde_json::json!({
        "event": kind,
        "timestamp": timestamp.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "data": data,
    })
    .to_string()
}
