//! `/agents/{agent}/audit`: the agent's audit log, newest first, a page at a time (older entries by
//! cursor), and the few latest entries the agent's page shows. Only the agent's owner sees its log.

use axum::extract::{Path, Query, State};
use maud::{Markup, html};
use serde::Deserialize;
use talon_domain::AuditId;
use talon_domain::agent::AgentRef;
use talon_domain::audit::{Actor, AuditEntry};
use talon_store::{Page, Window};

use super::{agent_href, agent_nav, agent_ref, owns};
use crate::services::audit::AuditQuery;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::layout::{self, Section, when};
use crate::web::session::SignedIn;

/// Entries a page of the full log shows.
const PAGE: i64 = 50;
/// Entries the agent's page shows.
pub(super) const RECENT: i64 = 5;

#[derive(Debug, Default, Deserialize)]
pub struct AuditPageQuery {
    /// The entry after which the page starts (older ones follow).
    after: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    session: SignedIn,
    Path(agent): Path<String>,
    Query(query): Query<AuditPageQuery>,
) -> Result<Markup, WebError> {
    let reference = agent_ref(&agent)?;
    let (agent, _) = state.registry.agent(&session.caller(), &reference).await?;
    if !owns(&session, &agent) {
        return Err(WebError::not_found("Agent"));
    }
    let window = match query.after.as_deref().map(AuditId::parse) {
        Some(Ok(after)) => Window::After { id: *after.as_uuid(), limit: PAGE },
        _ => Window::Offset { offset: 0, limit: PAGE },
    };
    let entries = entries_of(&state, &session, agent.id, window).await?;
    let base = agent_href(&session, &agent);
    let title = format!("Audit log of {}", agent.metadata.name);
    let older = entries.items.last().filter(|_| entries.has_more).map(|e| e.id.to_string());
    Ok(layout::page(
        &session,
        Section::Agents,
        &title,
        html! {
            h1 { (title) }
            (agent_nav(&base, "Audit log", Some(agent.slug.as_str())))
            p.muted { "Who changed this agent, its versions, deployments and labels, and when. Entries are never deleted." }
            (table(&entries.items))
            nav.toolbar aria-label="Audit log pages" {
                @if query.after.is_some() { a href={ (base) "/audit" } { "The newest entries" } }
                @if let Some(older) = older { a href={ (base) "/audit?after=" (older) } { "Older entries" } }
            }
        },
    ))
}

/// The agent's latest entries, for its page.
pub(super) async fn recent(
    state: &AppState,
    session: &SignedIn,
    agent: talon_domain::AgentId,
) -> Result<Vec<AuditEntry>, WebError> {
    Ok(entries_of(state, session, agent, Window::Offset { offset: 0, limit: RECENT }).await?.items)
}

async fn entries_of(
    state: &AppState,
    session: &SignedIn,
    agent: talon_domain::AgentId,
    window: Window,
) -> Result<Page<AuditEntry>, WebError> {
    let query = AuditQuery { agent: Some(AgentRef::Id(agent)), ..AuditQuery::default() };
    Ok(state.audit.list(&session.caller(), query, window).await?)
}

/// The short list on the agent's page, with a link to the whole log.
pub(super) fn recent_section(entries: &[AuditEntry], base: &str) -> Markup {
    html! {
        section aria-labelledby="audit-heading" {
            h2 #audit-heading { "Recent changes" }
            (table(entries))
            p { a href={ (base) "/audit" } { "The whole audit log" } }
        }
    }
}

fn table(entries: &[AuditEntry]) -> Markup {
    html! {
        @if entries.is_empty() {
            p { "No changes recorded." }
        } @else {
            table {
                thead { tr { th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "What" } th scope="col" { "Resource" } } }
                tbody {
                    @for entry in entries {
                        tr {
                            td { (when(entry.at)) }
                            td { (who(&entry.actor)) }
                            td { code { (entry.action) } }
                            td {
                                (entry.resource_type)
                                @if let Some(id) = &entry.resource_id { " " code { (id) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn who(actor: &Actor) -> Markup {
    match actor {
        Actor::Session { .. } => html! { "A session " code { (actor.public_id().unwrap_or_default()) } },
        Actor::ApiKey { .. } => html! { "API key " code { (actor.public_id().unwrap_or_default()) } },
        Actor::System => html! { "Talon" },
        Actor::OtherAccount => html! { "Another account" },
    }
}
