//! Agents: the account's agents (searchable, paginated) and a form that creates one (`list`); an agent's
//! page with its head, the editor that commits a version and the version timeline (`detail`); what
//! changes its deployment, visibility or history (`actions`); one version in full (`version`); two
//! versions side by side (`compare`); the fork tree as a picture (`lineage`); who changed it (`audit`);
//! canary splits and their arms' usage (`splits`); merging a fork back (`merge`); datasets, evaluations
//! and their reports (`evaluations`).
//!
//! An agent is named in paths as the API names it: by the account's slug or by its id. Other accounts'
//! public agents are readable (by id, as the lineage links them) but only their owner sees the editor
//! and the actions; every other agent is "not found".

mod actions;
mod audit;
mod compare;
mod detail;
mod evaluations;
mod labels;
mod lineage;
mod list;
mod merge;
mod splits;
mod version;

use axum::Router;
use axum::routing::{get, post};
use maud::{Markup, html};
use talon_domain::agent::{Agent, AgentRef};

use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::session::SignedIn;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/agents", get(list::page).post(list::create))
        .route("/agents/{agent}", get(detail::page))
        .route("/agents/{agent}/versions", post(detail::commit))
        .route("/agents/{agent}/versions/{number}", get(version::page))
        .route("/agents/{agent}/compare", get(compare::page))
        .route("/agents/{agent}/lineage", get(lineage::page))
        .route("/agents/{agent}/audit", get(audit::page))
        .route("/agents/{agent}/deploy", post(actions::deploy))
        .route("/agents/{agent}/stop", post(actions::stop))
        .route("/agents/{agent}/rollback", post(actions::rollback))
        .route("/agents/{agent}/fork", post(actions::fork))
        .route("/agents/{agent}/profile", post(actions::profile))
        .route("/agents/{agent}/labels", post(labels::move_label))
        .route("/agents/{agent}/labels/{label}/delete", post(labels::delete_label))
        .route("/agents/{agent}/split", get(splits::page).post(splits::start))
        .route("/agents/{agent}/split/promote", post(splits::promote))
        .route("/agents/{agent}/split/abort", post(splits::abort))
        .route("/agents/{agent}/merge", get(merge::page).post(merge::merge))
        .route("/agents/{agent}/evaluations", get(evaluations::page).post(evaluations::start))
        .route("/agents/{agent}/evaluations/{id}", get(evaluations::report_page))
        .route("/agents/{agent}/evaluations/{id}/cancel", post(evaluations::cancel))
        .route("/agents/{agent}/datasets", post(evaluations::create_dataset))
        .route("/agents/{agent}/datasets/{name}", get(evaluations::dataset_page).post(evaluations::save_dataset))
        .route("/agents/{agent}/datasets/{name}/delete", post(evaluations::delete_dataset))
}

/// The agent a path names; text that can name no agent is "not found", like an agent that does not exist.
fn agent_ref(reference: &str) -> Result<AgentRef, WebError> {
    AgentRef::parse(reference).ok_or_else(|| WebError::not_found("Agent"))
}

/// Whether the signed-in account owns `agent` (and so may change it).
fn owns(session: &SignedIn, agent: &Agent) -> bool {
    agent.owner == session.principal.account.id
}

/// The address of an agent's page: by slug for the account's own agents (slugs are per account), by id
/// for another account's public agent.
fn agent_href(session: &SignedIn, agent: &Agent) -> String {
    if owns(session, agent) { format!("/agents/{}", agent.slug) } else { format!("/agents/{}", agent.id) }
}

/// The path prefix of an agent's pages as the request named it, once it is known to be readable.
fn base_href(reference: &AgentRef) -> String {
    match reference {
        AgentRef::Id(id) => format!("/agents/{id}"),
        AgentRef::Slug(slug) => format!("/agents/{slug}"),
    }
}

/// The links between an agent's pages (`here` is the page shown); `playground` is the slug of the
/// account's own agent, which the playground can talk to (and whose audit log its owner may read).
fn agent_nav(base: &str, here: &str, playground: Option<&str>) -> Markup {
    let links = [("Agent", base.to_owned()), ("Lineage", format!("{base}/lineage"))];
    html! {
        nav.toolbar aria-label="This agent" {
            a href="/agents" { "All agents" }
            @for (label, href) in links {
                @if label != here { a href=(href) { (label) } }
            }
            @if playground.is_some() && here != "Audit log" { a href={ (base) "/audit" } { "Audit log" } }
            @if playground.is_some() && here != "Evaluations" { a href={ (base) "/evaluations" } { "Evaluations" } }
            @if let Some(slug) = playground { a href={ "/playground?agent=" (slug) } { "Open in the playground" } }
        }
    }
}
