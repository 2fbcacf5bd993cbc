//! Marketplace agents: their profiles (one per registry agent listed on the marketplace), registration
//! of a new agent with its unclaimed account and key in one transaction, claiming, email verification
//! codes and portfolios.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::agent::{Agent, Version};
use talon_domain::event::Event;
use talon_domain::marketplace::Micros;
use talon_domain::{Account, AgentId, ApiKey, PortfolioItemId, UserId};

use crate::StoreError;

mod rows;
mod sql;

/// An agent's marketplace profile as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketProfile {
    pub agent_id: AgentId,
    /// The account holding the agent (whose wallet it earns into).
    pub user_id: UserId,
    pub username: String,
    pub name: String,
    pub description: Option<String>,
    pub bio: Option<String>,
    pub avatar_url: Option<String>,
    pub skills: Vec<String>,
    pub categories: Vec<String>,
    pub specialties: Vec<String>,
    pub languages: Vec<String>,
    pub hourly_rate: Option<Micros>,
    /// `pending`, `active` or `suspended`.
    pub status: String,
    pub is_autonomous: bool,
    pub wallet_address: Option<String>,
    pub is_claimed: bool,
    pub contact_email: Option<String>,
    pub verified_at: Option<DateTime<Utc>>,
    pub auto_work: bool,
    pub stats_completed_gigs: i64,
    pub stats_rating_sum: i64,
    pub stats_total_reviews: i64,
    pub stats_total_earned: Micros,
    pub last_active_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A pending email verification: only the code's SHA-256 is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailCode {
    pub hash: Vec<u8>,
    pub address: String,
    pub expires_at: DateTime<Utc>,
    /// Wrong guesses so far.
    pub attempts: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortfolioItem {
    pub id: PortfolioItemId,
    pub agent_id: AgentId,
    pub title: String,
    pub description: Option<String>,
    pub project_url: Option<String>,
    pub display_order: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Everything a registration writes, all or nothing: the account holding the agent, the registry agent
/// and its first version (with their events), its profile and claim token, and its key.
pub struct Registration<'a> {
    pub account: &'a Account,
    pub password_hash: &'a str,
    pub agent: &'a Agent,
    pub version: &'a Version,
    pub events: &'a [Event],
    pub profile: &'a MarketProfile,
    pub claim_token_hash: Option<&'a [u8]>,
    pub key: &'a ApiKey,
    pub key_hash: &'a [u8],
}

#[async_trait]
pub trait MarketplaceAgentStore {
    /// Writes a registration in one transaction; `Conflict("username")` when the username (or the
    /// account address made from it) is taken.
    async fn register_marketplace_agent(&self, registration: &Registration<'_>) -> Result<(), StoreError>;

    /// Creates the agent's profile, or updates its editable fields (never its holder, status, claim or
    /// stats); `Conflict("username")` when another agent has the username.
    async fn save_market_profile(&self, profile: &MarketProfile) -> Result<(), StoreError>;

    async fn market_profile(&self, agent: AgentId) -> Result<Option<MarketProfile>, StoreError>;

    /// Moves the agent whose claim token hashes to `token_hash` (and its profile and API keys) into
    /// `owner`, marks it claimed and forgets the token. `None` when no agent has that token;
    /// `Conflict("slug")` when `owner` already has an agent with the agent's slug.
    async fn claim_market_agent(
        &self,
        token_hash: &[u8],
        owner: UserId,
        at: DateTime<Utc>,
    ) -> Result<Option<AgentId>, StoreError>;

    async fn email_code(&self, agent: AgentId) -> Result<Option<EmailCode>, StoreError>;

    /// Replaces (or with `None` voids) the agent's pending code, resetting its attempts.
    async fn set_email_code(&self, agent: AgentId, code: Option<&EmailCode>) -> Result<(), StoreError>;

    /// Counts a wrong guess; returns the attempts so far.
    async fn email_code_failed(&self, agent: AgentId) -> Result<i64, StoreError>;

    /// The address is verified: it becomes the contact email, and the code is voided.
    async fn email_verified(&self, agent: AgentId, address: &str, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// The agent's items, in display order.
    async fn portfolio_items(&self, agent: AgentId) -> Result<Vec<PortfolioItem>, StoreError>;

    async fn portfolio_item(&self, agent: AgentId, id: PortfolioItemId) -> Result<Option<PortfolioItem>, StoreError>;

    /// Adds the item at the end of the agent's list unless the list already holds `max` items (then
    /// `false`). `display_order` is assigned here.
    async fn insert_portfolio_item(&self, item: &PortfolioItem, max: i64) -> Result<bool, StoreError>;

    /// Writes the item's title, description, link and update time; `false` when the agent has no such item.
    async fn update_portfolio_item(&self, item: &PortfolioItem) -> Result<bool, StoreError>;

    async fn delete_portfolio_item(&self, agent: AgentId, id: PortfolioItemId) -> Result<bool, StoreError>;
}
