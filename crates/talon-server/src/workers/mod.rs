//! The background loops of one server: Talon's runtime (tasks whose executor is `runtime`), the driver
//! of running evaluations, webhook delivery, periodic maintenance, the usage writer, and the bus's link to the other replicas with the
//! wake-ups it brings. They start together and stop together: on shutdown each is told to stop (one
//! cancellation token), claims nothing new and finishes what it holds, within a grace period after which
//! what is left is dropped (leases lapse, deliveries are retried). The bus's link stops last, so that
//! what the others announce while they finish still reaches the other replicas.

pub mod evaluations;
pub mod maintenance;
pub mod retention;
pub mod runtime;
pub mod wakeups;
pub mod webhook_delivery;

use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::state::AppState;

/// How long the workers get to finish what they hold once asked to stop (a rolling deploy's pod gets 30 s).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// The running workers.
pub struct Workers {
    stop: CancellationToken,
    running: JoinSet<()>,
    stop_bus: CancellationToken,
    bus: tokio::task::JoinHandle<()>,
}

impl Workers {
    pub fn start(state: AppState) -> Self {
        let stop = CancellationToken::new();
        let stop_bus = CancellationToken::new();
        let bus = {
            let (bus, stop_bus) = (state.bus.clone(), stop_bus.clone());
            tokio::spawn(async move { bus.run(stop_bus).await })
        };
        let mut running = JoinSet::new();
        running.spawn(wakeups::run(state.clone(), stop.clone()));
        running.spawn(maintenance::run(state.clone(), stop.clone()));
        running.spawn(retention::run(state.clone(), stop.clone()));
        running.spawn(webhook_delivery::run(state.clone(), stop.clone()));
        running.spawn(runtime::run(state.clone(), stop.clone()));
        running.spawn(evaluations::run(state.clone(), stop.clone()));
        let usage = state.usage.clone();
        let usage_stop = stop.clone();
        // Answers finished before the shutdown are written before it completes.
        running.spawn(async move { usage.run(usage_stop.cancelled_owned()).await });
        Self { stop, running, stop_bus, bus }
    }

    /// Asks every worker to stop and waits for them, at most `SHUTDOWN_GRACE`.
    pub async fn stop(mut self) {
        self.stop.cancel();
        let drained =
            tokio::time::timeout(SHUTDOWN_GRACE, async { while self.running.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!(grace = ?SHUTDOWN_GRACE, "workers still busy after the shutdown grace; stopping them");
            self.running.shutdown().await;
        }
        self.stop_bus.cancel();
        let _ = self.bus.await;
    }
}
