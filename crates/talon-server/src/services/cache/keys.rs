//! API keys by the SHA-256 of their secret, each with its account (and so its plan).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use talon_domain::{Account, AgentId, ApiKey, ApiKeyId, UserId};

use super::aged_map::AgedMap;
use crate::services::bus::Bus;

/// A key as authentication needs it. Whether it is usable (revoked, expired) is decided at each use
/// from what is kept here, so an expiry needs no invalidation.
#[derive(Debug)]
pub struct CachedKey {
    pub key: ApiKey,
    pub account: Account,
    /// When this replica last recorded a use (ms since the epoch), to keep `lastUsedAt` to the minute
    /// without a write per request.
    recorded_use_ms: AtomicI64,
}

impl CachedKey {
    pub fn new(key: ApiKey, account: Account) -> Self {
        let recorded = key.last_used_at.map_or(i64::MIN, |at| at.timestamp_millis());
        Self { key, account, recorded_use_ms: AtomicI64::new(recorded) }
    }

    /// Whether a use at `now` should be recorded: true once per `granularity` for this replica, for
    /// exactly one of the requests racing at that moment.
    pub fn use_due(&self, now: DateTime<Utc>, granularity: chrono::Duration) -> bool {
        let now_ms = now.timestamp_millis();
        let last = self.recorded_use_ms.load(Ordering::Acquire);
        if now_ms.saturating_sub(last) < granularity.num_milliseconds() {
            return false;
        }
        self.recorded_use_ms.compare_exchange(last, now_ms, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }
}

pub struct KeyCache {
    by_hash: AgedMap<[u8; 32], Arc<CachedKey>>,
}

impl KeyCache {
    pub fn new(capacity: usize, max_age: Duration, bus: Bus) -> Self {
        Self { by_hash: AgedMap::new(capacity, max_age, bus) }
    }

    /// The key whose secret hashes to `hash`, from the cache or else from `load`.
    pub async fn get_or_load<E, Fut>(
        &self,
        hash: [u8; 32],
        load: impl FnOnce() -> Fut,
    ) -> Result<Option<Arc<CachedKey>>, E>
    where
        Fut: Future<Output = Result<Option<Arc<CachedKey>>, E>>,
    {
        self.by_hash.get_or_load(hash, load).await
    }

    /// Revocations are rare: a scan finds the key without an index by id.
    pub(super) fn remove_key(&self, id: ApiKeyId) {
        self.by_hash.remove_where(|_, cached| cached.key.id == id);
    }

    pub(super) fn remove_account(&self, id: UserId) {
        self.by_hash.remove_where(|_, cached| cached.account.id == id);
    }

    pub(super) fn remove_agent_keys(&self, agent: AgentId) {
        self.by_hash.remove_where(|_, cached| cached.key.agent_id == Some(agent));
    }

    pub(super) fn clear(&self) {
        self.by_hash.clear();
    }
}
