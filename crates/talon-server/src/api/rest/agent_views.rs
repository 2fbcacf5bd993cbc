//! The JSON shapes of agents and versions on the registry surface (camelCase, as the spec shows).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use talon_domain::agent::diff::DefinitionDiff;
use talon_domain::agent::{Agent, ModelSpec, Tool, Version};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
/// An agent named in another resource: its id and name.
pub struct AgentSummary {
    pub id: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct AuthorView {
    pub id: String,
    /// Null when the version belongs to another account's public agent.
    pub email: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionView {
    pub id: String,
    pub agent_id: String,
    pub version_number: i64,
    pub parent_version_id: Option<String>,
    pub prompt: String,
    #[schema(value_type = Vec<Object>)]
    pub tools: Vec<Tool>,
    #[schema(value_type = Object)]
    pub config: Map<String, Value>,
    #[schema(value_type = Object)]
    pub model: ModelSpec,
    pub commit_message: String,
    pub content_hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fork_type: Option<&'static str>,
    pub created_at: DateTime<Utc>,
    pub created_by: AuthorView,
}

impl From<Version> for VersionView {
    fn from(v: Version) -> Self {
        VersionView {
            id: v.id.to_string(),
            agent_id: v.agent_id.to_string(),
            version_number: v.number,
            parent_version_id: v.parent_version_id.map(|p| p.to_string()),
            prompt: v.definition.prompt,
            tools: v.definition.tools,
            config: v.definition.config,
            model: v.definition.model,
            commit_message: v.commit_message,
            content_hash: v.content_hash,
            fork_type: v.fork_type.map(|f| f.as_str()),
            created_at: v.created_at,
            created_by: AuthorView {
                id: v.created_by.id.to_string(),
                email: Some(v.created_by.email).filter(|e| !e.is_empty()),
            },
        }
    }
}

/// A version with how it differs from its parent (the response to creating one).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionWithDiff {
    #[serde(flatten)]
    pub version: VersionView,
    #[schema(value_type = Object)]
    pub diff_from_parent: DefinitionDiff,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentView {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub capabilities: Vec<String>,
    pub status: &'static str,
    pub public: bool,
    pub api_access: bool,
    pub current_version_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<VersionView>,
    pub deployed_version_id: Option<String>,
    pub deployed_at: Option<DateTime<Utc>>,
    pub fork_count: i64,
    /// The agent this one was forked from; null when it is not a fork, the parent was deleted, or the
    /// reader may not see the parent (another account's private agent).
    pub parent_agent: Option<AgentSummary>,
    pub fork_type: Option<&'static str>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl AgentView {
    pub fn new(agent: Agent, current: Option<Version>, parent: Option<&Agent>) -> Self {
        AgentView {
            id: agent.id.to_string(),
            name: agent.metadata.name,
            slug: agent.slug,
            description: agent.metadata.description,
            capabilities: agent.metadata.capabilities,
            status: agent.status.as_str(),
            public: agent.public,
            api_access: agent.api_access,
            current_version_id: agent.current_version_id.to_string(),
            current_version: current.map(Into::into),
            deployed_version_id: agent.deployed_version_id.map(|v| v.to_string()),
            deployed_at: agent.deployed_at,
            fork_count: agent.fork_count,
            parent_agent: parent.map(|p| AgentSummary { id: p.id.to_string(), name: p.metadata.name.clone() }),
            fork_type: agent.fork_origin.map(|o| o.fork_type.as_str()),
            created_at: agent.created_at,
            updated_at: agent.updated_at,
        }
    }
}
