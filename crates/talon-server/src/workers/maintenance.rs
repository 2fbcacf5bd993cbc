//! Periodic housekeeping across the store.

use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::api::middleware::idempotency::RETENTION;
use crate::state::AppState;

const MAINTENANCE_EVERY: Duration = Duration::from_secs(3600);
const LEASE_SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Periodic housekeeping: every second, return lapsed task leases to the queue, approve delivered
/// contracts whose wait is over and move the contracts agents work themselves along; forget idempotency
/// records past their retention, and logged-out sessions whose tokens have expired, every hour.
pub async fn run(state: AppState, stop: CancellationToken) {
    let mut leases = tokio::time::interval(LEASE_SWEEP_EVERY);
    let mut purge = tokio::time::interval(MAINTENANCE_EVERY);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = leases.tick() => {
                if let Err(e) = state.tasks.expire_leases().await {
                    tracing::warn!(error = %e, "could not expire task leases");
                }
                // Delivered contracts whose wait for approval is over are approved on the same tick.
                match state.marketplace.contracts.auto_approve_due(Utc::now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(approved = n, "delivered contracts approved automatically"),
                    Err(e) => tracing::warn!(error = %e, "could not auto-approve contracts"),
                }
                // Contracts agents work themselves: queue their tasks, deliver their answers.
                if let Err(e) = state.marketplace.contracts.work_step(&state.tasks).await {
                    tracing::warn!(error = %e, "could not work the marketplace's contracts");
                }
            }
            _ = purge.tick() => {
                match state.store.purge_idempotency_keys(Utc::now() - RETENTION).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(purged = n, "expired idempotency records removed"),
                    Err(e) => tracing::warn!(error = %e, "could not purge idempotency records"),
                }
                if let Err(e) = state.store.purge_revoked_sessions(Utc::now()).await {
                    tracing::warn!(error = %e, "could not purge revoked sessions");
                }
            }
        }
    }
}
