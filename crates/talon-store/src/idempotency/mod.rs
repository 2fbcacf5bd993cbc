//! Idempotency keys: one reservation per key, and the response that replays it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::StoreError;

mod rows;
mod sql;

/// The response a completed request produced, kept to answer replays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// What happened when a request tried to reserve its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The key was free (or its old record had expired): the caller runs the request.
    Reserved,
    /// Another request with this key is still running.
    InFlight { fingerprint: Vec<u8> },
    /// A request with this key finished; its response is replayed.
    Completed { fingerprint: Vec<u8>, response: StoredResponse },
}

#[async_trait]
pub trait IdempotencyStore {
    /// Atomically claims `(scope, key)` for a request with this `fingerprint`. A record created before
    /// `expired_before`, or an in-flight one created before `stale_before` (its request died), is taken over.
    async fn reserve_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &[u8],
        now: DateTime<Utc>,
        expired_before: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<Reservation, StoreError>;

    async fn complete_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError>;

    /// Forgets a reservation whose request failed in a way worth retrying.
    async fn release_idempotency_key(&self, scope: &str, key: &str) -> Result<(), StoreError>;

    /// Deletes records created before `before`; returns how many.
    async fn purge_idempotency_keys(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}
