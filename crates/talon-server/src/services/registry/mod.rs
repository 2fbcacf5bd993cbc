//! The agent registry: agents, their immutable versions, forks, lineage and deployment.

mod agents;
mod appends;
mod forks;
mod labels;
mod lineages;
mod merges;
mod splits;
mod versions;

use std::sync::Arc;

use talon_domain::agent::{Agent, AgentRef, Version, VersionRef};
use talon_domain::{AgentId, ValidationErrors};
use talon_store::{AgentLookup, Store};

pub use agents::{NewAgent, ProfileChange};
pub use forks::{Fork, ForkRequest};
pub use lineages::LineageJson;
pub use merges::{MergeOutcome, MergePreview, MergeRequest};
pub use versions::{NewVersion, VersionRequest};

use super::cache::{AgentVersion, Caches, Invalidation};
use super::{Caller, ServiceError, Signal};
use appends::Appender;
use lineages::LineageCache;

pub struct RegistryService {
    store: Arc<dyn Store>,
    /// Agents as reads and the chat runtime see them; every change here invalidates its agent.
    caches: Arc<Caches>,
    appender: Arc<Appender>,
    lineages: LineageCache,
    outbox: Signal,
    /// Names a version's models may start with (`<provider>/<model>`).
    providers: Arc<[String]>,
}

impl RegistryService {
    pub fn new(store: Arc<dyn Store>, caches: Arc<Caches>, outbox: Signal, providers: Vec<String>) -> Self {
        let providers: Arc<[String]> = providers.into();
        let appender = Appender::new(store.clone(), outbox.clone(), providers.clone());
        Self { store, caches, appender, lineages: LineageCache::default(), outbox, providers }
    }

    /// Drops the agent's cached entries here and on every replica; call once the change is committed.
    fn changed(&self, agent: AgentId) {
        self.caches.invalidate(Invalidation::Agent(agent));
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

    /// Like `find`, with the agent's current version, from the agent cache (read-only uses: what is
    /// changed is always read from the store).
    async fn find_head(&self, caller: &Caller, reference: &AgentRef) -> Result<Option<AgentVersion>, ServiceError> {
        let lookup = Self::lookup(caller, reference);
        self.caches
            .agents
            .head(lookup, || async {
                let id = match lookup {
                    AgentLookup::Id(id) => id,
                    AgentLookup::Slug { owner, slug } => match self.store.agent_by_slug(owner, slug).await? {
                        Some(agent) => agent.id,
                        None => return Ok(None),
                    },
                };
                Ok(self.store.agent_head(id).await?.map(|(agent, head)| (Arc::new(agent), Arc::new(head))))
            })
            .await
    }

    /// An agent by id, from the agent cache, for read-only uses.
    async fn cached_agent(&self, id: AgentId) -> Result<Option<Arc<Agent>>, ServiceError> {
        let head = self
            .caches
            .agents
            .head(AgentLookup::Id(id), || async {
                Ok::<_, ServiceError>(
                    self.store.agent_head(id).await?.map(|(agent, head)| (Arc::new(agent), Arc::new(head))),
                )
            })
            .await?;
        Ok(head.map(|(agent, _)| agent))
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

    /// An agent the caller owns with the version it serves (deployed, else current): from the agent
    /// cache, else in one query.
    pub async fn owned_serving(&self, caller: &Caller, reference: &AgentRef) -> Result<AgentVersion, ServiceError> {
        let lookup = Self::lookup(caller, reference);
        self.caches
            .agents
            .serving(lookup, || async {
                let found = self.store.agent_serving(lookup).await?;
                Ok::<_, ServiceError>(found.map(|(agent, served)| (Arc::new(agent), Arc::new(served))))
            })
            .await?
            .filter(|(a, _)| a.owner == caller.account.id && caller.reaches(a.id))
            .ok_or(ServiceError::NotFound("Agent"))
    }

    /// An agent the caller owns, or another account's public agent (read-only uses, and forking).
    pub async fn readable(&self, caller: &Caller, reference: &AgentRef) -> Result<Agent, ServiceError> {
        self.find(caller, reference).await?.filter(|a| Self::may_read(caller, a)).ok_or(ServiceError::NotFound("Agent"))
    }

    /// A version of `agent`, named by its id, by its number (`3`) or by one of its labels
    /// (`production`): the one place a label is resolved. A version of any other agent is "not found", an
    /// unknown label is "not found" naming it.
    pub(crate) async fn version_of(&self, agent: &Agent, reference: &VersionRef) -> Result<Version, ServiceError> {
        let version = match reference {
            VersionRef::Number(number) => self.store.version_by_number(agent.id, *number).await?,
            VersionRef::Id(id) => self.store.version(*id).await?.filter(|v| v.agent_id == agent.id),
            VersionRef::Label(name) => {
                return self
                    .store
                    .labeled_version(agent.id, name)
                    .await?
                    .ok_or_else(|| ServiceError::LabelNotFound(name.clone()));
            }
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
            // A merge names the fork it merged only to readers who may see that fork.
            for version in &mut versions {
                self.hide_unseen_merge(caller, version).await?;
            }
            return Ok(versions);
        }
        let origin_hidden = match agent.fork_origin.as_ref().and_then(|o| o.parent_agent_id) {
            Some(parent) if versions.iter().any(|v| v.fork_type.is_some()) => {
                !self.cached_agent(parent).await?.is_some_and(|p| Self::may_read(caller, &p))
            }
            _ => false,
        };
        for version in &mut versions {
            version.created_by.email.clear();
            if origin_hidden && version.fork_type.is_some() {
                version.parent_version_id = None;
            }
            self.hide_unseen_merge(caller, version).await?;
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
