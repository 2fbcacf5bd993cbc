//! The parts that several registry requests share: a definition's model and tools in either accepted
//! shape, a version named by id or number, and how a path names an agent or version. Each converts into
//! the domain's typed input here, at the edge.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::{Map, Value};
use talon_domain::ValidationErrors;
use talon_domain::agent::{AgentRef, ForkType, ModelInput, ToolFields, ToolInput, VersionRef};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};

use crate::api::error::ApiError;
use crate::api::extract::free_json;

/// `"provider/model"` (a primary model without fallback) or `{primary, fallback}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged, expecting = "Must be a model name (provider/model) or an object with primary and fallback")]
#[schema(example = json!({"primary": "test/echo", "fallback": null}))]
pub enum ModelRequest {
    #[schema(example = "test/echo")]
    Name(String),
    Spec(ModelSpecRequest),
}

/// A primary model and an optional fallback, each `<provider>/<model>` of a configured provider.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSpecRequest {
    /// Required: the model that answers, e.g. `openai/gpt-4o`.
    #[schema(required = true, value_type = String, max_length = 200, example = "test/echo")]
    primary: Option<String>,
    /// Tried when the primary fails.
    #[schema(max_length = 200, example = "test/echo")]
    fallback: Option<String>,
}

impl From<ModelRequest> for ModelInput {
    fn from(model: ModelRequest) -> Self {
        match model {
            ModelRequest::Name(name) => ModelInput::Name(name),
            ModelRequest::Spec(spec) => ModelInput::Spec { primary: spec.primary, fallback: spec.fallback },
        }
    }
}

/// A tool, native `{name, description, parameters}` or OpenAI-shaped
/// `{"type": "function", "function": {name, description, parameters}}`; both are stored natively.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(
    untagged,
    expecting = "Must be an object: {name, description, parameters} or {type: \"function\", function: {…}}"
)]
pub enum ToolRequest {
    Native(FunctionRequest),
    OpenAi(OpenAiToolRequest),
}

/// A tool's own fields.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "search", "description": "Search the web",
    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}))]
pub struct FunctionRequest {
    /// Required; unique among the version's tools.
    #[schema(required = true, value_type = String, pattern = "^[a-zA-Z0-9_-]{1,64}$")]
    name: Option<String>,
    #[schema(max_length = 2048)]
    description: Option<String>,
    /// A JSON-schema-like object describing the arguments; `{}` when left out.
    #[serde(default, deserialize_with = "free_json::object")]
    #[schema(value_type = Option<Object>)]
    parameters: Option<Value>,
}

/// A tool in OpenAI's shape.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}}))]
pub struct OpenAiToolRequest {
    /// Always `function`.
    #[serde(rename = "type")]
    #[schema(required = true, value_type = String, pattern = "^function$", example = "function")]
    kind: Option<String>,
    #[schema(required = true, value_type = FunctionRequest)]
    function: Option<FunctionRequest>,
}

impl From<FunctionRequest> for ToolFields {
    fn from(f: FunctionRequest) -> Self {
        ToolFields { name: f.name, description: f.description, parameters: f.parameters }
    }
}

impl From<ToolRequest> for ToolInput {
    fn from(tool: ToolRequest) -> Self {
        match tool {
            ToolRequest::Native(fields) => ToolInput::Native(fields.into()),
            ToolRequest::OpenAi(t) => ToolInput::OpenAi { kind: t.kind, function: t.function.map(Into::into) },
        }
    }
}

pub(super) fn tool_inputs(tools: Option<Vec<ToolRequest>>) -> Option<Vec<ToolInput>> {
    tools.map(|tools| tools.into_iter().map(Into::into).collect())
}

/// Agent config: free JSON; `temperature` (0 to 2) and `maxTokens` (1 to 200000) are checked.
pub(super) type Config = Map<String, Value>;

/// The kind of change a fork makes.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ForkKind {
    /// The same definition under a new agent; no content may be sent.
    ExactClone,
    /// A different prompt (required); model may change too.
    PromptMutation,
    /// Different tools and/or config; model may change too.
    ToolMutation,
}

impl From<ForkKind> for ForkType {
    fn from(kind: ForkKind) -> Self {
        match kind {
            ForkKind::ExactClone => ForkType::ExactClone,
            ForkKind::PromptMutation => ForkType::PromptMutation,
            ForkKind::ToolMutation => ForkType::ToolMutation,
        }
    }
}

/// A version as a body names it: its id (`ver_…` or UUID), its number, or one of its agent's labels.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged, expecting = "Must be a version id, number or label")]
pub enum VersionSelector {
    #[schema(example = "ver_0193a4c1e5d27c3e8f1a2b3c4d5e6f70")]
    Id(String),
    Number(VersionNumber),
}

/// A version number, from 1.
#[derive(Debug, Clone, Copy)]
pub struct VersionNumber(i64);

impl VersionNumber {
    pub fn get(self) -> i64 {
        self.0
    }
}

impl utoipa::PartialSchema for VersionNumber {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(1))
            .examples([2])
            .into()
    }
}

impl ToSchema for VersionNumber {}

impl<'de> Deserialize<'de> for VersionNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = VersionNumber;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a version number")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<VersionNumber, E> {
                if n >= 1 { Ok(VersionNumber(n)) } else { Err(E::custom("Must be a version number")) }
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<VersionNumber, E> {
                self.visit_i64(i64::try_from(n).unwrap_or(0))
            }
            // JSON Schema counts 2.0 as an integer, so it names version 2.
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<VersionNumber, E> {
                if n.fract() == 0.0 && n >= 1.0 && n <= i64::MAX as f64 {
                    self.visit_i64(n as i64)
                } else {
                    Err(E::custom("Must be a version number"))
                }
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<VersionNumber, E> {
                Err(E::custom("Must be a version number"))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<VersionNumber, E> {
                Err(E::custom("Must be a version number"))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// The version a body names with `versionId` (an id or number) or `version` (a number), if any. An id
/// that cannot name any version is `unknown()`.
pub(super) fn selected_version(
    version_id: Option<VersionSelector>,
    version: Option<VersionNumber>,
    unknown: impl FnOnce() -> ApiError,
) -> Result<Option<VersionRef>, ApiError> {
    match (version_id, version) {
        (Some(_), Some(_)) => {
            Err(ApiError::validation(ValidationErrors::single("version", "Send versionId or version, not both")))
        }
        (Some(VersionSelector::Id(text)), None) => VersionRef::parse(&text).map(Some).ok_or_else(unknown),
        (Some(VersionSelector::Number(n)), None) | (None, Some(n)) => Ok(Some(VersionRef::Number(n.0))),
        (None, None) => Ok(None),
    }
}

/// The agent a path names; text that can name no agent is 404, like an agent that does not exist.
pub(super) fn agent_ref(reference: &str) -> Result<AgentRef, ApiError> {
    AgentRef::parse(reference).ok_or_else(|| ApiError::not_found("Agent"))
}

/// The version a path or query names; text that can name no version is 404.
pub(super) fn version_ref(reference: &str) -> Result<VersionRef, ApiError> {
    VersionRef::parse(reference).ok_or_else(|| ApiError::not_found("Version"))
}
