//! Retention: deletes what the settings no longer keep (`config::Retention`), a batch at a time with a
//! pause between batches, so that a purge of millions of rows never holds writers up for longer than
//! one short statement and leaves the database time for its own work.

use std::time::{Duration, Instant};

use chrono::Utc;
use talon_store::{DeliveryRetention, StoreError};
use tokio_util::sync::CancellationToken;

use crate::config::Retention;
use crate::state::AppState;

/// How often retention looks for rows past their time.
const RETENTION_EVERY: Duration = Duration::from_secs(600);
/// Rows one statement deletes, and the shortest pause between two: small and rare enough that requests
/// do not notice a purge (bench/retention.sh, a list's p99 with retention off and on: SQLite 0.27–0.30
/// and 0.29–0.32 ms, PostgreSQL 0.60–0.65 and 0.65–0.66 ms; with 200 rows every 20 ms, SQLite's rose
/// from 0.30 to 0.73 ms), and still 500 rows a second of each kind, 43 million a day.
const BATCH: i64 = 50;
const PAUSE: Duration = Duration::from_millis(100);
/// The pause after a batch, as a multiple of the time the batch took: a purge keeps the database (and,
/// on SQLite, the core it shares with requests) busy at most a fifth of the time, however slow a
/// batch gets.
const PAUSE_PER_BATCH_TIME: u32 = 4;
/// Free pages handed back to the filesystem after each round (SQLite), 4 KiB each.
const RECLAIM_PAGES: i64 = 4096;

/// How many rows one round of retention deleted, by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub usage_records: u64,
    pub usage_minutes: u64,
    pub events: u64,
    pub tasks: u64,
    pub deliveries: u64,
}

/// Every ten minutes (and once at start), one round of retention; beside the maintenance worker, so
/// that a long purge never delays the lease sweep.
pub async fn run(state: AppState, stop: CancellationToken) {
    let mut every = tokio::time::interval(RETENTION_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = every.tick() => match purge(&state, state.settings.retention, &stop).await {
                Ok(purged) if purged == Purged::default() => {}
                Ok(purged) => tracing::info!(?purged, "rows past their retention removed"),
                Err(e) => tracing::warn!(error = %e, "could not apply retention"),
            },
        }
    }
}

/// One round: every kind is purged until nothing more is due (or `stop` is cancelled).
pub async fn purge(state: &AppState, retention: Retention, stop: &CancellationToken) -> Result<Purged, StoreError> {
    let store = &state.store;
    let now = Utc::now();
    let mut purged = Purged {
        usage_records: in_batches(stop, || store.purge_usage_records(now - retention.usage_records, BATCH)).await?,
        usage_minutes: in_batches(stop, || store.purge_usage_minutes(now - retention.usage_records, BATCH)).await?,
        events: in_batches(stop, || store.purge_dispatched_events(now - retention.dispatched_events, BATCH)).await?,
        ..Purged::default()
    };
    if let Some(finished) = retention.finished_tasks {
        purged.tasks = in_batches(stop, || store.purge_finished_tasks(now - finished, BATCH)).await?;
    }
    let keep = DeliveryRetention {
        keep_per_webhook: retention.deliveries_per_webhook,
        keep_failed_since: now - retention.failed_deliveries,
    };
    for webhook in store.webhooks_over(keep.keep_per_webhook).await? {
        purged.deliveries += in_batches(stop, || store.purge_deliveries_of(webhook, keep, BATCH)).await?;
    }
    if purged != Purged::default() {
        store.reclaim_free_pages(RECLAIM_PAGES).await?;
    }
    Ok(purged)
}

fn pause_after(batch_took: Duration) -> Duration {
    PAUSE.max(batch_took * PAUSE_PER_BATCH_TIME)
}

/// Runs `batch` until it deletes less than a whole batch, pausing between batches.
async fn in_batches<F, Fut>(stop: &CancellationToken, batch: F) -> Result<u64, StoreError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<u64, StoreError>>,
{
    let mut total = 0;
    loop {
        let started = Instant::now();
        let deleted = batch().await?;
        total += deleted;
        if deleted < BATCH as u64 || stop.is_cancelled() {
            return Ok(total);
        }
        tokio::time::sleep(pause_after(started.elapsed())).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_batch_is_followed_by_a_longer_pause() {
        assert_eq!(pause_after(Duration::from_millis(1)), PAUSE);
        assert_eq!(pause_after(Duration::from_millis(40)), Duration::from_millis(160));
    }
}
