//! `IdempotencyStore` for every store, in SQL both databases run.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::rows::IdempotencyRow;
use crate::db::{Portable, run};
use crate::{IdempotencyStore, Reservation, StoreError, StoredResponse};

/// One statement: insert, or take over a record that expired or whose request died.
const RESERVE: &str = "INSERT INTO idempotency_keys (scope, key, fingerprint, created_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (scope, key) DO UPDATE SET
         fingerprint = excluded.fingerprint, response_status = NULL,
         response_content_type = NULL, response_body = NULL, created_at = excluded.created_at
     WHERE idempotency_keys.created_at < $5
        OR (idempotency_keys.response_status IS NULL AND idempotency_keys.created_at < $6)
     RETURNING scope";

#[async_trait]
impl<S: Portable> IdempotencyStore for S {
    async fn reserve_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &[u8],
        now: DateTime<Utc>,
        expired_before: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<Reservation, StoreError> {
        let taken = run!(self.db().writer(), |e| {
            sqlx::query(RESERVE)
                .bind(scope)
                .bind(key)
                .bind(fingerprint)
                .bind(now)
                .bind(expired_before)
                .bind(stale_before)
                .fetch_optional(e)
                .await
                .map(|row| row.is_some())
        })?;
        if taken {
            return Ok(Reservation::Reserved);
        }
        let existing: IdempotencyRow = run!(self.db().writer(), |e| {
            sqlx::query_as(
                "SELECT fingerprint, response_status, response_content_type, response_body
                 FROM idempotency_keys WHERE scope = $1 AND key = $2",
            )
            .bind(scope)
            .bind(key)
            .fetch_one(e)
            .await
        })?;
        Ok(existing.into_reservation())
    }

    async fn complete_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        run!(self.db().writer(), |e| {
            sqlx::query(
                "UPDATE idempotency_keys SET response_status = $1, response_content_type = $2, response_body = $3
                 WHERE scope = $4 AND key = $5",
            )
            .bind(i32::from(response.status))
            .bind(&response.content_type)
            .bind(&response.body)
            .bind(scope)
            .bind(key)
            .execute(e)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    async fn release_idempotency_key(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        run!(self.db().writer(), |e| {
            sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND response_status IS NULL")
                .bind(scope)
                .bind(key)
                .execute(e)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    async fn purge_idempotency_keys(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let purged = run!(self.db().writer(), |e| {
            sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                .bind(before)
                .execute(e)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(purged)
    }
}
