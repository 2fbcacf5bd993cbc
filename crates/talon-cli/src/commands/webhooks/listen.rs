//! `talon webhooks listen`: a local receiver behind a temporary webhook, or `--poll` on its delivery log.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use talon_domain::webhook::WebhookSecret;

use super::ListenArgs;
use crate::client::segment;
use crate::commands::Session;
use crate::error::CliError;
use crate::output::{self, ACCENT, ADDED, DIM, REMOVED, paint};

/// What creating a webhook answers that `listen` needs; the secret is shown at creation only.
#[derive(Deserialize)]
struct CreatedWebhook {
    id: String,
    secret: String,
}

/// Where a `--poll` webhook points: `.invalid` never resolves (RFC 2606), so its deliveries fail at the
/// server and stay in the log, which is what is followed.
const UNROUTABLE_URL: &str = "https://listen.talon.invalid/";

/// A delivery whose timestamp is further than this from now is refused: it may be a replay.
const TIMESTAMP_TOLERANCE_SECONDS: i64 = 5 * 60;

/// The headers forwarded with the raw body: what the app needs to check the signature itself.
const FORWARDED_HEADERS: [&str; 8] = [
    "content-type",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-talon-signature",
    "x-talon-signature-previous",
    "x-clawmit-signature",
    "x-talon-event",
];

pub(super) async fn listen(session: &Session, args: ListenArgs) -> Result<(), CliError> {
    let mut stop = Box::pin(interrupted());
    // Polled once now so that the signal handlers are in place before the webhook exists: from then on
    // a Ctrl-C ends the command through the path that deletes it, rather than killing the process.
    if futures::poll!(&mut stop).is_ready() {
        return Ok(());
    }
    if args.poll {
        return poll(session, &args.events, stop).await;
    }
    if let Some(forward_to) = &args.forward_to {
        reqwest::Url::parse(forward_to).map_err(|e| CliError::Usage(format!("--forward-to {forward_to}: {e}")))?;
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| CliError::Protocol(format!("building the HTTP client: {e}")))?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port.unwrap_or(0)))
        .await
        .map_err(CliError::io("opening the local receiver"))?;
    let local = listener.local_addr().map_err(CliError::io("opening the local receiver"))?;
    let local_url = format!("http://{local}/");
    let target = args.url.clone().unwrap_or_else(|| local_url.clone());
    let webhook = match register(session, &target, &args.events).await {
        Err(e) if e.is_status(400) && args.url.is_none() => {
            anstream::eprintln!(
                "{}",
                paint(
                    ACCENT,
                    format!(
                        "The server refused a webhook to {local_url}: it reaches this machine's loopback address only \
                         when it runs here with TALON_WEBHOOK_ALLOW_PRIVATE=true. Give a public URL that reaches this \
                         receiver with --url, or follow the delivery log with --poll."
                    )
                )
            );
            return Err(e);
        }
        other => other?,
    };
    anstream::eprintln!("Receiving {} at {local_url} (webhook {})", events_label(&args.events), webhook.id);
    if args.url.is_some() {
        anstream::eprintln!("The webhook points at {target}: it must reach {local_url}");
    }
    anstream::eprintln!("Signing secret: {}", webhook.secret);
    if let Some(forward_to) = &args.forward_to {
        anstream::eprintln!("Forwarding verified events to {forward_to}");
    }
    anstream::eprintln!("{}", paint(DIM, "Ctrl-C stops and deletes the webhook"));
    let receiver = Receiver {
        secret: WebhookSecret::from_stored(webhook.secret.clone()),
        forward_to: args.forward_to,
        http,
        json: session.json,
    };
    let app = Router::new().fallback(receive).with_state(Arc::new(receiver));
    let served = axum::serve(listener, app).with_graceful_shutdown(stop).await.map_err(CliError::io("receiving"));
    remove_temporary(session, &webhook.id).await;
    served
}

async fn poll(
    session: &Session,
    events: &[String],
    mut stop: impl Future<Output = ()> + Unpin,
) -> Result<(), CliError> {
    let webhook = register(session, UNROUTABLE_URL, events).await?;
    anstream::eprintln!("Following the delivery log of webhook {} for {}", webhook.id, events_label(events));
    anstream::eprintln!(
        "{}",
        paint(DIM, "Payloads are not in the deliveries API: each delivery shows its event, event id and status")
    );
    anstream::eprintln!("{}", paint(DIM, "Ctrl-C stops and deletes the webhook"));
    let followed = follow_log(session, &webhook.id, &mut stop).await;
    remove_temporary(session, &webhook.id).await;
    followed
}

/// Prints each new delivery of the webhook, oldest first, checking the log every second until `stop`.
async fn follow_log(
    session: &Session,
    webhook_id: &str,
    mut stop: impl Future<Output = ()> + Unpin,
) -> Result<(), CliError> {
    let path = format!("/api/webhooks/{}/deliveries?limit=100", segment(webhook_id));
    let mut seen = HashSet::new();
    let mut every_second = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            () = &mut stop => return Ok(()),
            _ = every_second.tick() => {}
        }
        let page: Value = session.client.get(&path).await?;
        for delivery in page["data"].as_array().into_iter().flatten().rev() {
            if !seen.insert(output::cell(&delivery["id"])) {
                continue;
            }
            if session.json {
                anstream::println!("{delivery}");
            } else {
                anstream::println!(
                    "{}  {}  {}  {}",
                    clock(),
                    output::cell(&delivery["event"]),
                    output::cell(&delivery["eventId"]),
                    output::cell(&delivery["status"])
                );
            }
        }
    }
}

async fn register(session: &Session, url: &str, events: &[String]) -> Result<CreatedWebhook, CliError> {
    let events = if events.is_empty() { vec!["*".to_owned()] } else { events.to_vec() };
    let body = json!({"url": url, "events": events, "description": "talon webhooks listen (temporary)"});
    session.client.post("/api/webhooks", &body).await
}

/// Deletes the temporary webhook. A failure is reported with the way to finish the job, and does not
/// replace the command's own outcome.
async fn remove_temporary(session: &Session, webhook_id: &str) {
    match session.client.delete(&format!("/api/webhooks/{}", segment(webhook_id))).await {
        Ok(()) => anstream::eprintln!("{}", paint(DIM, format!("Deleted webhook {webhook_id}"))),
        Err(e) => anstream::eprintln!(
            "{} could not delete webhook {webhook_id} ({e}): delete it with `talon webhooks rm {webhook_id}`",
            paint(REMOVED, "warning:")
        ),
    }
}

fn events_label(events: &[String]) -> String {
    if events.is_empty() { "all events".to_owned() } else { events.join(", ") }
}

fn clock() -> String {
    chrono::Local::now().format("%H:%M:%S").to_string()
}

/// Resolves at Ctrl-C or, on Unix, SIGTERM: either ends `listen`, which then deletes its webhook.
async fn interrupted() {
    #[cfg(unix)]
    let terminated = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminated = std::future::pending::<()>();
    tokio::select! {
        Ok(()) = tokio::signal::ctrl_c() => {}
        () = terminated => {}
    }
}

/// The local receiver: the temporary webhook's secret, where verified events go, and how to print.
struct Receiver {
    secret: WebhookSecret,
    forward_to: Option<String>,
    http: reqwest::Client,
    json: bool,
}

async fn receive(State(receiver): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    receiver.receive(&headers, body).await
}

impl Receiver {
    /// Prints one delivery and forwards it when its signature holds; what the server is answered.
    async fn receive(&self, headers: &HeaderMap, body: Bytes) -> StatusCode {
        let received = chrono::Utc::now();
        let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let event = payload["event"].as_str().map(str::to_owned).or_else(|| header("x-talon-event"));
        let event = event.unwrap_or_else(|| "-".to_owned());
        let event_id = header("webhook-id").unwrap_or_else(|| "-".to_owned());
        let verdict = verify(&self.secret, headers, &body, received.timestamp());
        if !self.json {
            let outcome = match &verdict {
                Ok(()) => paint(ADDED, "signature verified"),
                Err(reason) => paint(REMOVED, format!("signature check failed ({reason}): not forwarded")),
            };
            anstream::println!("{}  {event:<18}  {event_id}  {outcome}", clock());
        }
        let forwarded = match (&verdict, &self.forward_to) {
            (Ok(()), Some(url)) => Some((url, self.forward(url, headers, body).await)),
            _ => None,
        };
        if self.json {
            let mut line = json!({
                "time": received.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "event": event,
                "eventId": event_id,
                "verified": verdict.is_ok(),
                "payload": payload,
            });
            if let Err(reason) = &verdict {
                line["error"] = json!(reason);
            }
            if let Some((url, result)) = &forwarded {
                line["forwardedTo"] = json!(url);
                match result {
                    Ok(status) => line["forwardStatus"] = json!(status),
                    Err(error) => line["forwardError"] = json!(error),
                }
            }
            anstream::println!("{line}");
        } else if let Some((url, result)) = &forwarded {
            match result {
                Ok(status) => anstream::println!("{}  → {status} {url} ({event_id})", clock()),
                Err(error) => anstream::println!(
                    "{}  → {} ({event_id})",
                    clock(),
                    paint(REMOVED, format!("{url} failed: {error}"))
                ),
            }
        }
        match (verdict, forwarded) {
            (Err(_), _) => StatusCode::UNAUTHORIZED,
            (Ok(()), None) => StatusCode::OK,
            (Ok(()), Some((_, Ok(status)))) => StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            (Ok(()), Some((_, Err(_)))) => StatusCode::BAD_GATEWAY,
        }
    }

    /// Posts the raw body with the signature headers to `url`; its status, or why there was none.
    async fn forward(&self, url: &str, headers: &HeaderMap, body: Bytes) -> Result<u16, String> {
        let mut request = self.http.post(url).body(body);
        for name in FORWARDED_HEADERS {
            if let Some(value) = headers.get(name) {
                request = request.header(name, value.clone());
            }
        }
        request.send().await.map(|response| response.status().as_u16()).map_err(|e| innermost_cause(&e))
    }
}

/// The innermost cause of an error ("Connection refused"), which says more than reqwest's own message.
fn innermost_cause(error: &dyn std::error::Error) -> String {
    let mut cause = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

/// Checks a delivery as a receiver should: `X-Talon-Signature` over the raw body, and a Standard
/// Webhooks signature over its id, timestamp and body, the timestamp within five minutes of `now`.
fn verify(secret: &WebhookSecret, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let talon = header("x-talon-signature").ok_or("no X-Talon-Signature")?;
    if talon != secret.talon_signature(body) {
        return Err("X-Talon-Signature does not match".into());
    }
    let (Some(id), Some(timestamp), Some(signatures)) =
        (header("webhook-id"), header("webhook-timestamp"), header("webhook-signature"))
    else {
        return Err("no webhook-id, webhook-timestamp or webhook-signature".into());
    };
    let timestamp: i64 = timestamp.parse().map_err(|_| "webhook-timestamp is no number")?;
    if (now - timestamp).abs() > TIMESTAMP_TOLERANCE_SECONDS {
        return Err(format!("webhook-timestamp is {}s from now", now - timestamp));
    }
    let expected = secret.standard_signature(id, timestamp, body);
    if !signatures.split(' ').any(|signature| signature == expected) {
        return Err("webhook-signature does not match".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(secret: &WebhookSecret, body: &[u8], timestamp: i64) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-talon-signature", secret.talon_signature(body).parse().unwrap());
        headers.insert("webhook-id", "evt_1".parse().unwrap());
        headers.insert("webhook-timestamp", timestamp.to_string().parse().unwrap());
        let standard = format!("v1,bm90IHRoaXMgb25l {}", secret.standard_signature("evt_1", timestamp, body));
        headers.insert("webhook-signature", standard.parse().unwrap());
        headers
    }

    #[test]
    fn a_delivery_signed_with_the_secret_verifies() {
        let secret = WebhookSecret::generate();
        let body = br#"{"event":"ping"}"#;
        assert_eq!(verify(&secret, &signed(&secret, body, 1_000), body, 1_010), Ok(()));
    }

    #[test]
    fn another_secret_a_changed_body_or_an_old_timestamp_fails() {
        let secret = WebhookSecret::generate();
        let body = br#"{"event":"ping"}"#;
        let headers = signed(&secret, body, 1_000);
        assert!(verify(&WebhookSecret::generate(), &headers, body, 1_000).is_err());
        assert!(verify(&secret, &headers, br#"{"event":"pong"}"#, 1_000).is_err());
        assert!(verify(&secret, &headers, body, 1_000 + TIMESTAMP_TOLERANCE_SECONDS + 1).is_err());
        let mut unsigned = headers.clone();
        unsigned.remove("webhook-signature");
        assert!(verify(&secret, &unsigned, body, 1_000).is_err());
        let mut standard_wrong = headers;
        standard_wrong.insert("webhook-signature", "v1,bm90IHRoaXMgb25l".parse().unwrap());
        assert!(verify(&secret, &standard_wrong, body, 1_000).is_err());
    }
}
