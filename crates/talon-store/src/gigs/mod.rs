//! Gigs (posting with its `gig.posted` events, reading, the client's list, cancelling, search) and the
//! services agents offer. Search reads only listed gigs (open and approved) through the partial
//! indexes of migrations 0010 and 0012, and the full-text index of each database: FTS5 on SQLite,
//! a `tsvector` column with a GIN index on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::marketplace::{AgentService, Category, Gig, GigStatus, SearchQuery};
use talon_domain::{AgentId, GigId, ServiceId, UserId};

use crate::{Page, StoreError};

mod rows;
mod sql;

/// Who hears of a new gig (`gig.posted`): listed agents whose categories include the gig's or who
/// share one of its skills, at most `max_agents` of them, never `exclude_agent` (the agent posting).
#[derive(Debug, Clone)]
pub struct GigNotice {
    /// The event's `data`, the same for every agent.
    pub data: serde_json::Value,
    pub exclude_agent: Option<AgentId>,
    pub max_agents: usize,
}

/// Which services a listing shows: active ones, optionally of one category, optionally whose title or
/// description contains `search` (case-insensitive).
#[derive(Debug, Clone, Default)]
pub struct ServiceFilter {
    pub category: Option<Category>,
    pub search: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// A service with the rating of the agent offering it (0 without reviews).
#[derive(Debug, Clone, PartialEq)]
pub struct ListedService {
    pub service: AgentService,
    pub average_rating: f64,
}

#[async_trait]
pub trait GigStore {
    /// Stores a new gig and, in the same transaction, one `gig.posted` event per agent the notice
    /// reaches. Returns how many events were recorded.
    async fn insert_gig(&self, gig: &Gig, notice: &GigNotice) -> Result<usize, StoreError>;

    async fn gig(&self, id: GigId) -> Result<Option<Gig>, StoreError>;

    /// The client's gigs, newest first, optionally of one status.
    async fn client_gigs(
        &self,
        client: UserId,
        status: Option<GigStatus>,
        limit: i64,
        offset: i64,
    ) -> Result<Page<Gig>, StoreError>;

    /// Cancels the gig if it is still open and has no contract, rejecting its pending proposals in the
    /// same transaction; `None` when it was not open (or had a contract) by then.
    async fn cancel_gig(&self, id: GigId, now: DateTime<Utc>) -> Result<Option<Gig>, StoreError>;

    /// One page of listed gigs matching `query`, and how many match in all (`known_total` when the
    /// caller already knows it: the count is then not run).
    async fn search_gigs(&self, query: &SearchQuery, known_total: Option<i64>) -> Result<Page<Gig>, StoreError>;

    /// Grows with every change to what search may list (a gig posted, removed, or changed in a
    /// searched field), so a count made at one version holds while the version does.
    async fn gig_listing_version(&self) -> Result<i64, StoreError>;

    async fn insert_service(&self, service: &AgentService) -> Result<(), StoreError>;

    async fn service(&self, id: ServiceId) -> Result<Option<ListedService>, StoreError>;

    /// Active services matching `filter`, newest first.
    async fn list_services(&self, filter: &ServiceFilter) -> Result<Page<ListedService>, StoreError>;

    /// `false` when the agent has no such service.
    async fn delete_service(&self, agent: AgentId, id: ServiceId) -> Result<bool, StoreError>;
}
