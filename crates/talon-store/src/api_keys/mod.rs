//! API keys, looked up by hash on every authenticated request.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::audit::AuditEntry;
use talon_domain::{Account, ApiKey, ApiKeyId, UserId};

use crate::StoreError;

pub(crate) mod rows;
mod sql;

/// A key found by its hash, with the account that owns it (one lookup per authenticated request).
#[derive(Debug, Clone)]
pub struct AuthenticatedKey {
    pub key: ApiKey,
    pub account: Account,
}

#[async_trait]
pub trait ApiKeyStore {
    /// Inserts a key and its audit entries, in one transaction: if the key is not written, neither are
    /// they.
    async fn insert_api_key(&self, key: &ApiKey, key_hash: &[u8], audit: &[AuditEntry]) -> Result<(), StoreError>;

    /// The key with this SHA-256, revoked or not, so the caller can say why it is refused.
    async fn api_key_by_hash(&self, key_hash: &[u8]) -> Result<Option<AuthenticatedKey>, StoreError>;

    /// The account's keys that are not revoked, newest first.
    async fn list_api_keys(&self, user: UserId) -> Result<Vec<ApiKey>, StoreError>;

    /// Revokes one of the account's keys and records its audit entries, in one transaction; `false`
    /// (and nothing recorded) when the account has no such live key.
    async fn revoke_api_key(
        &self,
        user: UserId,
        id: ApiKeyId,
        at: DateTime<Utc>,
        audit: &[AuditEntry],
    ) -> Result<bool, StoreError>;

    /// Records a use of the key. Callers throttle this so a busy key does not write on every request.
    async fn touch_api_key(&self, id: ApiKeyId, at: DateTime<Utc>) -> Result<(), StoreError>;
}
