use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Value, json};
use talon_domain::agent::{
    Agent, AgentRef, Author, DefinitionChange, MetadataChange, Version, commit_message, default_commit_message,
    free_slug, slug_from_name, validate_slug,
};
use talon_domain::event::{self, Event};
use talon_domain::time::now;
use talon_domain::{AgentId, ValidationErrors, VersionId};
use talon_store::{AgentFilter, DeleteOutcome, Deployment, Page, StoreError, Window};

use super::{Caller, RegistryService, ServiceError};
use crate::services::cache::Invalidation;

/// How many times a derived slug is chosen afresh after losing a race for it before giving up.
const SLUG_ATTEMPTS: usize = 8;

/// A new agent: its metadata and its first version's definition.
#[derive(Debug, Default)]
pub struct NewAgent {
    pub metadata: MetadataChange,
    /// Derived from the name when not given.
    pub slug: Option<String>,
    pub public: bool,
    pub definition: DefinitionChange,
    pub commit_message: Option<String>,
}

/// A change to an agent's metadata, visibility or chat API access; absent fields are left as they are.
#[derive(Debug, Default)]
pub struct ProfileChange {
    pub metadata: MetadataChange,
    pub public: Option<bool>,
    pub api_access: Option<bool>,
}

/// Adds every error of `more` to `errors`.
fn absorb(errors: &mut ValidationErrors, more: ValidationErrors) {
    for e in more.into_fields() {
        errors.add(e.field, e.message);
    }
}

impl RegistryService {
    pub(super) fn author(caller: &Caller) -> Author {
        Author { id: caller.account.id, email: caller.account.email.clone() }
    }
}

pub(super) fn agent_event_data(agent: &Agent) -> Value {
    json!({
        "id": agent.id.to_string(),
        "name": agent.metadata.name,
        "slug": agent.slug,
        "status": agent.status.as_str(),
        "currentVersionId": agent.current_version_id.to_string(),
    })
}

pub(super) fn version_event_data(version: &Version) -> Value {
    json!({
        "id": version.id.to_string(),
        "agentId": version.agent_id.to_string(),
        "versionNumber": version.number,
        "parentVersionId": version.parent_version_id.map(|v| v.to_string()),
        "commitMessage": version.commit_message,
    })
}

impl RegistryService {
    pub async fn create_agent(&self, caller: &Caller, input: NewAgent) -> Result<(Agent, Version), ServiceError> {
        let mut errors = ValidationErrors::new();
        let metadata = input.metadata.into_new(&mut errors);
        if let Some(Err(message)) = input.slug.as_deref().map(validate_slug) {
            errors.add("slug", message);
        }
        let message = commit_message(input.commit_message.as_deref(), &mut errors);
        let primary_field = input.definition.primary_model_field();
        let definition = match input.definition.into_new_definition() {
            Ok(definition) => Some(definition),
            Err(more) => {
                absorb(&mut errors, more);
                None
            }
        };
        if let Some(Err(more)) = definition.as_ref().map(|d| self.check_models(d, primary_field)) {
            absorb(&mut errors, more);
        }
        let definition = match (errors.is_empty(), definition) {
            (true, Some(definition)) => definition,
            _ => return Err(errors.into()),
        };

        let message = message.unwrap_or_else(|| default_commit_message(&[]));
        let version = Version::first(AgentId::new(), definition, message, Self::author(caller), now());
        let base_slug = input.slug.clone().unwrap_or_else(|| slug_from_name(&metadata.name));
        let mut agent = Agent { public: input.public, ..Agent::new(caller.account.id, base_slug, metadata, &version) };
        self.insert_with_free_slug(&mut agent, &version, input.slug.is_some(), |agent| {
            vec![
                Event::new(agent.owner, event::AGENT_CREATED, agent_event_data(agent)).by(&caller.actor),
                Event::new(agent.owner, event::VERSION_CREATED, version_event_data(&version)).by(&caller.actor),
            ]
        })
        .await?;
        Ok((agent, version))
    }

    /// Inserts `agent`. A derived slug becomes the first free one of `slug`, `slug-2`, `slug-3`, … as one
    /// query finds them; a writer that loses a race for it reads again and, to avoid losing the next race
    /// to the same writers, picks a free slug a little further on.
    pub(super) async fn insert_with_free_slug(
        &self,
        agent: &mut Agent,
        version: &Version,
        slug_was_chosen: bool,
        events: impl Fn(&Agent) -> Vec<Event>,
    ) -> Result<(), ServiceError> {
        let base = agent.slug.clone();
        // The random low bytes of the new agent's id spread racing writers apart.
        let spread = usize::from(agent.id.as_uuid().as_bytes()[15]);
        for attempt in 0..SLUG_ATTEMPTS {
            if !slug_was_chosen {
                let taken: HashSet<String> = self.store.taken_slugs(agent.owner, &base).await?.into_iter().collect();
                let skip = if attempt == 0 { 0 } else { spread % (attempt * 8) };
                agent.slug = free_slug(&base, &taken, skip);
            }
            match self.store.insert_agent(agent, version, &events(agent)).await {
                Ok(()) => {
                    // A fork is counted on its parent.
                    if let Some(parent) = agent.fork_origin.as_ref().and_then(|o| o.parent_agent_id) {
                        self.changed(parent);
                    }
                    self.outbox.ring();
                    return Ok(());
                }
                Err(StoreError::Conflict(_)) if slug_was_chosen => {
                    return Err(ServiceError::Conflict(format!("You already have an agent with slug `{base}`")));
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Conflict(format!("Too many agents named like `{base}` are being created at once; retry")))
    }

    /// An agent the caller may read, with its current version (from the agent cache).
    pub async fn agent(&self, caller: &Caller, reference: &AgentRef) -> Result<(Agent, Version), ServiceError> {
        let (agent, current) = self
            .find_head(caller, reference)
            .await?
            .filter(|(a, _)| Self::may_read(caller, a))
            .ok_or(ServiceError::NotFound("Agent"))?;
        let (agent, current) = (Arc::unwrap_or_clone(agent), Arc::unwrap_or_clone(current));
        let current = self.presented_one(caller, &agent, current).await?;
        Ok((agent, current))
    }

    /// The parent of a fork (for showing `parentAgent`), if it still exists and the caller may read it:
    /// a public fork of a private agent names no parent to other accounts.
    pub async fn parent_of(&self, caller: &Caller, agent: &Agent) -> Result<Option<Arc<Agent>>, ServiceError> {
        match agent.fork_origin.as_ref().and_then(|o| o.parent_agent_id) {
            Some(parent) => Ok(self.cached_agent(parent).await?.filter(|p| Self::may_read(caller, p))),
            None => Ok(None),
        }
    }

    pub async fn list_agents(
        &self,
        caller: &Caller,
        deployed_only: bool,
        window: Window,
    ) -> Result<Page<Agent>, ServiceError> {
        let filter = AgentFilter { deployed_only, only: caller.only_agent, search: None };
        Ok(self.store.list_agents(caller.account.id, filter, window).await?)
    }

    /// The caller's agents whose name or slug contains `search`, ignoring case, oldest first. The
    /// matches are not counted (the page's total is `talon_store::SEARCH_NOT_COUNTED`).
    pub async fn search_agents(
        &self,
        caller: &Caller,
        search: &str,
        window: Window,
    ) -> Result<Page<Agent>, ServiceError> {
        let filter = AgentFilter { deployed_only: false, only: caller.only_agent, search: Some(search) };
        Ok(self.store.list_agents(caller.account.id, filter, window).await?)
    }

    /// The numbers of the versions `agents` name (current, and deployed when pinned), in one query: for
    /// lists of agents that show them.
    pub async fn version_numbers(&self, agents: &[Agent]) -> Result<HashMap<VersionId, i64>, ServiceError> {
        let mut ids: Vec<VersionId> =
            agents.iter().flat_map(|a| std::iter::once(a.current_version_id).chain(a.deployed_version_id)).collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(self.store.version_numbers(&ids).await?.into_iter().collect())
    }

    pub async fn update_profile(
        &self,
        caller: &Caller,
        reference: &AgentRef,
        input: ProfileChange,
    ) -> Result<Agent, ServiceError> {
        let mut agent = self.owned(caller, reference).await?;
        let mut errors = ValidationErrors::new();
        let metadata = input.metadata.apply(&agent.metadata, &mut errors);
        let public = input.public.unwrap_or(agent.public);
        let api_access = input.api_access.unwrap_or(agent.api_access);
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let mut changed = Vec::new();
        for (field, differs) in [
            ("name", metadata.name != agent.metadata.name),
            ("description", metadata.description != agent.metadata.description),
            ("capabilities", metadata.capabilities != agent.metadata.capabilities),
            ("public", public != agent.public),
            ("apiAccess", api_access != agent.api_access),
        ] {
            if differs {
                changed.push(field);
            }
        }
        agent.metadata = metadata;
        agent.public = public;
        agent.api_access = api_access;
        if changed.is_empty() {
            return Ok(agent);
        }
        agent.updated_at = now();
        let mut data = agent_event_data(&agent);
        data["changed"] = json!(changed);
        let event = Event::new(agent.owner, event::AGENT_UPDATED, data).by(&caller.actor);
        self.store.update_agent_profile(&agent, &event).await?;
        self.changed(agent.id);
        self.outbox.ring();
        Ok(agent)
    }

    pub async fn delete_agent(&self, caller: &Caller, reference: &AgentRef, force: bool) -> Result<(), ServiceError> {
        let agent = self.owned(caller, reference).await?;
        let event = Event::new(agent.owner, event::AGENT_DELETED, agent_event_data(&agent)).by(&caller.actor);
        match self.store.delete_agent(agent.id, force, &event).await? {
            DeleteOutcome::Deleted => {
                self.changed(agent.id);
                // Its parent counts one fork less; its forks no longer name it.
                if let Some(parent) = agent.fork_origin.as_ref().and_then(|o| o.parent_agent_id) {
                    self.changed(parent);
                }
                if agent.fork_count > 0 {
                    self.caches.invalidate(Invalidation::Forks(agent.id));
                }
                self.outbox.ring();
                Ok(())
            }
            DeleteOutcome::NotFound => Err(ServiceError::NotFound("Agent")),
            DeleteOutcome::HasForks(n) => Err(ServiceError::Conflict(format!(
                "The agent has {n} fork(s); delete with ?force=true to keep the forks as independent agents"
            ))),
            DeleteOutcome::HasRunningTasks(n) => Err(ServiceError::Conflict(format!(
                "The agent has {n} running task(s); delete with ?force=true to delete them too"
            ))),
        }
    }

    pub async fn stop(&self, caller: &Caller, reference: &AgentRef) -> Result<Agent, ServiceError> {
        let mut agent = self.owned(caller, reference).await?;
        agent.status = agent.status.stop().map_err(|e| ServiceError::Conflict(e.to_string()))?;
        agent.updated_at = now();
        let event = Event::new(agent.owner, event::AGENT_STOPPED, agent_event_data(&agent)).by(&caller.actor);
        let deployment = Deployment {
            status: agent.status,
            deployed_version_id: agent.deployed_version_id,
            deployed_at: agent.deployed_at,
        };
        self.store.set_deployment(agent.id, deployment, agent.updated_at, &event).await?;
        self.changed(agent.id);
        self.outbox.ring();
        Ok(agent)
    }
}

impl RegistryService {
    /// The version a deployed agent serves: its pinned version, or else its current one.
    pub async fn served_version(&self, agent: &Agent) -> Result<Version, ServiceError> {
        let id = agent.deployed_version_id.unwrap_or(agent.current_version_id);
        self.store.version(id).await?.ok_or_else(|| ServiceError::Internal(format!("version {id} is missing")))
    }
}
