//! Webhook delivery: fans outbox events out into deliveries, signs and posts each due one, retrying on the
//! schedule until a 2xx, and records every attempt.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use rand::Rng;
use talon_domain::time::now;
use talon_domain::webhook::{DISABLE_AFTER_FAILING, DeliveryStatus, next_delay};
use talon_store::{ClaimBounds, DeliveryJob, EndpointOutcome};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::services::webhooks::sending::send;
use crate::state::AppState;

const BATCH: i64 = 64;
/// Events fanned out per transaction. With at most `MAX_WEBHOOKS_PER_ACCOUNT` webhooks per account, one
/// transaction writes a bounded number of rows, so it never holds the writer long.
const FAN_OUT_BATCH: i64 = 32;

/// Dispatches outbox events into deliveries and sends due deliveries until `stop` is cancelled, then
/// waits for the attempts in flight.
pub async fn run(state: AppState, stop: CancellationToken) {
    let settings = state.webhooks.settings().clone();
    let client = state.webhooks.client().clone();
    let bounds = ClaimBounds {
        per_webhook: settings.per_webhook_in_flight.max(1) as i64,
        per_account: settings.per_account_in_flight.max(1) as i64,
    };
    let in_flight = Arc::new(Semaphore::new(settings.concurrency));
    let wake = state.webhooks.wake_signal();
    let mut attempts = JoinSet::new();
    while !stop.is_cancelled() {
        let woken = wake.listen();
        let mut busy = false;
        match state.webhooks.fan_out(FAN_OUT_BATCH).await {
            Ok(n) => busy |= n > 0,
            Err(e) => tracing::warn!(error = %e, "could not dispatch events to webhooks"),
        }
        let free = in_flight.available_permits() as i64;
        if free > 0 {
            let hold = chrono::Duration::from_std(settings.timeout + Duration::from_secs(5)).unwrap_or_default();
            match state.webhooks.claim_due(free.min(BATCH), hold, bounds).await {
                Ok(jobs) => {
                    busy |= !jobs.is_empty();
                    for job in jobs {
                        let Ok(permit) = in_flight.clone().acquire_owned().await else { break };
                        let (state, client) = (state.clone(), client.clone());
                        attempts.spawn(async move {
                            attempt(&state, &client, job).await;
                            drop(permit);
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not claim webhook deliveries"),
            }
        }
        while attempts.try_join_next().is_some() {}
        if !busy {
            tokio::select! {
                () = stop.cancelled() => {}
                _ = woken.wait(wake.poll_every(settings.poll_every)) => {}
            }
        }
    }
    while attempts.join_next().await.is_some() {}
}

/// One POST of one delivery, and the bookkeeping of its outcome. The webhook is the copy claimed with
/// the delivery: only what the attempt learnt about the endpoint is written back to it.
async fn attempt(state: &AppState, client: &reqwest::Client, job: DeliveryJob) {
    let DeliveryJob { mut delivery, webhook } = job;
    let settings = state.webhooks.settings();
    let started = Instant::now();
    let result = match state.webhooks.signing_secrets(&webhook) {
        Ok(secrets) => send(client, settings.allow_private, &secrets, &webhook, &delivery).await,
        Err(e) => Err(e.to_string()),
    };
    let at = now();
    delivery.attempts += 1;
    delivery.updated_at = at;
    delivery.last_latency_ms = Some(started.elapsed().as_millis() as i64);
    let (outcome, retry_after) = match result {
        Ok(response) => {
            delivery.last_status_code = Some(i32::from(response.status));
            delivery.last_response_body = Some(response.body);
            delivery.last_error = None;
            if (200..300).contains(&response.status) {
                delivery.status = DeliveryStatus::Succeeded;
                (EndpointOutcome::Delivered, None)
            } else if response.status == 410 {
                delivery.status = DeliveryStatus::Failed;
                delivery.last_error = Some("The endpoint answered 410 Gone; the webhook was disabled".into());
                (EndpointOutcome::Gone { at, reason: "The endpoint answered 410 Gone".into() }, None)
            } else {
                delivery.last_error = Some(format!("The endpoint answered {}", response.status));
                (failed(at), Some(response.retry_after))
            }
        }
        Err(message) => {
            delivery.last_status_code = None;
            delivery.last_response_body = None;
            delivery.last_error = Some(message);
            (failed(at), Some(None))
        }
    };
    if let Some(retry_after) = retry_after {
        let jitter = rand::thread_rng().gen_range(-1.0..=1.0);
        match next_delay(&settings.retry_schedule, delivery.attempts as u32, retry_after, jitter) {
            Some(delay) => {
                delivery.status = DeliveryStatus::Pending;
                delivery.next_attempt_at = at + chrono::Duration::from_std(delay).unwrap_or_default();
            }
            None => delivery.status = DeliveryStatus::Failed,
        }
    }
    if delivery.status != DeliveryStatus::Succeeded {
        // The cause only: never the secret, the URL (it may hold a token) or the receiver's body.
        tracing::warn!(
            webhook_id = %webhook.id,
            delivery_id = %delivery.id,
            event = %delivery.event_kind,
            attempt = delivery.attempts,
            status_code = delivery.last_status_code,
            error = delivery.last_error.as_deref().unwrap_or_default(),
            next = delivery.status.as_str(),
            "webhook delivery attempt failed"
        );
    }
    state.webhooks.record_attempt(&webhook, &delivery, &outcome).await;
}

/// A failed attempt: the failure streak runs on, and switches the webhook off once it is five days old.
fn failed(at: chrono::DateTime<Utc>) -> EndpointOutcome {
    EndpointOutcome::Failed {
        at,
        disable_if_failing_since: at - DISABLE_AFTER_FAILING,
        reason: "Deliveries failed continuously for 5 days".into(),
    }
}
