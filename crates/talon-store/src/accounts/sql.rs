//! `AccountStore` for every store, in SQL both databases run.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::{Account, UserId};
use uuid::Uuid;

use super::rows::{AccountRow, AccountWithPasswordRow, SessionAccountRow};
use crate::db::{Portable, run};
use crate::{AccountStore, SessionAccount, StoreError};

#[async_trait]
impl<S: Portable> AccountStore for S {
    async fn create_account(&self, account: &Account, password_hash: &str) -> Result<(), StoreError> {
        run!(self.db().writer(), |e| {
            sqlx::query("INSERT INTO users (id, email, password_hash, plan, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(account.id.as_uuid())
                .bind(&account.email)
                .bind(password_hash)
                .bind(&account.plan)
                .bind(account.created_at)
                .execute(e)
                .await
                .map(|_| ())
        })
        .map_err(|e| StoreError::unique(e, "email"))?;
        Ok(())
    }

    async fn account_by_email(&self, email: &str) -> Result<Option<(Account, String)>, StoreError> {
        let row: Option<AccountWithPasswordRow> = run!(self.db().reader(), |e| {
            sqlx::query_as("SELECT id, email, plan, created_at, password_hash FROM users WHERE email = $1")
                .bind(email)
                .fetch_optional(e)
                .await
        })?;
        Ok(row.map(|r| (r.account.into(), r.password_hash)))
    }

    async fn account_by_id(&self, id: UserId) -> Result<Option<Account>, StoreError> {
        let row: Option<AccountRow> = run!(self.db().reader(), |e| {
            sqlx::query_as("SELECT id, email, plan, created_at FROM users WHERE id = $1")
                .bind(id.as_uuid())
                .fetch_optional(e)
                .await
        })?;
        Ok(row.map(Into::into))
    }

    async fn session_account(&self, id: UserId, session: Uuid) -> Result<Option<SessionAccount>, StoreError> {
        let row: Option<SessionAccountRow> = run!(self.db().reader(), |e| {
            sqlx::query_as(
                "SELECT id, email, plan, created_at, session_generation,
                        EXISTS (SELECT 1 FROM revoked_sessions WHERE session_id = $2) AS revoked
                 FROM users WHERE id = $1",
            )
            .bind(id.as_uuid())
            .bind(session)
            .fetch_optional(e)
            .await
        })?;
        Ok(row.map(|r| SessionAccount {
            account: r.account.into(),
            session_generation: r.session_generation,
            revoked: r.revoked,
        }))
    }

    async fn session_generation(&self, id: UserId) -> Result<Option<i64>, StoreError> {
        let generation: Option<i64> = run!(self.db().writer(), |e| {
            sqlx::query_scalar("SELECT session_generation FROM users WHERE id = $1")
                .bind(id.as_uuid())
                .fetch_optional(e)
                .await
        })?;
        Ok(generation)
    }

    async fn revoke_session(&self, id: UserId, session: Uuid, expires_at: DateTime<Utc>) -> Result<(), StoreError> {
        run!(self.db().writer(), |e| {
            sqlx::query(
                "INSERT INTO revoked_sessions (session_id, user_id, expires_at) VALUES ($1, $2, $3)
                 ON CONFLICT (session_id) DO NOTHING",
            )
            .bind(session)
            .bind(id.as_uuid())
            .bind(expires_at)
            .execute(e)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    async fn revoke_all_sessions(&self, id: UserId) -> Result<(), StoreError> {
        run!(self.db().writer(), |e| {
            sqlx::query("UPDATE users SET session_generation = session_generation + 1 WHERE id = $1")
                .bind(id.as_uuid())
                .execute(e)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    async fn purge_revoked_sessions(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = run!(self.db().writer(), |e| {
            sqlx::query("DELETE FROM revoked_sessions WHERE expires_at < $1")
                .bind(before)
                .execute(e)
                .await
                .map(|d| d.rows_affected())
        })?;
        Ok(done)
    }

    async fn set_account_plan(&self, email: &str, plan: &str) -> Result<bool, StoreError> {
        let done = run!(self.db().writer(), |e| {
            sqlx::query("UPDATE users SET plan = $1 WHERE email = $2")
                .bind(plan)
                .bind(email)
                .execute(e)
                .await
                .map(|d| d.rows_affected())
        })?;
        Ok(done == 1)
    }

    async fn set_account_role(&self, email: &str, role: &str) -> Result<bool, StoreError> {
        let done = run!(self.db().writer(), |e| {
            sqlx::query("UPDATE users SET role = $1 WHERE email = $2")
                .bind(role)
                .bind(email)
                .execute(e)
                .await
                .map(|d| d.rows_affected())
        })?;
        Ok(done == 1)
    }

    async fn account_role(&self, id: UserId) -> Result<Option<String>, StoreError> {
        Ok(run!(self.db().reader(), |e| {
            sqlx::query_scalar("SELECT role FROM users WHERE id = $1").bind(*id.as_uuid()).fetch_optional(e).await
        })?)
    }
}
