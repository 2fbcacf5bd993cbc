//! Proposals, contracts, their messages and reviews. Every change of a contract is a compare-and-set
//! on the state it was decided from (status, funding, revisions), made in one database transaction
//! with the money it moves, the gig's status, the profile's stats and the events it emits, so that
//! concurrent callers (fifty `approve`s) change a contract, and move its escrow, once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::event::Event;
use talon_domain::marketplace::{ContractStatus, GigStatus, Micros, ProposalStatus, Transaction};
use talon_domain::{AgentId, ContractId, GigId, MessageId, ProposalId, ReviewId, TaskId, UserId};

use crate::{Page, StoreError, StoredTransaction};

mod rows;
mod sql;
mod work;

pub use work::{ContractWorkStore, FinishedWork, WorkOrder};

/// What the contracts side reads of a gig (the gig aggregate owns the rest).
#[derive(Debug, Clone, PartialEq)]
pub struct MarketGig {
    pub id: GigId,
    pub client_id: UserId,
    pub created_by_agent_id: Option<AgentId>,
    pub title: String,
    pub description: String,
    pub category: String,
    pub deliverables: Option<String>,
    pub budget: Micros,
    pub status: GigStatus,
    pub moderation_status: String,
    pub max_proposals: i32,
    pub max_revisions: i32,
    pub proposal_count: i32,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProposalRecord {
    pub id: ProposalId,
    pub gig_id: GigId,
    pub agent_id: AgentId,
    pub cover_letter: Option<String>,
    pub amount: Micros,
    pub estimated_hours: Option<f64>,
    pub status: ProposalStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ContractRecord {
    pub id: ContractId,
    pub gig_id: GigId,
    pub client_id: UserId,
    pub agent_id: AgentId,
    /// The account holding the agent when the proposal was accepted: its wallet is paid.
    pub agent_user_id: UserId,
    pub proposal_id: Option<ProposalId>,
    pub hiring_agent_id: Option<AgentId>,
    pub amount: Micros,
    pub status: ContractStatus,
    pub funded: bool,
    pub escrow_tx_signature: Option<String>,
    pub revisions_used: i32,
    pub max_revisions: i32,
    pub delivery_notes: Option<String>,
    pub deliverables_url: Option<String>,
    pub attachments: Vec<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub auto_approve_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub dispute_reason: Option<String>,
    pub resolution: Option<String>,
    /// The runtime task working the contract's current round, when its agent works its own contracts.
    pub task_id: Option<TaskId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MessageRecord {
    pub id: MessageId,
    pub contract_id: ContractId,
    /// The client's account, when the client wrote it.
    pub sender_id: Option<UserId>,
    /// The agent, when an agent wrote it.
    pub sender_agent_id: Option<AgentId>,
    pub content: String,
    pub attachment_url: Option<String>,
    pub attachment_name: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReviewRecord {
    pub id: ReviewId,
    pub contract_id: ContractId,
    pub reviewer_id: UserId,
    pub agent_id: AgentId,
    pub rating: i32,
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Why a proposal was not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProposalRefusal {
    /// The agent already has a live (pending or accepted) proposal on the gig.
    Duplicate,
    /// The gig is not open, or holds `max_proposals` already.
    Closed,
}

/// An accepted proposal: the contract it creates and what the acceptance announces.
#[derive(Debug, Clone)]
pub struct Acceptance<'a> {
    pub proposal_id: ProposalId,
    pub contract: &'a ContractRecord,
    pub events: &'a [Event],
}

/// A contract moving from the state it was read in (`expected`) to `next`; applied only if the stored
/// contract still has `expected`'s status, funding and revision count.
#[derive(Debug, Clone)]
pub struct ContractChange<'a> {
    pub expected: &'a ContractRecord,
    pub next: &'a ContractRecord,
    /// Money moved with the change (covered: `StoreError::Overdrawn` when a debited account is short).
    pub money: Option<&'a Transaction>,
    /// Writes the money's ledger transaction id as the contract's `escrow_tx_signature`.
    pub money_is_escrow_signature: bool,
    pub gig_status: Option<GigStatus>,
    /// Adds one completed gig and this much earned to the agent's marketplace profile, if it has one.
    pub earned: Option<Micros>,
    pub message: Option<&'a MessageRecord>,
    pub events: &'a [Event],
}

/// What applying a `ContractChange` did.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeOutcome {
    Applied {
        ledger: Option<StoredTransaction>,
    },
    /// The contract changed since it was read: nothing was written.
    Stale,
}

/// Which contracts a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContractParty {
    Client(UserId),
    /// The contracts the client's hiring agent made.
    HiringAgent(AgentId),
    Agent(AgentId),
}

#[async_trait]
pub trait ContractStore {
    /// The gig as the contracts side needs it.
    async fn market_gig(&self, id: GigId) -> Result<Option<MarketGig>, StoreError>;

    /// Stores a gig as is. The gig aggregate owns posting; tests and tools without it use this.
    async fn insert_market_gig(&self, gig: &MarketGig) -> Result<(), StoreError>;

    /// Records a pending proposal and counts it on its gig, if the gig is open with room left.
    async fn insert_proposal(&self, proposal: &ProposalRecord) -> Result<Result<(), ProposalRefusal>, StoreError>;

    async fn proposal(&self, id: ProposalId) -> Result<Option<ProposalRecord>, StoreError>;

    /// The agent's proposals, newest first.
    async fn proposals_of_agent(&self, agent: AgentId) -> Result<Vec<ProposalRecord>, StoreError>;

    /// The gig's proposals, newest first.
    async fn proposals_of_gig(&self, gig: GigId) -> Result<Vec<ProposalRecord>, StoreError>;

    /// Writes the editable fields while the proposal is still pending; `false` otherwise.
    async fn update_pending_proposal(&self, proposal: &ProposalRecord) -> Result<bool, StoreError>;

    /// Withdraws a pending proposal and uncounts it on its gig; `false` when it was not pending.
    async fn withdraw_proposal(&self, id: ProposalId, at: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Accepts a pending proposal on an open gig: the other pending proposals are rejected, the gig is
    /// in progress, the contract is created and the events recorded. `false` (nothing written) when the
    /// proposal is no longer pending or the gig no longer open.
    async fn accept_proposal(&self, acceptance: &Acceptance<'_>) -> Result<bool, StoreError>;

    async fn contract(&self, id: ContractId) -> Result<Option<ContractRecord>, StoreError>;

    /// One page of a party's contracts, newest first, optionally of one status.
    async fn list_contracts(
        &self,
        party: ContractParty,
        status: Option<ContractStatus>,
        limit: i64,
        offset: i64,
    ) -> Result<Page<ContractRecord>, StoreError>;

    async fn change_contract(&self, change: &ContractChange<'_>) -> Result<ChangeOutcome, StoreError>;

    /// Delivered contracts whose `auto_approve_at` has passed, oldest first.
    async fn contracts_due_for_approval(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<ContractId>, StoreError>;

    async fn insert_message(&self, message: &MessageRecord, events: &[Event]) -> Result<(), StoreError>;

    /// A contract's messages, oldest first.
    async fn contract_messages(&self, contract: ContractId) -> Result<Vec<MessageRecord>, StoreError>;

    /// Every message on the agent's contracts (both directions), newest first.
    async fn agent_inbox(
        &self,
        agent: AgentId,
        contract: Option<ContractId>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<MessageRecord>, StoreError>;

    /// Records the contract's one review and adds it to the agent's stats: `Conflict("review")` when the
    /// contract has one already.
    async fn insert_review(&self, review: &ReviewRecord, events: &[Event]) -> Result<(), StoreError>;

    /// Whether the agent's marketplace profile is autonomous (holds its own wallet); `None` without a
    /// profile. The profile aggregate owns profiles; hiring only needs this flag.
    async fn agent_is_autonomous(&self, agent: AgentId) -> Result<Option<bool>, StoreError>;

    /// The agent's marketplace stats: (completed gigs, rating sum, reviews, total earned), if it has a
    /// profile.
    async fn profile_stats(&self, agent: AgentId) -> Result<Option<(i32, i32, i32, Micros)>, StoreError>;
}
