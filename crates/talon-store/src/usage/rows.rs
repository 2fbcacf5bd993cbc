//! Usage rows and their conversion into domain types.

use talon_domain::usage::VersionUsage;

use super::UsageBucket;

/// One version's aggregates, as both databases return them (microseconds, cast to fixed types).
#[derive(sqlx::FromRow)]
pub(crate) struct VersionUsageRow {
    pub version_id: uuid::Uuid,
    pub number: i64,
    pub requests: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub client_closed: i64,
    pub fallbacks: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub avg_latency_us: f64,
    pub max_latency_us: i64,
    pub first_tokens: i64,
    pub avg_first_token_us: Option<f64>,
}

impl From<VersionUsageRow> for VersionUsage {
    fn from(row: VersionUsageRow) -> Self {
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        VersionUsage {
            version_id: Some(talon_domain::VersionId::from_uuid(row.version_id)),
            version: row.number,
            requests: count(row.requests),
            succeeded: count(row.succeeded),
            failed: count(row.failed),
            client_closed: count(row.client_closed),
            fallbacks: count(row.fallbacks),
            prompt_tokens: count(row.prompt_tokens),
            completion_tokens: count(row.completion_tokens),
            avg_latency_ms: row.avg_latency_us / 1000.0,
            max_latency_ms: row.max_latency_us as f64 / 1000.0,
            first_tokens: count(row.first_tokens),
            avg_first_token_ms: row.avg_first_token_us.map(|us| us / 1000.0),
        }
    }
}

/// One version's sums in one period of a series.
#[derive(sqlx::FromRow)]
pub(crate) struct UsageBucketRow {
    pub period_start: chrono::DateTime<chrono::Utc>,
    pub version_id: uuid::Uuid,
    pub number: i64,
    pub requests: i64,
    pub failed: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub latency_sum_us: i64,
    pub latency_max_us: i64,
}

impl From<UsageBucketRow> for UsageBucket {
    fn from(row: UsageBucketRow) -> Self {
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        UsageBucket {
            period_start: row.period_start,
            version_id: talon_domain::VersionId::from_uuid(row.version_id),
            version: row.number,
            requests: count(row.requests),
            failed: count(row.failed),
            prompt_tokens: count(row.prompt_tokens),
            completion_tokens: count(row.completion_tokens),
            latency_sum_us: count(row.latency_sum_us),
            latency_max_us: count(row.latency_max_us),
        }
    }
}
