//! Retention: deleting what would otherwise grow without bound, a small batch at a time, oldest first,
//! so that a purge never holds writers up for longer than one short statement. The maintenance worker
//! decides what is kept (`talon_server::config::Retention`); these delete what it says, no more. The
//! audit log (`audit`) is never purged: it outlives the events it was written beside.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::StoreError;

mod sql;

/// What one batch of webhook-delivery retention keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryRetention {
    /// The newest deliveries of each webhook, whatever their outcome.
    pub keep_per_webhook: i64,
    /// Failed deliveries created at or after this are kept beyond that.
    pub keep_failed_since: DateTime<Utc>,
}

#[async_trait]
pub trait RetentionStore {
    /// Deletes up to `batch` chat usage records written before `before` (their hourly and daily rollups
    /// stay); returns how many went.
    async fn purge_usage_records(&self, before: DateTime<Utc>, batch: i64) -> Result<u64, StoreError>;

    /// Deletes up to `batch` minute rollups of minutes that started before `before` (kept as long as the
    /// records they summarise); returns how many went.
    async fn purge_usage_minutes(&self, before: DateTime<Utc>, batch: i64) -> Result<u64, StoreError>;

    /// Deletes up to `batch` events recorded before `before` that the webhook fan-out has already
    /// handled (deliveries keep their own copy of the payload).
    async fn purge_dispatched_events(&self, before: DateTime<Utc>, batch: i64) -> Result<u64, StoreError>;

    /// Deletes up to `batch` tasks that finished (completed, failed or cancelled) before `before`.
    async fn purge_finished_tasks(&self, before: DateTime<Utc>, batch: i64) -> Result<u64, StoreError>;

    /// Deletes up to `batch` finished deliveries of one webhook beyond `keep`; returns how many went.
    async fn purge_deliveries_of(
        &self,
        webhook: talon_domain::WebhookId,
        keep: DeliveryRetention,
        batch: i64,
    ) -> Result<u64, StoreError>;

    /// The webhooks holding more than `keep_per_webhook` deliveries: the ones delivery retention may
    /// trim.
    async fn webhooks_over(&self, keep_per_webhook: i64) -> Result<Vec<talon_domain::WebhookId>, StoreError>;

    /// Gives up to `pages` free pages of the database file back to the filesystem (SQLite's
    /// incremental vacuum; PostgreSQL's autovacuum does this itself).
    async fn reclaim_free_pages(&self, pages: i64) -> Result<(), StoreError>;
}
