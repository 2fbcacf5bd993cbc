//! Chat usage records, their per-version summaries, and their series over time.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::usage::{Period, UsageRecord, VersionUsage};
use talon_domain::{AgentId, VersionId};

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

    /// The agent's usage per `period` (an hour or a day) whose start lies in `[from, to)`, one row per
    /// period and version that answered in it, oldest period first: read from that period's rollups
    /// alone (the current hour or day counts what has been written so far).
    async fn usage_series(
        &self,
        agent: AgentId,
        period: Period,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<UsageBucket>, StoreError>;
}

/// What one version served in one period of a series: sums, so that buckets add up exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageBucket {
    pub period_start: DateTime<Utc>,
    pub version_id: VersionId,
    /// The version's number (0 if the version no longer exists).
    pub version: i64,
    pub requests: u64,
    /// Answers that ended in an upstream error or a timeout.
    pub failed: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub latency_sum_us: u64,
    pub latency_max_us: u64,
}
