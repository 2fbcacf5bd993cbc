//! The chat runtime: which agent version answers, what goes upstream (its prompt first, its tools, its
//! settings), and through which models (primary, then fallback).

mod health;
mod metered;
mod role;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use talon_domain::agent::{Agent, AgentStatus, ServedRef, Version};
use talon_domain::usage::{Outcome, Source, UsageRecord};
use talon_domain::{Account, AgentId, ApiKeyId, VersionId};
use talon_gateway::types::{ChatMessage, ChatRequest, estimate_tokens};
use talon_gateway::{ChunkStream, Gateway, GatewayError};
use talon_store::Store;

pub use self::health::DEFAULT_ERROR_AFTER;
use self::health::{AgentHealth, Deployed};
use self::metered::{Meter, Metered};
pub use self::role::Role;
use super::cache::Caches;
use super::registry::RegistryService;
use super::usage::UsageService;
use super::{Caller, ServiceError};
use crate::limits::{Acquired, ConcurrencyLimiter, Permit, Plans, RateLimiter, Slot, Window, now_ms};

pub struct ChatService {
    store: Arc<dyn Store>,
    registry: Arc<RegistryService>,
    gateway: Arc<Gateway>,
    limits: ChatLimits,
    usage: Arc<UsageService>,
    health: Arc<AgentHealth>,
}

/// What bounds chat answers: the plans' numbers, and where they are counted.
pub struct ChatLimits {
    pub plans: Arc<Plans>,
    pub rate: Arc<dyn RateLimiter>,
    pub concurrency: Arc<dyn ConcurrencyLimiter>,
}

/// Who asks and when the request arrived, for limits and accounting.
#[derive(Debug, Clone)]
pub struct Asker {
    /// The account whose plan's limits apply (the agent's owner).
    pub account: Account,
    pub key: Option<ApiKeyId>,
    pub source: Source,
    pub arrived: Instant,
    /// A JSON answer must be complete within this (the chat timeout); a stream has no deadline.
    pub timeout: Option<Duration>,
    /// The answer must start (a model's first chunk, fallback included) within this, or it is a
    /// timeout; each model is also held to the gateway's first-token timeout, after which the fallback
    /// is tried.
    pub start_timeout: Option<Duration>,
}

impl Asker {
    /// A caller of the chat surfaces, whose request arrived at `arrived`. A JSON answer is waited for
    /// whole, so it must be complete within the chat timeout; a stream shows progress and has no
    /// overall deadline. Either must start within the chat timeout.
    pub fn chat(
        account: Account,
        key: Option<ApiKeyId>,
        arrived: Instant,
        stream: bool,
        chat_timeout: Duration,
    ) -> Self {
        Asker {
            account,
            key,
            source: Source::Chat,
            arrived,
            timeout: (!stream).then_some(chat_timeout),
            start_timeout: Some(chat_timeout),
        }
    }
}

/// The answer as it streams: every chunk, the first included, ending in an error if the upstream
/// fails part-way or the deadline passes.
pub struct Answer {
    /// The `provider/model` answering.
    pub model: String,
    pub test_provider: bool,
    pub stream: ChunkStream,
}

/// A chat limit that refused the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The agent's answers per minute; retry after this many seconds.
    AgentRate {
        retry_after: u64,
    },
    AccountConcurrency,
    AgentConcurrency,
}

/// The agent and the version of it that answers (shared with the agent cache).
pub struct Target {
    pub agent: Arc<Agent>,
    pub version: Arc<Version>,
}

impl Target {
    /// The target, if its agent answers: only a deployed agent does.
    pub fn serving(self) -> Result<Self, ChatError> {
        match self.agent.status {
            AgentStatus::Deployed => Ok(self),
            status => Err(ChatError::NotServing(status)),
        }
    }
}

/// What the caller sent, beyond the agent.
#[derive(Debug, Default)]
pub struct ChatInput {
    /// The conversation, each role one of `Role`'s.
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
    /// The per-agent chat API is off for this agent (its `apiAccess`).
    #[error("the agent's chat API access is turned off")]
    ApiAccessOff,
    #[error("a chat limit was reached: {0:?}")]
    Limited(Limit),
    #[error("the answer took longer than {0:?}")]
    Timeout(Duration),
    #[error(transparent)]
    Upstream(#[from] GatewayError),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl ChatService {
    pub fn new(
        store: Arc<dyn Store>,
        registry: Arc<RegistryService>,
        gateway: Arc<Gateway>,
        limits: ChatLimits,
        usage: Arc<UsageService>,
        caches: Arc<Caches>,
        error_after: u32,
    ) -> Self {
        let health = Arc::new(AgentHealth::new(store.clone(), caches, error_after));
        Self { store, registry, gateway, limits, usage, health }
    }

    /// Resolves `model` (slug or id, maybe pinning a version) to a deployed agent of the caller's and
    /// the version that answers (for a canary split, the arm `sticky_key` falls on).
    pub async fn target(&self, caller: &Caller, model: &ServedRef, sticky_key: &str) -> Result<Target, ChatError> {
        self.agent(caller, model, sticky_key).await?.serving()
    }

    /// The agent as the per-agent chat API serves it: like `agent`, and refused unless its owner turned
    /// API access on.
    pub async fn bot(&self, caller: &Caller, model: &ServedRef, sticky_key: &str) -> Result<Target, ChatError> {
        let target = self.agent(caller, model, sticky_key).await?;
        if !target.agent.api_access {
            return Err(ChatError::ApiAccessOff);
        }
        Ok(target)
    }

    /// The caller's agent named by `reference`, whatever its status, with the version that would
    /// answer: the pinned one (number, id or label), else its split's arm for `sticky_key`, else the
    /// deployed one, else the current one.
    pub async fn agent(&self, caller: &Caller, model: &ServedRef, sticky_key: &str) -> Result<Target, ChatError> {
        let (agent, version) = self.registry.answering(caller, model, sticky_key).await.map_err(|e| match e {
            ServiceError::NotFound(_) | ServiceError::LabelNotFound(_) => ChatError::NotFound,
            e => ChatError::Service(e),
        })?;
        Ok(Target { agent, version })
    }

    /// The agent and the exact version a task is pinned to, for Talon's runtime, and who asks: the
    /// agent's owner, whose usage it is. The agent must still be deployed: stopping an agent stops the
    /// runtime from working its tasks. The answer must be complete within `timeout`.
    pub async fn for_task(
        &self,
        agent: AgentId,
        version: VersionId,
        timeout: Duration,
        undeployed_too: bool,
    ) -> Result<(Target, Asker), ChatError> {
        let agent = self.store.agent(agent).await.map_err(ServiceError::from)?.ok_or(ChatError::NotFound)?;
        if agent.status != AgentStatus::Deployed && !undeployed_too {
            return Err(ChatError::NotServing(agent.status));
        }
        let version = self
            .store
            .version(version)
            .await
            .map_err(ServiceError::from)?
            .filter(|v| v.agent_id == agent.id)
            .ok_or(ChatError::NotFound)?;
        let account =
            self.store.account_by_id(agent.owner).await.map_err(ServiceError::from)?.ok_or(ChatError::NotFound)?;
        let asker = Asker {
            account,
            key: None,
            source: Source::Task,
            arrived: Instant::now(),
            timeout: Some(timeout),
            start_timeout: Some(timeout),
        };
        Ok((Target { agent: Arc::new(agent), version: Arc::new(version) }, asker))
    }

    /// The caller's deployed agents, for `GET /v1/models`: every one, read a window at a time.
    pub async fn deployed(&self, caller: &Caller) -> Result<Vec<Agent>, ChatError> {
        const WINDOW: i64 = 1000;
        let mut deployed = Vec::new();
        let mut window = talon_store::Window::Offset { offset: 0, limit: WINDOW };
        loop {
            let page = self.registry.list_agents(caller, true, window).await?;
            let last = page.items.last().map(|a| *a.id.as_uuid());
            deployed.extend(page.items.into_iter().filter(|a| a.status == AgentStatus::Deployed));
            match last {
                Some(id) if page.has_more => window = talon_store::Window::After { id, limit: WINDOW },
                _ => return Ok(deployed),
            }
        }
    }

    /// Starts the answer: within the chat limits (for callers of the chat APIs), the first model that
    /// responds (primary, then fallback) streams it. Every answer that gets as far as an upstream is
    /// accounted, whether it succeeds or not.
    pub async fn open(&self, target: &Target, input: ChatInput, asker: Asker) -> Result<Answer, ChatError> {
        let definition = &target.version.definition;
        let primary = input.model.clone().unwrap_or_else(|| definition.model.primary.clone());
        if !self.gateway.knows(&primary) {
            return Err(ChatError::UnknownModel(primary));
        }
        // Tasks are bounded by the runtime's workers; only callers of the chat APIs are limited here.
        let permit = match asker.source {
            Source::Chat => self.admit(&target.agent, &asker.account).await?,
            Source::Task => Permit::unlimited(),
        };
        let mut models = vec![primary.as_str()];
        if let Some(fallback) = definition.model.fallback.as_deref().filter(|f| *f != primary) {
            models.push(fallback);
        }
        let request = build_request(&target.version, input);
        let deployed = Deployed { agent: target.agent.id, at: target.agent.deployed_at };
        let meter = |model: &str, fell_back: bool, upstream_started: Instant| Meter {
            record: UsageRecord {
                id: uuid::Uuid::now_v7(),
                owner: target.agent.owner,
                agent_id: target.agent.id,
                version_id: target.version.id,
                key_id: asker.key,
                source: asker.source,
                model: model.to_owned(),
                fell_back,
                prompt_tokens: 0,
                completion_tokens: 0,
                latency_us: 0,
                first_token_us: None,
                outcome: Outcome::Ok,
                created_at: talon_domain::time::now(),
            },
            arrived: asker.arrived,
            upstream_started,
            first_chunk_at: None,
            estimated_prompt_tokens: request.messages.iter().map(|m| estimate_tokens(&m.text_content())).sum(),
            estimated_completion_tokens: 0,
            reported: None,
            usage: self.usage.clone(),
            health: self.health.clone(),
            deployed,
        };
        let deadline = asker.timeout.map(|limit| (asker.arrived + limit, limit));
        // The answer must start within the sooner of its overall deadline and its start timeout.
        let start_deadline = [deadline, asker.start_timeout.map(|limit| (asker.arrived + limit, limit))]
            .into_iter()
            .flatten()
            .min_by_key(|(at, _)| *at);
        let upstream_started = Instant::now();
        let opening = self.gateway.open(&models, &request);
        let opened = match start_deadline {
            Some((at, limit)) => match tokio::time::timeout_at(at.into(), opening).await {
                Ok(opened) => opened,
                Err(_) => {
                    meter(&primary, false, upstream_started).finish(Outcome::Timeout);
                    self.health.failed(deployed);
                    return Err(ChatError::Timeout(limit));
                }
            },
            None => opening.await,
        };
        let opened = match opened {
            Ok(opened) => opened,
            Err(e) => {
                let last = e.attempts.last().map_or(primary.as_str(), |(model, _)| model.as_str());
                meter(last, e.attempts.len() > 1, upstream_started).finish(Outcome::UpstreamError);
                if health::counts(&e) {
                    self.health.failed(deployed);
                }
                return Err(ChatError::Upstream(e));
            }
        };
        let mut meter = meter(&opened.model, opened.fell_back, upstream_started);
        meter.first_chunk_at = Some(opened.first_chunk_at);
        Ok(Answer {
            model: opened.model,
            test_provider: opened.test_provider,
            stream: Box::pin(Metered::new(opened.stream, meter, deadline, permit)),
        })
    }

    /// Counts the answer against its agent's rate, then takes a place in the account's and the
    /// agent's concurrency budgets, held by the returned permit. Limiter failures admit the request:
    /// answering without limits beats refusing everyone while Redis is away.
    async fn admit(&self, agent: &Agent, account: &Account) -> Result<Permit, ChatError> {
        let plan = self.limits.plans.get(&account.plan);
        let window =
            Window { key: format!("agent-chat:{}", agent.id), max: plan.agent_chats_per_minute, period: MINUTE };
        match self.limits.rate.admit(std::slice::from_ref(&window), now_ms()).await {
            Ok(admission) if !admission.allowed => {
                metrics::counter!("talon_chat_refused_total", "limit" => "agent_rate").increment(1);
                return Err(ChatError::Limited(Limit::AgentRate { retry_after: admission.retry_after }));
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "rate limiter failed; admitting the chat request"),
        }
        let slots = [
            Slot { key: format!("account:{}", account.id), max: plan.account_concurrent_chats },
            Slot { key: format!("agent:{}", agent.id), max: plan.agent_concurrent_chats },
        ];
        match self.limits.concurrency.acquire(&slots).await {
            Ok(Acquired::Granted(permit)) => Ok(permit),
            Ok(Acquired::Refused { index }) => {
                let (limit, name) = match index {
                    0 => (Limit::AccountConcurrency, "account_concurrency"),
                    _ => (Limit::AgentConcurrency, "agent_concurrency"),
                };
                metrics::counter!("talon_chat_refused_total", "limit" => name).increment(1);
                Err(ChatError::Limited(limit))
            }
            Err(e) => {
                tracing::error!(error = %e, "concurrency limiter failed; admitting the chat request");
                Ok(Permit::unlimited())
            }
        }
    }
}

const MINUTE: Duration = Duration::from_secs(60);

/// The upstream request: the version's prompt as the system message before the caller's messages, its
/// tools as function tools, its temperature and max tokens unless the caller set them.
pub fn build_request(version: &Version, input: ChatInput) -> ChatRequest {
    let definition = &version.definition;
    let mut messages = Vec::with_capacity(input.messages.len() + 1);
    if !definition.prompt.is_empty() {
        messages.push(ChatMessage::text(Role::System.as_str(), &definition.prompt));
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
