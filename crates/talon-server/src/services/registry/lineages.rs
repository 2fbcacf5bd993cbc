//! Lineages, rendered once and reused while their tree is unchanged. Reading and rendering a tree of
//! thousands of agents costs far more than one look at its lineage's change count, which every write that
//! changes what a lineage shows moves in its own transaction (see `talon_store::LineageMark`). The count
//! is read from the database before the tree, so a rendering is never kept under a count older than what
//! it shows, and another replica's change is seen at the next request.

use std::collections::HashMap;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use talon_domain::agent::AgentRef;
use talon_domain::agent::lineage::{LineageMerge, LineageNode, add_merges, build_tree};
use talon_domain::{AgentId, UserId};
use talon_store::LineageMark;

use super::{Caller, RegistryService, ServiceError};

/// Renderings kept at most, and their total size at most.
const MAX_ENTRIES: usize = 64;
const MAX_BYTES: usize = 32 << 20;

/// A lineage (`talon_domain::agent::lineage::LineageNode`) as JSON, ready to be sent.
#[derive(Debug, Clone)]
pub struct LineageJson(Arc<str>);

impl LineageJson {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a rendering depends on besides the tree: where it was asked from and who may see which agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    start: AgentId,
    account: UserId,
    only_agent: Option<AgentId>,
}

struct Rendered {
    mark: LineageMark,
    json: Arc<str>,
    last_used: u64,
}

#[derive(Default)]
pub(super) struct LineageCache {
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    by_key: HashMap<Key, Rendered>,
    bytes: usize,
    clock: u64,
}

impl LineageCache {
    fn get(&self, key: &Key, mark: LineageMark) -> Option<Arc<str>> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.clock += 1;
        let now = entries.clock;
        let rendered = entries.by_key.get_mut(key).filter(|r| r.mark == mark)?;
        rendered.last_used = now;
        Some(rendered.json.clone())
    }

    fn put(&self, key: Key, mark: LineageMark, json: Arc<str>) {
        if json.len() > MAX_BYTES / 4 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.clock += 1;
        let last_used = entries.clock;
        entries.bytes += json.len();
        if let Some(old) = entries.by_key.insert(key, Rendered { mark, json, last_used }) {
            entries.bytes -= old.json.len();
        }
        // Least recently used first; the cache is small, so a scan is cheap beside a rendering.
        while entries.by_key.len() > MAX_ENTRIES || entries.bytes > MAX_BYTES {
            let Some(oldest) = entries.by_key.iter().min_by_key(|(_, r)| r.last_used).map(|(k, _)| *k) else { break };
            if let Some(gone) = entries.by_key.remove(&oldest) {
                entries.bytes -= gone.json.len();
            }
        }
    }
}

impl RegistryService {
    /// The fork tree the agent belongs to, from its topmost ancestor the caller may see, as JSON. Agents
    /// of other accounts that are not public are left out, with their forks.
    pub async fn lineage(&self, caller: &Caller, reference: &AgentRef) -> Result<LineageJson, ServiceError> {
        let agent = self.readable(caller, reference).await?;
        let key = Key { start: agent.id, account: caller.account.id, only_agent: caller.only_agent };
        let mark = self.store.lineage_mark(agent.id).await?;
        if let Some(json) = mark.and_then(|mark| self.lineages.get(&key, mark)) {
            return Ok(LineageJson(json));
        }
        let json: Arc<str> = self.render_lineage(caller, agent.id).await?.into();
        if let Some(mark) = mark {
            self.lineages.put(key, mark, json.clone());
        }
        Ok(LineageJson(json))
    }

    /// The same tree as `lineage`, as a value (for drawing it), read afresh.
    pub async fn lineage_tree(&self, caller: &Caller, reference: &AgentRef) -> Result<LineageNode, ServiceError> {
        let agent = self.readable(caller, reference).await?;
        self.visible_tree(caller, agent.id).await
    }

    async fn render_lineage(&self, caller: &Caller, agent: AgentId) -> Result<String, ServiceError> {
        let tree = self.visible_tree(caller, agent).await?;
        serde_json::to_string(&tree).map_err(|e| ServiceError::Internal(format!("lineage rendering: {e}")))
    }

    /// The tree `agent` belongs to, as `caller` may see it.
    async fn visible_tree(&self, caller: &Caller, agent: AgentId) -> Result<LineageNode, ServiceError> {
        let entries = self.store.lineage(agent).await?;
        // A key restricted to one agent sees that agent's node alone: its parent and siblings are out of reach.
        let (mut visible, hidden): (Vec<_>, Vec<_>) =
            entries.into_iter().partition(|e| (e.owner == caller.account.id || e.public) && caller.reaches(e.id));
        // A fork whose parent is hidden is shown as a root: which version of what it came from stays hidden.
        let hidden: HashSet<_> = hidden.into_iter().map(|e| e.id).collect();
        for entry in &mut visible {
            if entry.parent.is_some_and(|p| hidden.contains(&p)) {
                entry.forked_from_version_id = None;
            }
        }
        let ids: Vec<AgentId> = visible.iter().map(|e| e.id).collect();
        let mut tree = build_tree(visible, agent).ok_or(ServiceError::NotFound("Agent"))?;
        let merges = self.store.merges_into(&ids).await?;
        add_merges(
            &mut tree,
            merges
                .into_iter()
                .map(|m| {
                    let merge = LineageMerge {
                        version_id: m.version_id.to_string(),
                        version_number: m.number,
                        from_agent_id: m.from.agent_id.to_string(),
                        from_version_id: m.from.version_id.to_string(),
                        from_version_number: m.from.number,
                    };
                    (m.agent_id, merge)
                })
                .collect(),
        );
        Ok(tree)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key { start: AgentId::new(), account: UserId::new(), only_agent: None }
    }

    fn mark(changes: i64) -> LineageMark {
        LineageMark { lineage: uuid::Uuid::nil(), changes }
    }

    #[test]
    fn a_rendering_is_reused_only_under_the_same_mark() {
        let cache = LineageCache::default();
        let k = key();
        cache.put(k, mark(3), "{}".into());
        assert_eq!(cache.get(&k, mark(3)).as_deref(), Some("{}"));
        assert!(cache.get(&k, mark(4)).is_none(), "the lineage changed since");
        assert!(cache.get(&key(), mark(3)).is_none(), "another caller or start");
    }

    #[test]
    fn the_least_recently_used_renderings_go_first() {
        let cache = LineageCache::default();
        let keys: Vec<Key> = (0..=MAX_ENTRIES).map(|_| key()).collect();
        cache.put(keys[0], mark(1), "first".into());
        for k in &keys[1..MAX_ENTRIES] {
            cache.put(*k, mark(1), "x".into());
        }
        assert!(cache.get(&keys[0], mark(1)).is_some()); // used again: now the newest
        cache.put(keys[MAX_ENTRIES], mark(1), "last".into());
        assert!(cache.get(&keys[0], mark(1)).is_some());
        assert!(cache.get(&keys[1], mark(1)).is_none(), "the oldest unused one was dropped");
        let big: Arc<str> = "y".repeat(MAX_BYTES / 4).into();
        for k in &keys[2..7] {
            cache.put(*k, mark(1), big.clone());
        }
        let entries = cache.entries.lock().unwrap();
        assert!(entries.bytes <= MAX_BYTES, "held {} bytes", entries.bytes);
        assert_eq!(entries.bytes, entries.by_key.values().map(|r| r.json.len()).sum::<usize>());
    }
}
