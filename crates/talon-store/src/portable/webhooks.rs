//! The WebhookStore implementation both databases share: the statements are the same text for SQLite
//! and PostgreSQL (`$N` placeholders), so it is written once and instantiated per store by a macro.

/// Implements `WebhookStore` for `$store`, writing through `self.$write` and reading through `self.$read`.
macro_rules! impl_webhook_store {
    ($store:ty, write = $write:ident, read = $read:ident, dialect = $dialect:ident) => {
        const _: () = {
            use std::collections::HashMap;
            use std::collections::hash_map::Entry;
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use talon_domain::webhook::{Delivery, Webhook};
            use talon_domain::{DeliveryId, UserId, WebhookId};
            use uuid::Uuid;
            use $crate::bind::{bind_delivery, bind_delivery_update, bind_webhook};
            use $crate::rows::{DELIVERY_COLUMNS, DeliveryRow, PendingEventRow, WEBHOOK_COLUMNS, WebhookRow};
            use $crate::webhooks::deliveries_for;
            use $crate::{ClaimBounds, DeliveryJob, EndpointOutcome, Page, StoreError, WebhookStore, sql};

            #[async_trait]
            impl WebhookStore for $store {
                async fn insert_webhook(&self, webhook: &Webhook) -> Result<(), StoreError> {
                    bind_webhook!(sqlx::query(sql::INSERT_WEBHOOK), webhook).execute(&self.$write).await?;
                    Ok(())
                }

                async fn webhook(&self, id: WebhookId) -> Result<Option<Webhook>, StoreError> {
                    let row: Option<WebhookRow> = sqlx::query_as(&format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1"))
                        .bind(id.as_uuid())
                        .fetch_optional(&self.$read)
                        .await?;
                    row.map(TryInto::try_into).transpose()
                }

                async fn list_webhooks(&self, owner: UserId) -> Result<Vec<Webhook>, StoreError> {
                    let rows: Vec<WebhookRow> =
                        sqlx::query_as(&format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE user_id = $1 ORDER BY id"))
                            .bind(owner.as_uuid())
                            .fetch_all(&self.$read)
                            .await?;
                    rows.into_iter().map(TryInto::try_into).collect()
                }

                async fn update_webhook(&self, webhook: &Webhook) -> Result<(), StoreError> {
                    bind_webhook!(sqlx::query(sql::UPDATE_WEBHOOK), webhook).execute(&self.$write).await?;
                    Ok(())
                }

                async fn record_endpoint_outcome(
                    &self,
                    id: WebhookId,
                    attempted_url: &str,
                    outcome: &EndpointOutcome,
                ) -> Result<(), StoreError> {
                    let query = match outcome {
                        EndpointOutcome::Delivered => sqlx::query(sql::WEBHOOK_DELIVERED).bind(id.as_uuid()).bind(attempted_url),
                        EndpointOutcome::Failed { at, disable_if_failing_since, reason } => sqlx::query(sql::WEBHOOK_FAILED)
                            .bind(id.as_uuid())
                            .bind(attempted_url)
                            .bind(*at)
                            .bind(*disable_if_failing_since)
                            .bind(reason.as_str()),
                        EndpointOutcome::Gone { at, reason } => sqlx::query(sql::WEBHOOK_GONE)
                            .bind(id.as_uuid())
                            .bind(attempted_url)
                            .bind(*at)
                            .bind(reason.as_str()),
                    };
                    query.execute(&self.$write).await?;
                    Ok(())
                }

                async fn delete_webhook(&self, owner: UserId, id: WebhookId) -> Result<bool, StoreError> {
                    let done = sqlx::query("DELETE FROM webhooks WHERE id = $1 AND user_id = $2")
                        .bind(id.as_uuid())
                        .bind(owner.as_uuid())
                        .execute(&self.$write)
                        .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn fan_out_events(&self, limit: i64, now: DateTime<Utc>) -> Result<usize, StoreError> {
                    let mut tx = self.$write.begin().await?;
                    let events: Vec<PendingEventRow> = sqlx::query_as($dialect::PENDING_EVENTS).bind(limit).fetch_all(&mut *tx).await?;
                    let mut hooks: HashMap<Uuid, Vec<Webhook>> = HashMap::new();
                    for event in &events {
                        if let Entry::Vacant(slot) = hooks.entry(event.user_id) {
                            let rows: Vec<WebhookRow> =
                                sqlx::query_as(sql::ACTIVE_WEBHOOKS_OF).bind(event.user_id).fetch_all(&mut *tx).await?;
                            slot.insert(rows.into_iter().map(TryInto::try_into).collect::<Result<Vec<Webhook>, _>>()?);
                        }
                        for delivery in deliveries_for(event, hooks.get(&event.user_id).map_or(&[][..], Vec::as_slice), now)? {
                            bind_delivery!(sqlx::query(sql::INSERT_DELIVERY), &delivery).execute(&mut *tx).await?;
                        }
                        sqlx::query(sql::MARK_DISPATCHED).bind(now).bind(event.id).execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                    Ok(events.len())
                }

                async fn insert_delivery(&self, delivery: &Delivery) -> Result<(), StoreError> {
                    bind_delivery!(sqlx::query(sql::INSERT_DELIVERY), delivery).execute(&self.$write).await?;
                    Ok(())
                }

                async fn delivery(&self, id: DeliveryId) -> Result<Option<Delivery>, StoreError> {
                    let row: Option<DeliveryRow> =
                        sqlx::query_as(&format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1"))
                            .bind(id.as_uuid())
                            .fetch_optional(&self.$read)
                            .await?;
                    row.map(TryInto::try_into).transpose()
                }

                async fn list_deliveries(&self, webhook: WebhookId, offset: i64, limit: i64) -> Result<Page<Delivery>, StoreError> {
                    let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM webhook_deliveries WHERE webhook_id = $1")
                        .bind(webhook.as_uuid())
                        .fetch_one(&self.$read)
                        .await?;
                    let rows: Vec<DeliveryRow> = sqlx::query_as(&format!(
                        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3"
                    ))
                    .bind(webhook.as_uuid())
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&self.$read)
                    .await?;
                    let items = rows.into_iter().map(TryInto::try_into).collect::<Result<_, _>>()?;
                    Ok(Page { items, total })
                }

                async fn claim_deliveries(
                    &self,
                    now: DateTime<Utc>,
                    limit: i64,
                    locked_until: DateTime<Utc>,
                    bounds: ClaimBounds,
                ) -> Result<Vec<DeliveryJob>, StoreError> {
                    let mut tx;
                    let rows: Vec<DeliveryRow> = if $dialect::PICK_ON_READER {
                        let picked: Vec<(Uuid,)> = sqlx::query_as(sql::FAIR_DELIVERY_PICK)
                            .bind(now)
                            .bind(limit)
                            .bind(bounds.per_webhook)
                            .bind(bounds.per_account)
                            .fetch_all(&self.$read)
                            .await?;
                        if picked.is_empty() {
                            return Ok(Vec::new());
                        }
                        let placeholders: Vec<String> = (0..picked.len()).map(|i| format!("${}", i + 3)).collect();
                        let statement = format!(
                            "{} id IN ({}) RETURNING {}",
                            sql::CLAIM_PICKED_DELIVERIES,
                            placeholders.join(", "),
                            $dialect::delivery_returning()
                        );
                        let mut claim = sqlx::query_as(&statement).bind(now).bind(locked_until);
                        for (id,) in picked {
                            claim = claim.bind(id);
                        }
                        tx = self.$write.begin().await?;
                        claim.fetch_all(&mut *tx).await?
                    } else {
                        tx = self.$write.begin().await?;
                        sqlx::query_as(&format!("{} RETURNING {}", $dialect::claim_deliveries(), $dialect::delivery_returning()))
                            .bind(now)
                            .bind(limit)
                            .bind(bounds.per_webhook)
                            .bind(bounds.per_account)
                            .bind(locked_until)
                            .fetch_all(&mut *tx)
                            .await?
                    };
                    let mut jobs = Vec::with_capacity(rows.len());
                    let mut hooks: HashMap<Uuid, Webhook> = HashMap::new();
                    for row in rows {
                        if let Entry::Vacant(slot) = hooks.entry(row.webhook_id) {
                            let hook: WebhookRow = sqlx::query_as(&format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1"))
                                .bind(row.webhook_id)
                                .fetch_one(&mut *tx)
                                .await?;
                            slot.insert(hook.try_into()?);
                        }
                        let webhook = hooks[&row.webhook_id].clone();
                        jobs.push(DeliveryJob { delivery: row.try_into()?, webhook });
                    }
                    tx.commit().await?;
                    Ok(jobs)
                }

                async fn update_delivery(&self, delivery: &Delivery) -> Result<(), StoreError> {
                    bind_delivery_update!(sqlx::query(sql::UPDATE_DELIVERY), delivery).execute(&self.$write).await?;
                    Ok(())
                }
            }
        };
    };
}

pub(crate) use impl_webhook_store;
