//! The AccountStore implementation both databases share: the statements are the same text for SQLite
//! and PostgreSQL (`$N` placeholders), so it is written once and instantiated per store by a macro.

/// Implements `AccountStore` for `$store`, writing through `self.$write` and reading through `self.$read`.
macro_rules! impl_account_store {
    ($store:ty, write = $write:ident, read = $read:ident) => {
        const _: () = {
            use async_trait::async_trait;
            use talon_domain::{Account, UserId};
            use $crate::rows::{AccountRow, AccountWithPasswordRow};
            use $crate::{AccountStore, StoreError};

            #[async_trait]
            impl AccountStore for $store {
                async fn create_account(&self, account: &Account, password_hash: &str) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO users (id, email, password_hash, plan, created_at) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(account.id.as_uuid())
                    .bind(&account.email)
                    .bind(password_hash)
                    .bind(&account.plan)
                    .bind(account.created_at)
                    .execute(&self.$write)
                    .await
                    .map_err(|e| StoreError::unique(e, "email"))?;
                    Ok(())
                }

                async fn account_by_email(&self, email: &str) -> Result<Option<(Account, String)>, StoreError> {
                    let row: Option<AccountWithPasswordRow> =
                        sqlx::query_as("SELECT id, email, plan, created_at, password_hash FROM users WHERE email = $1")
                            .bind(email)
                            .fetch_optional(&self.$read)
                            .await?;
                    Ok(row.map(|r| (r.account.into(), r.password_hash)))
                }

                async fn account_by_id(&self, id: UserId) -> Result<Option<Account>, StoreError> {
                    let row: Option<AccountRow> =
                        sqlx::query_as("SELECT id, email, plan, created_at FROM users WHERE id = $1")
                            .bind(id.as_uuid())
                            .fetch_optional(&self.$read)
                            .await?;
                    Ok(row.map(Into::into))
                }

                async fn set_account_plan(&self, email: &str, plan: &str) -> Result<bool, StoreError> {
                    let done = sqlx::query("UPDATE users SET plan = $1 WHERE email = $2")
                        .bind(plan)
                        .bind(email)
                        .execute(&self.$write)
                        .await?;
                    Ok(done.rows_affected() == 1)
                }
            }
        };
    };
}

pub(crate) use impl_account_store;
