//! `/agents/{agent}`: an agent's facts, its head, the editor that commits a version on top of the head
//! the form was loaded from, the version timeline and, for its owner, its latest audit entries.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Map, Value};
use talon_domain::VersionId;
use talon_domain::agent::{Agent, AgentRef, AgentStatus, DefinitionChange, Label, ModelInput, Version};
use talon_domain::audit::AuditEntry;
use talon_domain::evaluation::DatasetSummary;
use talon_store::Page;

use super::super::redirect::see_other;
use super::{actions, agent_href, agent_nav, agent_ref, audit, base_href, labels, owns, version};
use crate::api::error::ApiError;
use crate::api::extract::free_json::{JSON_DEPTH, Nesting};
use crate::api::rest::agent_inputs::ToolRequest;
use crate::services::registry::VersionRequest;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::form::CsrfForm;
use crate::web::layout::{self, Section, badge, csrf_field, when};
use crate::web::session::SignedIn;

/// Versions a page of the timeline shows.
const TIMELINE_PAGE: i64 = 20;
/// Versions the pickers (compare, deploy) offer, the newest first; older ones are reached from their
/// own page.
pub(super) const VERSION_CHOICES: i64 = 500;

/// `/agents/{agent}?page=`: the page of the timeline.
#[derive(Debug, Default, Deserialize)]
pub struct DetailQuery {
    page: Option<String>,
}

/// The editor as posted, and as shown again when the commit is refused.
#[derive(Debug, Default, Deserialize)]
pub struct EditorForm {
    #[serde(default)]
    prompt: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    fallback: String,
    #[serde(default)]
    tools: String,
    #[serde(default)]
    config: String,
    #[serde(default)]
    commit_message: String,
    /// The id of the head the form was loaded from: the commit is refused if it is no longer the head.
    #[serde(default)]
    head: String,
}

impl EditorForm {
    /// The editor filled with `head`'s definition.
    fn of(head: &Version) -> Self {
        let definition = &head.definition;
        EditorForm {
            prompt: definition.prompt.clone(),
            model: definition.model.primary.clone(),
            fallback: definition.model.fallback.clone().unwrap_or_default(),
            tools: serde_json::to_string_pretty(&definition.tools).unwrap_or_default(),
            config: serde_json::to_string_pretty(&definition.config).unwrap_or_default(),
            commit_message: String::new(),
            head: head.id.to_string(),
        }
    }

    /// The service's input: every part of the definition, as the API's `CreateVersionRequest` with an
    /// `expectedVersionId` carries them. Parts equal to `head`'s change nothing.
    fn version_request(&self, head: &Version) -> Result<VersionRequest, WebError> {
        let tools = match self.tools.trim() {
            "" => Vec::new(),
            text => serde_json::from_str::<Vec<ToolRequest>>(text)
                .map_err(|e| WebError::bad_request(format!("Functions: not a JSON array of tools ({e})")))?,
        };
        let config = match self.config.trim() {
            "" => Map::new(),
            text => serde_json::from_str::<Map<String, Value>>(text)
                .map_err(|e| WebError::bad_request(format!("Config: not a JSON object ({e})")))?,
        };
        if config.nesting() > JSON_DEPTH + 1 {
            return Err(WebError::bad_request(format!("Config: nests more than {} levels deep", JSON_DEPTH + 1)));
        }
        // Text that is no version id cannot be the head's: the same conflict as a stale id.
        let expected_version_id = match self.head.trim() {
            "" => None,
            raw => Some(VersionId::parse(raw).map_err(|_| {
                WebError::Api(ApiError::conflict(format!("`{raw}` is not the current version (not a version id)")))
            })?),
        };
        let fallback = Some(self.fallback.trim().to_owned()).filter(|f| !f.is_empty());
        // Browsers send a textarea's line breaks as CRLF: a prompt left as it was is not a change.
        let prompt = unix_lines(&self.prompt);
        let prompt = (prompt != unix_lines(&head.definition.prompt)).then_some(prompt);
        Ok(VersionRequest {
            definition: DefinitionChange {
                prompt,
                tools: Some(tools.into_iter().map(Into::into).collect()),
                config: Some(config),
                model: Some(ModelInput::Spec { primary: Some(self.model.trim().to_owned()), fallback }),
            },
            commit_message: Some(self.commit_message.clone()),
            expected_version_id,
        })
    }
}

/// What the agent's page shows.
pub(super) struct Loaded {
    pub agent: Agent,
    pub head: Version,
    parent: Option<Arc<Agent>>,
    versions: Page<Version>,
    timeline_page: i64,
    /// The number of the version a running agent serves, when it is pinned.
    deployed_number: Option<i64>,
    /// The latest entries of the agent's audit log, for its owner.
    recent_changes: Vec<AuditEntry>,
    /// Its labels, and its canary split's arms as (version number, weight).
    labels: Vec<Label>,
    pub split_arms: Vec<(i64, u32)>,
    /// The agent's datasets, for its owner: a label may require an evaluation on one.
    datasets: Vec<DatasetSummary>,
}

async fn load(
    state: &AppState,
    session: &SignedIn,
    reference: &AgentRef,
    timeline_page: i64,
) -> Result<Loaded, WebError> {
    let caller = session.caller();
    let (agent, head) = state.registry.agent(&caller, reference).await?;
    let offset = (timeline_page - 1).saturating_mul(TIMELINE_PAGE);
    let parent = async { state.registry.parent_of(&caller, &agent).await.map_err(WebError::from) };
    let versions =
        async { state.registry.list_versions(&caller, reference, offset, TIMELINE_PAGE).await.map_err(WebError::from) };
    let recent_changes = async {
        if agent.owner == session.principal.account.id {
            audit::recent(state, session, agent.id).await
        } else {
            Ok(Vec::new())
        }
    };
    let labels = async { state.registry.labels_of(&agent).await.map_err(WebError::from) };
    let datasets = async {
        if agent.owner == session.principal.account.id {
            state.evaluations.datasets(&caller, reference).await.map_err(WebError::from)
        } else {
            Ok(Vec::new())
        }
    };
    let (parent, versions, recent_changes, labels, datasets) =
        tokio::try_join!(parent, versions, recent_changes, labels, datasets)?;
    let split_arms = state.registry.split_numbers(&agent).await?;
    let deployed_number = match agent.deployed_version_id {
        None => None,
        Some(id) if id == head.id => Some(head.number),
        Some(id) => match versions.items.iter().find(|v| v.id == id) {
            Some(v) => Some(v.number),
            None => state.registry.version_numbers(std::slice::from_ref(&agent)).await?.get(&id).copied(),
        },
    };
    Ok(Loaded {
        agent,
        head,
        parent,
        versions,
        timeline_page,
        deployed_number,
        recent_changes,
        labels,
        split_arms,
        datasets,
    })
}

pub async fn page(
    State(state): State<AppState>,
    session: SignedIn,
    Path(agent): Path<String>,
    Query(query): Query<DetailQuery>,
) -> Result<Markup, WebError> {
    let reference = agent_ref(&agent)?;
    let timeline_page =
        query.page.as_deref().and_then(|p| p.parse::<i64>().ok()).filter(|p| (1..=1_000_000).contains(p));
    let loaded = load(&state, &session, &reference, timeline_page.unwrap_or(1)).await?;
    let editor = EditorForm::of(&loaded.head);
    Ok(agent_page(&session, &loaded, &editor, None))
}

/// Commits the editor's definition as a new version, if the head is still the one it was loaded from.
pub async fn commit(
    State(state): State<AppState>,
    Path(agent): Path<String>,
    CsrfForm(session, form): CsrfForm<EditorForm>,
) -> Result<Response, WebError> {
    let reference = agent_ref(&agent)?;
    let caller = session.caller();
    let (_, head) = state.registry.agent(&caller, &reference).await?;
    let outcome = match form.version_request(&head) {
        Ok(request) => state.registry.create_version(&caller, &reference, request).await.map_err(WebError::from),
        Err(e) => Err(e),
    };
    let refused = match outcome {
        Ok(new) if new.created => {
            let notice = format!("Version {} committed", new.version.number);
            return Ok(see_other(&base_href(&reference), &notice));
        }
        Ok(new) => {
            let notice = format!("Nothing changed: version {} is still the head", new.version.number);
            return Ok(see_other(&base_href(&reference), &notice));
        }
        Err(e) => e,
    };
    // Another account's agent, or none: there is no editor to show again.
    if refused.status() == StatusCode::NOT_FOUND {
        return Err(refused);
    }
    let loaded = load(&state, &session, &reference, 1).await?;
    let moved = refused.status() == StatusCode::CONFLICT && form.head.trim() != loaded.head.id.to_string();
    let message = if moved {
        format!(
            "The head moved: version {} was committed after you opened this page, so your version was not \
             committed. Your text is kept below; compare it with the new head, then commit again to replace it.",
            loaded.head.number
        )
    } else {
        refused.message()
    };
    // The editor is now based on the head shown: committing again is a choice made having seen it.
    let editor = EditorForm { head: loaded.head.id.to_string(), ..form };
    let body = agent_page(&session, &loaded, &editor, Some(&message));
    Ok((refused.status(), body).into_response())
}

/// The agent's page again, with what a form posted from it was refused (and the refusal's status): a
/// label whose requirement the version does not meet names the failing cases there.
pub(super) async fn refused(
    state: &AppState,
    session: &SignedIn,
    reference: &AgentRef,
    refusal: WebError,
) -> Result<Response, WebError> {
    let loaded = load(state, session, reference, 1).await?;
    let editor = EditorForm::of(&loaded.head);
    let body = agent_page(session, &loaded, &editor, Some(&refusal.message()));
    Ok((refusal.status(), body).into_response())
}

fn agent_page(session: &SignedIn, loaded: &Loaded, editor: &EditorForm, error: Option<&str>) -> Markup {
    let agent = &loaded.agent;
    let base = agent_href(session, agent);
    let own = owns(session, agent);
    layout::page(
        session,
        Section::Agents,
        &agent.metadata.name,
        html! {
            h1 { (agent.metadata.name) }
            @if !agent.metadata.description.is_empty() { p.muted { (agent.metadata.description) } }
            (agent_nav(&base, "Agent", own.then_some(agent.slug.as_str())))
            @if let Some(error) = error { p.error role="alert" { (error) } }
            (facts(session, loaded, &base))
            @if own {
                (actions::panel(session, loaded, &base))
                (labels::panel(session, &base, &loaded.labels, loaded.head.number, &loaded.datasets))
                (evaluations_section(&base, &loaded.datasets))
            } @else {
                (actions::fork_form(session, agent, &base))
            }
            section aria-labelledby="head-heading" {
                h2 #head-heading { "Head: version " (loaded.head.number) }
                (version::definition(&loaded.head.definition))
            }
            @if own { (editor_form(session, &base, editor)) }
            (timeline(session, loaded, &base))
            @if own { (audit::recent_section(&loaded.recent_changes, &base)) }
        },
    )
}

fn facts(session: &SignedIn, loaded: &Loaded, base: &str) -> Markup {
    let agent = &loaded.agent;
    let running = matches!(agent.status, AgentStatus::Deployed | AgentStatus::Error);
    html! {
        section aria-labelledby="facts-heading" {
            h2 #facts-heading { "Status" }
            dl.facts {
                dt { "Slug" } dd { code { (agent.slug) } }
                dt { "Status" } dd { (badge(agent.status.as_str())) }
                dt { "Head" } dd { a href={ (base) "/versions/" (loaded.head.number) } { "Version " (loaded.head.number) } }
                dt { "Deployed" }
                dd {
                    @match (running, loaded.deployed_number) {
                        (false, _) => "Not serving",
                        (true, Some(n)) => { a href={ (base) "/versions/" (n) } { "Version " (n) } " (pinned)" },
                        (true, None) => { "The head (version " (loaded.head.number) "), following new versions" },
                    }
                }
                @if !loaded.split_arms.is_empty() {
                    dt { "Canary split" }
                    dd {
                        @for (i, (number, weight)) in loaded.split_arms.iter().enumerate() {
                            @if i > 0 { ", " }
                            a href={ (base) "/versions/" (number) } { "Version " (number) } " " (weight) " %"
                        }
                    }
                }
                @if !loaded.labels.is_empty() {
                    dt { "Labels" }
                    dd {
                        @for (i, label) in loaded.labels.iter().enumerate() {
                            @if i > 0 { ", " }
                            code { (label.name) } " → " a href={ (base) "/versions/" (label.version_number) } { "version " (label.version_number) }
                            @if let Some(gate) = &label.required_evaluation { " (requires " (labels::requirement(gate)) ")" }
                        }
                    }
                }
                dt { "Public" }
                dd { @if agent.public { "Yes: other accounts may read and fork it" } @else { "No: only you see it" } }
                dt { "API access" }
                dd { @if agent.api_access { "On: its chat API answers" } @else { "Off" } }
                dt { "Forks" } dd { (agent.fork_count) }
                @if let Some(origin) = &agent.fork_origin {
                    dt { "Forked from" }
                    dd {
                        @match &loaded.parent {
                            Some(parent) => a href=(agent_href(session, parent)) { (parent.metadata.name) },
                            None => span.muted { "an agent that was deleted or is not shared" },
                        }
                        " (" (origin.fork_type.as_str()) ")"
                        @if let Some(parent) = loaded.parent.as_ref().filter(|p| owns(session, p) && owns(session, agent)) {
                            " "
                            a href={ "/agents/" (parent.slug) "/merge?from=" (agent.id) } { "Merge into parent" }
                        }
                    }
                }
                dt { "Created" } dd { (when(agent.created_at)) }
                dt { "Last change" } dd { (when(agent.updated_at)) }
            }
        }
    }
}

/// The owner's way to the agent's datasets and evaluations.
fn evaluations_section(base: &str, datasets: &[DatasetSummary]) -> Markup {
    html! {
        section.panel aria-labelledby="evaluations-heading" {
            h2 #evaluations-heading { "Evaluations" }
            p {
                @match datasets.len() {
                    0 => "No datasets yet. ",
                    1 => "1 dataset. ",
                    n => { (n) " datasets. " },
                }
                "Run a dataset's cases against versions and compare their pass rates before moving a label."
            }
            p { a href={ (base) "/evaluations" } { "Datasets and evaluations" } }
        }
    }
}

fn editor_form(session: &SignedIn, base: &str, editor: &EditorForm) -> Markup {
    html! {
        section.panel aria-labelledby="editor-heading" {
            h2 #editor-heading { "Commit a new version" }
            form method="post" action={ (base) "/versions" } {
                (csrf_field(session))
                input type="hidden" name="head" value=(editor.head);
                label for="edit-prompt" { "Prompt" }
                textarea #edit-prompt .prompt name="prompt" required { "\n" (editor.prompt) }
                div.row {
                    div {
                        label for="edit-model" { "Primary model" }
                        input #edit-model type="text" name="model" value=(editor.model) required;
                    }
                    div {
                        label for="edit-fallback" { "Fallback model (optional)" }
                        input #edit-fallback type="text" name="fallback" value=(editor.fallback);
                    }
                }
                label for="edit-tools" { "Functions (JSON)" }
                textarea #edit-tools name="tools" aria-describedby="edit-tools-hint" { "\n" (editor.tools) }
                p #edit-tools-hint .hint { "The tools the model may call: a JSON array of {name, description, parameters}." }
                label for="edit-config" { "Config (JSON)" }
                textarea #edit-config name="config" aria-describedby="edit-config-hint" { "\n" (editor.config) }
                p #edit-config-hint .hint { "A JSON object; temperature (0 to 2) and maxTokens are checked." }
                label for="edit-message" { "Commit message" }
                input #edit-message type="text" name="commit_message" value=(editor.commit_message) maxlength="1000"
                    placeholder="What changed, and why";
                p { button type="submit" { "Commit version" } }
            }
        }
    }
}

fn timeline(session: &SignedIn, loaded: &Loaded, base: &str) -> Markup {
    let head = loaded.head.number;
    let own = owns(session, &loaded.agent);
    let page = loaded.timeline_page;
    html! {
        section aria-labelledby="history-heading" {
            h2 #history-heading { "History" }
            (compare_form(base, head, (head - 1).max(1), head))
            @if loaded.versions.items.is_empty() {
                p { "No versions on this page." }
            }
            ol.timeline {
                @for v in &loaded.versions.items {
                    li class=[(v.number == head).then_some("head")] {
                        a href={ (base) "/versions/" (v.number) } { "Version " (v.number) }
                        @if v.number == head { " " (badge("head")) }
                        @if loaded.deployed_number == Some(v.number) { " " (badge("deployed")) }
                        div { (v.commit_message) }
                        div.muted.hint {
                            (author(v)) " · " (when(v.created_at))
                            @if let Some(fork) = v.fork_type { " · fork (" (fork.as_str()) ")" }
                        }
                        div.toolbar {
                            @if v.number > 1 {
                                a href={ (base) "/compare?from=" (v.number - 1) "&to=" (v.number) }
                                    title={ "Compare version " (v.number - 1) " with version " (v.number) } { "Compare" }
                            }
                            @if own && v.number != head { (actions::rollback_form(session, base, v.number)) }
                        }
                    }
                }
            }
            @if page > 1 || loaded.versions.has_more {
                nav.toolbar aria-label="Pages of versions" {
                    @if page > 1 { a href={ (base) "?page=" (page - 1) } { "Newer versions" } }
                    @if loaded.versions.has_more { a href={ (base) "?page=" (page + 1) } { "Older versions" } }
                }
            }
        }
    }
}

/// Text with CRLF line breaks (as browsers post a textarea's) turned into LF.
pub(super) fn unix_lines(text: &str) -> String {
    text.replace("\r\n", "\n")
}

/// Who made a version: their email, which only the agent's owner sees.
pub(super) fn author(version: &Version) -> &str {
    if version.created_by.email.is_empty() { "another account" } else { &version.created_by.email }
}

/// The form that picks two versions to compare (a GET: it changes nothing).
pub(super) fn compare_form(base: &str, head: i64, from: i64, to: i64) -> Markup {
    let lowest = (head - VERSION_CHOICES + 1).max(1);
    let numbers = || (lowest..=head).rev();
    html! {
        form.toolbar method="get" action={ (base) "/compare" } {
            label.inline for="compare-from" { "From" }
            select #compare-from name="from" {
                @for n in numbers() { option value=(n) selected[n == from] { "Version " (n) } }
            }
            label.inline for="compare-to" { "To" }
            select #compare-to name="to" {
                @for n in numbers() { option value=(n) selected[n == to] { "Version " (n) } }
            }
            button type="submit" { "Compare" }
        }
    }
}
