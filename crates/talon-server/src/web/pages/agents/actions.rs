//! What changes an agent besides a commit: deploy (the head, or a chosen version), stop, roll back to a
//! version, fork, and the public and API-access switches. Each is a form posted to the same registry
//! call the API makes, answered with `303` back to a page and a notice.

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use talon_domain::agent::{Agent, AgentStatus, DefinitionChange, ForkType, MetadataChange, VersionRef};

use super::super::redirect::see_other;
use super::detail::{Loaded, VERSION_CHOICES};
use super::{agent_ref, base_href, splits};
use crate::services::registry::{ForkRequest, ProfileChange};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::form::{CsrfForm, NoFields};
use crate::web::layout::csrf_field;
use crate::web::session::SignedIn;

/// A version named by a form: its number; empty names none.
#[derive(Debug, Default, Deserialize)]
pub struct VersionForm {
    #[serde(default)]
    version: String,
}

impl VersionForm {
    /// `None` when empty; a number that names no version is "not found", as in the API.
    fn version(&self) -> Result<Option<VersionRef>, WebError> {
        match self.version.trim() {
            "" | "head" => Ok(None),
            text => text
                .parse::<i64>()
                .ok()
                .and_then(VersionRef::number)
                .map(Some)
                .ok_or_else(|| WebError::not_found("Version")),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ForkForm {
    #[serde(default)]
    name: String,
}

/// The switches as posted: each present one is set to its value.
#[derive(Debug, Default, Deserialize)]
pub struct ProfileForm {
    public: Option<String>,
    api_access: Option<String>,
}

fn switch(value: Option<&str>, field: &str) -> Result<Option<bool>, WebError> {
    match value {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(WebError::bad_request(format!("{field} must be true or false"))),
    }
}

pub async fn deploy(
    State(state): State<AppState>,
    Path(agent): Path<String>,
    CsrfForm(session, form): CsrfForm<VersionForm>,
) -> Result<Response, WebError> {
    let reference = agent_ref(&agent)?;
    let version = form.version()?;
    state.registry.deploy(&session.caller(), &reference, version.clone(), None).await?;
    let notice = match version {
        Some(VersionRef::Number(n)) => format!("Deployed: serving version {n}"),
        _ => "Deployed: serving the head".to_owned(),
    };
    Ok(see_other(&base_href(&reference), &notice))
}

pub async fn stop(
    State(state): State<AppState>,
    Path(agent): Path<String>,
    CsrfForm(session, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, WebError> {
    let reference = agent_ref(&agent)?;
    state.registry.stop(&session.caller(), &reference).await?;
    Ok(see_other(&base_href(&reference), "Stopped"))
}

pub async fn rollback(
    State(state): State<AppState>,
    Path(agent): Path<String>,
    CsrfForm(session, form): CsrfForm<VersionForm>,
) -> Result<Response, WebError> {
    let reference = agent_ref(&agent)?;
    let target = form.version()?.ok_or_else(|| WebError::bad_request("Choose the version to roll back to"))?;
    let new = state.registry.rollback(&session.caller(), &reference, target.clone()).await?;
    let notice = match (new.created, target) {
        (true, VersionRef::Number(n)) => {
            format!("Rolled back: version {} has the content of version {n}", new.version.number)
        }
        _ => format!("Nothing changed: version {} already has that content", new.version.number),
    };
    Ok(see_other(&base_href(&reference), &notice))
}

/// Forks the agent's head as an exact clone under a new agent of the account (named as asked, else
/// "<name> (fork)"; its slug is made from that name), and shows the fork.
pub async fn fork(
    State(state): State<AppState>,
    Path(agent): Path<String>,
    CsrfForm(session, form): CsrfForm<ForkForm>,
) -> Result<Response, WebError> {
    let reference = agent_ref(&agent)?;
    let name = Some(form.name.trim().to_owned()).filter(|n| !n.is_empty());
    let request = ForkRequest {
        fork_type: ForkType::ExactClone,
        version: None,
        metadata: MetadataChange { name, ..MetadataChange::default() },
        definition: DefinitionChange::default(),
        commit_message: None,
    };
    let fork = state.registry.fork(&session.caller(), &reference, request).await?;
    let notice = format!("Forked “{}” into “{}”", fork.parent.metadata.name, fork.agent.metadata.name);
    Ok(see_other(&format!("/agents/{}", fork.agent.slug), &notice))
}

pub async fn profile(
    State(state): State<AppState>,
    Path(agent): Path<String>,
    CsrfForm(session, form): CsrfForm<ProfileForm>,
) -> Result<Response, WebError> {
    let reference = agent_ref(&agent)?;
    let public = switch(form.public.as_deref(), "public")?;
    let api_access = switch(form.api_access.as_deref(), "api_access")?;
    if public.is_none() && api_access.is_none() {
        return Err(WebError::bad_request("Nothing to change"));
    }
    let change = ProfileChange { public, api_access, ..ProfileChange::default() };
    let agent = state.registry.update_profile(&session.caller(), &reference, change).await?;
    let notice = match (public, api_access) {
        (Some(_), _) if agent.public => "Now public: other accounts may read and fork it",
        (Some(_), _) => "Now private",
        (None, _) if agent.api_access => "API access turned on",
        (None, _) => "API access turned off",
    };
    Ok(see_other(&base_href(&reference), notice))
}

/// The owner's controls: deployment, the switches, forking.
pub(super) fn panel(session: &SignedIn, loaded: &Loaded, base: &str) -> Markup {
    let agent = &loaded.agent;
    let head = loaded.head.number;
    let lowest = (head - VERSION_CHOICES + 1).max(1);
    let running = matches!(agent.status, AgentStatus::Deployed | AgentStatus::Error);
    html! {
        section.panel aria-labelledby="actions-heading" {
            h2 #actions-heading { "Deployment and sharing" }
            div.toolbar {
                form method="post" action={ (base) "/deploy" } {
                    (csrf_field(session))
                    label.inline for="deploy-version" { "Serve version" }
                    select #deploy-version name="version" {
                        option value="" { "The head (follows new versions)" }
                        @for n in (lowest..=head).rev() { option value=(n) { "Version " (n) } }
                    }
                    button type="submit" { "Deploy" }
                }
                form method="post" action={ (base) "/stop" } {
                    (csrf_field(session))
                    button.secondary type="submit" disabled[!running] { "Stop" }
                }
            }
            (splits::panel(session, base, &loaded.split_arms, &(lowest..=head).rev().collect::<Vec<_>>()))
            div.toolbar {
                form method="post" action={ (base) "/profile" } {
                    (csrf_field(session))
                    input type="hidden" name="public" value=(!agent.public);
                    button.secondary type="submit" { @if agent.public { "Make private" } @else { "Make public" } }
                }
                form method="post" action={ (base) "/profile" } {
                    (csrf_field(session))
                    input type="hidden" name="api_access" value=(!agent.api_access);
                    button.secondary type="submit" {
                        @if agent.api_access { "Turn API access off" } @else { "Turn API access on" }
                    }
                }
            }
            (fork_fields(session, agent, base))
        }
    }
}

/// Forking alone, for another account's public agent.
pub(super) fn fork_form(session: &SignedIn, agent: &Agent, base: &str) -> Markup {
    html! {
        section.panel aria-labelledby="fork-heading" {
            h2 #fork-heading { "Fork" }
            p.muted { "A copy of this agent's head, as a new agent of yours." }
            (fork_fields(session, agent, base))
        }
    }
}

fn fork_fields(session: &SignedIn, agent: &Agent, base: &str) -> Markup {
    html! {
        form.toolbar method="post" action={ (base) "/fork" } {
            (csrf_field(session))
            label.inline for="fork-name" { "Fork name (optional)" }
            input #fork-name type="text" name="name" maxlength="100" placeholder={ (agent.metadata.name) " (fork)" };
            button type="submit" { "Fork" }
        }
    }
}

/// "Roll back to version N": a new head with that version's content.
pub(super) fn rollback_form(session: &SignedIn, base: &str, number: i64) -> Markup {
    html! {
        form method="post" action={ (base) "/rollback" } {
            (csrf_field(session))
            input type="hidden" name="version" value=(number);
            button.secondary type="submit" { "Roll back to version " (number) }
        }
    }
}

/// "Deploy version N": serve that version, pinned.
pub(super) fn deploy_version_form(session: &SignedIn, base: &str, number: i64) -> Markup {
    html! {
        form method="post" action={ (base) "/deploy" } {
            (csrf_field(session))
            input type="hidden" name="version" value=(number);
            button type="submit" { "Deploy version " (number) }
        }
    }
}
