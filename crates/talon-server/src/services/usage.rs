//! Chat accounting: answers are recorded off the request path, through a queue that a background
//! writer drains in batches (one transaction per batch), and summarised per version on request.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use talon_domain::agent::{Agent, AgentRef};
use talon_domain::usage::{UsageRange, UsageRecord, VersionUsage};
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
}
