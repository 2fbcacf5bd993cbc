//! Talon's persistence. Each aggregate (accounts, agents, api_keys, evaluations, gigs, idempotency,
//! ledger, tasks, usage, webhooks) is a module holding its store trait and public types, its rows
//! (`rows`) and its SQL (`sql`), written once for SQLite and PostgreSQL and run on either by `db::run!`. `sqlite` and
//! `postgres` hold the stores, their connections, their dialects and (beside the crate) their
//! migrations; `tests/store/` runs one suite against both.

mod accounts;
mod agents;
mod api_keys;
mod audit;
mod contracts;
mod db;
mod error;
mod evaluations;
mod gigs;
mod idempotency;
mod ledger;
mod marketplace_agents;
mod marketplace_wallets;
mod page;
pub mod postgres;
mod retention;
pub mod sqlite;
mod tasks;
#[cfg(feature = "testing")]
pub mod testing;
mod uploads;
mod usage;
mod webhooks;

use std::sync::Arc;

use async_trait::async_trait;

pub use accounts::{AccountStore, SessionAccount};
pub use agents::{
    AgentFilter, AgentLookup, AgentStore, AppendOutcome, DeleteOutcome, Deployment, GateWrite, LabelMove, LabelStore,
    LineageMark, MergeRecord, MergeStore, SEARCH_NOT_COUNTED, StoredEvent,
};
pub use api_keys::{ApiKeyStore, AuthenticatedKey};
pub use audit::{AuditFilter, AuditStore};
pub use contracts::{
    Acceptance, ChangeOutcome, ContractChange, ContractParty, ContractRecord, ContractStore, ContractWorkStore,
    FinishedWork, MarketGig, MessageRecord, ProposalRecord, ProposalRefusal, ReviewRecord, WorkOrder,
};
pub use error::StoreError;
pub use evaluations::EvaluationStore;
pub use gigs::{GigNotice, GigStore, ListedService, ServiceFilter};
pub use idempotency::{IdempotencyStore, Reservation, StoredResponse};
pub use ledger::{LedgerStore, StoredTransaction};
pub use marketplace_agents::{EmailCode, MarketProfile, MarketplaceAgentStore, PortfolioItem, Registration};
pub use marketplace_wallets::{MarketplaceWalletStore, WalletEntry, Withdrawal};
pub use page::{Page, Window};
pub use retention::{DeliveryRetention, RetentionStore};
pub use tasks::{InsertOutcome, ListedTask, MAX_BATCH, TaskChange, TaskFilter, TaskInsert, TaskStore};
pub use uploads::UploadStore;
pub use usage::{UsageBucket, UsageStore};
pub use webhooks::{ClaimBounds, DeliveryFilter, DeliveryJob, EndpointOutcome, WebhookStore};

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Every store Talon needs, behind one handle shared by the whole server.
#[async_trait]
pub trait Store:
    AccountStore
    + AgentStore
    + ApiKeyStore
    + AuditStore
    + ContractStore
    + ContractWorkStore
    + EvaluationStore
    + GigStore
    + IdempotencyStore
    + LabelStore
    + MergeStore
    + LedgerStore
    + MarketplaceAgentStore
    + MarketplaceWalletStore
    + RetentionStore
    + TaskStore
    + UploadStore
    + UsageStore
    + WebhookStore
    + Send
    + Sync
    + 'static
{
    fn backend(&self) -> Backend;

    /// A round trip to the database, for readiness checks.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Closes every connection; called once on shutdown.
    async fn close(&self);

    /// Brings the query planner's statistics up to date, after a bulk load. PostgreSQL's autovacuum does
    /// this in the background; a table it has not analyzed since it was empty gets plans made for an
    /// empty table (a claim then sorts every queued task). SQLite plans by its indexes alone here.
    async fn refresh_statistics(&self) -> Result<(), StoreError>;

    /// The PostgreSQL pool, for what works beside the store on the same database (the server's
    /// cross-replica notifications: `LISTEN/NOTIFY`); `None` on SQLite.
    fn postgres_pool(&self) -> Option<sqlx::PgPool> {
        None
    }
}

/// Opens the database named by `url` (`sqlite://…` or `postgres://…`) and applies pending migrations.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::connect(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}
