//! SQLite: one writer connection (SQLite allows one writer at a time, so queueing in the pool beats
//! `SQLITE_BUSY` retries) and a pool of readers that WAL lets run beside it.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::{Backend, Store, StoreError};

mod files;
pub use files::create_private_dir;

const READERS: u32 = 8;

#[derive(Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file named by `url`, then migrates it.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let in_memory = options.get_filename().to_str().is_some_and(|f| f.is_empty() || f == ":memory:");
        if !in_memory {
            if let Some(dir) = options.get_filename().parent().filter(|d| !d.as_os_str().is_empty()) {
                files::create_private_dir(dir)?;
            }
            files::make_database_private(options.get_filename())?;
        }

        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;

        // An in-memory database exists only inside its one connection, so readers must share it.
        let reader = if in_memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new().max_connections(READERS).connect_with(options.read_only(true)).await?
        };
        Ok(Self { writer, reader })
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

crate::portable::impl_account_store!(SqliteStore, write = writer, read = reader);
crate::portable::impl_api_key_store!(SqliteStore, write = writer, read = reader);
crate::portable::impl_idempotency_store!(SqliteStore, write = writer, read = reader);
crate::portable::impl_agent_store!(SqliteStore, write = writer, read = reader);
crate::portable::impl_task_store!(SqliteStore, write = writer, read = reader, dialect = dialect);
crate::portable::impl_usage_store!(SqliteStore, write = writer, read = reader);
crate::portable::impl_webhook_store!(SqliteStore, write = writer, read = reader, dialect = dialect);

/// Claims on SQLite: it has one writer, so a single `UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING`
/// is atomic.
mod dialect {
    use crate::rows::{DELIVERY_COLUMNS, TASK_COLUMNS};

    pub const CLAIM_TASKS: &str = "UPDATE tasks SET status = 'running', attempts = attempts + 1, lease_token = $5, \
         lease_expires_at = $6, started_at = COALESCE(started_at, $2), updated_at = $2
         WHERE id IN (SELECT id FROM tasks WHERE user_id = $1 AND status = 'queued' AND run_at <= $2
                      AND ($3 IS NULL OR agent_id = $3) AND executor = $7
                      ORDER BY priority DESC, id LIMIT $4)";

    /// Every account's runtime tasks; the literal `executor = 'runtime'` lets the partial index serve it.
    pub const CLAIM_RUNTIME_TASKS: &str = "UPDATE tasks SET status = 'running', attempts = attempts + 1, \
         lease_token = $3, lease_expires_at = $4, started_at = COALESCE(started_at, $1), updated_at = $1
         WHERE id IN (SELECT id FROM tasks WHERE status = 'queued' AND executor = 'runtime' AND run_at <= $1
                      ORDER BY priority DESC, id LIMIT $2)";

    pub const EXPIRE_LEASES: &str = "UPDATE tasks SET
             status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
             error = CASE WHEN attempts >= max_attempts
                          THEN 'Lease expired on attempt ' || attempts || ' of ' || max_attempts ELSE error END,
             completed_at = CASE WHEN attempts >= max_attempts THEN $1 ELSE completed_at END,
             lease_token = NULL, lease_expires_at = NULL, updated_at = $1
         WHERE id IN (SELECT id FROM tasks WHERE status = 'running' AND lease_expires_at < $1 LIMIT $2)";

    pub const PENDING_EVENTS: &str =
        "SELECT id, user_id, kind, data, created_at FROM events WHERE dispatched_at IS NULL ORDER BY id LIMIT $1";

    /// The fair pick reads every open delivery; on SQLite it runs on a reader, outside the single
    /// writer's lock, and the claim then updates just the picked rows that are still claimable (this
    /// process's dispatcher is the only claimer, so the pick cannot go stale in between).
    pub const PICK_ON_READER: bool = true;

    /// Not used: see `PICK_ON_READER`.
    pub fn claim_deliveries() -> String {
        String::new()
    }

    pub fn task_returning() -> String {
        TASK_COLUMNS.to_owned()
    }

    pub fn delivery_returning() -> String {
        DELIVERY_COLUMNS.to_owned()
    }
}
