use async_trait::async_trait;
use talon_domain::{Account, UserId};

use super::SqliteStore;
use crate::rows::{AccountRow, AccountWithPasswordRow};
use crate::{AccountStore, StoreError};

#[async_trait]
impl AccountStore for SqliteStore {
    async fn create_account(&self, account: &Account, password_hash: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO users (id, email, password_hash, plan, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(account.id.as_uuid())
            .bind(&account.email)
            .bind(password_hash)
            .bind(&account.plan)
            .bind(account.created_at)
            .execute(&self.writer)
            .await
            .map_err(|e| StoreError::unique(e, "email"))?;
        Ok(())
    }

    async fn account_by_email(&self, email: &str) -> Result<Option<(Account, String)>, StoreError> {
        let row: Option<AccountWithPasswordRow> =
            sqlx::query_as("SELECT id, email, plan, created_at, password_hash FROM users WHERE email = ?")
                .bind(email)
                .fetch_optional(&self.reader)
                .await?;
        Ok(row.map(|r| (r.account.into(), r.password_hash)))
    }

    async fn account_by_id(&self, id: UserId) -> Result<Option<Account>, StoreError> {
        let row: Option<AccountRow> = sqlx::query_as("SELECT id, email, plan, created_at FROM users WHERE id = ?")
            .bind(id.as_uuid())
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(Into::into))
    }

    async fn set_account_plan(&self, email: &str, plan: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE users SET plan = ? WHERE email = ?")
            .bind(plan)
            .bind(email)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
