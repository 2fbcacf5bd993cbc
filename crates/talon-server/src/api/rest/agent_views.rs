//! The JSON shapes of agents and versions on the registry surface (camelCase, as the spec shows).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use talon_domain::agent::diff::DefinitionDiff;
use talon_domain::agent::split::Split;
use talon_domain::agent::{Agent, Label, ModelSpec, Tool, Version};
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
    /// Set on a version that merged a fork back: the fork's version it merged (its second parent).
    /// Left out for readers who may not see that fork.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_from: Option<MergedFromView>,
    pub created_at: DateTime<Utc>,
    pub created_by: AuthorView,
}

/// The fork's version a merge merged.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MergedFromView {
    pub agent_id: String,
    pub version_id: String,
    pub number: i64,
}

impl From<talon_domain::agent::MergedFrom> for MergedFromView {
    fn from(m: talon_domain::agent::MergedFrom) -> Self {
        MergedFromView { agent_id: m.agent_id.to_string(), version_id: m.version_id.to_string(), number: m.number }
    }
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
            merged_from: v.merged_from.map(Into::into),
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
    /// The canary split being served, or null: `deployedVersionId` is then its heaviest arm.
    pub split: Option<SplitView>,
    /// The agent's labels (on `GET /api/agents/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<LabelView>>,
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
            split: agent.split.map(Into::into),
            labels: None,
            fork_count: agent.fork_count,
            parent_agent: parent.map(|p| AgentSummary { id: p.id.to_string(), name: p.metadata.name.clone() }),
            fork_type: agent.fork_origin.map(|o| o.fork_type.as_str()),
            created_at: agent.created_at,
            updated_at: agent.updated_at,
        }
    }
}

impl AgentView {
    /// The view with the agent's labels.
    pub fn with_labels(self, labels: Vec<Label>) -> Self {
        AgentView { labels: Some(labels.into_iter().map(Into::into).collect()), ..self }
    }
}

/// A canary split: its arms, and the version an abort goes back to.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"arms": [{"versionId": "ver_0193a4c1e5d27c3e8f1a2b3c4d5e6f70", "weight": 90},
    {"versionId": "ver_0193a4c1e5d27c3e8f1a2b3c4d5e6f71", "weight": 10}],
    "previousVersionId": "ver_0193a4c1e5d27c3e8f1a2b3c4d5e6f70"}))]
pub struct SplitView {
    pub arms: Vec<SplitArmView>,
    /// The version served before the split began: `POST …/deploy/abort` serves it again.
    pub previous_version_id: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SplitArmView {
    pub version_id: String,
    /// Percent of the traffic, 1 to 100.
    pub weight: u32,
}

impl From<Split> for SplitView {
    fn from(split: Split) -> Self {
        SplitView {
            arms: split
                .arms
                .iter()
                .map(|a| SplitArmView { version_id: a.version_id.to_string(), weight: a.weight })
                .collect(),
            previous_version_id: split.previous_version_id.to_string(),
        }
    }
}

/// A label and the version it points at.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"name": "production", "versionId": "ver_0193a4c1e5d27c3e8f1a2b3c4d5e6f70", "version": 3,
    "updatedAt": "2026-11-30T06:02:07.360677Z", "movedBy": "user_0193a4c1e5d27c3e8f1a2b3c4d5e6f70",
    "requireEvaluation": {"dataset": "smoke", "minPassRate": 0.9}}))]
pub struct LabelView {
    pub name: String,
    pub version_id: String,
    /// The number of the version it points at.
    pub version: i64,
    pub updated_at: DateTime<Utc>,
    /// The account that last moved it.
    pub moved_by: String,
    /// What a version must have passed before the label moves to it; null for nothing.
    pub require_evaluation: Option<RequiredEvaluationView>,
}

/// A label's gate: a completed evaluation on the current revision of `dataset` at `minPassRate`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequiredEvaluationView {
    pub dataset: String,
    pub min_pass_rate: f64,
}

impl From<Label> for LabelView {
    fn from(label: Label) -> Self {
        LabelView {
            name: label.name,
            version_id: label.version_id.to_string(),
            version: label.version_number,
            updated_at: label.updated_at,
            moved_by: label.moved_by.to_string(),
            require_evaluation: label
                .required_evaluation
                .map(|gate| RequiredEvaluationView { dataset: gate.dataset, min_pass_rate: gate.min_pass_rate }),
        }
    }
}
