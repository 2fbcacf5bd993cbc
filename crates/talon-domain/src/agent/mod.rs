//! Agents in the registry: their metadata, their immutable versions, deployment state, forks and lineage.

pub mod definition;
pub mod diff;
pub mod fork;
pub mod lineage;
mod metadata;
mod status;

use chrono::{DateTime, Utc};

pub use definition::{Definition, DefinitionPatch, ModelSpec, Tool};
pub use fork::ForkType;
pub use metadata::{
    AgentMetadata, MetadataPatch, free_slug, numbered_slug, numbered_slug_pattern, slug_from_name, validate_slug,
};
pub use status::{AgentStatus, IllegalTransition};

use crate::id::{AgentId, UserId, VersionId};

#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    pub id: AgentId,
    pub owner: UserId,
    pub slug: String,
    pub metadata: AgentMetadata,
    /// Whether other accounts may read and fork it.
    pub public: bool,
    /// Whether its chat API (`/api/v1/bot/{id}/chat`) is turned on.
    pub api_access: bool,
    pub status: AgentStatus,
    pub current_version_id: VersionId,
    /// The version served while deployed; `None` serves whatever is current.
    pub deployed_version_id: Option<VersionId>,
    pub deployed_at: Option<DateTime<Utc>>,
    pub fork_count: i64,
    /// Forks between this agent and its root ancestor (0 for a root), at most `lineage::MAX_DEPTH`.
    pub depth: i64,
    pub fork_origin: Option<ForkOrigin>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where a fork came from. The parent may since have been deleted (`parent_agent_id: None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkOrigin {
    pub parent_agent_id: Option<AgentId>,
    pub parent_version_id: Option<VersionId>,
    pub fork_type: ForkType,
}

/// Who made a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub id: UserId,
    pub email: String,
}

/// One immutable version of an agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    pub id: VersionId,
    pub agent_id: AgentId,
    pub number: i64,
    /// The version this one was made from: the agent's previous version, or for a fork's first
    /// version, the version it was forked from.
    pub parent_version_id: Option<VersionId>,
    pub definition: Definition,
    pub content_hash: String,
    pub commit_message: String,
    /// Set on a fork's first version.
    pub fork_type: Option<ForkType>,
    pub created_by: Author,
    pub created_at: DateTime<Utc>,
}

/// The commit message a version gets when its author gives none: which parts changed.
pub fn default_commit_message(changed_parts: &[&str]) -> String {
    if changed_parts.is_empty() { "Initial version".to_owned() } else { format!("Update {}", changed_parts.join(", ")) }
}
