//! `/agents/{agent}/versions/{n}`: one version in full, and how a definition is shown.

use axum::extract::{Path, State};
use maud::{Markup, html};
use talon_domain::agent::VersionRef;
use talon_domain::agent::definition::Definition;

use super::detail::author;
use super::{actions, agent_href, agent_nav, agent_ref, owns};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::layout::{self, Section, code_block, json_block, when};
use crate::web::session::SignedIn;

pub async fn page(
    State(state): State<AppState>,
    session: SignedIn,
    Path((agent, number)): Path<(String, String)>,
) -> Result<Markup, WebError> {
    let reference = agent_ref(&agent)?;
    let number = VersionRef::parse(&number).ok_or_else(|| WebError::not_found("Version"))?;
    let caller = session.caller();
    let agent = async { state.registry.agent(&caller, &reference).await.map_err(WebError::from) };
    let version = async { state.registry.version(&caller, &reference, number).await.map_err(WebError::from) };
    let ((agent, head), version) = tokio::try_join!(agent, version)?;
    let base = agent_href(&session, &agent);
    let own = owns(&session, &agent);
    let n = version.number;
    let title = format!("{} · version {n}", agent.metadata.name);
    Ok(layout::page(
        &session,
        Section::Agents,
        &title,
        html! {
            h1 { (agent.metadata.name) ": version " (n) }
            (agent_nav(&base, "", own.then_some(agent.slug.as_str())))
            dl.facts {
                dt { "Message" } dd { (version.commit_message) }
                dt { "Author" } dd { (author(&version)) }
                dt { "Made" } dd { (when(version.created_at)) }
                @if let Some(fork) = version.fork_type { dt { "Fork" } dd { (fork.as_str()) } }
                dt { "Content hash" } dd { code { (version.content_hash) } }
                dt { "Head" } dd { @if n == head.number { "This is the head" } @else { "Version " (head.number) } }
            }
            div.toolbar {
                @if n > 1 { a href={ (base) "/compare?from=" (n - 1) "&to=" (n) } { "Compare with version " (n - 1) } }
                @if n != head.number { a href={ (base) "/compare?from=" (n) "&to=" (head.number) } { "Compare with the head" } }
                @if own {
                    (actions::deploy_version_form(&session, &base, n))
                    @if n != head.number { (actions::rollback_form(&session, &base, n)) }
                }
            }
            section aria-labelledby="definition-heading" {
                h2 #definition-heading { "Definition" }
                (definition(&version.definition))
            }
        },
    ))
}

/// A definition as a reader sees it: the prompt, the model, the tools and the config, under `h3`s.
pub(super) fn definition(definition: &Definition) -> Markup {
    let model = &definition.model;
    html! {
        h3 { "Prompt" }
        (code_block(&definition.prompt))
        h3 { "Model" }
        p {
            code { (model.primary) }
            @if let Some(fallback) = &model.fallback { ", falling back to " code { (fallback) } }
        }
        h3 { "Tools" }
        @if definition.tools.is_empty() {
            p.muted { "No tools." }
        } @else {
            ul {
                @for tool in &definition.tools {
                    li {
                        code { (tool.name) }
                        @if !tool.description.is_empty() { ": " (tool.description) }
                        details {
                            summary { "Parameters of " (tool.name) }
                            (json_block(&tool.parameters))
                        }
                    }
                }
            }
        }
        h3 { "Config" }
        @if definition.config.is_empty() {
            p.muted { "No config." }
        } @else {
            (json_block(&serde_json::Value::Object(definition.config.clone())))
        }
    }
}
