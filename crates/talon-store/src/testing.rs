//! Throwaway databases for tests: a SQLite file in a temporary directory, or a PostgreSQL schema of its
//! own in the database named by `TALON_TEST_POSTGRES_URL` (default: the local `test` database), so that
//! parallel tests and reruns never see each other's rows.

use std::path::PathBuf;
use std::sync::Arc;

use sqlx::Connection;
use uuid::Uuid;

use crate::{Backend, Store, StoreError, postgres::PgStore, sqlite::SqliteStore};

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Schemas left behind by runs that ended more than this long ago are dropped.
const STALE_SCHEMA_SECS: i64 = 3600;

pub fn postgres_url() -> String {
    std::env::var("TALON_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// A database that exists for one test. `url` opens it again (a second server replica uses it).
pub struct TestDatabase {
    pub url: String,
    pub store: Arc<dyn Store>,
    sqlite_dir: Option<PathBuf>,
}

impl TestDatabase {
    pub async fn new(backend: Backend) -> Result<Self, StoreError> {
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("talon-test-{}", Uuid::now_v7().simple()));
                std::fs::create_dir_all(&dir)?;
                let url = format!("sqlite://{}", dir.join("talon.db").display());
                let store = SqliteStore::connect(&url).await?;
                Ok(Self { url, store: Arc::new(store), sqlite_dir: Some(dir) })
            }
            Backend::Postgres => {
                let base = postgres_url();
                let schema = format!("talon_test_{}_{}", chrono::Utc::now().timestamp(), Uuid::now_v7().simple());
                let mut admin = sqlx::PgConnection::connect(&base).await?;
                drop_stale_schemas(&mut admin).await?;
                sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut admin).await?;
                admin.close().await?;
                let separator = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{separator}options[search_path]={schema}");
                let store = PgStore::connect(&url).await?;
                Ok(Self { url, store: Arc::new(store), sqlite_dir: None })
            }
        }
    }
}

impl TestDatabase {
    /// Another handle on an existing test database, as a second replica would open it. It does not
    /// remove the database when dropped; the handle that created it does.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Ok(Self { url: url.to_owned(), store: crate::connect(url).await?, sqlite_dir: None })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(dir) = &self.sqlite_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

async fn drop_stale_schemas(admin: &mut sqlx::PgConnection) -> Result<(), StoreError> {
    let names: Vec<(String,)> =
        sqlx::query_as("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'talon\\_test\\_%'")
            .fetch_all(&mut *admin)
            .await?;
    let cutoff = chrono::Utc::now().timestamp() - STALE_SCHEMA_SECS;
    for (name,) in names {
        let created = name.split('_').nth(2).and_then(|t| t.parse::<i64>().ok());
        if created.is_some_and(|t| t < cutoff) {
            // Another run may drop it first; that is fine.
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).execute(&mut *admin).await;
        }
    }
    Ok(())
}
