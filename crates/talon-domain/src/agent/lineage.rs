//! Lineage: the fork tree an agent belongs to, from its root ancestor down. The store returns the
//! tree's nodes flat (one recursive query); this assembles them without recursion, so a tree of any
//! depth is built in linear time.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::fork::ForkType;
use crate::id::{AgentId, UserId, VersionId};

/// How many forks deep a lineage may go. Trees are rendered as nested JSON, so depth is bounded to keep
/// every lineage response (and the stack that renders it) small; breadth is unbounded.
pub const MAX_DEPTH: i64 = 256;

/// One agent of the tree, as the store returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct LineageEntry {
    pub id: AgentId,
    pub owner: UserId,
    pub public: bool,
    pub parent: Option<AgentId>,
    pub name: String,
    pub fork_type: Option<ForkType>,
    pub forked_from_version_id: Option<VersionId>,
    pub current_version_id: VersionId,
    pub current_version_number: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LineageNode {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fork_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forked_from_version_id: Option<String>,
    pub version_id: String,
    pub version_number: i64,
    /// The versions of this agent that merged a version of another agent of the tree, oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub merges: Vec<LineageMerge>,
    pub children: Vec<LineageNode>,
}

/// A version that merged a fork's version back.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LineageMerge {
    pub version_id: String,
    pub version_number: i64,
    pub from_agent_id: String,
    pub from_version_id: String,
    pub from_version_number: i64,
}

/// Puts each merge on the node of the agent it merged into (`into`), when both that agent and the agent
/// it merged from are in the tree: a merge from an agent the caller may not see is left out.
pub fn add_merges(root: &mut LineageNode, merges: Vec<(AgentId, LineageMerge)>) {
    if merges.is_empty() {
        return;
    }
    let mut present = HashSet::new();
    let mut stack = vec![&*root];
    while let Some(node) = stack.pop() {
        present.insert(node.id.clone());
        stack.extend(node.children.iter());
    }
    let mut by_agent: HashMap<String, Vec<LineageMerge>> = HashMap::new();
    for (into, merge) in merges {
        let into = into.to_string();
        if present.contains(&into) && present.contains(&merge.from_agent_id) {
            by_agent.entry(into).or_default().push(merge);
        }
    }
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        if let Some(merges) = by_agent.remove(&node.id) {
            node.merges.extend(merges);
        }
        stack.extend(node.children.iter_mut());
    }
}

/// Builds the tree that contains `start`: its root is the topmost ancestor of `start` present in
/// `entries` (entries a caller may not see are left out beforehand, and their subtrees with them).
/// Children are in creation order. `None` when `start` is not among the entries.
pub fn build_tree(entries: Vec<LineageEntry>, start: AgentId) -> Option<LineageNode> {
    let mut by_id: HashMap<AgentId, LineageEntry> = entries.into_iter().map(|e| (e.id, e)).collect();
    let mut root = start;
    let mut steps = 0;
    while let Some(parent) = by_id.get(&root)?.parent.filter(|p| by_id.contains_key(p)) {
        root = parent;
        steps += 1;
        if steps > by_id.len() {
            return None; // a cycle: cannot happen with forks, refuse rather than loop
        }
    }
    let mut children: HashMap<AgentId, Vec<AgentId>> = HashMap::new();
    for entry in by_id.values() {
        if let Some(parent) = entry.parent.filter(|p| by_id.contains_key(p)) {
            children.entry(parent).or_default().push(entry.id);
        }
    }
    for list in children.values_mut() {
        list.sort(); // ids are time-ordered: creation order
    }

    // Post-order without recursion: a node is built once all its children are.
    let mut built: HashMap<AgentId, LineageNode> = HashMap::with_capacity(by_id.len());
    let mut stack = vec![(root, false)];
    while let Some((id, expanded)) = stack.pop() {
        let kids = children.get(&id).map(Vec::as_slice).unwrap_or(&[]);
        if !expanded {
            stack.push((id, true));
            stack.extend(kids.iter().rev().map(|k| (*k, false)));
            continue;
        }
        let entry = by_id.remove(&id)?;
        let node = LineageNode {
            id: entry.id.to_string(),
            name: entry.name,
            fork_type: entry.fork_type.map(ForkType::as_str),
            forked_from_version_id: entry.forked_from_version_id.map(|v| v.to_string()),
            version_id: entry.current_version_id.to_string(),
            version_number: entry.current_version_number,
            merges: Vec::new(),
            children: kids.iter().filter_map(|k| built.remove(k)).collect(),
        };
        built.insert(id, node);
    }
    built.remove(&root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: AgentId, parent: Option<AgentId>, name: &str) -> LineageEntry {
        LineageEntry {
            id,
            owner: UserId::new(),
            public: false,
            parent,
            name: name.into(),
            fork_type: parent.map(|_| ForkType::PromptMutation),
            forked_from_version_id: parent.map(|_| VersionId::new()),
            current_version_id: VersionId::new(),
            current_version_number: 1,
        }
    }

    #[test]
    fn builds_a_three_level_tree_in_creation_order() {
        let (root, a, b, a1) = (AgentId::new(), AgentId::new(), AgentId::new(), AgentId::new());
        // Order of entries does not matter.
        let entries = vec![
            entry(a1, Some(a), "a1"),
            entry(b, Some(root), "b"),
            entry(root, None, "root"),
            entry(a, Some(root), "a"),
        ];
        for start in [root, a, b, a1] {
            assert_eq!(build_tree(entries.clone(), start).unwrap(), build_tree(entries.clone(), root).unwrap());
        }
        let tree = build_tree(entries, a1).unwrap();
        assert_eq!(tree.name, "root");
        assert!(tree.fork_type.is_none());
        let names: Vec<_> = tree.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(tree.children[0].children[0].name, "a1");
        assert_eq!(tree.children[0].fork_type, Some("prompt_mutation"));
    }

    #[test]
    fn the_deepest_allowed_chain_builds() {
        let mut ids = vec![AgentId::new()];
        let mut entries = vec![entry(ids[0], None, "0")];
        for i in 1..=MAX_DEPTH as usize {
            ids.push(AgentId::new());
            entries.push(entry(ids[i], Some(ids[i - 1]), &i.to_string()));
        }
        let tree = build_tree(entries, ids[MAX_DEPTH as usize]).unwrap();
        let mut node = &tree;
        let mut depth = 0;
        while let Some(child) = node.children.first() {
            node = child;
            depth += 1;
        }
        assert_eq!(depth, MAX_DEPTH);
        assert!(serde_json::to_string(&tree).is_ok());
    }

    #[test]
    fn a_hidden_ancestor_makes_the_next_visible_one_the_root() {
        let (hidden, shown, mine) = (AgentId::new(), AgentId::new(), AgentId::new());
        // `hidden` was filtered out: `shown` (its fork) becomes the root of what the caller sees.
        let tree =
            build_tree(vec![entry(shown, Some(hidden), "shown"), entry(mine, Some(shown), "mine")], mine).unwrap();
        assert_eq!(tree.name, "shown");
        assert_eq!(tree.children[0].name, "mine");
    }

    #[test]
    fn merges_go_on_the_merging_node_when_both_ends_are_shown() {
        let (root, fork, hidden) = (AgentId::new(), AgentId::new(), AgentId::new());
        let mut tree = build_tree(vec![entry(root, None, "root"), entry(fork, Some(root), "fork")], root).unwrap();
        let merge = |from: AgentId, number| LineageMerge {
            version_id: VersionId::new().to_string(),
            version_number: number,
            from_agent_id: from.to_string(),
            from_version_id: VersionId::new().to_string(),
            from_version_number: 3,
        };
        add_merges(&mut tree, vec![(root, merge(fork, 4)), (root, merge(hidden, 5)), (hidden, merge(fork, 1))]);
        assert_eq!(tree.merges.len(), 1, "the merge from a hidden agent is left out");
        assert_eq!(tree.merges[0].version_number, 4);
        assert!(tree.children[0].merges.is_empty());
        let json = serde_json::to_value(&tree).unwrap();
        assert_eq!(json["merges"][0]["fromAgentId"], fork.to_string());
        assert!(json["children"][0].get("merges").is_none(), "no merges: the node's format is unchanged");
    }

    #[test]
    fn start_must_be_present() {
        assert!(build_tree(Vec::new(), AgentId::new()).is_none());
    }
}
