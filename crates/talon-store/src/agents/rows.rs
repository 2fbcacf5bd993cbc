//! Agent, version, lineage and event rows, their conversion into domain types, and the argument
//! lists of the statements that write agents and versions.

use chrono::{DateTime, Utc};
use talon_domain::agent::lineage::LineageEntry;
use talon_domain::agent::split::Split;
use talon_domain::agent::{Agent, AgentMetadata, Author, ForkOrigin, ForkType, MergedFrom, Version};
use talon_domain::{AgentId, EventId, UserId, VersionId};
use uuid::Uuid;

use crate::db::Bind;
use crate::error::corrupt;
use crate::{StoreError, StoredEvent};

#[derive(sqlx::FromRow)]
pub(crate) struct AgentRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub capabilities: String,
    pub public: bool,
    pub api_access: bool,
    pub status: String,
    pub current_version_id: Uuid,
    pub deployed_version_id: Option<Uuid>,
    pub deployed_at: Option<DateTime<Utc>>,
    pub deployed_split: Option<String>,
    pub fork_count: i64,
    pub depth: i64,
    pub parent_agent_id: Option<Uuid>,
    pub parent_version_id: Option<Uuid>,
    pub fork_type: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) const AGENT_COLUMNS: &str = "a.id, a.user_id, a.slug, a.name, a.description, a.capabilities, a.public, \
     a.api_access, a.status, a.current_version_id, a.deployed_version_id, a.deployed_at, a.deployed_split, a.fork_count, \
     a.depth, a.parent_agent_id, a.parent_version_id, a.fork_type, a.created_at, a.updated_at";

impl TryFrom<AgentRow> for Agent {
    type Error = StoreError;
    fn try_from(row: AgentRow) -> Result<Self, StoreError> {
        let fork_origin = match row.fork_type {
            Some(kind) => Some(ForkOrigin {
                parent_agent_id: row.parent_agent_id.map(AgentId::from_uuid),
                parent_version_id: row.parent_version_id.map(VersionId::from_uuid),
                fork_type: kind.parse::<ForkType>().map_err(corrupt("fork type"))?,
            }),
            None => None,
        };
        Ok(Agent {
            id: AgentId::from_uuid(row.id),
            owner: UserId::from_uuid(row.user_id),
            slug: row.slug,
            metadata: AgentMetadata {
                name: row.name,
                description: row.description,
                capabilities: serde_json::from_str(&row.capabilities)
                    .map_err(|e| StoreError::Corrupt(format!("capabilities: {e}")))?,
            },
            public: row.public,
            api_access: row.api_access,
            status: row.status.parse().map_err(corrupt("status"))?,
            current_version_id: VersionId::from_uuid(row.current_version_id),
            deployed_version_id: row.deployed_version_id.map(VersionId::from_uuid),
            deployed_at: row.deployed_at,
            split: row
                .deployed_split
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("split: {e}")))?,
            fork_count: row.fork_count,
            depth: row.depth,
            fork_origin,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct VersionRow {
    pub id: Uuid,
    pub agent_id: Uuid,
    pub number: i64,
    pub parent_version_id: Option<Uuid>,
    pub definition: String,
    pub content_hash: String,
    pub commit_message: String,
    pub fork_type: Option<String>,
    pub created_by: Uuid,
    pub created_by_email: String,
    pub created_at: DateTime<Utc>,
    pub merged_from_version_id: Option<Uuid>,
    pub merged_from_agent_id: Option<Uuid>,
    pub merged_from_number: Option<i64>,
}

/// A merge's second parent with its agent and number, as columns of any query over versions `v`
/// (subqueries, so that no query needs another join for them).
macro_rules! merged_from_columns {
    ($prefix:literal) => {
        concat!(
            "v.merged_from_version_id AS ",
            $prefix,
            "merged_from_version_id, \
             (SELECT m.agent_id FROM agent_versions m WHERE m.id = v.merged_from_version_id) AS ",
            $prefix,
            "merged_from_agent_id, \
             (SELECT m.number FROM agent_versions m WHERE m.id = v.merged_from_version_id) AS ",
            $prefix,
            "merged_from_number"
        )
    };
}

pub(crate) const VERSION_COLUMNS: &str = concat!(
    "v.id, v.agent_id, v.number, v.parent_version_id, v.definition, v.content_hash, v.commit_message, v.fork_type, \
     v.created_by, u.email AS created_by_email, v.created_at, ",
    merged_from_columns!("")
);

fn merged_from(version: Option<Uuid>, agent: Option<Uuid>, number: Option<i64>) -> Option<MergedFrom> {
    match (version, agent, number) {
        (Some(version), Some(agent), Some(number)) => {
            Some(MergedFrom { agent_id: AgentId::from_uuid(agent), version_id: VersionId::from_uuid(version), number })
        }
        _ => None,
    }
}

impl TryFrom<VersionRow> for Version {
    type Error = StoreError;
    fn try_from(row: VersionRow) -> Result<Self, StoreError> {
        Ok(Version {
            id: VersionId::from_uuid(row.id),
            agent_id: AgentId::from_uuid(row.agent_id),
            number: row.number,
            parent_version_id: row.parent_version_id.map(VersionId::from_uuid),
            definition: serde_json::from_str(&row.definition)
                .map_err(|e| StoreError::Corrupt(format!("definition: {e}")))?,
            content_hash: row.content_hash,
            commit_message: row.commit_message,
            fork_type: row.fork_type.map(|k| k.parse::<ForkType>()).transpose().map_err(corrupt("fork type"))?,
            merged_from: merged_from(row.merged_from_version_id, row.merged_from_agent_id, row.merged_from_number),
            created_by: Author { id: UserId::from_uuid(row.created_by), email: row.created_by_email },
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct LineageRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub public: bool,
    pub parent_agent_id: Option<Uuid>,
    pub name: String,
    pub fork_type: Option<String>,
    pub parent_version_id: Option<Uuid>,
    pub current_version_id: Uuid,
    pub number: i64,
}

impl TryFrom<LineageRow> for LineageEntry {
    type Error = StoreError;
    fn try_from(row: LineageRow) -> Result<Self, StoreError> {
        Ok(LineageEntry {
            id: AgentId::from_uuid(row.id),
            owner: UserId::from_uuid(row.user_id),
            public: row.public,
            parent: row.parent_agent_id.map(AgentId::from_uuid),
            name: row.name,
            fork_type: row.fork_type.map(|k| k.parse::<ForkType>()).transpose().map_err(corrupt("fork type"))?,
            forked_from_version_id: row.parent_version_id.map(VersionId::from_uuid),
            current_version_id: VersionId::from_uuid(row.current_version_id),
            current_version_number: row.number,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    pub id: Uuid,
    pub kind: String,
    pub data: String,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<EventRow> for StoredEvent {
    type Error = StoreError;
    fn try_from(row: EventRow) -> Result<Self, StoreError> {
        Ok(StoredEvent {
            id: EventId::from_uuid(row.id),
            kind: row.kind,
            data: serde_json::from_str(&row.data).map_err(|e| StoreError::Corrupt(format!("event: {e}")))?,
            created_at: row.created_at,
        })
    }
}

/// An agent joined with its current version; the version's columns carry a `v_` prefix.
#[derive(sqlx::FromRow)]
pub(crate) struct AgentHeadRow {
    #[sqlx(flatten)]
    pub agent: AgentRow,
    pub v_id: Uuid,
    pub v_number: i64,
    pub v_parent_version_id: Option<Uuid>,
    pub v_definition: String,
    pub v_content_hash: String,
    pub v_commit_message: String,
    pub v_fork_type: Option<String>,
    pub v_created_by: Uuid,
    pub v_created_by_email: String,
    pub v_created_at: DateTime<Utc>,
    pub v_merged_from_version_id: Option<Uuid>,
    pub v_merged_from_agent_id: Option<Uuid>,
    pub v_merged_from_number: Option<i64>,
}

/// An agent joined with one of its versions (`v`) and that version's author (`u`); callers add the
/// join condition on `v` and the `WHERE` clause.
pub(crate) const AGENT_WITH_VERSION: &str = concat!(
    "SELECT a.id, a.user_id, a.slug, a.name, a.description, a.capabilities, \
     a.public, a.api_access, a.status, a.current_version_id, a.deployed_version_id, a.deployed_at, a.deployed_split, \
     a.fork_count, a.depth, \
     a.parent_agent_id, a.parent_version_id, a.fork_type, a.created_at, a.updated_at, \
     v.id AS v_id, v.number AS v_number, v.parent_version_id AS v_parent_version_id, v.definition AS v_definition, \
     v.content_hash AS v_content_hash, v.commit_message AS v_commit_message, v.fork_type AS v_fork_type, \
     v.created_by AS v_created_by, u.email AS v_created_by_email, v.created_at AS v_created_at, ",
    merged_from_columns!("v_"),
    " FROM agents a JOIN agent_versions v ON "
);

/// The join to the agent's current version.
pub(crate) const ON_CURRENT_VERSION: &str = "v.id = a.current_version_id JOIN users u ON u.id = v.created_by";
/// The join to the version the agent serves: its deployed one, else its current one.
pub(crate) const ON_SERVED_VERSION: &str =
    "v.id = COALESCE(a.deployed_version_id, a.current_version_id) JOIN users u ON u.id = v.created_by";

impl TryFrom<AgentHeadRow> for (Agent, Version) {
    type Error = StoreError;
    fn try_from(row: AgentHeadRow) -> Result<Self, StoreError> {
        let version = VersionRow {
            id: row.v_id,
            agent_id: row.agent.id,
            number: row.v_number,
            parent_version_id: row.v_parent_version_id,
            definition: row.v_definition,
            content_hash: row.v_content_hash,
            commit_message: row.v_commit_message,
            fork_type: row.v_fork_type,
            created_by: row.v_created_by,
            created_by_email: row.v_created_by_email,
            created_at: row.v_created_at,
            merged_from_version_id: row.v_merged_from_version_id,
            merged_from_agent_id: row.v_merged_from_agent_id,
            merged_from_number: row.v_merged_from_number,
        };
        Ok((row.agent.try_into()?, version.try_into()?))
    }
}

/// Binds an `Agent` to `sql::INSERT_AGENT`.
pub(crate) fn bind_agent<'q, Q: Bind<'q>>(query: Q, agent: &Agent) -> Q {
    let origin = agent.fork_origin.as_ref();
    query
        .bind(*agent.id.as_uuid())
        .bind(*agent.owner.as_uuid())
        .bind(agent.slug.clone())
        .bind(agent.metadata.name.clone())
        .bind(agent.metadata.description.clone())
        .bind(encode_capabilities(agent))
        .bind(agent.public)
        .bind(agent.status.as_str())
        .bind(*agent.current_version_id.as_uuid())
        .bind(agent.deployed_version_id.map(|v| *v.as_uuid()))
        .bind(agent.deployed_at)
        .bind(agent.fork_count)
        .bind(agent.depth)
        .bind(origin.and_then(|o| o.parent_agent_id).map(|a| *a.as_uuid()))
        .bind(origin.and_then(|o| o.parent_version_id).map(|v| *v.as_uuid()))
        .bind(origin.map(|o| o.fork_type.as_str()))
        .bind(agent.created_at)
        .bind(agent.updated_at)
        .bind(agent.api_access)
}

/// Binds a `Version` to `sql::INSERT_VERSION`.
pub(crate) fn bind_version<'q, Q: Bind<'q>>(query: Q, version: &Version) -> Q {
    query
        .bind(*version.id.as_uuid())
        .bind(*version.agent_id.as_uuid())
        .bind(version.number)
        .bind(version.parent_version_id.map(|v| *v.as_uuid()))
        .bind(serde_json::to_string(&version.definition).unwrap_or_default())
        .bind(version.content_hash.clone())
        .bind(version.commit_message.clone())
        .bind(version.fork_type.map(|f| f.as_str()))
        .bind(*version.created_by.id.as_uuid())
        .bind(version.created_at)
        .bind(version.merged_from.map(|m| *m.version_id.as_uuid()))
}

/// Capabilities are stored as a JSON array.
pub(crate) fn encode_capabilities(agent: &Agent) -> String {
    serde_json::to_string(&agent.metadata.capabilities).unwrap_or_else(|_| "[]".to_owned())
}

/// A split as the `deployed_split` column holds it.
pub(crate) fn encode_split(split: Option<&Split>) -> Option<String> {
    split.map(|s| serde_json::to_string(s).unwrap_or_default())
}
