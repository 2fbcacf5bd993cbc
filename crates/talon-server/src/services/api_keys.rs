use std::sync::Arc;

use serde_json::json;
use talon_domain::audit::{self, AuditEntry};
use talon_domain::time::now;
use talon_domain::{ApiKey, ApiKeyId, ApiKeySecret, NewApiKey, UserId, ValidationErrors};
use talon_store::Store;

use super::cache::{Caches, Invalidation};
use super::{Caller, ServiceError};

pub struct ApiKeyService {
    store: Arc<dyn Store>,
    caches: Arc<Caches>,
}

impl ApiKeyService {
    pub fn new(store: Arc<dyn Store>, caches: Arc<Caches>) -> Self {
        Self { store, caches }
    }

    /// Creates a key; the secret is returned this once and only its hash is kept (and never audited).
    pub async fn create(&self, caller: &Caller, new: NewApiKey) -> Result<(ApiKey, ApiKeySecret), ServiceError> {
        let owner = caller.account.id;
        let now = now();
        if let Some(agent) = new.agent_id {
            let owned = self.store.agent(agent).await?.is_some_and(|a| a.owner == owner);
            if !owned {
                return Err(ValidationErrors::single("agentId", "No such agent in this account").into());
            }
        }
        let secret = ApiKeySecret::generate();
        let key = ApiKey {
            id: ApiKeyId::new(),
            user_id: owner,
            name: new.name,
            key_prefix: secret.display_prefix(),
            scopes: new.scopes,
            agent_id: new.agent_id,
            expires_at: new.expires_at,
            last_used_at: None,
            created_at: now,
            revoked_at: None,
        };
        let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
        let detail = json!({"name": key.name, "scopes": scopes, "agentId": key.agent_id.map(|a| a.to_string()),
            "expiresAt": key.expires_at});
        let resource = ("api_key", key.id.to_string());
        let entry = AuditEntry::new(owner, caller.actor, audit::API_KEY_CREATED, resource, key.agent_id, detail, now);
        // The key and its audit entry are written in one transaction.
        self.store.insert_api_key(&key, &secret.hash(), &[entry]).await?;
        Ok((key, secret))
    }

    pub async fn list(&self, owner: UserId) -> Result<Vec<ApiKey>, ServiceError> {
        Ok(self.store.list_api_keys(owner).await?)
    }

    /// Revokes at once: the next request with the key is refused, on every replica. Another account's
    /// key is "not found".
    pub async fn revoke(&self, caller: &Caller, id: ApiKeyId) -> Result<(), ServiceError> {
        let (owner, at) = (caller.account.id, now());
        let entry = AuditEntry::new(
            owner,
            caller.actor,
            audit::API_KEY_REVOKED,
            ("api_key", id.to_string()),
            None,
            json!({}),
            at,
        );
        // Revoked and audited in one transaction; a refused revocation records nothing.
        if !self.store.revoke_api_key(owner, id, at, &[entry]).await? {
            return Err(ServiceError::NotFound("API key"));
        }
        self.caches.invalidate(Invalidation::Key(id));
        Ok(())
    }
}
