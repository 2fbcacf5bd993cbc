//! The registry's request bodies and query strings, one type per operation. Each refuses fields it does
//! not know and converts into the service's typed input; the rules on values (lengths, slugs, model
//! names, unique tool names) are the domain's.

use serde::Deserialize;
use talon_domain::agent::{DefinitionChange, MetadataChange, VersionRef};
use talon_domain::evaluation::Gate;
use talon_domain::{ValidationErrors, VersionId};
use utoipa::{IntoParams, ToSchema};

use super::agent_inputs::{
    Config, ForkKind, ModelRequest, ToolRequest, VersionNumber, VersionSelector, selected_version, tool_inputs,
};
use super::evaluations::RequireEvaluation;
use crate::api::error::ApiError;
use crate::api::extract::{Flag, Patch, free_json};
use crate::services::registry::{ForkRequest, NewAgent, ProfileChange, VersionRequest};

/// A new agent and its version 1.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({
    "name": "Support Bot", "description": "Answers support questions", "capabilities": ["support"],
    "prompt": "You are a helpful support assistant.",
    "tools": [{"name": "search", "description": "Search the docs", "parameters": {"type": "object"}}],
    "config": {"temperature": 0.7, "maxTokens": 2000},
    "model": {"primary": "test/echo", "fallback": null},
    "commitMessage": "First version"
}))]
pub struct CreateAgentRequest {
    /// 1 to 100 characters.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 100, pattern = "^[^\\x00]*[^\\s\\x00][^\\x00]*$")]
    name: Option<String>,
    /// Unique among your agents; derived from the name (`support-bot`, `support-bot-2`, …) when left out.
    #[schema(pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", max_length = 64, example = "support-bot")]
    slug: Option<String>,
    /// At most 2000 characters.
    #[schema(max_length = 2000)]
    description: Option<String>,
    /// At most 50 tags of 1 to 64 characters; duplicates are dropped.
    capabilities: Option<Vec<String>>,
    /// Whether other accounts may read and fork it (default false).
    public: Option<bool>,
    /// The system prompt, at most 100 KB.
    #[schema(required = true, value_type = String, min_length = 1, pattern = "^[^\\x00]*[^\\s\\x00][^\\x00]*$")]
    prompt: Option<String>,
    /// At most 128 tools, in either shape.
    tools: Option<Vec<ToolRequest>>,
    /// Free JSON; `temperature` (0 to 2) and `maxTokens` (1 to 200000) are checked.
    #[serde(default, deserialize_with = "free_json::object")]
    #[schema(value_type = Option<Object>)]
    config: Option<Config>,
    /// `test/echo` when left out.
    model: Option<ModelRequest>,
    /// At most 1000 characters; "Initial version" when left out.
    #[schema(max_length = 1000)]
    commit_message: Option<String>,
}

impl From<CreateAgentRequest> for NewAgent {
    fn from(r: CreateAgentRequest) -> Self {
        NewAgent {
            metadata: MetadataChange {
                name: r.name,
                description: r.description.map(Some),
                capabilities: r.capabilities,
            },
            slug: r.slug,
            public: r.public.unwrap_or(false),
            definition: DefinitionChange {
                prompt: r.prompt,
                tools: tool_inputs(r.tools),
                config: r.config,
                model: r.model.map(Into::into),
            },
            commit_message: r.commit_message,
        }
    }
}

/// A change to an agent's profile (not a new version). Fields left out keep their value; at least one
/// is required.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"description": null, "public": true}))]
pub struct UpdateAgentRequest {
    /// 1 to 100 characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\x00]*[^\\s\\x00][^\\x00]*$",
        example = "Support Bot (EU)"
    )]
    name: Option<String>,
    /// `null` clears the description.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2000)]
    description: Patch<String>,
    /// Replaces the list.
    capabilities: Option<Vec<String>>,
    /// Whether other accounts may read and fork it.
    public: Option<bool>,
    /// Whether its chat API (`/api/v1/bot/{id}/chat`) is on.
    api_access: Option<bool>,
}

impl From<UpdateAgentRequest> for ProfileChange {
    fn from(r: UpdateAgentRequest) -> Self {
        ProfileChange {
            metadata: MetadataChange {
                name: r.name,
                description: r.description.into_change(),
                capabilities: r.capabilities,
            },
            public: r.public,
            api_access: r.api_access,
        }
    }
}

/// A fork: its kind, the version it starts from, its own metadata and its change to the definition.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"forkType": "prompt_mutation", "prompt": "Eres un asistente de soporte.", "name": "Support Bot (ES)"}))]
pub struct ForkAgentRequest {
    /// What the fork changes; checked against what it actually changes.
    fork_type: ForkKind,
    /// The version to fork from (an id, or a number of the source); its current version when left out.
    version_id: Option<VersionSelector>,
    /// The version number to fork from (instead of `versionId`).
    version: Option<VersionNumber>,
    /// "<source name> (fork)" when left out.
    #[schema(min_length = 1, max_length = 100, pattern = "^[^\\x00]*[^\\s\\x00][^\\x00]*$")]
    name: Option<String>,
    /// The source's description when left out; `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2000)]
    description: Patch<String>,
    /// The source's capabilities when left out.
    capabilities: Option<Vec<String>>,
    /// Required for `prompt_mutation`, refused otherwise.
    #[schema(min_length = 1, pattern = "^[^\\x00]*[^\\s\\x00][^\\x00]*$")]
    prompt: Option<String>,
    /// For `tool_mutation` only.
    tools: Option<Vec<ToolRequest>>,
    /// For `tool_mutation` only.
    #[serde(default, deserialize_with = "free_json::object")]
    #[schema(value_type = Option<Object>)]
    config: Option<Config>,
    /// Refused for `exact_clone`.
    model: Option<ModelRequest>,
    #[schema(max_length = 1000)]
    commit_message: Option<String>,
}

impl ForkAgentRequest {
    /// The service's input; a `versionId` that can name no version is 404.
    pub(super) fn into_request(self) -> Result<ForkRequest, ApiError> {
        let version = selected_version(self.version_id, self.version, || ApiError::not_found("Version"))?;
        Ok(ForkRequest {
            fork_type: self.fork_type.into(),
            version,
            metadata: MetadataChange {
                name: self.name,
                description: self.description.into_change(),
                capabilities: self.capabilities,
            },
            definition: DefinitionChange {
                prompt: self.prompt,
                tools: tool_inputs(self.tools),
                config: self.config,
                model: self.model.map(Into::into),
            },
            commit_message: self.commit_message,
        })
    }
}

/// Which version to serve, or a canary split between versions; the body may be left out (serve
/// whatever is current). A deploy without `split` ends any split.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"versionId": "ver_0193a4c1e5d27c3e8f1a2b3c4d5e6f70"}))]
pub struct DeployAgentRequest {
    /// Pin this version (an id, number or label).
    pub(super) version_id: Option<VersionSelector>,
    /// Pin this version number (instead of `versionId`).
    pub(super) version: Option<VersionNumber>,
    /// Share the traffic between 2 to 10 distinct versions of the agent whose weights add up to 100;
    /// each end user (`user`, else the API key) stays on one arm. Not with `versionId` or `version`.
    #[schema(example = json!([{"versionId": "production", "weight": 90}, {"versionId": 4, "weight": 10}]))]
    pub(super) split: Option<Vec<SplitArmRequest>>,
    /// Refuse (409, naming the failing cases) unless the version served (every arm of a split) passed
    /// a completed evaluation on the current revision of this dataset at this rate.
    pub(super) require_evaluation: Option<RequireEvaluation>,
}

/// One arm of a canary split.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SplitArmRequest {
    /// A version of the agent: its id, number or label (resolved when the split is deployed).
    pub(super) version_id: VersionSelector,
    /// Its share of the traffic in percent, 1 to 100.
    #[schema(minimum = 1, maximum = 100, example = 90)]
    #[serde(deserialize_with = "whole_number")]
    pub(super) weight: i64,
}

/// An integer as JSON Schema counts one: `90` or `90.0` (a fraction is refused, naming the field).
fn whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    let number = serde_json::Number::deserialize(deserializer)?;
    match (number.as_i64(), number.as_f64()) {
        (Some(n), _) => Ok(n),
        (None, Some(f)) if f.fract() == 0.0 && f.abs() <= 1e15 => Ok(f as i64),
        _ => Err(serde::de::Error::custom("Must be an integer")),
    }
}

/// What a deploy asks for.
pub(super) enum DeployTarget {
    Serve(Option<VersionRef>),
    Split(Vec<(VersionRef, i64)>),
}

impl DeployAgentRequest {
    /// The gate the deployment must pass, if it names one.
    pub(super) fn gate(&self) -> Result<Option<Gate>, ApiError> {
        self.require_evaluation.clone().map(RequireEvaluation::into_gate).transpose()
    }

    /// The deployment asked for; a version or arm text that can name no version is 404.
    pub(super) fn into_target(self) -> Result<DeployTarget, ApiError> {
        let Some(arms) = self.split else {
            return Ok(DeployTarget::Serve(selected_version(self.version_id, self.version, || {
                ApiError::not_found("Version")
            })?));
        };
        if self.version_id.is_some() || self.version.is_some() {
            return Err(ApiError::validation(ValidationErrors::single(
                "split",
                "Send split, or versionId or version, not both",
            )));
        }
        let mut resolved = Vec::with_capacity(arms.len());
        for arm in arms {
            let version = selected_version(Some(arm.version_id), None, || ApiError::not_found("Version"))?;
            resolved.extend(version.map(|v| (v, arm.weight)));
        }
        Ok(DeployTarget::Split(resolved))
    }
}

/// `?force=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteAgentQuery {
    /// Delete even though it has forks (they become independent agents) or running tasks (deleted too).
    #[param(value_type = Option<bool>, default = false)]
    force: Option<Flag>,
}

impl DeleteAgentQuery {
    pub(super) fn force(&self) -> bool {
        self.force.is_some_and(|Flag(force)| force)
    }
}

/// A new version: any subset of prompt, tools, config and model; the rest carries over.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"prompt": "You are a concise support assistant.", "commitMessage": "Shorter answers"}))]
pub struct CreateVersionRequest {
    #[schema(min_length = 1, pattern = "^[^\\x00]*[^\\s\\x00][^\\x00]*$")]
    prompt: Option<String>,
    /// Replaces the tools.
    tools: Option<Vec<ToolRequest>>,
    /// Replaces the config.
    #[serde(default, deserialize_with = "free_json::object")]
    #[schema(value_type = Option<Object>)]
    config: Option<Config>,
    model: Option<ModelRequest>,
    /// What changed, in at most 1000 characters; "Update <parts>" when left out.
    #[schema(max_length = 1000)]
    commit_message: Option<String>,
    /// Refuse (409) unless this is still the current version; `If-Match` says the same.
    #[schema(example = "ver_0193a4c1e5d27c3e8f1a2b3c4d5e6f70")]
    expected_version_id: Option<String>,
}

impl CreateVersionRequest {
    /// The service's input; `if_match` names the expected version when the body does not.
    pub(super) fn into_request(self, if_match: Option<String>) -> Result<VersionRequest, ApiError> {
        // Text that is no version id cannot be the current version's: the same 409 as a stale id.
        let expected_version_id =
            match self.expected_version_id.or(if_match) {
                Some(raw) => Some(VersionId::parse(&raw).map_err(|_| {
                    ApiError::conflict(format!("`{raw}` is not the current version (not a version id)"))
                })?),
                None => None,
            };
        Ok(VersionRequest {
            definition: DefinitionChange {
                prompt: self.prompt,
                tools: tool_inputs(self.tools),
                config: self.config,
                model: self.model.map(Into::into),
            },
            commit_message: self.commit_message,
            expected_version_id,
        })
    }
}

/// The version to roll back to: `versionId` (an id or number) or `version` (a number).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"version": 1}))]
pub struct RollbackRequest {
    pub(super) version_id: Option<VersionSelector>,
    pub(super) version: Option<VersionNumber>,
}

/// `?from=&to=`: version ids or numbers, both required.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CompareQuery {
    /// A version id (of this agent or of an agent of its fork tree), or a number of this agent.
    // Optional to the parser so that a request missing both hears of both at once.
    #[param(required = true, value_type = String, example = "1")]
    from: Option<String>,
    /// A version id (of this agent or of an agent of its fork tree), or a number of this agent.
    #[param(required = true, value_type = String, example = "2")]
    to: Option<String>,
}

impl CompareQuery {
    /// `(from, to)`; each that is missing is reported.
    pub(super) fn versions(self) -> Result<(String, String), ApiError> {
        let mut errors = ValidationErrors::new();
        for (field, value) in [("from", &self.from), ("to", &self.to)] {
            if value.is_none() {
                errors.add(field, "Required");
            }
        }
        match (self.from, self.to) {
            (Some(from), Some(to)) => Ok((from, to)),
            _ => Err(ApiError::validation(errors)),
        }
    }
}
