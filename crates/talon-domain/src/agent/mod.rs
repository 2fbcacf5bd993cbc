//! Agents in the registry: their metadata, their immutable versions, deployment state, forks and lineage.

mod change;
pub mod definition;
pub mod diff;
pub mod fork;
mod label;
pub mod lineage;
pub mod merge;
mod metadata;
mod refs;
pub mod split;
mod status;

use chrono::{DateTime, Utc};

pub use change::{DefinitionChange, ModelInput, ToolFields, ToolInput};
pub use definition::{Definition, ModelSpec, Tool};
pub use fork::ForkType;
pub use label::{Label, validate_label_name};
pub use metadata::{
    AgentMetadata, MetadataChange, free_slug, numbered_slug, numbered_slug_pattern, slug_from_name, validate_slug,
};
pub use refs::{AgentRef, ServedRef, VersionRef};
pub use status::{AgentStatus, IllegalTransition};

use crate::id::{AgentId, UserId, VersionId};
use crate::validation::ValidationErrors;

const COMMIT_MESSAGE_MAX_CHARS: usize = 1000;

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
    /// While a canary split is deployed: its arms (`deployed_version_id` is its heaviest arm).
    pub split: Option<split::Split>,
    pub fork_count: i64,
    /// Forks between this agent and its root ancestor (0 for a root), at most `lineage::MAX_DEPTH`.
    pub depth: i64,
    pub fork_origin: Option<ForkOrigin>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Agent {
    /// A new idle, private agent of `owner` whose only version is `first` (its id is the agent's).
    pub fn new(owner: UserId, slug: String, metadata: AgentMetadata, first: &Version) -> Self {
        Agent {
            id: first.agent_id,
            owner,
            slug,
            metadata,
            public: false,
            api_access: false,
            status: AgentStatus::Idle,
            current_version_id: first.id,
            deployed_version_id: None,
            deployed_at: None,
            split: None,
            fork_count: 0,
            depth: 0,
            fork_origin: None,
            created_at: first.created_at,
            updated_at: first.created_at,
        }
    }

    /// A new agent forked from `source`, whose first version `first` was made from `source`'s version
    /// `first.parent_version_id`.
    pub fn fork_of(source: &Agent, owner: UserId, slug: String, metadata: AgentMetadata, first: &Version) -> Self {
        let fork_type = first.fork_type.unwrap_or(ForkType::ExactClone);
        Agent {
            depth: source.depth + 1,
            fork_origin: Some(ForkOrigin {
                parent_agent_id: Some(source.id),
                parent_version_id: first.parent_version_id,
                fork_type,
            }),
            ..Agent::new(owner, slug, metadata, first)
        }
    }
}

/// Where a fork came from. The parent may since have been deleted (`parent_agent_id: None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkOrigin {
    pub parent_agent_id: Option<AgentId>,
    pub parent_version_id: Option<VersionId>,
    pub fork_type: ForkType,
}

/// A version of another agent (a fork) merged into a version: the merge's second parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergedFrom {
    pub agent_id: AgentId,
    pub version_id: VersionId,
    pub number: i64,
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
    /// The second parent of a merge: the fork's version that was merged into this agent.
    pub merged_from: Option<MergedFrom>,
    pub created_by: Author,
    pub created_at: DateTime<Utc>,
}

impl Version {
    /// The first version of the new agent `agent_id`.
    pub fn first(
        agent_id: AgentId,
        definition: Definition,
        commit_message: String,
        created_by: Author,
        created_at: DateTime<Utc>,
    ) -> Self {
        Version {
            id: VersionId::new(),
            agent_id,
            number: 1,
            parent_version_id: None,
            content_hash: definition.content_hash(),
            definition,
            commit_message,
            fork_type: None,
            merged_from: None,
            created_by,
            created_at,
        }
    }

    /// The version after `parent`, of the same agent.
    pub fn next(
        parent: &Version,
        definition: Definition,
        commit_message: String,
        created_by: Author,
        created_at: DateTime<Utc>,
    ) -> Self {
        Version {
            number: parent.number + 1,
            parent_version_id: Some(parent.id),
            ..Version::first(parent.agent_id, definition, commit_message, created_by, created_at)
        }
    }

    /// The first version of the fork `agent_id`, made from `source` (a version of another agent).
    pub fn forked(
        agent_id: AgentId,
        source: &Version,
        fork_type: ForkType,
        definition: Definition,
        commit_message: String,
        created_by: Author,
        created_at: DateTime<Utc>,
    ) -> Self {
        Version {
            parent_version_id: Some(source.id),
            fork_type: Some(fork_type),
            ..Version::first(agent_id, definition, commit_message, created_by, created_at)
        }
    }
}

/// A commit message as a request sends it, trimmed: `None` when it is absent or blank (the version
/// gets a default one); a message over 1000 characters is refused.
pub fn commit_message(message: Option<&str>, errors: &mut ValidationErrors) -> Option<String> {
    let message = message?;
    if message.chars().count() > COMMIT_MESSAGE_MAX_CHARS {
        errors.add("commitMessage", "Must be a string of at most 1000 characters");
        return None;
    }
    Some(message.trim().to_owned()).filter(|m| !m.is_empty())
}

/// The commit message a version gets when its author gives none: which parts changed.
pub fn default_commit_message(changed_parts: &[&str]) -> String {
    if changed_parts.is_empty() { "Initial version".to_owned() } else { format!("Update {}", changed_parts.join(", ")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn author() -> Author {
        Author { id: UserId::new(), email: "a@example.com".into() }
    }

    #[test]
    fn versions_chain_and_forks_point_at_their_source() {
        let at = crate::time::now();
        let first = Version::first(AgentId::new(), Definition::default(), "one".into(), author(), at);
        assert_eq!((first.number, first.parent_version_id, first.fork_type), (1, None, None));
        assert_eq!(first.content_hash, first.definition.content_hash());
        let second = Version::next(&first, Definition::default(), "two".into(), author(), at);
        assert_eq!((second.agent_id, second.number, second.parent_version_id), (first.agent_id, 2, Some(first.id)));
        assert_ne!(second.id, first.id);

        let source = Agent::new(first.created_by.id, "src".into(), AgentMetadata::default(), &first);
        assert_eq!(
            (source.id, source.current_version_id, source.status),
            (first.agent_id, first.id, AgentStatus::Idle)
        );
        let fork_version = Version::forked(
            AgentId::new(),
            &second,
            ForkType::PromptMutation,
            Definition::default(),
            "f".into(),
            author(),
            at,
        );
        assert_eq!((fork_version.number, fork_version.parent_version_id), (1, Some(second.id)));
        let fork = Agent::fork_of(&source, UserId::new(), "fork".into(), AgentMetadata::default(), &fork_version);
        assert_eq!(fork.depth, 1);
        assert_eq!(
            fork.fork_origin,
            Some(ForkOrigin {
                parent_agent_id: Some(source.id),
                parent_version_id: Some(second.id),
                fork_type: ForkType::PromptMutation
            })
        );
    }

    #[test]
    fn commit_messages_are_trimmed_and_bounded() {
        let mut errors = ValidationErrors::new();
        assert_eq!(commit_message(Some("  fix  "), &mut errors).as_deref(), Some("fix"));
        assert_eq!(commit_message(Some("   "), &mut errors), None);
        assert_eq!(commit_message(None, &mut errors), None);
        assert!(errors.is_empty());
        assert_eq!(commit_message(Some(&"m".repeat(1001)), &mut errors), None);
        assert_eq!(errors.fields()[0].field, "commitMessage");
    }
}
