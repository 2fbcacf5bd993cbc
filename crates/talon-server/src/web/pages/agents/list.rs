//! `/agents`: the account's agents, searched by name or slug and read a page at a time by cursor, and
//! the form that creates one.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use talon_domain::agent::definition::DEFAULT_MODEL;
use talon_domain::agent::{Agent, AgentStatus, DefinitionChange, MetadataChange, ModelInput};
use talon_domain::{AgentId, VersionId};
use talon_store::{Page, Window};

use super::super::redirect::see_other;
use super::detail::unix_lines;
use crate::api::rest::pagination::CursorPageQuery;
use crate::services::Caller;
use crate::services::registry::NewAgent;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::form::CsrfForm;
use crate::web::layout::{self, Section, badge, csrf_field, when};
use crate::web::session::SignedIn;

/// `/agents?q=&after=&before=`: the search, and the cursor of the page (agent ids, as the API's list).
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    after: Option<String>,
    before: Option<String>,
}

impl ListQuery {
    fn search(&self) -> Option<&str> {
        self.q.as_deref().map(str::trim).filter(|q| !q.is_empty())
    }

    /// This list's address with this search and a cursor.
    fn href(&self, cursor: (&str, AgentId)) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if let Some(q) = self.search() {
            query.append_pair("q", q);
        }
        query.append_pair(cursor.0, &cursor.1.to_string());
        format!("/agents?{}", query.finish())
    }
}

/// The "Create an agent" form as posted (and shown again with a refused input).
#[derive(Debug, Default, Deserialize)]
pub struct NewAgentForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    prompt: String,
}

impl NewAgentForm {
    /// The service's input, built as the API builds it from a body with these fields.
    fn new_agent(&self) -> NewAgent {
        let model = Some(self.model.trim().to_owned()).filter(|m| !m.is_empty());
        NewAgent {
            metadata: MetadataChange { name: Some(self.name.clone()), ..MetadataChange::default() },
            slug: Some(self.slug.trim().to_owned()).filter(|s| !s.is_empty()),
            public: false,
            definition: DefinitionChange {
                prompt: Some(unix_lines(&self.prompt)),
                model: model.map(ModelInput::Name),
                ..DefinitionChange::default()
            },
            commit_message: None,
        }
    }
}

/// A page of agents and the numbers of the versions they name.
struct Listing {
    agents: Page<Agent>,
    window: Window,
    numbers: HashMap<VersionId, i64>,
}

async fn listing(state: &AppState, caller: &Caller, query: &ListQuery) -> Result<Listing, WebError> {
    let cursor = CursorPageQuery {
        page: None,
        limit: None,
        starting_after: query.after.clone().filter(|c| !c.is_empty()),
        ending_before: query.before.clone().filter(|c| !c.is_empty()),
    };
    let (_, window) = cursor.window(|id| AgentId::parse(id).ok().map(|a| *a.as_uuid()))?;
    let agents = match query.search() {
        Some(search) => state.registry.search_agents(caller, search, window).await?,
        None => state.registry.list_agents(caller, false, window).await?,
    };
    let numbers = state.registry.version_numbers(&agents.items).await?;
    Ok(Listing { agents, window, numbers })
}

pub async fn page(
    State(state): State<AppState>,
    session: SignedIn,
    Query(query): Query<ListQuery>,
) -> Result<Markup, WebError> {
    let listing = listing(&state, &session.caller(), &query).await?;
    Ok(list_page(&session, &query, &listing, &NewAgentForm::default(), None))
}

pub async fn create(
    State(state): State<AppState>,
    CsrfForm(session, form): CsrfForm<NewAgentForm>,
) -> Result<Response, WebError> {
    let caller = session.caller();
    match state.registry.create_agent(&caller, form.new_agent()).await {
        Ok((agent, _)) => {
            let notice = format!("Agent “{}” created", agent.metadata.name);
            Ok(see_other(&format!("/agents/{}", agent.slug), &notice))
        }
        Err(e) => {
            let e = WebError::from(e);
            let query = ListQuery::default();
            let listing = listing(&state, &caller, &query).await?;
            Ok((e.status(), list_page(&session, &query, &listing, &form, Some(&e.message()))).into_response())
        }
    }
}

fn list_page(
    session: &SignedIn,
    query: &ListQuery,
    listing: &Listing,
    form: &NewAgentForm,
    error: Option<&str>,
) -> Markup {
    let agents = &listing.agents;
    let search = query.search();
    layout::page(
        session,
        Section::Agents,
        "Agents",
        html! {
            h1 { "Agents" }
            form.toolbar role="search" method="get" action="/agents" {
                label.inline for="agent-search" { "Search agents" }
                input #agent-search type="search" name="q" value=[search] placeholder="Name or slug";
                button type="submit" { "Search" }
                @if search.is_some() { a href="/agents" { "Clear search" } }
            }
            @match search {
                // A search is not counted: the account's agents are counted, its matches are not.
                Some(q) => p.muted { "Agents whose name or slug contains “" (q) "”." },
                None => p.muted { (agents.total) @if agents.total == 1 { " agent" } @else { " agents" } },
            }
            @if agents.items.is_empty() {
                p {
                    @if search.is_some() { "No agent matches this search." }
                    @else { "No agents here yet: create one below." }
                }
            } @else {
                (agent_table(&agents.items, &listing.numbers))
            }
            (pager(query, listing))
            (create_form(session, form, error))
        },
    )
}

fn agent_table(agents: &[Agent], numbers: &HashMap<VersionId, i64>) -> Markup {
    let number = |id: VersionId| numbers.get(&id).map_or_else(|| "?".to_owned(), |n| format!("v{n}"));
    html! {
        table #agents {
            thead {
                tr {
                    th scope="col" { "Name" }
                    th scope="col" { "Slug" }
                    th scope="col" { "Status" }
                    th scope="col" { "Head" }
                    th scope="col" { "Deployed" }
                    th scope="col" { "Last change" }
                    th.num scope="col" { "Forks" }
                }
            }
            tbody {
                @for agent in agents {
                    tr {
                        td { a href={ "/agents/" (agent.slug) } { (agent.metadata.name) } }
                        td { code { (agent.slug) } }
                        td { (badge(agent.status.as_str())) }
                        td { (number(agent.current_version_id)) }
                        td {
                            @if matches!(agent.status, AgentStatus::Deployed | AgentStatus::Error) {
                                @match agent.deployed_version_id {
                                    Some(pinned) => (number(pinned)),
                                    None => { (number(agent.current_version_id)) span.muted { " (head)" } },
                                }
                            } @else {
                                span.muted { "—" }
                            }
                        }
                        td { (when(agent.updated_at)) }
                        td.num { (agent.fork_count) }
                    }
                }
            }
        }
    }
}

/// Links to the pages before and after this one, by cursor.
fn pager(query: &ListQuery, listing: &Listing) -> Markup {
    let items = &listing.agents.items;
    let (Some(first), Some(last)) = (items.first(), items.last()) else {
        return html! {};
    };
    let more = listing.agents.has_more;
    let (newer, older) = match listing.window {
        Window::Offset { offset, .. } => (offset > 0, more),
        Window::After { .. } => (true, more),
        Window::Before { .. } => (more, true),
    };
    html! {
        @if newer || older {
            nav.toolbar aria-label="Pages of agents" {
                @if newer { a href=(query.href(("before", first.id))) { "Previous page" } }
                @if older { a href=(query.href(("after", last.id))) { "Next page" } }
            }
        }
    }
}

fn create_form(session: &SignedIn, form: &NewAgentForm, error: Option<&str>) -> Markup {
    html! {
        section.panel aria-labelledby="create-agent" {
            h2 #create-agent { "Create an agent" }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            form method="post" action="/agents" {
                (csrf_field(session))
                label for="new-name" { "Name" }
                input #new-name type="text" name="name" value=(form.name) maxlength="100" required;
                label for="new-slug" { "Slug (optional)" }
                input #new-slug type="text" name="slug" value=(form.slug) maxlength="64" pattern="[a-z0-9]+(-[a-z0-9]+)*"
                    aria-describedby="new-slug-hint";
                p #new-slug-hint .hint { "Lower-case letters, digits and dashes; made from the name when left empty." }
                label for="new-model" { "Model" }
                input #new-model type="text" name="model" value=(form.model) placeholder=(DEFAULT_MODEL)
                    aria-describedby="new-model-hint";
                p #new-model-hint .hint { "provider/model; " code { (DEFAULT_MODEL) } " when left empty." }
                label for="new-prompt" { "Prompt" }
                // A newline right after the start tag is dropped by the parser: the prompt's own first line stays.
                textarea #new-prompt .prompt name="prompt" required { "\n" (form.prompt) }
                p { button type="submit" { "Create agent" } }
            }
        }
    }
}
