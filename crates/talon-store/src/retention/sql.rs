//! `RetentionStore` for every store. Rows whose ids are UUIDv7 (events, tasks) are found by id range:
//! every row made before an instant has an id below the smallest id of that instant, so a purge reads
//! the primary key from its start instead of scanning the table.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::WebhookId;
use uuid::Uuid;

use super::{DeliveryRetention, RetentionStore};
use crate::StoreError;
use crate::db::{Db, On, Portable, run};

/// The smallest UUIDv7 of the millisecond `at`: every id made before `at` is below it.
fn first_id_at(at: DateTime<Utc>) -> Uuid {
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0) & 0xFFFF_FFFF_FFFF;
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    bytes[6] = 0x70;
    bytes[8] = 0x80;
    Uuid::from_bytes(bytes)
}

/// Deletes up to `batch` rows of `table` (UUIDv7 ids) made before `before` that also meet `condition`
/// (`$2` is `before`), oldest first, reading the primary key from its start.
async fn delete_made_before(
    db: &Db,
    table: &str,
    condition: &str,
    before: DateTime<Utc>,
    batch: i64,
) -> Result<u64, StoreError> {
    let statement = format!(
        "DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE id < $1 AND {condition} ORDER BY id LIMIT $3)"
    );
    let purged = run!(db.writer(), |e| {
        sqlx::query(&statement)
            .bind(first_id_at(before))
            .bind(before)
            .bind(batch)
            .execute(e)
            .await
            .map(|done| done.rows_affected())
    })?;
    Ok(purged)
}

/// Runs a delete of one batch whose `$1` is the instant rows are older than and `$2` the batch size.
async fn delete_older(db: &Db, statement: &str, before: DateTime<Utc>, batch: i64) -> Result<u64, StoreError> {
    let purged = run!(db.writer(), |e| {
        sqlx::query(statement).bind(before).bind(batch).execute(e).await.map(|done| done.rows_affected())
    })?;
    Ok(purged)
}

#[async_trait]
impl<S: Portable> RetentionStore for S {
    async fn purge_usage_records(&self, before: DateTime<Utc>, batch: i64) -> Result<u64, StoreError> {
        let statement = "DELETE FROM chat_usage WHERE id IN (
             SELECT id FROM chat_usage WHERE created_at < $1 ORDER BY created_at LIMIT $2)";
        delete_older(self.db(), statement, before, batch).await
    }

    async fn purge_usage_minutes(&self, before: DateTime<Utc>, batch: i64) -> Result<u64, StoreError> {
        // The table has no single-column key: rows are named by their whole primary key.
        let statement = "DELETE FROM usage_minutely
             WHERE (agent_id, period_start, version_id, key_id, outcome) IN (
                 SELECT agent_id, period_start, version_id, key_id, outcome FROM usage_minutely
                 WHERE period_start < $1 ORDER BY period_start LIMIT $2)";
        delete_older(self.db(), statement, before, batch).await
    }

    async fn purge_dispatched_events(&self, before: DateTime<Utc>, batch: i64) -> Result<u64, StoreError> {
        delete_made_before(self.db(), "events", "dispatched_at IS NOT NULL AND created_at < $2", before, batch).await
    }

    async fn purge_finished_tasks(&self, before: DateTime<Utc>, batch: i64) -> Result<u64, StoreError> {
        let finished = "status IN ('completed', 'failed', 'cancelled') AND completed_at < $2";
        delete_made_before(self.db(), "tasks", finished, before, batch).await
    }

    async fn purge_deliveries_of(
        &self,
        webhook: WebhookId,
        keep: DeliveryRetention,
        batch: i64,
    ) -> Result<u64, StoreError> {
        // Below the newest `keep_per_webhook`: finished ones, except failures younger than the cutoff.
        let statement = "DELETE FROM webhook_deliveries WHERE id IN (
             SELECT id FROM webhook_deliveries
             WHERE webhook_id = $1
                 AND id < (SELECT id FROM webhook_deliveries WHERE webhook_id = $1
                           ORDER BY id DESC LIMIT 1 OFFSET $2)
                 AND (status = 'succeeded' OR (status = 'failed' AND created_at < $3))
             ORDER BY id LIMIT $4)";
        let purged = run!(self.db().writer(), |e| {
            sqlx::query(statement)
                .bind(webhook.as_uuid())
                .bind(keep.keep_per_webhook - 1)
                .bind(keep.keep_failed_since)
                .bind(batch)
                .execute(e)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(purged)
    }

    async fn webhooks_over(&self, keep_per_webhook: i64) -> Result<Vec<WebhookId>, StoreError> {
        // A webhook is over when it has a delivery at position `keep_per_webhook` (from 0, newest first).
        let statement = "SELECT w.id FROM webhooks w WHERE EXISTS (
             SELECT 1 FROM webhook_deliveries d WHERE d.webhook_id = w.id
             ORDER BY d.id DESC LIMIT 1 OFFSET $1)";
        let rows: Vec<(Uuid,)> =
            run!(self.db().reader(), |e| { sqlx::query_as(statement).bind(keep_per_webhook).fetch_all(e).await })?;
        Ok(rows.into_iter().map(|(id,)| WebhookId::from_uuid(id)).collect())
    }

    async fn reclaim_free_pages(&self, pages: i64) -> Result<(), StoreError> {
        if let On::Sqlite(writer) = self.db().writer() {
            // A pragma takes no bound parameter; `pages` is a number.
            sqlx::query(&format!("PRAGMA incremental_vacuum({pages})")).execute(writer).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_made_before_an_instant_are_below_its_first_id() {
        let at = Utc::now();
        let earlier = Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            u64::try_from((at - chrono::Duration::milliseconds(1)).timestamp()).unwrap(),
            (at - chrono::Duration::milliseconds(1)).timestamp_subsec_nanos(),
        ));
        let later = Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            u64::try_from(at.timestamp()).unwrap(),
            at.timestamp_subsec_nanos(),
        ));
        assert!(earlier < first_id_at(at), "{earlier} < {}", first_id_at(at));
        assert!(first_id_at(at) <= later, "{} <= {later}", first_id_at(at));
        assert_eq!(first_id_at(at).get_version_num(), 7);
    }
}
