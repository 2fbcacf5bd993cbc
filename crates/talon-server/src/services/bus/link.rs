//! The link to the other replicas: one subscription listening, reconnected with backoff whenever it is
//! lost, and the sending of what waits in the outbox.
//!
//! Trust follows the subscription: the bus is untrusted from the moment a loss is seen until a new
//! subscription listens, and each new subscription starts a new epoch before trust returns. A connection
//! can also die without a word (a network partition): every 5 s this replica sends itself a message,
//! and a subscription that has heard none of its own for 15 s is dropped as lost.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::{Inner, frame};

/// The link's clock.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timing {
    /// Waits between attempts to listen (or send) again, doubling from the first to the last.
    pub retry_first: Duration,
    pub retry_max: Duration,
    pub heartbeat_every: Duration,
    pub heartbeat_lost_after: Duration,
    /// How long one send may take before it counts as failed (and is tried again).
    pub send_timeout: Duration,
}

impl Timing {
    pub(super) const DEFAULT: Timing = Timing {
        retry_first: Duration::from_millis(50),
        retry_max: Duration::from_secs(5),
        heartbeat_every: Duration::from_secs(5),
        heartbeat_lost_after: Duration::from_secs(15),
        send_timeout: Duration::from_secs(5),
    };
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct TransportError(pub(super) String);

/// How frames travel between replicas.
#[async_trait]
pub(super) trait Transport: Send + Sync + 'static {
    /// What it is, for the logs.
    fn name(&self) -> &'static str;

    /// Opens a subscription: every frame published from now on, by any replica, arrives through it.
    async fn listen(&self) -> Result<Box<dyn Subscription>, TransportError>;

    /// Publishes `frames`, in one round trip where the transport allows it.
    async fn send(&self, frames: &[String]) -> Result<(), TransportError>;
}

#[async_trait]
pub(super) trait Subscription: Send {
    /// The next frame, or an error once the connection is lost. Cancel-safe: a frame is never lost by
    /// dropping the future.
    async fn next(&mut self) -> Result<String, TransportError>;
}

/// Listens and sends until `stop` is cancelled.
pub(super) async fn run(inner: Arc<Inner>, transport: Arc<dyn Transport>, stop: CancellationToken, timing: Timing) {
    tokio::join!(listen(&inner, transport.as_ref(), &stop, timing), send(&inner, transport.as_ref(), &stop, timing));
}

async fn listen(inner: &Inner, transport: &dyn Transport, stop: &CancellationToken, timing: Timing) {
    let mut retry = timing.retry_first;
    let mut failing = false;
    loop {
        let opened = tokio::select! {
            () = stop.cancelled() => return,
            opened = transport.listen() => opened,
        };
        match opened {
            Ok(mut subscription) => {
                inner.connected();
                tracing::info!(
                    transport = transport.name(),
                    epoch = inner.epoch.load(std::sync::atomic::Ordering::Acquire),
                    "listening to the other replicas"
                );
                retry = timing.retry_first;
                failing = false;
                let lost = receive(inner, subscription.as_mut(), stop, timing).await;
                inner.disconnected();
                match lost {
                    None => return,
                    Some(e) => tracing::warn!(transport = transport.name(), error = %e,
                        "lost the link to the other replicas; listening again (until then, waiting loops poll)"),
                }
            }
            // One warning per outage, not one per attempt.
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(transport = transport.name(), error = %e,
                    "cannot listen to the other replicas; retrying (until then, waiting loops poll)");
            }
            Err(e) => tracing::debug!(transport = transport.name(), error = %e, "still cannot listen"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(retry) => {}
        }
        retry = (retry * 2).min(timing.retry_max);
    }
}

/// Delivers what arrives until the subscription is lost (its error) or `stop` is cancelled (`None`).
async fn receive(
    inner: &Inner,
    subscription: &mut dyn Subscription,
    stop: &CancellationToken,
    timing: Timing,
) -> Option<TransportError> {
    let mut heard_own = Instant::now();
    let mut heartbeat = tokio::time::interval_at(Instant::now() + timing.heartbeat_every, timing.heartbeat_every);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return None,
            next = subscription.next() => match next {
                Ok(frame) => {
                    if inner.receive(&frame) {
                        heard_own = Instant::now();
                    }
                }
                Err(e) => return Some(e),
            },
            _ = heartbeat.tick() => {
                if heard_own.elapsed() > timing.heartbeat_lost_after {
                    return Some(TransportError(format!(
                        "none of this replica's own messages came back for {:?}",
                        timing.heartbeat_lost_after
                    )));
                }
                inner.send_to_others(frame::HEARTBEAT, "");
            }
        }
    }
}

/// Sends what waits, one batch at a time; a failed batch waits for the next try. On stop, one last
/// send of what is left.
async fn send(inner: &Inner, transport: &dyn Transport, stop: &CancellationToken, timing: Timing) {
    let mut retry = timing.retry_first;
    let mut failing = false;
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => break,
            () = inner.outbox.ready() => {}
        }
        let batch = inner.outbox.take();
        if batch.is_empty() {
            continue;
        }
        match tokio::time::timeout(timing.send_timeout, transport.send(&batch)).await {
            Ok(Ok(())) => {
                if failing {
                    tracing::info!(transport = transport.name(), "messages reach the other replicas again");
                }
                failing = false;
                retry = timing.retry_first;
            }
            failed => {
                let error = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => format!("no answer within {:?}", timing.send_timeout),
                };
                if !failing {
                    tracing::warn!(transport = transport.name(), error = %error,
                        "cannot send messages to the other replicas; they wait and are tried again");
                }
                failing = true;
                inner.outbox.put_back(batch);
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(retry) => {}
                }
                retry = (retry * 2).min(timing.retry_max);
            }
        }
    }
    let last = inner.outbox.take();
    let sent = tokio::time::timeout(timing.send_timeout, transport.send(&last));
    if !last.is_empty() && !matches!(sent.await, Ok(Ok(()))) {
        tracing::warn!(messages = last.len(), "could not send the last messages to the other replicas on shutdown");
    }
}

#[cfg(test)]
mod tests;
