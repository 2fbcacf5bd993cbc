//! `/agents/{agent}/compare?from=N&to=M`: two versions side by side. The prompt is aligned line by line
//! (removed lines on the left, added lines on the right, changed lines facing each other); the model,
//! tools and config changes are listed from the registry's diff.

use std::ops::Range;

use axum::extract::{Path, Query, State};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;
use similar::{DiffTag, TextDiff};
use talon_domain::agent::VersionRef;
use talon_domain::agent::diff::{Change, DefinitionDiff, ObjectDiff};

use super::detail::compare_form;
use super::{agent_href, agent_nav, agent_ref, owns};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::layout::{self, Section};
use crate::web::session::SignedIn;

/// `?from=&to=`: version numbers; `to` is the head and `from` the version before it when left out.
#[derive(Debug, Default, Deserialize)]
pub struct CompareQuery {
    from: Option<String>,
    to: Option<String>,
}

/// A version number from the query; text that names no version is "not found".
fn number(raw: Option<&str>, default: i64) -> Result<i64, WebError> {
    match raw.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(default),
        Some(text) => text.parse::<i64>().ok().filter(|n| *n >= 1).ok_or_else(|| WebError::not_found("Version")),
    }
}

pub async fn page(
    State(state): State<AppState>,
    session: SignedIn,
    Path(agent): Path<String>,
    Query(query): Query<CompareQuery>,
) -> Result<Markup, WebError> {
    let reference = agent_ref(&agent)?;
    let caller = session.caller();
    let (agent, head) = state.registry.agent(&caller, &reference).await?;
    let to = number(query.to.as_deref(), head.number)?;
    let from = number(query.from.as_deref(), (to - 1).max(1))?;
    let (old, new, diff) =
        state.registry.compare(&caller, &reference, VersionRef::Number(from), VersionRef::Number(to)).await?;
    let base = agent_href(&session, &agent);
    let title = format!("{}: version {from} and version {to}", agent.metadata.name);
    let rows = side_by_side(&old.definition.prompt, &new.definition.prompt);
    Ok(layout::page(
        &session,
        Section::Agents,
        &title,
        html! {
            h1 { (agent.metadata.name) ": version " (from) " and version " (to) }
            (agent_nav(&base, "", owns(&session, &agent).then_some(agent.slug.as_str())))
            (compare_form(&base, head.number, from, to))
            p {
                @if diff.is_empty() { "The two versions have the same definition." }
                @else { "Changed: " (diff.changed_parts().join(", ")) "." }
            }
            section aria-labelledby="prompt-heading" {
                h2 #prompt-heading { "Prompt" }
                @match &diff.prompt {
                    Some(p) => p.muted { (lines(p.added)) " added, " (lines(p.removed)) " removed." },
                    None => p.muted { "The prompt is the same." },
                }
                (diff_table(from, to, &rows))
            }
            section aria-labelledby="changes-heading" {
                h2 #changes-heading { "Model, tools and config" }
                (changes(&diff))
            }
        },
    ))
}

/// One line of one side of the table: its number (from 1) and text, and whether it is not on the other
/// side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Side<'a> {
    pub number: usize,
    pub text: &'a str,
    pub changed: bool,
}

/// A row of the side-by-side table; a side is empty where the other has a line it lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Row<'a> {
    pub old: Option<Side<'a>>,
    pub new: Option<Side<'a>>,
}

/// `old` and `new` aligned line by line: equal lines side by side, and each run of removed and added
/// lines paired up in order, the longer side's rest facing empty cells.
pub(super) fn side_by_side<'a>(old: &'a str, new: &'a str) -> Vec<Row<'a>> {
    let diff = TextDiff::from_lines(old, new);
    let (old_lines, new_lines) = (diff.old_slices(), diff.new_slices());
    let line = |lines: &[&'a str], i: usize, changed: bool| Side {
        number: i + 1,
        text: lines[i].trim_end_matches('\n').trim_end_matches('\r'),
        changed,
    };
    let mut rows = Vec::with_capacity(old_lines.len().max(new_lines.len()));
    let (mut removed, mut added): (Vec<usize>, Vec<usize>) = (Vec::new(), Vec::new());
    let flush = |rows: &mut Vec<Row<'a>>, removed: &mut Vec<usize>, added: &mut Vec<usize>| {
        for i in 0..removed.len().max(added.len()) {
            rows.push(Row {
                old: removed.get(i).map(|&r| line(old_lines, r, true)),
                new: added.get(i).map(|&a| line(new_lines, a, true)),
            });
        }
        removed.clear();
        added.clear();
    };
    for op in diff.ops() {
        let (tag, old_range, new_range): (DiffTag, Range<usize>, Range<usize>) = op.as_tag_tuple();
        match tag {
            DiffTag::Equal => {
                flush(&mut rows, &mut removed, &mut added);
                for (o, n) in old_range.zip(new_range) {
                    rows.push(Row { old: Some(line(old_lines, o, false)), new: Some(line(new_lines, n, false)) });
                }
            }
            DiffTag::Delete | DiffTag::Insert | DiffTag::Replace => {
                removed.extend(old_range);
                added.extend(new_range);
            }
        }
    }
    flush(&mut rows, &mut removed, &mut added);
    rows
}

fn diff_table(from: i64, to: i64, rows: &[Row]) -> Markup {
    let cells = |side: Option<Side>, class: &str| {
        html! {
            @match side {
                Some(s) => {
                    td.n { (s.number) }
                    td class=[s.changed.then_some(class)] { (s.text) }
                },
                None => { td.n {} td.none {} },
            }
        }
    };
    html! {
        table.diff {
            // A fixed layout takes its widths from the first row, whose headings span two columns.
            colgroup { col.n; col; col.n; col; }
            thead {
                tr {
                    th scope="col" colspan="2" { "Version " (from) }
                    th scope="col" colspan="2" { "Version " (to) }
                }
            }
            tbody {
                @for row in rows {
                    tr { (cells(row.old, "del")) (cells(row.new, "ins")) }
                }
            }
        }
    }
}

fn lines(n: usize) -> String {
    if n == 1 { "1 line".to_owned() } else { format!("{n} lines") }
}

fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn changes(diff: &DefinitionDiff) -> Markup {
    let mut items: Vec<Markup> = Vec::new();
    if let Some(model) = &diff.model {
        if let Some(change) = &model.primary {
            items.push(change_item("Model", change));
        }
        if let Some(change) = &model.fallback {
            items.push(change_item("Fallback model", change));
        }
    }
    if let Some(tools) = &diff.tools {
        for name in &tools.added {
            items.push(html! { li.added { "Tool " code { (name) } " added" } });
        }
        for name in &tools.removed {
            items.push(html! { li.removed { "Tool " code { (name) } " removed" } });
        }
        for (name, change) in &tools.changed {
            let mut parts = Vec::new();
            if change.description.is_some() {
                parts.push("its description".to_owned());
            }
            if let Some(parameters) = &change.parameters {
                parts.push(format!("its parameters ({})", keys(parameters)));
            }
            items.push(html! { li.changed { "Tool " code { (name) } " changed: " (parts.join(" and ")) } });
        }
    }
    if let Some(config) = &diff.config {
        for (key, value) in &config.added {
            items.push(html! { li.added { "Config " code { (key) } " set to " code { (compact(value)) } } });
        }
        for (key, value) in &config.removed {
            items
                .push(html! { li.removed { "Config " code { (key) } " removed (was " code { (compact(value)) } ")" } });
        }
        for (key, change) in &config.changed {
            items.push(change_item(&format!("Config {key}"), change));
        }
    }
    html! {
        @if items.is_empty() {
            p { "No changes to the model, tools or config." }
        } @else {
            ul.changes { @for item in items { (item) } }
        }
    }
}

/// A value that changed; from or to nothing (`null`) reads as added or removed.
fn change_item(what: &str, change: &Change) -> Markup {
    html! {
        @match (&change.from, &change.to) {
            (Value::Null, to) => li.added { (what) " set to " code { (compact(to)) } },
            (from, Value::Null) => li.removed { (what) " removed (was " code { (compact(from)) } ")" },
            (from, to) => li.changed { (what) ": " code { (compact(from)) } " → " code { (compact(to)) } },
        }
    }
}

fn keys(diff: &ObjectDiff) -> String {
    let names: Vec<&str> =
        diff.added.keys().chain(diff.removed.keys()).chain(diff.changed.keys()).map(String::as_str).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(rows: &[Row]) -> Vec<String> {
        let side = |s: Option<Side>| match s {
            Some(s) if s.changed => format!("{}*{}", s.number, s.text),
            Some(s) => format!("{}:{}", s.number, s.text),
            None => "-".to_owned(),
        };
        rows.iter().map(|r| format!("{} | {}", side(r.old), side(r.new))).collect()
    }

    #[test]
    fn changed_lines_face_each_other_and_equal_lines_align() {
        let rows = side_by_side("a\nb\nc\nd\n", "a\nB\nc\nd\ne\n");
        assert_eq!(show(&rows), ["1:a | 1:a", "2*b | 2*B", "3:c | 3:c", "4:d | 4:d", "- | 5*e"]);
    }

    #[test]
    fn a_longer_run_on_one_side_faces_empty_cells() {
        let rows = side_by_side("keep\nx\ny\nz\nend", "keep\nX\nend");
        assert_eq!(show(&rows), ["1:keep | 1:keep", "2*x | 2*X", "3*y | -", "4*z | -", "5:end | 3:end"]);
    }

    #[test]
    fn identical_text_has_no_changed_line() {
        let rows = side_by_side("one\r\ntwo", "one\r\ntwo");
        assert_eq!(show(&rows), ["1:one | 1:one", "2:two | 2:two"]);
        assert!(side_by_side("", "").is_empty());
    }
}
