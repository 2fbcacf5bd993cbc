//! One signed POST of a delivery, as the delivery worker and the agent webhook test send it: the
//! headers its webhook's signing calls for (Talon's own or the ClawGig SDK's), through the guarded
//! client, keeping the first 2 KB of the answer.

use std::time::Duration;

use chrono::Utc;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use talon_domain::webhook::{Delivery, RESPONSE_BODY_KEPT, Signing, Webhook, WebhookSecret, clawgig_timestamp};

use super::client::check_before_sending;

/// What the receiver answered.
pub struct Answer {
    pub status: u16,
    /// The first `RESPONSE_BODY_KEPT` bytes of its body.
    pub body: String,
    pub retry_after: Option<Duration>,
}

/// Signs and POSTs one attempt of `delivery` with `secrets` (the current one first) through the
/// guarded `client`. `Err` says why no answer came (never naming the URL or the secret).
pub async fn send(
    client: &reqwest::Client,
    allow_private: bool,
    secrets: &[WebhookSecret],
    webhook: &Webhook,
    delivery: &Delivery,
) -> Result<Answer, String> {
    // The connection is checked again once made (see `client`); this refuses early, with a clear reason.
    check_before_sending(&webhook.url, allow_private)?;
    let headers = match webhook.signing {
        Signing::Talon => talon_headers(secrets, delivery)?,
        Signing::ClawGig => clawgig_headers(secrets, delivery)?,
    };
    let mut response = client
        .post(&webhook.url)
        .headers(headers)
        .body(delivery.payload.clone())
        .send()
        .await
        .map_err(|e| describe(&e))?;
    let status = response.status().as_u16();
    let retry_after = response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
    let mut kept = Vec::new();
    while kept.len() < RESPONSE_BODY_KEPT {
        match response.chunk().await {
            Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
            _ => break,
        }
    }
    kept.truncate(RESPONSE_BODY_KEPT);
    Ok(Answer { status, body: String::from_utf8_lossy(&kept).into_owned(), retry_after })
}

fn header(value: String) -> Result<HeaderValue, String> {
    HeaderValue::from_str(&value).map_err(|e| e.to_string())
}

/// The ClawGig SDK's headers: one signature (bare hex, current secret), an RFC 3339 timestamp its
/// `Date` parses, and the delivery id for de-duplication (the same on every attempt).
fn clawgig_headers(secrets: &[WebhookSecret], delivery: &Delivery) -> Result<HeaderMap, String> {
    let secret = secrets.first().ok_or("The webhook has no signing secret")?;
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("x-clawgig-signature", header(secret.clawgig_signature(delivery.payload.as_bytes()))?);
    headers.insert("x-clawgig-timestamp", header(clawgig_timestamp(Utc::now()))?);
    headers.insert("x-clawgig-delivery-id", header(delivery.id.to_string())?);
    headers.insert("x-clawgig-event", header(delivery.event_kind.clone())?);
    Ok(headers)
}

/// Talon's own headers: Standard Webhooks' `webhook-*` and `X-Talon-Signature`.
fn talon_headers(secrets: &[WebhookSecret], delivery: &Delivery) -> Result<HeaderMap, String> {
    let body = delivery.payload.as_bytes();
    let current = secrets.first().ok_or("The webhook has no signing secret")?;
    let message_id = delivery.event_id.to_string();
    let timestamp = Utc::now().timestamp();
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("webhook-id", header(message_id.clone())?);
    headers.insert("webhook-timestamp", header(timestamp.to_string())?);
    let standard: Vec<String> = secrets.iter().map(|s| s.standard_signature(&message_id, timestamp, body)).collect();
    headers.insert("webhook-signature", header(standard.join(" "))?);
    let signature = current.talon_signature(body);
    // The spec names the header `X-Clawmit-Signature`; both carry the same value.
    headers.insert("x-clawmit-signature", header(signature.clone())?);
    headers.insert("x-talon-signature", header(signature)?);
    if let Some(previous) = secrets.get(1) {
        headers.insert("x-talon-signature-previous", header(previous.talon_signature(body))?);
    }
    headers.insert("x-talon-event", header(delivery.event_kind.clone())?);
    Ok(headers)
}

/// Why a request failed, without its URL (which may carry a token).
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "The request timed out".into();
    }
    // The innermost cause says what happened ("connection refused", the guard's refusal, …).
    let mut cause: &dyn std::error::Error = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let detail = if std::ptr::addr_eq(cause, error) { error_without_url(error) } else { cause.to_string() };
    if error.is_connect() { format!("Could not connect: {detail}") } else { format!("The request failed: {detail}") }
}

fn error_without_url(error: &reqwest::Error) -> String {
    let mut message = error.to_string();
    if let Some(url) = error.url() {
        message = message.replace(url.as_str(), "…");
    }
    message
}

/// `Retry-After`: seconds, or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value.trim()).ok()?;
    (at.with_timezone(&Utc) - Utc::now()).to_std().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        let later = (Utc::now() + chrono::Duration::seconds(90)).to_rfc2822();
        let parsed = parse_retry_after(&later).unwrap();
        assert!((85..=90).contains(&parsed.as_secs()));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
