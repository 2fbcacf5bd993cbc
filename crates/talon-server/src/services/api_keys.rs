use std::sync::Arc;

use talon_domain::time::now;
use talon_domain::{ApiKey, ApiKeyId, ApiKeySecret, NewApiKey, UserId, ValidationErrors};
use talon_store::Store;

use super::ServiceError;
use super::cache::{Caches, Invalidation};

pub struct ApiKeyService {
    store: Arc<dyn Store>,
    caches: Arc<Caches>,
}

impl ApiKeyService {
    pub fn new(store: Arc<dyn Store>, caches: Arc<Caches>) -> Self {
        Self { store, caches }
    }

    /// Creates a key; the secret is returned this once and only its hash is kept.
    pub async fn create(&self, owner: UserId, new: NewApiKey) -> Result<(ApiKey, ApiKeySecret), ServiceError> {
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
        self.store.insert_api_key(&key, &secret.hash()).await?;
        Ok((key, secret))
    }

    pub async fn list(&self, owner: UserId) -> Result<Vec<ApiKey>, ServiceError> {
        Ok(self.store.list_api_keys(owner).await?)
    }

    /// Revokes at once: the next request with the key is refused, on every replica. Another account's
    /// key is "not found".
    pub async fn revoke(&self, owner: UserId, id: ApiKeyId) -> Result<(), ServiceError> {
        if !self.store.revoke_api_key(owner, id, now()).await? {
            return Err(ServiceError::NotFound("API key"));
        }
        self.caches.invalidate(Invalidation::Key(id));
        Ok(())
    }
}
