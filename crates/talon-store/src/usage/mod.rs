//! Chat usage records and their per-version summaries.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::AgentId;
use talon_domain::usage::{UsageRecord, VersionUsage};

use crate::StoreError;

mod rows;
mod sql;

#[async_trait]
pub trait UsageStore {
    /// Writes a batch of records in one transaction.
    async fn insert_usage(&self, records: &[UsageRecord]) -> Result<(), StoreError>;

    /// The agent's usage in `[from, to)`, one row per version that answered, oldest version first: from
    /// the hourly and daily rollups, and from the records only where the range cuts an hour (so an
    /// edge older than the records' retention counts from the first whole hour).
    async fn usage_by_version(
        &self,
        agent: AgentId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<VersionUsage>, StoreError>;
}
