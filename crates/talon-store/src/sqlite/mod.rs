//! SQLite: one writer connection (SQLite allows one writer at a time, so queueing in the pool beats
//! `SQLITE_BUSY` retries) and a pool of readers that WAL lets run beside it.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::db::{Db, Portable};
use crate::{Backend, Store, StoreError};

mod checkpoints;
mod dialect;
mod files;
pub(crate) use dialect::DIALECT;
pub use files::create_private_dir;

const READERS: u32 = 8;

#[derive(Clone)]
pub struct SqliteStore {
    db: Db,
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

        // Pages freed by retention go back to the filesystem a batch at a time
        // (`RetentionStore::reclaim_free_pages`); takes effect on databases created with it. Set by the
        // writer only: readers may not write the setting.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone().auto_vacuum(SqliteAutoVacuum::Incremental))
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;

        // An in-memory database exists only inside its one connection, so readers must share it.
        let reader = if in_memory {
            writer.clone()
        } else {
            checkpoints::start(options.clone(), writer.clone()).await?;
            SqlitePoolOptions::new().max_connections(READERS).connect_with(options.read_only(true)).await?
        };
        Ok(Self { db: Db::Sqlite { writer, reader } })
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(self.db.ping().await?)
    }

    async fn close(&self) {
        self.db.close().await;
    }

    async fn refresh_statistics(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

impl Portable for SqliteStore {
    fn db(&self) -> &Db {
        &self.db
    }
}
