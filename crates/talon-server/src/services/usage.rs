//! Chat accounting: answers are recorded off the request path, through a queue that a background
//! writer drains in batches (one transaction per batch), and summarised per version, or per hour or
//! day as a series, on request.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use talon_domain::agent::{Agent, AgentRef, VersionRef};
use talon_domain::usage::{Period, UsageRange, UsageRecord, VersionUsage};
use talon_domain::validation::ValidationErrors;
use talon_store::Store;
use tokio::sync::mpsc;

use super::registry::RegistryService;
use super::{Caller, ServiceError};

/// Records waiting to be written; past this the newest are dropped (and counted) rather than
/// holding up answers or growing without bound while the database is away.
const QUEUE: usize = 65_536;
/// Records written per transaction at most.
const BATCH: usize = 512;
/// How long the writer lets records gather after the first one arrives. Without it a busy gateway wrote
/// one transaction per answer (the writer keeps up record by record), which took a sixth of the server's
/// time at 2,000 answers a second; with it, one transaction carries up to a linger's worth of answers.
/// Records wait in memory either way, and shutdown writes what is queued.
const LINGER: Duration = Duration::from_millis(50);
const WRITE_ATTEMPTS: u32 = 3;
/// The most periods one series holds (a year of days, or 90 days of hours).
pub const MAX_SERIES_POINTS: usize = 2_200;

pub struct UsageService {
    store: Arc<dyn Store>,
    registry: Arc<RegistryService>,
    queue: mpsc::Sender<UsageRecord>,
    /// Taken by the writer when it starts.
    pending: Mutex<Option<mpsc::Receiver<UsageRecord>>>,
}

/// An agent's usage over a period: per version, and in total.
#[derive(Debug)]
pub struct UsageSummary {
    pub agent: Agent,
    pub range: UsageRange,
    pub versions: Vec<VersionUsage>,
    pub total: VersionUsage,
}

/// Two versions' usage side by side.
#[derive(Debug)]
pub struct UsageComparison {
    pub agent: Agent,
    pub range: UsageRange,
    pub from: VersionUsage,
    pub to: VersionUsage,
}

/// An agent's usage per period over a span: every period of the span, those without answers included.
#[derive(Debug)]
pub struct UsageSeries {
    pub agent: Agent,
    pub period: Period,
    pub points: Vec<SeriesPoint>,
}

/// What the chosen versions served in one period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesPoint {
    pub start: DateTime<Utc>,
    pub requests: u64,
    /// Answers that ended in an upstream error or a timeout.
    pub failed: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// `None` for a period without answers.
    pub avg_latency_ms: Option<f64>,
    pub max_latency_ms: Option<f64>,
}

impl UsageService {
    pub fn new(store: Arc<dyn Store>, registry: Arc<RegistryService>) -> Self {
        let (queue, pending) = mpsc::channel(QUEUE);
        Self { store, registry, queue, pending: Mutex::new(Some(pending)) }
    }

    /// Queues a record for the writer; never waits.
    pub fn record(&self, record: UsageRecord) {
        if self.queue.try_send(record).is_err() {
            metrics::counter!("talon_usage_records_dropped_total").increment(1);
            tracing::warn!("usage queue full or closed; a usage record was dropped");
        }
    }

    /// Writes queued records in batches until `stop` resolves, then writes what is left and returns.
    pub async fn run(&self, stop: impl Future<Output = ()>) {
        let Some(mut pending) = self.pending.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            tracing::error!("the usage writer was started twice");
            return;
        };
        tokio::pin!(stop);
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            tokio::select! {
                received = pending.recv_many(&mut batch, BATCH) => {
                    if received == 0 {
                        return;
                    }
                    if batch.len() < BATCH {
                        tokio::time::sleep(LINGER).await;
                        while batch.len() < BATCH {
                            let Ok(record) = pending.try_recv() else { break };
                            batch.push(record);
                        }
                    }
                    self.write(&mut batch).await;
                }
                () = &mut stop => break,
            }
        }
        pending.close();
        while pending.recv_many(&mut batch, BATCH).await > 0 {
            self.write(&mut batch).await;
        }
    }

    async fn write(&self, batch: &mut Vec<UsageRecord>) {
        for attempt in 1..=WRITE_ATTEMPTS {
            match self.store.insert_usage(batch).await {
                Ok(()) => break,
                Err(e) if attempt < WRITE_ATTEMPTS => {
                    tracing::warn!(error = %e, attempt, "could not write usage records; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                }
                Err(e) => {
                    metrics::counter!("talon_usage_records_dropped_total").increment(batch.len() as u64);
                    tracing::error!(error = %e, records = batch.len(), "usage records could not be written");
                }
            }
        }
        batch.clear();
    }

    /// The caller's agent's usage over `range`, per version that answered.
    pub async fn summary(
        &self,
        caller: &Caller,
        agent: &AgentRef,
        range: UsageRange,
    ) -> Result<UsageSummary, ServiceError> {
        let agent = self.registry.owned(caller, agent).await?;
        let versions = self.store.usage_by_version(agent.id, range.from, range.to).await?;
        let total = VersionUsage::total(&versions);
        Ok(UsageSummary { agent, range, versions, total })
    }

    /// Two versions of the caller's agent side by side over `range` (the arms of a canary split, say):
    /// each version's usage, zero for one that did not answer.
    pub async fn compare(
        &self,
        caller: &Caller,
        agent: &AgentRef,
        from: VersionRef,
        to: VersionRef,
        range: UsageRange,
    ) -> Result<UsageComparison, ServiceError> {
        let agent = self.registry.owned(caller, agent).await?;
        let from = self.registry.version_of(&agent, &from).await?;
        let to = self.registry.version_of(&agent, &to).await?;
        let versions = self.store.usage_by_version(agent.id, range.from, range.to).await?;
        let of = |version: &talon_domain::agent::Version| {
            versions.iter().find(|v| v.version_id == Some(version.id)).cloned().unwrap_or_else(|| VersionUsage {
                version_id: Some(version.id),
                version: version.number,
                ..VersionUsage::default()
            })
        };
        Ok(UsageComparison { from: of(&from), to: of(&to), agent, range })
    }

    /// The caller's agent's usage per `period` over the periods that start in `range` (the first one is
    /// the period `range.from` falls in), of one version (by number) or of all.
    pub async fn series(
        &self,
        caller: &Caller,
        agent: &AgentRef,
        range: UsageRange,
        period: Period,
        version: Option<i64>,
    ) -> Result<UsageSeries, ServiceError> {
        let agent = self.registry.owned(caller, agent).await?;
        let starts = period_starts(range, period)?;
        let (Some(&first), Some(&last)) = (starts.first(), starts.last()) else {
            return Ok(UsageSeries { agent, period, points: Vec::new() });
        };
        let buckets = self.store.usage_series(agent.id, period, first, last + step(period)).await?;
        let mut points: Vec<SeriesPoint> =
            starts.into_iter().map(|start| SeriesPoint { start, ..Default::default() }).collect();
        let mut latency_sums = vec![0u64; points.len()];
        for bucket in buckets.iter().filter(|b| version.is_none_or(|n| b.version == n)) {
            let Ok(at) = points.binary_search_by_key(&bucket.period_start, |p| p.start) else { continue };
            let point = &mut points[at];
            point.requests += bucket.requests;
            point.failed += bucket.failed;
            point.prompt_tokens += bucket.prompt_tokens;
            point.completion_tokens += bucket.completion_tokens;
            latency_sums[at] = latency_sums[at].saturating_add(bucket.latency_sum_us);
            let max = bucket.latency_max_us as f64 / 1000.0;
            point.max_latency_ms = Some(point.max_latency_ms.map_or(max, |m| m.max(max)));
        }
        for (point, sum) in points.iter_mut().zip(latency_sums) {
            if point.requests > 0 {
                point.avg_latency_ms = Some(sum as f64 / point.requests as f64 / 1000.0);
            }
        }
        Ok(UsageSeries { agent, period, points })
    }
}

fn step(period: Period) -> chrono::Duration {
    match period {
        Period::Minute => chrono::Duration::minutes(1),
        Period::Hour => chrono::Duration::hours(1),
        Period::Day => chrono::Duration::days(1),
    }
}

/// The start of every period that begins in the range, from the one `range.from` falls in; at most
/// `MAX_SERIES_POINTS` of them.
fn period_starts(range: UsageRange, period: Period) -> Result<Vec<DateTime<Utc>>, ServiceError> {
    let mut starts = Vec::new();
    let mut start = period.start_of(range.from);
    while start < range.to {
        if starts.len() == MAX_SERIES_POINTS {
            let mut errors = ValidationErrors::new();
            errors.add("period", format!("A series holds at most {MAX_SERIES_POINTS} periods"));
            return Err(errors.into());
        }
        starts.push(start);
        start += step(period);
    }
    Ok(starts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_series_has_every_period_from_the_one_its_start_falls_in() {
        let range = UsageRange { from: at("2026-11-30T10:20:00Z"), to: at("2026-11-30T13:00:00Z") };
        let starts = period_starts(range, Period::Hour).unwrap();
        assert_eq!(starts, [at("2026-11-30T10:00:00Z"), at("2026-11-30T11:00:00Z"), at("2026-11-30T12:00:00Z")]);
        let days = UsageRange { from: at("2026-11-01T00:00:00Z"), to: at("2026-11-30T13:00:00Z") };
        assert_eq!(period_starts(days, Period::Day).unwrap().len(), 30);
        let empty = UsageRange { from: at("2026-11-30T13:00:00Z"), to: at("2026-11-30T10:00:00Z") };
        assert!(period_starts(empty, Period::Hour).unwrap().is_empty());
        let too_long = UsageRange { from: at("2016-11-30T13:00:00Z"), to: at("2026-11-30T10:00:00Z") };
        assert!(matches!(period_starts(too_long, Period::Hour), Err(ServiceError::Invalid(_))));
    }
}
