//! The agent registry: agents, their immutable versions, forks, lineage and deployment.

mod agents;
mod forks;
mod versions;

use std::sync::Arc;

use talon_domain::agent::{Agent, Version};
use talon_domain::{AgentId, VersionId};
use talon_store::Store;

pub use agents::{AgentInput, ProfileInput};
pub use forks::{Fork, ForkInput};
pub use versions::{NewVersion, VersionInput};

use super::{Caller, ServiceError};

/// Optimistic appends retry when another writer got there first; beyond this, give up with 409.
const APPEND_ATTEMPTS: usize = 64;

pub struct RegistryService {
    store: Arc<dyn Store>,
}

impl RegistryService {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Finds an agent by id (either form) or by the caller's slug.
    async fn find(&self, caller: &Caller, reference: &str) -> Result<Option<Agent>, ServiceError> {
        match AgentId::parse(reference) {
            Ok(id) => Ok(self.store.agent(id).await?),
            Err(_) => Ok(self.store.agent_by_slug(caller.account.id, reference).await?),
        }
    }

    fn in_reach(caller: &Caller, agent: &Agent) -> bool {
        caller.only_agent.is_none_or(|only| only == agent.id)
    }

    /// An agent the caller owns; any other agent is "not found", whether or not it exists.
    pub async fn owned(&self, caller: &Caller, reference: &str) -> Result<Agent, ServiceError> {
        self.find(caller, reference)
            .await?
            .filter(|a| a.owner == caller.account.id && Self::in_reach(caller, a))
            .ok_or(ServiceError::NotFound("Agent"))
    }

    /// An agent the caller owns, or another account's public agent (read-only uses, and forking).
    pub async fn readable(&self, caller: &Caller, reference: &str) -> Result<Agent, ServiceError> {
        self.find(caller, reference)
            .await?
            .filter(|a| (a.owner == caller.account.id || a.public) && Self::in_reach(caller, a))
            .ok_or(ServiceError::NotFound("Agent"))
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
