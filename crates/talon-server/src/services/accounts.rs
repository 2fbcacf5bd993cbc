use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use talon_domain::account::DEFAULT_PLAN;
use talon_domain::{Account, NewAccount, UserId};
use talon_store::{Store, StoreError};

use super::ServiceError;
use super::cache::{Caches, Invalidation};
use crate::auth::jwt::JwtKeys;
use crate::auth::password;

pub struct AccountService {
    store: Arc<dyn Store>,
    jwt: Arc<JwtKeys>,
    caches: Arc<Caches>,
}

/// A signed-in account and its session token.
pub struct Session {
    pub token: String,
    pub account: Account,
}

impl AccountService {
    pub fn new(store: Arc<dyn Store>, jwt: Arc<JwtKeys>, caches: Arc<Caches>) -> Self {
        Self { store, jwt, caches }
    }

    /// Creates the account, or does nothing when the email already has one, and returns the email either
    /// way: the answer (and its cost: the password is hashed in both cases) must not tell a caller who
    /// has an account. The new account signs in with `login`.
    pub async fn register(&self, email: Option<&str>, password: Option<&str>) -> Result<String, ServiceError> {
        let new = NewAccount::parse(email, password)?;
        let account = Account {
            id: UserId::new(),
            email: new.email,
            plan: DEFAULT_PLAN.to_owned(),
            created_at: talon_domain::time::now(),
        };
        let hash = password::hash(new.password).await.map_err(|e| ServiceError::Internal(e.to_string()))?;
        match self.store.create_account(&account, &hash).await {
            Ok(()) | Err(StoreError::Conflict(_)) => Ok(account.email),
            Err(other) => Err(other.into()),
        }
    }

    /// Signs in. Every failure is the same `BadCredentials`, so callers cannot probe which emails exist.
    pub async fn login(&self, email: Option<&str>, password: Option<&str>) -> Result<Session, ServiceError> {
        let (Some(email), Some(password)) = (email, password) else {
            let mut errors = talon_domain::ValidationErrors::new();
            if email.is_none() {
                errors.add("email", "Required field missing");
            }
            if password.is_none() {
                errors.add("password", "Required field missing");
            }
            return Err(errors.into());
        };
        let email = email.trim().to_lowercase();
        let found = self.store.account_by_email(&email).await?;
        let (account, stored) = match found {
            Some((account, hash)) => (Some(account), Some(hash)),
            None => (None, None),
        };
        if !password::verify(password.to_owned(), stored).await {
            return Err(ServiceError::BadCredentials);
        }
        let account = account.ok_or(ServiceError::BadCredentials)?;
        self.session(account).await
    }

    /// A new session, in the account's current session generation (read after the password matched, so
    /// a "sign out everywhere" racing this login can only end the new session too, never miss it).
    async fn session(&self, account: Account) -> Result<Session, ServiceError> {
        let generation = self.store.session_generation(account.id).await?.ok_or(ServiceError::BadCredentials)?;
        let token = self.jwt.issue(account.id, generation).map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok(Session { token, account })
    }

    /// Ends one session: its token is refused from the next request on, on every replica.
    pub async fn logout(&self, account: UserId, session: Uuid, expires_at: DateTime<Utc>) -> Result<(), ServiceError> {
        Ok(self.store.revoke_session(account, session, expires_at).await?)
    }

    /// Ends every session of the account issued so far, this one included; new sign-ins work at once.
    pub async fn revoke_all_sessions(&self, account: UserId) -> Result<(), ServiceError> {
        Ok(self.store.revoke_all_sessions(account).await?)
    }

    /// Moves the account with `email` to `plan` (a configured plan's name); its limits apply from the
    /// next request on, on every replica. `None` when no account has the email.
    pub async fn set_plan(&self, email: &str, plan: &str) -> Result<Option<UserId>, ServiceError> {
        let email = email.trim().to_lowercase();
        let Some((account, _)) = self.store.account_by_email(&email).await? else {
            return Ok(None);
        };
        if !self.store.set_account_plan(&email, plan).await? {
            return Ok(None);
        }
        self.caches.invalidate(Invalidation::Account(account.id));
        Ok(Some(account.id))
    }
}
