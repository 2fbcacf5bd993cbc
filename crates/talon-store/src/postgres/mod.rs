//! PostgreSQL: one pool shared by reads and writes; several Talon replicas may share the database.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::{Backend, Store, StoreError};

const MAX_CONNECTIONS: u32 = 16;

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(PgConnectOptions::from_str(url)?).await
    }

    /// Connects with explicit options (tests use them to give each run its own schema), then migrates.
    /// Migrations take an advisory lock, so replicas starting together apply them once.
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

crate::portable::impl_account_store!(PgStore, write = pool, read = pool);
crate::portable::impl_api_key_store!(PgStore, write = pool, read = pool);
crate::portable::impl_idempotency_store!(PgStore, write = pool, read = pool);
crate::portable::impl_agent_store!(PgStore, write = pool, read = pool);
crate::portable::impl_task_store!(PgStore, write = pool, read = pool, dialect = dialect);
crate::portable::impl_usage_store!(PgStore, write = pool, read = pool);
crate::portable::impl_webhook_store!(PgStore, write = pool, read = pool, dialect = dialect);

/// Claims on PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent claimers on any replica skip rows
/// another claim holds.
mod dialect {
    use crate::rows::{DELIVERY_COLUMNS, TASK_COLUMNS};

    pub const CLAIM_TASKS: &str = "WITH picked AS (
             SELECT id FROM tasks WHERE user_id = $1 AND status = 'queued' AND run_at <= $2
                 AND ($3::uuid IS NULL OR agent_id = $3) AND executor = $7
             ORDER BY priority DESC, id LIMIT $4 FOR UPDATE SKIP LOCKED)
         UPDATE tasks SET status = 'running', attempts = tasks.attempts + 1, lease_token = $5,
             lease_expires_at = $6, started_at = COALESCE(tasks.started_at, $2), updated_at = $2
         FROM picked WHERE tasks.id = picked.id";

    /// Every account's runtime tasks; the literal `executor = 'runtime'` lets the partial index serve it.
    pub const CLAIM_RUNTIME_TASKS: &str = "WITH picked AS (
             SELECT id FROM tasks WHERE status = 'queued' AND executor = 'runtime' AND run_at <= $1
             ORDER BY priority DESC, id LIMIT $2 FOR UPDATE SKIP LOCKED)
         UPDATE tasks SET status = 'running', attempts = tasks.attempts + 1, lease_token = $3,
             lease_expires_at = $4, started_at = COALESCE(tasks.started_at, $1), updated_at = $1
         FROM picked WHERE tasks.id = picked.id";

    pub const EXPIRE_LEASES: &str = "WITH lapsed AS (
             SELECT id FROM tasks WHERE status = 'running' AND lease_expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
         UPDATE tasks SET
             status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
             error = CASE WHEN attempts >= max_attempts
                          THEN 'Lease expired on attempt ' || attempts || ' of ' || max_attempts ELSE error END,
             completed_at = CASE WHEN attempts >= max_attempts THEN $1 ELSE completed_at END,
             lease_token = NULL, lease_expires_at = NULL, updated_at = $1
         FROM lapsed WHERE tasks.id = lapsed.id";

    /// Replicas dispatch side by side: each takes events the others have not locked.
    pub const PENDING_EVENTS: &str = "SELECT id, user_id, kind, data, created_at FROM events \
         WHERE dispatched_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED";

    /// Replicas claim side by side, so the pick and the lock are one statement.
    pub const PICK_ON_READER: bool = false;

    /// `FOR UPDATE` cannot sit beside the window functions of the fair pick, so the pick chooses the
    /// ids and this outer select locks them, skipping any another replica holds.
    pub fn claim_deliveries() -> String {
        format!(
            "WITH picked AS (
                 SELECT id FROM webhook_deliveries
                 WHERE id IN ({}) AND (status = 'pending' OR (status = 'sending' AND locked_until < $1))
                 FOR UPDATE SKIP LOCKED)
             UPDATE webhook_deliveries SET status = 'sending', locked_until = $5, updated_at = $1
             FROM picked WHERE webhook_deliveries.id = picked.id",
            crate::sql::FAIR_DELIVERY_PICK
        )
    }

    /// `UPDATE … FROM` needs the returned columns qualified by table.
    pub fn task_returning() -> String {
        qualified("tasks", TASK_COLUMNS)
    }

    pub fn delivery_returning() -> String {
        qualified("webhook_deliveries", DELIVERY_COLUMNS)
    }

    fn qualified(table: &str, columns: &str) -> String {
        columns.split(", ").map(|c| format!("{table}.{}", c.trim())).collect::<Vec<_>>().join(", ")
    }
}
