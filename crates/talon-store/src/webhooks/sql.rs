//! `WebhookStore` for every store, in SQL both databases run; the fan-out's event read and the
//! delivery claim take their statements and strategy from the store's dialect.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::audit::AuditEntry;
use talon_domain::event::Event;
use talon_domain::webhook::{Delivery, Webhook};
use talon_domain::{AgentId, DeliveryId, UserId, WebhookId};
use uuid::Uuid;

use super::rows::{
    DELIVERY_COLUMNS, DeliveryRow, PendingEventRow, WEBHOOK_COLUMNS, WebhookRow, bind_delivery, bind_delivery_update,
    bind_webhook, deliveries_for,
};
use crate::audit::sql as audit_sql;
use crate::db::outbox;
use crate::db::{On, Portable, Tx, anonymous, numbered, run};
use crate::{ClaimBounds, DeliveryFilter, DeliveryJob, EndpointOutcome, Page, StoreError, WebhookStore};

const INSERT_WEBHOOK: &str = "INSERT INTO webhooks (id, user_id, url, events, description, active, \
     disabled_reason, secret, previous_secret, previous_secret_expires_at, failing_since, created_at, updated_at, \
     agent_id, signing) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";

/// An account's webhook stays its owner's; an agent's webhook follows its agent to the account now
/// holding it (a claim moves agents between accounts), so it is found by agent and its owner written.
const UPDATE_WEBHOOK: &str = "UPDATE webhooks SET user_id = $2, url = $3, events = $4, description = $5, \
     active = $6, disabled_reason = $7, secret = $8, previous_secret = $9, previous_secret_expires_at = $10, \
     failing_since = $11, updated_at = $13, signing = $15 WHERE id = $1 AND created_at = $12 \
     AND ((agent_id IS NULL AND $14 IS NULL AND user_id = $2) OR agent_id = $14)";

const INSERT_DELIVERY: &str = "INSERT INTO webhook_deliveries (id, webhook_id, user_id, event_id, \
     event_kind, payload, status, attempts, next_attempt_at, last_status_code, last_error, last_latency_ms, \
     last_response_body, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
     ON CONFLICT (webhook_id, event_id) DO NOTHING";

const UPDATE_DELIVERY: &str = "UPDATE webhook_deliveries SET status = $2, attempts = $3, \
     next_attempt_at = $4, locked_until = NULL, last_status_code = $5, last_error = $6, last_latency_ms = $7, \
     last_response_body = $8, updated_at = $9 WHERE id = $1";

/// The account's own active webhooks (not its agents').
const ACTIVE_ACCOUNT_WEBHOOKS: &str = "FROM webhooks WHERE user_id = $1 AND agent_id IS NULL AND active";

/// The agent's webhook, if active.
const ACTIVE_AGENT_WEBHOOK: &str = "FROM webhooks WHERE agent_id = $1 AND active";

/// Marks a batch of events dispatched, in one statement: `(now, ids…)`. One statement per event cost a
/// round trip each, which put a new event ten seconds behind a backlog of 100,000 on PostgreSQL.
fn mark_dispatched<S, P>(on: &On<S, P>, events: usize) -> String {
    let (now, ids) = match on {
        On::Sqlite(_) => ("?", anonymous(events)),
        On::Postgres(_) => ("$1", numbered(2, events)),
    };
    format!("UPDATE events SET dispatched_at = {now} WHERE id IN ({ids})")
}

/// Outcome updates name only the columns deliveries own, and apply only while the URL attempted is
/// still the webhook's (`$2`).
const WEBHOOK_DELIVERED: &str =
    "UPDATE webhooks SET failing_since = NULL WHERE id = $1 AND url = $2 AND failing_since IS NOT NULL";

/// A streak that began at or before `$4` switches the webhook off (unless it is off already).
const WEBHOOK_FAILED: &str = "UPDATE webhooks SET failing_since = COALESCE(failing_since, $3), \
     disabled_reason = CASE WHEN active AND failing_since <= $4 THEN $5 ELSE disabled_reason END, \
     updated_at = CASE WHEN active AND failing_since <= $4 THEN $3 ELSE updated_at END, \
     active = CASE WHEN failing_since <= $4 THEN FALSE ELSE active END \
     WHERE id = $1 AND url = $2";

const WEBHOOK_GONE: &str = "UPDATE webhooks SET active = FALSE, disabled_reason = $4, updated_at = $3 \
     WHERE id = $1 AND url = $2 AND active";

/// Claims picked deliveries (`WHERE id IN (…)` follows) that are still claimable at `$1`, until `$2`.
const CLAIM_PICKED_DELIVERIES: &str = "UPDATE webhook_deliveries SET status = 'sending', \
     locked_until = $2, updated_at = $1 \
     WHERE ((status = 'pending' AND next_attempt_at <= $1) OR (status = 'sending' AND locked_until < $1)) AND";

/// The ids of up to `$2` deliveries to claim at `$1`, within `$3` in flight per webhook and `$4` per
/// account (deliveries held until after `$1` count as in flight). Each webhook offers its oldest due
/// deliveries; accounts then take turns by rank, so claims interleave accounts and webhooks. Every
/// scan names `status IN ('pending', 'sending')` so it reads only the partial index of open deliveries,
/// never the delivery history, and in-flight counts are grouped once rather than per candidate.
pub(crate) const FAIR_DELIVERY_PICK: &str = "SELECT ranked.id FROM (
         SELECT offered.id, offered.user_id, offered.next_attempt_at,
                ROW_NUMBER() OVER (PARTITION BY offered.user_id
                                   ORDER BY offered.hook_rank, offered.next_attempt_at, offered.id) AS account_rank
         FROM (
             SELECT d.id, d.user_id, d.webhook_id, d.next_attempt_at,
                    ROW_NUMBER() OVER (PARTITION BY d.webhook_id ORDER BY d.next_attempt_at, d.id) AS hook_rank
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
             WHERE d.status IN ('pending', 'sending') AND w.active
               AND ((d.status = 'pending' AND d.next_attempt_at <= $1)
                    OR (d.status = 'sending' AND d.locked_until < $1))
         ) offered
         LEFT JOIN (SELECT webhook_id, COUNT(*) AS held FROM webhook_deliveries
                    WHERE status IN ('pending', 'sending') AND status = 'sending' AND locked_until >= $1
                    GROUP BY webhook_id) hook_busy ON hook_busy.webhook_id = offered.webhook_id
         WHERE offered.hook_rank + COALESCE(hook_busy.held, 0) <= $3
     ) ranked
     LEFT JOIN (SELECT user_id, COUNT(*) AS held FROM webhook_deliveries
                WHERE status IN ('pending', 'sending') AND status = 'sending' AND locked_until >= $1
                GROUP BY user_id) account_busy ON account_busy.user_id = ranked.user_id
     WHERE ranked.account_rank + COALESCE(account_busy.held, 0) <= $4
     ORDER BY ranked.account_rank, ranked.next_attempt_at, ranked.id
     LIMIT $2";

#[async_trait]
impl<S: Portable> WebhookStore for S {
    async fn insert_webhook(&self, webhook: &Webhook, audit: &[AuditEntry]) -> Result<(), StoreError> {
        let mut tx = self.db().begin().await?;
        run!(tx.conn(), |c| bind_webhook(sqlx::query(INSERT_WEBHOOK), webhook).execute(c).await.map(|_| ()))?;
        audit_sql::record_on(tx.conn(), audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn webhook(&self, id: WebhookId) -> Result<Option<Webhook>, StoreError> {
        let statement = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1");
        let row: Option<WebhookRow> =
            run!(self.db().reader(), |e| sqlx::query_as(&statement).bind(id.as_uuid()).fetch_optional(e).await)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn list_webhooks(&self, owner: UserId) -> Result<Vec<Webhook>, StoreError> {
        let statement =
            format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE user_id = $1 AND agent_id IS NULL ORDER BY id");
        let rows: Vec<WebhookRow> =
            run!(self.db().reader(), |e| sqlx::query_as(&statement).bind(owner.as_uuid()).fetch_all(e).await)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn update_webhook(&self, webhook: &Webhook, audit: &[AuditEntry]) -> Result<bool, StoreError> {
        let mut tx = self.db().begin().await?;
        let updated = run!(tx.conn(), |c| {
            bind_webhook(sqlx::query(UPDATE_WEBHOOK), webhook).execute(c).await.map(|done| done.rows_affected())
        })?;
        if updated != 1 {
            // No such webhook (any more): nothing changed, nothing to record.
            return Ok(false);
        }
        audit_sql::record_on(tx.conn(), audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn record_endpoint_outcome(
        &self,
        id: WebhookId,
        attempted_url: &str,
        outcome: &EndpointOutcome,
    ) -> Result<(), StoreError> {
        run!(self.db().writer(), |e| {
            match outcome {
                EndpointOutcome::Delivered => sqlx::query(WEBHOOK_DELIVERED).bind(id.as_uuid()).bind(attempted_url),
                EndpointOutcome::Failed { at, disable_if_failing_since, reason } => sqlx::query(WEBHOOK_FAILED)
                    .bind(id.as_uuid())
                    .bind(attempted_url)
                    .bind(*at)
                    .bind(*disable_if_failing_since)
                    .bind(reason.as_str()),
                EndpointOutcome::Gone { at, reason } => {
                    sqlx::query(WEBHOOK_GONE).bind(id.as_uuid()).bind(attempted_url).bind(*at).bind(reason.as_str())
                }
            }
            .execute(e)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    async fn delete_webhook(&self, owner: UserId, id: WebhookId, audit: &[AuditEntry]) -> Result<bool, StoreError> {
        let mut tx = self.db().begin().await?;
        let deleted = run!(tx.conn(), |e| {
            sqlx::query("DELETE FROM webhooks WHERE id = $1 AND user_id = $2 AND agent_id IS NULL")
                .bind(id.as_uuid())
                .bind(owner.as_uuid())
                .execute(e)
                .await
                .map(|done| done.rows_affected())
        })?;
        if deleted != 1 {
            return Ok(false);
        }
        audit_sql::record_on(tx.conn(), audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn fan_out_events(&self, limit: i64, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let pending_events = self.db().dialect().pending_events;
        let mut tx = self.db().begin().await?;
        let events: Vec<PendingEventRow> =
            run!(tx.conn(), |c| sqlx::query_as(pending_events).bind(limit).fetch_all(c).await)?;
        let account_hooks_of = format!("SELECT {WEBHOOK_COLUMNS} {ACTIVE_ACCOUNT_WEBHOOKS}");
        let agent_hook_of = format!("SELECT {WEBHOOK_COLUMNS} {ACTIVE_AGENT_WEBHOOK}");
        let mut hooks: HashMap<Uuid, Vec<Webhook>> = HashMap::new();
        let mut agent_hooks: HashMap<Uuid, Option<Webhook>> = HashMap::new();
        for event in &events {
            if let Entry::Vacant(slot) = hooks.entry(event.user_id) {
                let rows: Vec<WebhookRow> =
                    run!(tx.conn(), |c| sqlx::query_as(&account_hooks_of).bind(event.user_id).fetch_all(c).await)?;
                slot.insert(rows.into_iter().map(TryInto::try_into).collect::<Result<Vec<Webhook>, _>>()?);
            }
            if let Some(agent) = event.agent_id
                && let Entry::Vacant(slot) = agent_hooks.entry(agent)
            {
                let row: Option<WebhookRow> =
                    run!(tx.conn(), |c| sqlx::query_as(&agent_hook_of).bind(agent).fetch_optional(c).await)?;
                slot.insert(row.map(TryInto::try_into).transpose()?);
            }
            let mut receivers: Vec<&Webhook> =
                hooks.get(&event.user_id).map(|h| h.iter().collect()).unwrap_or_default();
            if let Some(Some(hook)) = event.agent_id.and_then(|agent| agent_hooks.get(&agent)) {
                receivers.push(hook);
            }
            for delivery in deliveries_for(event, &receivers, now)? {
                insert_delivery(&mut tx, &delivery).await?;
            }
        }
        if !events.is_empty() {
            let mark = mark_dispatched(&tx.conn(), events.len());
            run!(tx.conn(), |c| {
                let mut query = sqlx::query(&mark).bind(now);
                for event in &events {
                    query = query.bind(event.id);
                }
                query.execute(c).await.map(|_| ())
            })?;
        }
        tx.commit().await?;
        Ok(events.len())
    }

    async fn agent_webhook(&self, agent: AgentId) -> Result<Option<Webhook>, StoreError> {
        let statement = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE agent_id = $1");
        let row: Option<WebhookRow> =
            run!(self.db().reader(), |e| sqlx::query_as(&statement).bind(agent.as_uuid()).fetch_optional(e).await)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn insert_agent_webhook(&self, webhook: &Webhook) -> Result<(), StoreError> {
        run!(self.db().writer(), |e| {
            bind_webhook(sqlx::query(INSERT_WEBHOOK), webhook).execute(e).await.map(|_| ())
        })
        .map_err(|e| StoreError::unique(e, "agent webhook"))
    }

    async fn delete_agent_webhook(&self, agent: AgentId) -> Result<bool, StoreError> {
        let deleted = run!(self.db().writer(), |e| {
            sqlx::query("DELETE FROM webhooks WHERE agent_id = $1")
                .bind(agent.as_uuid())
                .execute(e)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(deleted == 1)
    }

    async fn list_filtered_deliveries(
        &self,
        webhook: WebhookId,
        filter: &DeliveryFilter,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        // Each filter is a no-op when its parameter is NULL; success means `succeeded`, anything else
        // (pending retries included) is not a success.
        let statement = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 \
             AND ($2 IS NULL OR event_kind = $2) \
             AND ($3 IS NULL OR (status = 'succeeded') = $3) \
             AND ($4 IS NULL OR created_at >= $4) \
             ORDER BY id DESC LIMIT $5 OFFSET $6"
        );
        let rows: Vec<DeliveryRow> = run!(self.db().reader(), |e| {
            sqlx::query_as(&statement)
                .bind(webhook.as_uuid())
                .bind(filter.event.clone())
                .bind(filter.success)
                .bind(filter.since)
                .bind(limit)
                .bind(offset)
                .fetch_all(e)
                .await
        })?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn record_events(&self, events: &[Event]) -> Result<(), StoreError> {
        let mut tx = self.db().begin().await?;
        outbox::record(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_delivery(&self, delivery: &Delivery) -> Result<(), StoreError> {
        run!(self.db().writer(), |e| {
            bind_delivery(sqlx::query(INSERT_DELIVERY), delivery).execute(e).await.map(|_| ())
        })?;
        Ok(())
    }

    async fn delivery(&self, id: DeliveryId) -> Result<Option<Delivery>, StoreError> {
        let statement = format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1");
        let row: Option<DeliveryRow> =
            run!(self.db().reader(), |e| sqlx::query_as(&statement).bind(id.as_uuid()).fetch_optional(e).await)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn list_deliveries(&self, webhook: WebhookId, offset: i64, limit: i64) -> Result<Page<Delivery>, StoreError> {
        let (total,): (i64,) = run!(self.db().reader(), |e| {
            sqlx::query_as("SELECT COUNT(*) FROM webhook_deliveries WHERE webhook_id = $1")
                .bind(webhook.as_uuid())
                .fetch_one(e)
                .await
        })?;
        let statement = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3"
        );
        let rows: Vec<DeliveryRow> = run!(self.db().reader(), |e| {
            sqlx::query_as(&statement).bind(webhook.as_uuid()).bind(limit).bind(offset).fetch_all(e).await
        })?;
        let items = rows.into_iter().map(TryInto::try_into).collect::<Result<_, _>>()?;
        Ok(Page::positioned(items, total, offset))
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        locked_until: DateTime<Utc>,
        bounds: ClaimBounds,
    ) -> Result<Vec<DeliveryJob>, StoreError> {
        let dialect = self.db().dialect();
        let mut tx;
        let rows: Vec<DeliveryRow> = if dialect.pick_on_reader {
            let picked: Vec<(Uuid,)> = run!(self.db().reader(), |e| {
                sqlx::query_as(FAIR_DELIVERY_PICK)
                    .bind(now)
                    .bind(limit)
                    .bind(bounds.per_webhook)
                    .bind(bounds.per_account)
                    .fetch_all(e)
                    .await
            })?;
            if picked.is_empty() {
                return Ok(Vec::new());
            }
            let placeholders: Vec<String> = (0..picked.len()).map(|i| format!("${}", i + 3)).collect();
            let statement = format!(
                "{CLAIM_PICKED_DELIVERIES} id IN ({}) RETURNING {}",
                placeholders.join(", "),
                (dialect.delivery_returning)()
            );
            tx = self.db().begin().await?;
            run!(tx.conn(), |c| {
                let mut claim = sqlx::query_as(&statement).bind(now).bind(locked_until);
                for (id,) in &picked {
                    claim = claim.bind(*id);
                }
                claim.fetch_all(c).await
            })?
        } else {
            let statement = format!("{} RETURNING {}", (dialect.claim_deliveries)(), (dialect.delivery_returning)());
            tx = self.db().begin().await?;
            run!(tx.conn(), |c| {
                sqlx::query_as(&statement)
                    .bind(now)
                    .bind(limit)
                    .bind(bounds.per_webhook)
                    .bind(bounds.per_account)
                    .bind(locked_until)
                    .fetch_all(c)
                    .await
            })?
        };
        let mut jobs = Vec::with_capacity(rows.len());
        let mut hooks: HashMap<Uuid, Webhook> = HashMap::new();
        let webhook_by_id = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1");
        for row in rows {
            if let Entry::Vacant(slot) = hooks.entry(row.webhook_id) {
                let hook: WebhookRow =
                    run!(tx.conn(), |c| sqlx::query_as(&webhook_by_id).bind(row.webhook_id).fetch_one(c).await)?;
                slot.insert(hook.try_into()?);
            }
            let webhook = hooks[&row.webhook_id].clone();
            jobs.push(DeliveryJob { delivery: row.try_into()?, webhook });
        }
        tx.commit().await?;
        Ok(jobs)
    }

    async fn update_delivery(&self, delivery: &Delivery) -> Result<(), StoreError> {
        run!(self.db().writer(), |e| {
            bind_delivery_update(sqlx::query(UPDATE_DELIVERY), delivery).execute(e).await.map(|_| ())
        })?;
        Ok(())
    }
}

async fn insert_delivery(tx: &mut Tx, delivery: &Delivery) -> Result<(), sqlx::Error> {
    run!(tx.conn(), |c| bind_delivery(sqlx::query(INSERT_DELIVERY), delivery).execute(c).await.map(|_| ()))
}
