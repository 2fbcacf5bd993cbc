//! Agents with their current version (what reading an agent shows) and with the version they serve
//! (what the chat runtime answers with), by id; and which agent an owner's slug names.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use talon_domain::agent::{Agent, Version};
use talon_domain::{AgentId, UserId, VersionId};
use talon_store::AgentLookup;

use super::aged_map::AgedMap;
use crate::services::bus::Bus;

/// An agent and one of its versions, shared by every request that reads them.
pub type AgentVersion = (Arc<Agent>, Arc<Version>);

pub struct AgentCache {
    heads: AgedMap<AgentId, AgentVersion>,
    serving: AgedMap<AgentId, AgentVersion>,
    /// Versions by id, for the arms of canary splits other than the one `serving` holds. Versions never
    /// change, so no change to an agent drops them (a split that moves drops its agent's `serving`).
    versions: AgedMap<VersionId, Arc<Version>>,
    slugs: SlugIndex,
}

impl AgentCache {
    pub fn new(capacity: usize, max_age: Duration, bus: Bus) -> Self {
        Self {
            heads: AgedMap::new(capacity, max_age, bus.clone()),
            serving: AgedMap::new(capacity, max_age, bus.clone()),
            versions: AgedMap::new(capacity, max_age, bus),
            slugs: SlugIndex::new(capacity),
        }
    }

    /// The agent `lookup` names with its current version, from the cache or else from `load`.
    pub async fn head<E, Fut>(
        &self,
        lookup: AgentLookup<'_>,
        load: impl FnOnce() -> Fut,
    ) -> Result<Option<AgentVersion>, E>
    where
        Fut: Future<Output = Result<Option<AgentVersion>, E>>,
    {
        self.lookup(&self.heads, lookup, load).await
    }

    /// The agent `lookup` names with the version it serves, from the cache or else from `load`.
    pub async fn serving<E, Fut>(
        &self,
        lookup: AgentLookup<'_>,
        load: impl FnOnce() -> Fut,
    ) -> Result<Option<AgentVersion>, E>
    where
        Fut: Future<Output = Result<Option<AgentVersion>, E>>,
    {
        self.lookup(&self.serving, lookup, load).await
    }

    /// The version `id`, from the cache or else from `load`.
    pub async fn version<E, Fut>(&self, id: VersionId, load: impl FnOnce() -> Fut) -> Result<Option<Arc<Version>>, E>
    where
        Fut: Future<Output = Result<Option<Arc<Version>>, E>>,
    {
        if let Some(found) = self.versions.get(&id) {
            return Ok(Some(found));
        }
        let ticket = self.versions.ticket();
        let loaded = load().await?;
        if let Some(found) = &loaded {
            self.versions.fill(id, found.clone(), ticket);
        }
        Ok(loaded)
    }

    async fn lookup<E, Fut>(
        &self,
        map: &AgedMap<AgentId, AgentVersion>,
        lookup: AgentLookup<'_>,
        load: impl FnOnce() -> Fut,
    ) -> Result<Option<AgentVersion>, E>
    where
        Fut: Future<Output = Result<Option<AgentVersion>, E>>,
    {
        let id = match lookup {
            AgentLookup::Id(id) => Some(id),
            AgentLookup::Slug { owner, slug } => self.slugs.get(owner, slug),
        };
        // The slug index is only a hint: the entry it points to must still carry that owner and slug
        // (any change to an agent drops its entry, so a served entry is the agent as it is).
        if let Some(found) = id.and_then(|id| map.get(&id)).filter(|(agent, _)| names(lookup, agent)) {
            return Ok(Some(found));
        }
        let ticket = map.ticket();
        let loaded = load().await?;
        if let Some(found) = loaded.as_ref().filter(|(agent, _)| names(lookup, agent)) {
            if let AgentLookup::Slug { owner, slug } = lookup {
                self.slugs.insert(owner, slug, found.0.id);
            }
            map.fill(found.0.id, found.clone(), ticket);
        }
        Ok(loaded)
    }

    pub(super) fn remove(&self, id: AgentId) {
        self.heads.remove(&id);
        self.serving.remove(&id);
    }

    /// Forks are found by a scan: their parent's deletion is rare.
    pub(super) fn remove_forks_of(&self, parent: AgentId) {
        let is_fork = |_: &AgentId, (agent, _): &AgentVersion| {
            agent.fork_origin.as_ref().and_then(|o| o.parent_agent_id) == Some(parent)
        };
        self.heads.remove_where(is_fork);
        self.serving.remove_where(is_fork);
    }

    pub(super) fn clear(&self) {
        self.heads.clear();
        self.serving.clear();
        self.versions.clear();
        self.slugs.clear();
    }
}

fn names(lookup: AgentLookup<'_>, agent: &Agent) -> bool {
    match lookup {
        AgentLookup::Id(id) => agent.id == id,
        AgentLookup::Slug { owner, slug } => agent.owner == owner && agent.slug == slug,
    }
}

/// Which agent an owner's slug last named, by a keyed hash of the two (no allocation per lookup). A
/// collision or an outdated hint only costs a read: the entry found is checked against the lookup.
struct SlugIndex {
    ids: RwLock<HashMap<u64, AgentId>>,
    hasher: RandomState,
    capacity: usize,
}

impl SlugIndex {
    fn new(capacity: usize) -> Self {
        Self { ids: RwLock::new(HashMap::new()), hasher: RandomState::new(), capacity: capacity.max(1) }
    }

    fn get(&self, owner: UserId, slug: &str) -> Option<AgentId> {
        let key = self.hasher.hash_one((owner, slug));
        self.ids.read().unwrap_or_else(|p| p.into_inner()).get(&key).copied()
    }

    fn insert(&self, owner: UserId, slug: &str, id: AgentId) {
        let key = self.hasher.hash_one((owner, slug));
        let mut ids = self.ids.write().unwrap_or_else(|p| p.into_inner());
        if ids.len() >= self.capacity && !ids.contains_key(&key) {
            ids.clear();
        }
        ids.insert(key, id);
    }

    fn clear(&self) {
        self.ids.write().unwrap_or_else(|p| p.into_inner()).clear();
    }
}
