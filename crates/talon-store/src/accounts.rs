use async_trait::async_trait;
use talon_domain::{Account, UserId};

use crate::StoreError;

#[async_trait]
pub trait AccountStore {
    /// Inserts an account; `Conflict("email")` when the address is taken.
    async fn create_account(&self, account: &Account, password_hash: &str) -> Result<(), StoreError>;

    /// The account and its password hash, for signing in.
    async fn account_by_email(&self, email: &str) -> Result<Option<(Account, String)>, StoreError>;

    async fn account_by_id(&self, id: UserId) -> Result<Option<Account>, StoreError>;

    /// Moves an account to another plan; `false` when no account has that address.
    async fn set_account_plan(&self, email: &str, plan: &str) -> Result<bool, StoreError>;
}
