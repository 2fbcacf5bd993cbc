use std::sync::Arc;

use talon_domain::account::DEFAULT_PLAN;
use talon_domain::{Account, NewAccount, UserId};
use talon_store::{Store, StoreError};

use super::ServiceError;
use crate::auth::jwt::JwtKeys;
use crate::auth::password;

pub struct AccountService {
    store: Arc<dyn Store>,
    jwt: Arc<JwtKeys>,
}

/// A signed-in account and its session token.
pub struct Session {
    pub token: String,
    pub account: Account,
}

impl AccountService {
    pub fn new(store: Arc<dyn Store>, jwt: Arc<JwtKeys>) -> Self {
        Self { store, jwt }
    }

    pub async fn register(&self, email: Option<&str>, password: Option<&str>) -> Result<Session, ServiceError> {
        let new = NewAccount::parse(email, password)?;
        let account = Account {
            id: UserId::new(),
            email: new.email,
            plan: DEFAULT_PLAN.to_owned(),
            created_at: talon_domain::time::now(),
        };
        let hash = password::hash(new.password).await.map_err(|e| ServiceError::Internal(e.to_string()))?;
        self.store.create_account(&account, &hash).await.map_err(|e| match e {
            StoreError::Conflict(_) => ServiceError::Conflict("An account with this email already exists".into()),
            other => other.into(),
        })?;
        self.session(account)
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
        self.session(account)
    }

    fn session(&self, account: Account) -> Result<Session, ServiceError> {
        let token = self.jwt.issue(account.id).map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok(Session { token, account })
    }
}
