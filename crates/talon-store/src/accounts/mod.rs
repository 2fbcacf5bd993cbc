//! Accounts and their sessions.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::{Account, UserId};
use uuid::Uuid;

use crate::StoreError;

mod rows;
mod sql;

#[async_trait]
pub trait AccountStore {
    /// Inserts an account; `Conflict("email")` when the address is taken.
    async fn create_account(&self, account: &Account, password_hash: &str) -> Result<(), StoreError>;

    /// The account and its password hash, for signing in.
    async fn account_by_email(&self, email: &str) -> Result<Option<(Account, String)>, StoreError>;

    async fn account_by_id(&self, id: UserId) -> Result<Option<Account>, StoreError>;

    /// The account behind a session, with what decides whether the session still stands: the account's
    /// session generation and whether this session was revoked. One query, run on every session request.
    async fn session_account(&self, id: UserId, session: Uuid) -> Result<Option<SessionAccount>, StoreError>;

    /// The generation new sessions of this account are issued in; `None` when there is no such account.
    async fn session_generation(&self, id: UserId) -> Result<Option<i64>, StoreError>;

    /// Ends one session; it is remembered until `expires_at`, when its token would lapse anyway.
    async fn revoke_session(&self, id: UserId, session: Uuid, expires_at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Ends every session of the account issued so far.
    async fn revoke_all_sessions(&self, id: UserId) -> Result<(), StoreError>;

    /// Forgets revoked sessions whose tokens expired before `before`; returns how many.
    async fn purge_revoked_sessions(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Moves an account to another plan; `false` when no account has that address.
    async fn set_account_plan(&self, email: &str, plan: &str) -> Result<bool, StoreError>;

    /// Gives an account a role (`user`, or `operator` to resolve disputes and credit deposits); `false`
    /// when no account has that address.
    async fn set_account_role(&self, email: &str, role: &str) -> Result<bool, StoreError>;

    /// The account's role; `None` when there is no such account.
    async fn account_role(&self, id: UserId) -> Result<Option<String>, StoreError>;
}

/// An account as a session request sees it.
#[derive(Debug, Clone)]
pub struct SessionAccount {
    pub account: Account,
    pub session_generation: i64,
    pub revoked: bool,
}
