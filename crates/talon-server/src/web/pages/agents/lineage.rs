//! `/agents/{agent}/lineage`: the fork tree the agent belongs to, drawn as an SVG picture laid out here
//! (each node a link to its agent, the agent asked about highlighted), and the same tree as nested
//! lists. The registry leaves out other accounts' private agents before the tree reaches this page.

use axum::extract::{Path, State};
use maud::{Markup, html};
use talon_domain::agent::lineage::LineageNode;

use super::{agent_href, agent_nav, agent_ref, owns};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::layout::{self, Section};
use crate::web::session::SignedIn;

/// The picture's geometry, in SVG units.
const NODE_WIDTH: f64 = 168.0;
const NODE_HEIGHT: f64 = 46.0;
/// The distance between the centres of neighbouring columns (a node and a gap).
const COLUMN: f64 = 188.0;
/// The distance between the tops of a parent and its children.
const LEVEL: f64 = 86.0;
const MARGIN: f64 = 12.0;
// Nodes a column apart never touch.
const _: () = assert!(COLUMN > NODE_WIDTH);
/// Characters of a name a node shows; the full name is its link's title.
const NAME_CHARS: usize = 22;

pub async fn page(
    State(state): State<AppState>,
    session: SignedIn,
    Path(agent): Path<String>,
) -> Result<Markup, WebError> {
    let reference = agent_ref(&agent)?;
    let caller = session.caller();
    let agent = async { state.registry.agent(&caller, &reference).await.map_err(WebError::from) };
    let tree = async { state.registry.lineage_tree(&caller, &reference).await.map_err(WebError::from) };
    let ((agent, _), tree) = tokio::try_join!(agent, tree)?;
    let base = agent_href(&session, &agent);
    let current = agent.id.to_string();
    let nodes = flatten(&tree);
    let title = format!("Lineage of {}", agent.metadata.name);
    Ok(layout::page(
        &session,
        Section::Agents,
        &title,
        html! {
            h1 { (title) }
            (agent_nav(&base, "Lineage", owns(&session, &agent).then_some(agent.slug.as_str())))
            p.muted {
                @if nodes.len() == 1 { "No forks: this agent is alone in its tree." }
                @else { (nodes.len()) " agents in this tree, from its oldest ancestor you may see down to every fork." }
            }
            div.lineage-wrap { (picture(&agent.metadata.name, &nodes, &current)) }
            section aria-labelledby="tree-heading" {
                h2 #tree-heading { "The tree as a list" }
                ul.lineage-list { (list_item(&tree, &current)) }
            }
        },
    ))
}

/// A node of the tree in pre-order (a parent before its children, each subtree contiguous).
pub(super) struct Flat<'a> {
    pub node: &'a LineageNode,
    pub depth: usize,
    pub parent: Option<usize>,
}

/// The tree in pre-order, without recursion (a lineage may be hundreds of forks deep).
pub(super) fn flatten(root: &LineageNode) -> Vec<Flat<'_>> {
    let mut flat = Vec::new();
    let mut stack = vec![(root, 0, None)];
    while let Some((node, depth, parent)) = stack.pop() {
        let index = flat.len();
        flat.push(Flat { node, depth, parent });
        stack.extend(node.children.iter().rev().map(|child| (child, depth + 1, Some(index))));
    }
    flat
}

/// The column of each node of a tree given as each node's parent, in pre-order: leaves take the next
/// column in order, and a parent stands centred over its first and last child. Nodes of one depth are
/// then in pre-order from left to right, at least one column apart, and never overlap.
pub(super) fn columns(parents: &[Option<usize>]) -> Vec<f64> {
    let mut first_last: Vec<Option<(usize, usize)>> = vec![None; parents.len()];
    for (child, parent) in parents.iter().enumerate() {
        if let Some(p) = parent.filter(|p| *p < child) {
            let span = first_last[p].get_or_insert((child, child));
            span.1 = child;
        }
    }
    let mut column = vec![0.0; parents.len()];
    let mut next_leaf = 0.0;
    for (i, span) in first_last.iter().enumerate() {
        if span.is_none() {
            column[i] = next_leaf;
            next_leaf += 1.0;
        }
    }
    // Children come after their parent: from the end, every child is placed before its parent.
    for i in (0..parents.len()).rev() {
        if let Some((first, last)) = first_last[i] {
            column[i] = (column[first] + column[last]) / 2.0;
        }
    }
    column
}

/// The top-left corner of a node at `column` and `depth`.
fn corner(column: f64, depth: usize) -> (f64, f64) {
    (MARGIN + column * COLUMN, MARGIN + depth as f64 * LEVEL)
}

fn short(name: &str) -> String {
    if name.chars().count() <= NAME_CHARS {
        name.to_owned()
    } else {
        let mut cut: String = name.chars().take(NAME_CHARS - 1).collect();
        cut.push('…');
        cut
    }
}

fn picture(name: &str, nodes: &[Flat], current: &str) -> Markup {
    let parents: Vec<Option<usize>> = nodes.iter().map(|n| n.parent).collect();
    let column = columns(&parents);
    let widest = column.iter().copied().fold(0.0, f64::max);
    let deepest = nodes.iter().map(|n| n.depth).max().unwrap_or(0);
    let width = 2.0 * MARGIN + widest * COLUMN + NODE_WIDTH;
    let height = 2.0 * MARGIN + deepest as f64 * LEVEL + NODE_HEIGHT;
    let label = format!("The fork tree of {name}: {} agents", nodes.len());
    html! {
        svg.lineage xmlns="http://www.w3.org/2000/svg" role="group" aria-labelledby="lineage-title"
            viewBox={ "0 0 " (width) " " (height) } width=(width) height=(height) {
            title #lineage-title { (label) }
            g.edges {
                @for (i, node) in nodes.iter().enumerate() {
                    @if let Some(p) = node.parent {
                        @let (px, py) = corner(column[p], nodes[p].depth);
                        @let (cx, cy) = corner(column[i], node.depth);
                        @let (x1, y1, x2, y2) = (px + NODE_WIDTH / 2.0, py + NODE_HEIGHT, cx + NODE_WIDTH / 2.0, cy);
                        @let middle = (y1 + y2) / 2.0;
                        path d={ "M" (x1) " " (y1) " C" (x1) " " (middle) " " (x2) " " (middle) " " (x2) " " (y2) } {}
                    }
                }
            }
            @for (i, flat) in nodes.iter().enumerate() {
                @let node = flat.node;
                @let (x, y) = corner(column[i], flat.depth);
                @let here = node.id == current;
                a href={ "/agents/" (node.id) } aria-current=[here.then_some("page")] class=[here.then_some("current")] {
                    title { (node.name) ", version " (node.version_number) @if here { " (this agent)" } }
                    rect x=(x) y=(y) width=(NODE_WIDTH) height=(NODE_HEIGHT) rx="6" {}
                    text.name x=(x + NODE_WIDTH / 2.0) y=(y + 19.0) text-anchor="middle" { (short(&node.name)) }
                    text.meta x=(x + NODE_WIDTH / 2.0) y=(y + 37.0) text-anchor="middle" {
                        "v" (node.version_number)
                        @if here { " · this agent" } @else if let Some(fork) = node.fork_type { " · " (fork) }
                    }
                }
            }
        }
    }
}

/// The tree as nested lists of links; its depth is bounded (`lineage::MAX_DEPTH`).
fn list_item(node: &LineageNode, current: &str) -> Markup {
    let here = node.id == current;
    html! {
        li {
            a href={ "/agents/" (node.id) } aria-current=[here.then_some("page")] { (node.name) }
            " (version " (node.version_number)
            @if let Some(fork) = node.fork_type { ", " (fork) }
            ")"
            @if here { strong { " this agent" } }
            @if !node.children.is_empty() {
                ul { @for child in &node.children { (list_item(child, current)) } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, children: Vec<LineageNode>) -> LineageNode {
        LineageNode {
            id: name.to_owned(),
            name: name.to_owned(),
            fork_type: None,
            forked_from_version_id: None,
            version_id: String::new(),
            version_number: 1,
            merges: Vec::new(),
            children,
        }
    }

    /// Parents above children; nodes of one depth in order, a column or more apart.
    fn assert_tidy(nodes: &[Flat], column: &[f64]) {
        for (i, n) in nodes.iter().enumerate() {
            if let Some(p) = n.parent {
                assert_eq!(nodes[p].depth + 1, n.depth, "{} is one level below its parent", n.node.name);
                assert!(corner(column[p], nodes[p].depth).1 + NODE_HEIGHT < corner(column[i], n.depth).1);
            }
            for (j, m) in nodes.iter().enumerate().skip(i + 1) {
                if m.depth == n.depth {
                    assert!(column[j] - column[i] >= 1.0, "{} and {} overlap", n.node.name, m.node.name);
                }
            }
        }
    }

    #[test]
    fn a_tree_is_laid_out_tidily() {
        let tree = node(
            "root",
            vec![
                node("a", vec![node("a1", vec![]), node("a2", vec![node("a2x", vec![])]), node("a3", vec![])]),
                node("b", vec![]),
                node("c", vec![node("c1", vec![])]),
            ],
        );
        let nodes = flatten(&tree);
        let names: Vec<&str> = nodes.iter().map(|n| n.node.name.as_str()).collect();
        assert_eq!(names, ["root", "a", "a1", "a2", "a2x", "a3", "b", "c", "c1"]);
        let column = columns(&nodes.iter().map(|n| n.parent).collect::<Vec<_>>());
        assert_tidy(&nodes, &column);
        assert_eq!(column[2..7], [0.0, 1.0, 1.0, 2.0, 3.0], "leaves left to right; a2 over its only child");
        assert_eq!(column[1], 1.0, "a centred over a1 and a3");
        assert_eq!(column[7], 4.0);
        assert_eq!(column[0], 2.5, "the root centred over a and c");
    }

    #[test]
    fn a_lone_agent_and_a_deep_chain_lay_out() {
        let alone = node("alone", vec![]);
        assert_eq!(columns(&[None]), [0.0]);
        assert_eq!(flatten(&alone).len(), 1);
        let mut chain = node("leaf", vec![]);
        for i in 0..300 {
            chain = node(&format!("n{i}"), vec![chain]);
        }
        let nodes = flatten(&chain);
        let column = columns(&nodes.iter().map(|n| n.parent).collect::<Vec<_>>());
        assert_eq!(nodes.len(), 301);
        assert!(column.iter().all(|c| *c == 0.0), "a chain is one column");
        assert_tidy(&nodes, &column);
    }

    #[test]
    fn the_picture_links_every_node_and_marks_the_current_one() {
        let tree = node("root", vec![node("fork", vec![]), node("<b>", vec![])]);
        let nodes = flatten(&tree);
        let svg = picture("root", &nodes, "fork").into_string();
        assert_eq!(svg.matches("<a href=\"/agents/").count(), 3);
        assert!(svg.contains("<a href=\"/agents/fork\" aria-current=\"page\" class=\"current\">"), "{svg}");
        assert!(!svg.contains("<b>"), "names are escaped");
        assert_eq!(short("a name much longer than a node can show"), "a name much longer th…");
    }
}
