//! The agent registry: agents, their immutable versions, forks, lineage and deployment.

mod agents;
mod appends;
mod forks;
mod lineages;
mod versions;

use std::sync::Arc;

use talon_domain::ValidationErrors;
use talon_domain::agent::{Agent, AgentRef, Version, VersionRef};
use talon_store::{AgentLookup, Store};

pub use agents::{NewAgent, ProfileChange};
pub use forks::{Fork, ForkRequest};
pub use lineages::LineageJson;
pub use versions::{NewVersion, VersionRequest};

use super::{Caller, ServiceError, Signal};
use appends::Appender;
use lineages::LineageCache;

pub struct RegistryService {
    store: Arc<dyn Store>,
    appender: Arc<Appender>,
    lineages: LineageCache,
    outbox: Signal,
    /// Names a version's models may start with (`<provider>/<model>`).
    providers: Arc<[String]>,
}

impl RegistryService {
    pub fn new(store: Arc<dyn Store>, outbox: Signal, providers: Vec<String>) -> Self {
        let providers: Arc<[String]> = providers.into();
        let appender = Appender::new(store.clone(), outbox.clone(), providers.clone());
        Self { store, appender, lineages: LineageCache::default(), outbox, providers }
    }

    /// The providers a model name may start with (`<provider>/<model>`): `test` and the configured ones.
    pub fn providers(&self) -> &[String] {
        &self.providers
    }

    fn check_models(
        &self,
        definition: &talon_domain::agent::Definition,
        primary_field: &str,
    ) -> Result<(), ValidationErrors> {
        check_models(&self.providers, definition, primary_field)
    }

    /// The store's lookup for `reference`: a slug is one of the caller's.
    fn lookup<'a>(caller: &Caller, reference: &'a AgentRef) -> AgentLookup<'a> {
        match reference {
            AgentRef::Id(id) => AgentLookup::Id(*id),
            AgentRef::Slug(slug) => AgentLookup::Slug { owner: caller.account.id, slug },
        }
    }

    /// Finds an agent by id (either form) or by the caller's slug.
    async fn find(&self, caller: &Caller, reference: &AgentRef) -> Result<Option<Agent>, ServiceError> {
        match Self::lookup(caller, reference) {
            AgentLookup::Id(id) => Ok(self.store.agent(id).await?),
            AgentLookup::Slug { owner, slug } => Ok(self.store.agent_by_slug(owner, slug).await?),
        }
    }

    /// Like `find`, with the agent's current version read in the same query.
    async fn find_head(&self, caller: &Caller, reference: &AgentRef) -> Result<Option<(Agent, Version)>, ServiceError> {
        let id = match Self::lookup(caller, reference) {
            AgentLookup::Id(id) => id,
            AgentLookup::Slug { owner, slug } => match self.store.agent_by_slug(owner, slug).await? {
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
    pub async fn owned(&self, caller: &Caller, reference: &AgentRef) -> Result<Agent, ServiceError> {
        self.find(caller, reference)
            .await?
            .filter(|a| a.owner == caller.account.id && caller.reaches(a.id))
            .ok_or(ServiceError::NotFound("Agent"))
    }

    /// An agent the caller owns with the version it serves (deployed, else current), in one query.
    pub async fn owned_serving(&self, caller: &Caller, reference: &AgentRef) -> Result<(Agent, Version), ServiceError> {
        self.store
            .agent_serving(Self::lookup(caller, reference))
            .await?
            .filter(|(a, _)| a.owner == caller.account.id && caller.reaches(a.id))
            .ok_or(ServiceError::NotFound("Agent"))
    }

    /// An agent the caller owns, or another account's public agent (read-only uses, and forking).
    pub async fn readable(&self, caller: &Caller, reference: &AgentRef) -> Result<Agent, ServiceError> {
        self.find(caller, reference).await?.filter(|a| Self::may_read(caller, a)).ok_or(ServiceError::NotFound("Agent"))
    }

    /// A version of `agent`, named by its id or by its number (`3`); a version of any other agent is
    /// "not found".
    async fn version_of(&self, agent: &Agent, reference: VersionRef) -> Result<Version, ServiceError> {
        let version = match reference {
            VersionRef::Number(number) => self.store.version_by_number(agent.id, number).await?,
            VersionRef::Id(id) => self.store.version(id).await?.filter(|v| v.agent_id == agent.id),
        };
        version.ok_or(ServiceError::NotFound("Version"))
    }

    /// Versions as `caller` may see them. Another account's email is never shown: versions of a public
    /// agent read by someone else carry their author's id only. A fork's first version names the
    /// version it was forked from only to readers who may see that version's agent.
    async fn presented(
        &self,
        caller: &Caller,
        agent: &Agent,
        mut versions: Vec<Version>,
    ) -> Result<Vec<Version>, ServiceError> {
        if agent.owner == caller.account.id {
            return Ok(versions);
        }
        let origin_hidden = match agent.fork_origin.as_ref().and_then(|o| o.parent_agent_id) {
            Some(parent) if versions.iter().any(|v| v.fork_type.is_some()) => {
                !self.store.agent(parent).await?.is_some_and(|p| Self::may_read(caller, &p))
            }
            _ => false,
        };
        for version in &mut versions {
            version.created_by.email.clear();
            if origin_hidden && version.fork_type.is_some() {
                version.parent_version_id = None;
            }
        }
        Ok(versions)
    }

    async fn presented_one(&self, caller: &Caller, agent: &Agent, version: Version) -> Result<Version, ServiceError> {
        let id = version.id;
        self.presented(caller, agent, vec![version])
            .await?
            .pop()
            .ok_or_else(|| ServiceError::Internal(format!("version {id} vanished while presented")))
    }

    async fn current_version(&self, agent: &Agent) -> Result<Version, ServiceError> {
        self.store
            .version(agent.current_version_id)
            .await?
            .ok_or_else(|| ServiceError::Internal(format!("agent {} has no current version", agent.id)))
    }
}

/// A version may only name models of configured providers. `primary_field` is where the request named
/// the primary model (`model` when it sent a plain string).
fn check_models(
    providers: &[String],
    definition: &talon_domain::agent::Definition,
    primary_field: &str,
) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let model = &definition.model;
    for (field, name) in [(primary_field, Some(&model.primary)), ("model.fallback", model.fallback.as_ref())] {
        let Some(name) = name else { continue };
        let known = name
            .split_once('/')
            .is_some_and(|(provider, model)| !model.is_empty() && providers.iter().any(|p| p == provider));
        if !known {
            errors.add(
                field,
                format!(
                    "`{name}` names no configured provider; use <provider>/<model> with one of: {}",
                    providers.join(", ")
                ),
            );
        }
    }
    errors.finish(())
}
