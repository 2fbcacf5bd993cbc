//! The chat runtime: which agent version answers, what goes upstream (its prompt first, its tools, its
//! settings), and through which models (primary, then fallback).

use std::sync::Arc;

use serde_json::{Value, json};
use talon_domain::agent::{Agent, AgentStatus, Version};
use talon_gateway::types::{ChatMessage, ChatRequest};
use talon_gateway::{Gateway, GatewayError, Opened};
use talon_store::Store;

use super::registry::RegistryService;
use super::{Caller, ServiceError};

pub struct ChatService {
    store: Arc<dyn Store>,
    registry: Arc<RegistryService>,
    gateway: Arc<Gateway>,
}

/// The agent and the version of it that answers.
pub struct Target {
    pub agent: Agent,
    pub version: Version,
}

/// What the caller sent, beyond the agent.
#[derive(Debug, Default)]
pub struct ChatInput {
    pub messages: Vec<ChatMessage>,
    /// Replaces the version's primary model for this request.
    pub model: Option<String>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u64>,
    pub user: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("no such agent")]
    NotFound,
    #[error("the agent is {0}")]
    NotServing(AgentStatus),
    #[error("unknown model `{0}`")]
    UnknownModel(String),
    #[error(transparent)]
    Upstream(#[from] GatewayError),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl ChatService {
    pub fn new(store: Arc<dyn Store>, registry: Arc<RegistryService>, gateway: Arc<Gateway>) -> Self {
        Self { store, registry, gateway }
    }

    /// Resolves `reference` (slug or id, optionally `@N` to pin version N) to a deployed agent of the
    /// caller's and the version that answers: the pinned one, else the deployed pin, else the current.
    pub async fn target(&self, caller: &Caller, reference: &str) -> Result<Target, ChatError> {
        let (agent, pinned) = self.agent(caller, reference).await?;
        if agent.status != AgentStatus::Deployed {
            return Err(ChatError::NotServing(agent.status));
        }
        self.answering(agent, pinned).await
    }

    /// The caller's agent named by `reference`, whatever its status, and the version number it pins.
    pub async fn agent(&self, caller: &Caller, reference: &str) -> Result<(Agent, Option<i64>), ChatError> {
        let (agent_ref, pinned) = match reference.rsplit_once('@') {
            Some((agent, n)) => (agent, Some(n.parse::<i64>().map_err(|_| ChatError::NotFound)?)),
            None => (reference, None),
        };
        let agent = self.registry.owned(caller, agent_ref).await.map_err(|_| ChatError::NotFound)?;
        Ok((agent, pinned))
    }

    /// The agent with the version that answers for it.
    pub async fn answering(&self, agent: Agent, pinned: Option<i64>) -> Result<Target, ChatError> {
        let version = match pinned {
            Some(n) => self
                .store
                .version_by_number(agent.id, n)
                .await
                .map_err(ServiceError::from)?
                .ok_or(ChatError::NotFound)?,
            None => self.registry.served_version(&agent).await?,
        };
        Ok(Target { agent, version })
    }

    /// The caller's deployed agents, for `GET /v1/models`.
    pub async fn deployed(&self, caller: &Caller) -> Result<Vec<Agent>, ChatError> {
        let page = self.registry.list_agents(caller, true, 0, 1000).await?;
        Ok(page.items.into_iter().filter(|a| a.status == AgentStatus::Deployed).collect())
    }

    /// Starts the answer: the first model that responds (primary, then fallback) streams it.
    pub async fn open(&self, target: &Target, input: ChatInput) -> Result<Opened, ChatError> {
        let definition = &target.version.definition;
        let primary = input.model.clone().unwrap_or_else(|| definition.model.primary.clone());
        if !self.gateway.knows(&primary) {
            return Err(ChatError::UnknownModel(primary));
        }
        let mut models = vec![primary.as_str()];
        if let Some(fallback) = definition.model.fallback.as_deref().filter(|f| *f != primary) {
            models.push(fallback);
        }
        let request = build_request(&target.version, input);
        Ok(self.gateway.open(&models, &request).await?)
    }
}

/// The upstream request: the version's prompt as the system message before the caller's messages, its
/// tools as function tools, its temperature and max tokens unless the caller set them.
pub fn build_request(version: &Version, input: ChatInput) -> ChatRequest {
    let definition = &version.definition;
    let mut messages = Vec::with_capacity(input.messages.len() + 1);
    if !definition.prompt.is_empty() {
        messages.push(ChatMessage::text("system", &definition.prompt));
    }
    messages.extend(input.messages);
    let tools: Vec<Value> = definition
        .tools
        .iter()
        .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}))
        .collect();
    ChatRequest {
        messages,
        tools,
        temperature: input.temperature.or_else(|| definition.config.get("temperature").and_then(Value::as_f64)),
        max_tokens: input.max_tokens.or_else(|| definition.config.get("maxTokens").and_then(Value::as_u64)),
        user: input.user,
    }
}
