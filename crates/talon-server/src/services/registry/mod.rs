//! The agent registry: agents, their immutable versions, forks, lineage and deployment.

mod agents;
mod forks;
mod versions;

use std::sync::Arc;

use talon_domain::agent::{Agent, Version};
use talon_domain::{AgentId, ValidationErrors, VersionId};
use talon_store::{AgentLookup, Store};

pub use agents::{AgentInput, ProfileInput};
pub use forks::{Fork, ForkInput};
pub use versions::{NewVersion, VersionInput};

use super::{Caller, OutboxSignal, ServiceError};

/// Optimistic appends retry when another writer got there first; beyond this, give up with 409.
const APPEND_ATTEMPTS: usize = 64;
/// Appends to one agent are queued in-process (agents hash onto this many locks), so that concurrent
/// writers on one replica wait their turn instead of racing and retrying. The store's compare-and-swap
/// still decides between replicas.
const APPEND_LOCKS: usize = 64;

pub struct RegistryService {
    store: Arc<dyn Store>,
    append_locks: Vec<tokio::sync::Mutex<()>>,
    outbox: OutboxSignal,
    /// Names a version's models may start with (`<provider>/<model>`).
    providers: Vec<String>,
}

impl RegistryService {
    pub fn new(store: Arc<dyn Store>, outbox: OutboxSignal, providers: Vec<String>) -> Self {
        let append_locks = (0..APPEND_LOCKS).map(|_| tokio::sync::Mutex::new(())).collect();
        Self { store, append_locks, outbox, providers }
    }

    /// A version may only name models of configured providers.
    fn check_models(&self, definition: &talon_domain::agent::Definition) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let model = &definition.model;
        for (field, name) in [("model.primary", Some(&model.primary)), ("model.fallback", model.fallback.as_ref())] {
            let Some(name) = name else { continue };
            let known = name
                .split_once('/')
                .is_some_and(|(provider, model)| !model.is_empty() && self.providers.iter().any(|p| p == provider));
            if !known {
                errors.add(
                    field,
                    format!(
                        "`{name}` names no configured provider; use <provider>/<model> with one of: {}",
                        self.providers.join(", ")
                    ),
                );
            }
        }
        errors.finish(())
    }

    fn append_lock(&self, agent: AgentId) -> &tokio::sync::Mutex<()> {
        let bytes = agent.as_uuid().as_bytes();
        // The low bytes of a UUIDv7 are random, so they spread agents evenly.
        &self.append_locks[usize::from(bytes[15]) % APPEND_LOCKS]
    }

    /// Finds an agent by id (either form) or by the caller's slug.
    async fn find(&self, caller: &Caller, reference: &str) -> Result<Option<Agent>, ServiceError> {
        match AgentId::parse(reference) {
            Ok(id) => Ok(self.store.agent(id).await?),
            Err(_) => Ok(self.store.agent_by_slug(caller.account.id, reference).await?),
        }
    }

    /// Like `find`, with the agent's current version read in the same query.
    async fn find_head(&self, caller: &Caller, reference: &str) -> Result<Option<(Agent, Version)>, ServiceError> {
        let id = match AgentId::parse(reference) {
            Ok(id) => id,
            Err(_) => match self.store.agent_by_slug(caller.account.id, reference).await? {
                Some(agent) => agent.id,
                None => return Ok(None),
            },
        };
        Ok(self.store.agent_head(id).await?)
    }

    /// Own agents, and other accounts' public ones, within the caller's reach.
    fn may_read(caller: &Caller, agent: &Agent) -> bool {
        (agent.owner == caller.account.id || agent.public) && caller.reaches(agent.id)
    }

    /// An agent the caller owns; any other agent is "not found", whether or not it exists.
    pub async fn owned(&self, caller: &Caller, reference: &str) -> Result<Agent, ServiceError> {
        self.find(caller, reference)
            .await?
            .filter(|a| a.owner == caller.account.id && caller.reaches(a.id))
            .ok_or(ServiceError::NotFound("Agent"))
    }

    /// An agent the caller owns with the version it serves (deployed, else current), in one query.
    pub async fn owned_serving(&self, caller: &Caller, reference: &str) -> Result<(Agent, Version), ServiceError> {
        let lookup = match AgentId::parse(reference) {
            Ok(id) => AgentLookup::Id(id),
            Err(_) => AgentLookup::Slug { owner: caller.account.id, slug: reference },
        };
        self.store
            .agent_serving(lookup)
            .await?
            .filter(|(a, _)| a.owner == caller.account.id && caller.reaches(a.id))
            .ok_or(ServiceError::NotFound("Agent"))
    }

    /// An agent the caller owns, or another account's public agent (read-only uses, and forking).
    pub async fn readable(&self, caller: &Caller, reference: &str) -> Result<Agent, ServiceError> {
        self.find(caller, reference).await?.filter(|a| Self::may_read(caller, a)).ok_or(ServiceError::NotFound("Agent"))
    }

    /// A version of `agent`; a version of any other agent is "not found".
    async fn version_of(&self, agent: &Agent, reference: &str) -> Result<Version, ServiceError> {
        let id = VersionId::parse(reference).map_err(|_| ServiceError::NotFound("Version"))?;
        self.store.version(id).await?.filter(|v| v.agent_id == agent.id).ok_or(ServiceError::NotFound("Version"))
    }

    /// Another account's email is never shown: versions of a public agent read by someone else carry
    /// their author's id only.
    fn presented(caller: &Caller, agent: &Agent, mut version: Version) -> Version {
        if agent.owner != caller.account.id {
            version.created_by.email.clear();
        }
        version
    }

    async fn current_version(&self, agent: &Agent) -> Result<Version, ServiceError> {
        self.store
            .version(agent.current_version_id)
            .await?
            .ok_or_else(|| ServiceError::Internal(format!("agent {} has no current version", agent.id)))
    }
}
