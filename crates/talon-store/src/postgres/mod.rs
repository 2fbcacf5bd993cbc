//! PostgreSQL: one pool shared by reads and writes; several Talon replicas may share the database.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::db::{Db, Portable};
use crate::{Backend, Store, StoreError};

mod dialect;
pub(crate) use dialect::DIALECT;

const MAX_CONNECTIONS: u32 = 16;

#[derive(Clone)]
pub struct PgStore {
    db: Db,
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
        Ok(Self { db: Db::Postgres(pool) })
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(self.db.ping().await?)
    }

    async fn close(&self) {
        self.db.close().await;
    }

    async fn refresh_statistics(&self) -> Result<(), StoreError> {
        if let Db::Postgres(pool) = &self.db {
            sqlx::query("ANALYZE").execute(pool).await?;
        }
        Ok(())
    }

    fn postgres_pool(&self) -> Option<sqlx::PgPool> {
        match &self.db {
            Db::Postgres(pool) => Some(pool.clone()),
            _ => None,
        }
    }
}

impl Portable for PgStore {
    fn db(&self) -> &Db {
        &self.db
    }
}
