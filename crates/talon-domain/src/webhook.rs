//! Webhooks: endpoint validation, secrets, payload signing (Talon's `X-Talon-Signature` and Standard
//! Webhooks' `webhook-signature`), and the retry schedule. All pure.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
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
/// Webhooks one account may have. Every event of the account fans out to each of them, so this bounds
/// how much work one account's event makes.
pub const MAX_WEBHOOKS_PER_ACCOUNT: usize = 50;
/// The same message wherever a target is refused (creation, update, delivery).
pub const FORBIDDEN_TARGET: &str =
    "Must not point at a private, loopback, link-local, multicast or cloud-metadata address";
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

/// Checks an endpoint URL: http(s), a host, no credentials, at most 2048 characters. It is parsed by the
/// WHATWG parser the delivery client uses (`url`), so the host checked here is the host connected to:
/// `127.0.0.%31`, `127.0.0.1.`, `0x7f.1` or full-width digits come back as the IP address they are.
/// Returns the normalised URL, which is what is stored and called.
pub fn validate_url(raw: &str, errors: &mut ValidationErrors) -> Option<url::Url> {
    if raw.chars().count() > URL_MAX_CHARS {
        errors.add("url", "Must be at most 2048 characters");
        return None;
    }
    match parse_endpoint(raw) {
        Ok(url) => Some(url),
        Err(message) => {
            errors.add("url", message);
            None
        }
    }
}

/// Parses an endpoint URL as the delivery client will.
pub fn parse_endpoint(raw: &str) -> Result<url::Url, &'static str> {
    let url = url::Url::parse(raw.trim()).map_err(|_| "Must be a valid http:// or https:// URL")?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("Must be an http:// or https:// URL");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("Must not contain credentials");
    }
    match url.host() {
        None => Err("Must have a host"),
        Some(url::Host::Domain("")) => Err("Must have a host"),
        Some(_) => Ok(url),
    }
}

/// The address an endpoint names, when its host is an IP address rather than a name.
pub fn literal_address(url: &url::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

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

/// Addresses a webhook may never reach unless private targets are allowed: anything not globally
/// routable (loopback, private, shared/CGNAT, link-local with cloud metadata, unspecified, `0/8`,
/// broadcast, multicast, reserved, benchmarking, documentation, unique- and site-local IPv6), and IPv6
/// forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo) when that address is one.
pub fn is_forbidden_target(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => is_forbidden_v6(v6),
    }
}

fn is_forbidden_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier-grade NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240 // reserved
}

fn is_forbidden_v6(v6: Ipv6Addr) -> bool {
    let s = v6.segments();
    let embedded_v4 = |high: u16, low: u16| Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
    // ::a.b.c.d (compatible, which includes :: and ::1) and ::ffff:a.b.c.d (mapped).
    if s[..5] == [0; 5] && (s[5] == 0 || s[5] == 0xffff) {
        return v6.is_unspecified() || v6.is_loopback() || is_forbidden_v4(embedded_v4(s[6], s[7]));
    }
    // NAT64: 64:ff9b::/96 (well-known) and 64:ff9b:1::/48 (local use, always internal).
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_forbidden_v4(embedded_v4(s[6], s[7]));
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1 {
        return true;
    }
    // 6to4 carries the IPv4 address after the prefix; Teredo carries the client's, inverted.
    if s[0] == 0x2002 {
        return is_forbidden_v4(embedded_v4(s[1], s[2]));
    }
    if s[0] == 0x2001 && s[1] == 0 {
        return is_forbidden_v4(embedded_v4(!s[6], !s[7]));
    }
    v6.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated, still internal)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1..4] == [0; 3]) // discard-only 100::/64
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
    fn urls_are_read_as_the_delivery_client_reads_them() {
        let ok = parse_endpoint("https://your-app.com/webhooks/Talon").unwrap();
        assert_eq!(
            (ok.scheme(), ok.host_str(), ok.port_or_known_default()),
            ("https", Some("your-app.com"), Some(443))
        );
        assert_eq!(literal_address(&ok), None);
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        for disguised in [
            "http://127.0.0.1:8080/x",
            "http://127.0.0.1.:8080/",
            "http://127.0.0.%31/",
            "http://127.0.0.1%2e/",
            "http://\u{ff11}\u{ff12}\u{ff17}.\u{ff10}.\u{ff10}.\u{ff11}/",
            "http://127\u{3002}0\u{3002}0\u{3002}1/",
            "http://0x7f.1/",
            "http://2130706433/",
            "http://0177.0.0.1/",
        ] {
            let url = parse_endpoint(disguised).unwrap();
            assert_eq!(literal_address(&url), Some(loopback), "{disguised}");
            assert!(is_forbidden_target(loopback));
        }
        assert_eq!(parse_endpoint("http://127.0.0.%31:8080").unwrap().as_str(), "http://127.0.0.1:8080/");
        assert_eq!(
            literal_address(&parse_endpoint("http://169.254.169.%32%35%34/").unwrap()),
            Some("169.254.169.254".parse().unwrap())
        );
        assert_eq!(literal_address(&parse_endpoint("http://[::1]:9000/").unwrap()), Some("::1".parse().unwrap()));
        for bad in
            ["ftp://x.com", "https://", "https://user:pw@x.com/", "https://user@x.com/", "http://x.com:99999/", "x.com"]
        {
            assert!(parse_endpoint(bad).is_err(), "{bad}");
        }
        let mut errors = ValidationErrors::new();
        assert!(validate_url(&format!("https://x.com/{}", "a".repeat(2048)), &mut errors).is_none());
        assert_eq!(errors.fields()[0].field, "url");
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
            "0.1.2.3",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "198.18.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
            "64:ff9b:1::5",
            "2002:7f00:1::",
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
        ] {
            assert!(is_forbidden_target(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111", "64:ff9b::5db8:d822", "::ffff:93.184.216.34", "2002:5db8:d822::"]
        {
            assert!(!is_forbidden_target(ip.parse().unwrap()), "{ip}");
        }
    }

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
