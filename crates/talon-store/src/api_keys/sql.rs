//! `ApiKeyStore` for every store, in SQL both databases run.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::audit::AuditEntry;
use talon_domain::{ApiKey, ApiKeyId, UserId};

use super::rows::{ApiKeyRow, KeyWithAccountRow, encode_scopes};
use crate::audit::sql as audit_sql;
use crate::db::{Portable, run};
use crate::{ApiKeyStore, AuthenticatedKey, StoreError};

const KEY_COLUMNS: &str = "k.id, k.user_id, k.name, k.key_prefix, k.scopes, k.agent_id, k.expires_at, k.last_used_at, k.created_at, k.revoked_at";

#[async_trait]
impl<S: Portable> ApiKeyStore for S {
    async fn insert_api_key(&self, key: &ApiKey, key_hash: &[u8], audit: &[AuditEntry]) -> Result<(), StoreError> {
        let mut tx = self.db().begin().await?;
        run!(tx.conn(), |e| {
            sqlx::query(
                "INSERT INTO api_keys (id, user_id, name, key_prefix, key_hash, scopes, agent_id, expires_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(key.id.as_uuid())
            .bind(key.user_id.as_uuid())
            .bind(&key.name)
            .bind(&key.key_prefix)
            .bind(key_hash)
            .bind(encode_scopes(&key.scopes))
            .bind(key.agent_id.map(|a| *a.as_uuid()))
            .bind(key.expires_at)
            .bind(key.created_at)
            .execute(e)
            .await
            .map(|_| ())
        })
        .map_err(|e| StoreError::unique(e, "api key"))?;
        audit_sql::record_on(tx.conn(), audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn api_key_by_hash(&self, key_hash: &[u8]) -> Result<Option<AuthenticatedKey>, StoreError> {
        let statement = format!(
            "SELECT {KEY_COLUMNS}, u.email, u.plan, u.created_at AS account_created_at
             FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = $1"
        );
        let row: Option<KeyWithAccountRow> =
            run!(self.db().reader(), |e| sqlx::query_as(&statement).bind(key_hash).fetch_optional(e).await)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn list_api_keys(&self, user: UserId) -> Result<Vec<ApiKey>, StoreError> {
        let statement = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.user_id = $1 AND k.revoked_at IS NULL ORDER BY k.id DESC"
        );
        let rows: Vec<ApiKeyRow> =
            run!(self.db().reader(), |e| sqlx::query_as(&statement).bind(user.as_uuid()).fetch_all(e).await)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn revoke_api_key(
        &self,
        user: UserId,
        id: ApiKeyId,
        at: DateTime<Utc>,
        audit: &[AuditEntry],
    ) -> Result<bool, StoreError> {
        let mut tx = self.db().begin().await?;
        let revoked = run!(tx.conn(), |e| {
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
                .bind(at)
                .bind(id.as_uuid())
                .bind(user.as_uuid())
                .execute(e)
                .await
                .map(|done| done.rows_affected())
        })?;
        if revoked != 1 {
            // Nothing changed: nothing to record (the transaction rolls back on drop).
            return Ok(false);
        }
        audit_sql::record_on(tx.conn(), audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn touch_api_key(&self, id: ApiKeyId, at: DateTime<Utc>) -> Result<(), StoreError> {
        run!(self.db().writer(), |e| {
            sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
                .bind(at)
                .bind(id.as_uuid())
                .execute(e)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }
}
