use std::sync::Arc;

use chrono::Duration;
use talon_domain::ApiKeySecret;
use talon_store::Store;

use super::jwt::JwtKeys;
use super::{AuthError, Credential, Principal};
use crate::services::cache::{CachedKey, Caches};

/// `lastUsedAt` is kept to the minute: writing it on every request would make each read a write.
const LAST_USED_GRANULARITY: Duration = Duration::seconds(60);

pub struct Authenticator {
    store: Arc<dyn Store>,
    jwt: Arc<JwtKeys>,
    caches: Arc<Caches>,
}

impl Authenticator {
    pub fn new(store: Arc<dyn Store>, jwt: Arc<JwtKeys>, caches: Arc<Caches>) -> Self {
        Self { store, jwt, caches }
    }

    /// Resolves a bearer token, an API key or a session JWT, to its principal.
    pub async fn resolve(&self, token: &str) -> Result<Principal, AuthError> {
        if ApiKeySecret::looks_like_key(token) {
            self.resolve_key(token).await
        } else {
            self.resolve_session(token).await
        }
    }

    /// Resolves an API key from the key cache (filled from the store on a miss): a key's revocation,
    /// and any change to its account, drop its entry; its expiry is checked here at each use.
    async fn resolve_key(&self, token: &str) -> Result<Principal, AuthError> {
        // A malformed key is refused before any database work.
        let secret =
            ApiKeySecret::parse(token).map_err(|e| AuthError::Unauthorized(format!("Invalid API key: {e}").into()))?;
        let hash = secret.digest();
        let found = self
            .caches
            .keys
            .get_or_load(hash, || async {
                let found = self.store.api_key_by_hash(&hash).await?;
                Ok::<_, AuthError>(found.map(|f| Arc::new(CachedKey::new(f.key, f.account))))
            })
            .await?
            .ok_or_else(|| AuthError::Unauthorized("Invalid API key".into()))?;
        let now = talon_domain::time::now();
        found.key.check_usable(now).map_err(|e| AuthError::Unauthorized(e.to_string().into()))?;

        if found.use_due(now, LAST_USED_GRANULARITY) {
            let store = self.store.clone();
            let id = found.key.id;
            tokio::spawn(async move {
                if let Err(e) = store.touch_api_key(id, now).await {
                    tracing::warn!(key_id = %id, error = %e, "could not record API key use");
                }
            });
        }
        let key = &found.key;
        Ok(Principal {
            account: found.account.clone(),
            credential: Credential::ApiKey { id: key.id, scopes: key.scopes.clone(), agent_id: key.agent_id },
        })
    }

    /// A session stands while its token verifies, it was not logged out, and its account has not signed
    /// out everywhere since it was issued. All of that is read in the one query that loads the account,
    /// so a revocation holds on every replica from the next request on.
    async fn resolve_session(&self, token: &str) -> Result<Principal, AuthError> {
        let session = self.jwt.verify(token).map_err(|e| AuthError::Unauthorized(e.to_string().into()))?;
        let found = self
            .store
            .session_account(session.user, session.session_id)
            .await?
            .ok_or_else(|| AuthError::Unauthorized("The session's account no longer exists".into()))?;
        if found.revoked || found.session_generation != session.generation {
            return Err(AuthError::Unauthorized("The session has been signed out; sign in again".into()));
        }
        Ok(Principal {
            account: found.account,
            credential: Credential::Session { id: session.session_id, expires_at: session.expires_at },
        })
    }
}
