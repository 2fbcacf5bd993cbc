//! The AccountStore implementation both databases share: the statements are the same text for SQLite
//! and PostgreSQL (`$N` placeholders), so it is written once and instantiated per store by a macro.

/// Implements `AccountStore` for `$store`, writing through `self.$write` and reading through `self.$read`.
macro_rules! impl_account_store {
    ($store:ty, write = $write:ident, read = $read:ident) => {
        const _: () = {
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use talon_domain::{Account, UserId};
            use uuid::Uuid;
            use $crate::rows::{AccountRow, AccountWithPasswordRow, SessionAccountRow};
            use $crate::{AccountStore, SessionAccount, StoreError};

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

                async fn session_account(
                    &self,
                    id: UserId,
                    session: Uuid,
                ) -> Result<Option<SessionAccount>, StoreError> {
                    let row: Option<SessionAccountRow> = sqlx::query_as(
                        "SELECT id, email, plan, created_at, session_generation,
                                EXISTS (SELECT 1 FROM revoked_sessions WHERE session_id = $2) AS revoked
                         FROM users WHERE id = $1",
                    )
                    .bind(id.as_uuid())
                    .bind(session)
                    .fetch_optional(&self.$read)
                    .await?;
                    Ok(row.map(|r| SessionAccount {
                        account: r.account.into(),
                        session_generation: r.session_generation,
                        revoked: r.revoked,
                    }))
                }

                async fn session_generation(&self, id: UserId) -> Result<Option<i64>, StoreError> {
                    let generation: Option<i64> =
                        sqlx::query_scalar("SELECT session_generation FROM users WHERE id = $1")
                            .bind(id.as_uuid())
                            .fetch_optional(&self.$write)
                            .await?;
                    Ok(generation)
                }

                async fn revoke_session(
                    &self,
                    id: UserId,
                    session: Uuid,
                    expires_at: DateTime<Utc>,
                ) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO revoked_sessions (session_id, user_id, expires_at) VALUES ($1, $2, $3)
                         ON CONFLICT (session_id) DO NOTHING",
                    )
                    .bind(session)
                    .bind(id.as_uuid())
                    .bind(expires_at)
                    .execute(&self.$write)
                    .await?;
                    Ok(())
                }

                async fn revoke_all_sessions(&self, id: UserId) -> Result<(), StoreError> {
                    sqlx::query("UPDATE users SET session_generation = session_generation + 1 WHERE id = $1")
                        .bind(id.as_uuid())
                        .execute(&self.$write)
                        .await?;
                    Ok(())
                }

                async fn purge_revoked_sessions(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
                    let done = sqlx::query("DELETE FROM revoked_sessions WHERE expires_at < $1")
                        .bind(before)
                        .execute(&self.$write)
                        .await?;
                    Ok(done.rows_affected())
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
