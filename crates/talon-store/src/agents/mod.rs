//! Agents, their versions and fork lineage, and the event outbox they read back.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::agent::lineage::LineageEntry;
use talon_domain::agent::split::Split;
use talon_domain::agent::{Agent, AgentStatus, Version};
use talon_domain::event::Event;
use talon_domain::{AgentId, UserId, VersionId};

use crate::StoreError;
use crate::page::{Page, Window};

pub(crate) mod labels;
pub(crate) mod merges;
pub(crate) mod rows;
pub(crate) mod sql;

pub use labels::{GateWrite, LabelMove, LabelStore};
pub use merges::{MergeRecord, MergeStore};

/// Which of an account's agents a list shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentFilter<'a> {
    /// Only agents that have been deployed at least once (status other than idle).
    pub deployed_only: bool,
    /// Only this agent (for keys restricted to one agent).
    pub only: Option<AgentId>,
    /// Only agents whose name or slug contains this text, ignoring case (on SQLite, the case of ASCII
    /// letters only); blank text is no search. The matches are not counted: a searched page's `total`
    /// is `SEARCH_NOT_COUNTED`, and `has_more` tells whether more follow.
    pub search: Option<&'a str>,
}

/// The `total` of a page of searched agents: counting every match would read every agent of the account.
pub const SEARCH_NOT_COUNTED: i64 = -1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOutcome {
    Appended,
    /// The agent's current version is no longer the expected parent: someone else appended first.
    Stale,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    /// Refused: the agent has this many forks (and `force` was not given).
    HasForks(i64),
    /// Refused: this many of the agent's tasks are running (and `force` was not given).
    HasRunningTasks(i64),
    NotFound,
}

/// Deployment columns, changed together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Deployment {
    pub status: AgentStatus,
    pub deployed_version_id: Option<VersionId>,
    pub deployed_at: Option<DateTime<Utc>>,
}

/// How a caller names an agent: its id, or its owner's slug for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentLookup<'a> {
    Id(AgentId),
    Slug { owner: UserId, slug: &'a str },
}

#[async_trait]
pub trait AgentStore {
    /// Inserts an agent with its first version. For a fork, also counts it on its parent. Every write
    /// and the events happen in one transaction. `Conflict("slug")` when the owner has the slug.
    async fn insert_agent(&self, agent: &Agent, first: &Version, events: &[Event]) -> Result<(), StoreError>;

    /// Inserts up to `MAX_BATCH` agents that are no forks, each with its first version, in one
    /// transaction of multi-row statements, with no events: the path of bulk imports and seeding.
    /// `Conflict("slug")` when any slug is taken, and then nothing is written.
    async fn insert_root_agents(&self, agents: &[(Agent, Version)]) -> Result<(), StoreError>;

    async fn agent(&self, id: AgentId) -> Result<Option<Agent>, StoreError>;

    /// The agent with its current version, in one query (the hot path of reads and appends).
    async fn agent_head(&self, id: AgentId) -> Result<Option<(Agent, Version)>, StoreError>;

    /// The agent with the version it serves (its deployed one, else its current one), in one query
    /// (the hot path of chat).
    async fn agent_serving(&self, agent: AgentLookup<'_>) -> Result<Option<(Agent, Version)>, StoreError>;

    async fn agent_by_slug(&self, owner: UserId, slug: &str) -> Result<Option<Agent>, StoreError>;

    /// The owner's slugs among `base` and its numbered variants (`base-2`, …), in one query on the
    /// owner's slug index, so that a free one can be chosen without trial inserts.
    async fn taken_slugs(&self, owner: UserId, base: &str) -> Result<Vec<String>, StoreError>;

    /// A window of the owner's agents, oldest first, so that pages stay stable while agents are added;
    /// the total comes from the account's counters, not from counting rows.
    async fn list_agents(
        &self,
        owner: UserId,
        filter: AgentFilter<'_>,
        window: Window,
    ) -> Result<Page<Agent>, StoreError>;

    /// Writes the agent's metadata, visibility and API access only (never versions or deployment).
    async fn update_agent_profile(&self, agent: &Agent, event: &Event) -> Result<(), StoreError>;

    async fn set_deployment(
        &self,
        id: AgentId,
        deployment: Deployment,
        at: DateTime<Utc>,
        event: &Event,
    ) -> Result<(), StoreError>;

    /// Like `set_deployment`, and sets the deployment's canary split (`None` clears it): a deploy.
    async fn set_deployment_with_split(
        &self,
        id: AgentId,
        deployment: Deployment,
        split: Option<&Split>,
        at: DateTime<Utc>,
        event: &Event,
    ) -> Result<(), StoreError>;

    /// Deletes an agent, its versions and its tasks; its forks remain as roots of their own trees.
    async fn delete_agent(&self, id: AgentId, force: bool, event: &Event) -> Result<DeleteOutcome, StoreError>;

    /// Adds `version` as the agent's new current version if `version.parent_version_id` is still
    /// current (compare-and-swap), with its events, in one transaction.
    async fn append_version(&self, version: &Version, events: &[Event]) -> Result<AppendOutcome, StoreError> {
        self.append_versions(std::slice::from_ref(version), events).await
    }

    /// Adds `versions`, a chain of one agent's versions (each the parent of the next), if the first one's
    /// parent is still the agent's current version (compare-and-swap), and makes the last one current;
    /// with `events`, in one transaction: all of them or nothing.
    async fn append_versions(&self, versions: &[Version], events: &[Event]) -> Result<AppendOutcome, StoreError>;

    async fn version(&self, id: VersionId) -> Result<Option<Version>, StoreError>;

    async fn version_by_number(&self, agent: AgentId, number: i64) -> Result<Option<Version>, StoreError>;

    /// The numbers of these versions (of any agents), in one query; ids of no version are left out. At
    /// most `MAX_BATCH` ids.
    async fn version_numbers(&self, ids: &[VersionId]) -> Result<Vec<(VersionId, i64)>, StoreError>;

    /// The agent's versions, newest first.
    async fn list_versions(&self, agent: AgentId, offset: i64, limit: i64) -> Result<Page<Version>, StoreError>;

    /// Every agent in the fork tree that `id` belongs to, from its root ancestor down, in one query.
    async fn lineage(&self, id: AgentId) -> Result<Vec<LineageEntry>, StoreError>;

    /// Which lineage the agent belongs to and how many changes it has seen: equal marks mean an unchanged
    /// lineage. `None` for an agent that does not exist (or predates lineage marks on SQLite).
    async fn lineage_mark(&self, id: AgentId) -> Result<Option<LineageMark>, StoreError>;

    /// The account's recorded events, oldest first.
    async fn events_for(&self, account: UserId) -> Result<Vec<StoredEvent>, StoreError>;
}

/// A lineage and its count of changes. Every transaction that changes what a lineage shows (a fork, a
/// new version, a rename or visibility change, a move to another account, a deletion) counts one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LineageMark {
    pub lineage: uuid::Uuid,
    pub changes: i64,
}

/// An event as read back from the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub id: talon_domain::EventId,
    pub kind: String,
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
}
