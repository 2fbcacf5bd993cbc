//! Tasks: the account's tasks filtered by status and agent (a list that refreshes itself while tasks
//! run), a form that queues one, and a task's page with its input, output, attempts and error.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};
use talon_domain::TaskId;
use talon_domain::agent::{Agent, AgentRef, AgentStatus, Version, VersionRef};
use talon_domain::task::{Task, TaskStatus};
use talon_store::{ListedTask, Page, Window};

use super::redirect::see_other;
use crate::api::extract::json::parse;
use crate::api::rest::pagination::CursorPageQuery;
use crate::api::rest::tasks::{CreateTaskRequest, create_request};
use crate::services::tasks::{CreateTask, TaskListFilter};
use crate::services::{Caller, ServiceError};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::form::{CsrfForm, NoFields};
use crate::web::layout::{self, Section, badge, csrf_field, json_block, when};
use crate::web::session::SignedIn;

/// How many of the account's agents the agent pickers offer (the newest first).
pub const AGENT_CHOICES: i64 = 100;
/// The title of a task created without one.
const DEFAULT_TITLE: &str = "Task from the dashboard";
const STATUSES: [TaskStatus; 5] =
    [TaskStatus::Queued, TaskStatus::Running, TaskStatus::Completed, TaskStatus::Failed, TaskStatus::Cancelled];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/tasks", get(list).post(create))
        .route("/tasks/{id}", get(show))
        .route("/tasks/{id}/cancel", post(cancel))
}

/// `/tasks?status=&agent=&after=&before=`: the filters, and the cursor of the page (as the API's list).
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    agent: Option<String>,
    after: Option<String>,
    before: Option<String>,
}

impl ListQuery {
    fn status(&self) -> Option<&str> {
        self.status.as_deref().filter(|s| !s.is_empty())
    }

    fn agent(&self) -> Option<&str> {
        self.agent.as_deref().filter(|s| !s.is_empty())
    }

    /// This list's address with these filters and a cursor.
    fn href(&self, cursor: Option<(&str, &str)>) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if let Some(status) = self.status() {
            query.append_pair("status", status);
        }
        if let Some(agent) = self.agent() {
            query.append_pair("agent", agent);
        }
        if let Some((name, id)) = cursor {
            query.append_pair(name, id);
        }
        let query = query.finish();
        if query.is_empty() { "/tasks".to_owned() } else { format!("/tasks?{query}") }
    }
}

/// The "New task" form as posted.
#[derive(Debug, Default, Deserialize)]
pub struct NewTaskForm {
    #[serde(default)]
    agent: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    input: String,
    /// Empty: the agent's deployment decides (Talon's runtime when deployed).
    #[serde(default)]
    executor: String,
}

/// What the list page shows: a page of tasks and the agents to pick from.
struct Listing {
    tasks: Page<ListedTask>,
    window: Window,
    agents: Vec<Agent>,
}

/// The account's agents for the pickers, newest first.
pub async fn agent_choices(state: &AppState, caller: &Caller) -> Result<Vec<Agent>, WebError> {
    let window = Window::Offset { offset: 0, limit: AGENT_CHOICES };
    Ok(state.registry.list_agents(caller, false, window).await?.items)
}

async fn listing(state: &AppState, caller: &Caller, query: &ListQuery) -> Result<Listing, WebError> {
    let status = query.status().map(|raw| raw.parse::<TaskStatus>().map_err(WebError::bad_request)).transpose()?;
    let agent =
        query.agent().map(|raw| AgentRef::parse(raw).ok_or_else(|| WebError::not_found("Agent"))).transpose()?;
    let cursor = CursorPageQuery {
        page: None,
        limit: None,
        starting_after: query.after.clone().filter(|c| !c.is_empty()),
        ending_before: query.before.clone().filter(|c| !c.is_empty()),
    };
    let (_, window) = cursor.window(|id| TaskId::parse(id).ok().map(|t| *t.as_uuid()))?;
    let filter = TaskListFilter { status, priority: None, agent };
    let (tasks, agents) = tokio::try_join!(
        async { state.tasks.list(caller, filter, window).await.map_err(WebError::from) },
        agent_choices(state, caller),
    )?;
    Ok(Listing { tasks, window, agents })
}

async fn list(
    State(state): State<AppState>,
    session: SignedIn,
    Query(query): Query<ListQuery>,
) -> Result<Markup, WebError> {
    let listing = listing(&state, &session.caller(), &query).await?;
    Ok(list_page(&session, &query, &listing, &NewTaskForm::default(), None))
}

async fn create(
    State(state): State<AppState>,
    CsrfForm(session, form): CsrfForm<NewTaskForm>,
) -> Result<Response, WebError> {
    let caller = session.caller();
    let created = match task_request(&form) {
        Ok(request) => state.tasks.create(&caller, request).await.map_err(WebError::from),
        Err(e) => Err(e),
    };
    match created {
        Ok((task, _)) => Ok(see_other(&format!("/tasks/{}", task.id), "Task created")),
        Err(e) => {
            let query = ListQuery::default();
            let listing = listing(&state, &caller, &query).await?;
            Ok((e.status(), list_page(&session, &query, &listing, &form, Some(&e.message()))).into_response())
        }
    }
}

/// The form read as the API reads `POST /api/tasks`: the input must be JSON, and the request passes
/// the same checks (sizes, nesting, NUL characters, the domain's rules).
fn task_request(form: &NewTaskForm) -> Result<CreateTask, WebError> {
    if form.agent.trim().is_empty() {
        return Err(WebError::bad_request("Choose the agent that works the task"));
    }
    let input: Value = if form.input.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str(&form.input)
            .map_err(|e| WebError::bad_request(format!("Input (JSON) is not valid JSON: {e}")))?
    };
    let title = if form.title.trim().is_empty() { DEFAULT_TITLE } else { form.title.as_str() };
    let mut body = json!({"agentId": form.agent.trim(), "title": title, "input": input});
    if !form.executor.is_empty() {
        body["executor"] = json!(form.executor);
    }
    let bytes = serde_json::to_vec(&body).map_err(WebError::internal)?;
    Ok(create_request(parse::<CreateTaskRequest>(&bytes)?)?)
}

/// A task with its agent and the version it is pinned to, as its page shows them.
struct TaskView {
    task: Task,
    agent: Option<Agent>,
    version: Option<Version>,
}

async fn task_view(state: &AppState, caller: &Caller, id: TaskId) -> Result<TaskView, WebError> {
    let task = state.tasks.get(caller, id).await?;
    let agent_ref = AgentRef::Id(task.agent_id);
    let (agent, version) = tokio::try_join!(async { found(state.registry.owned(caller, &agent_ref).await) }, async {
        found(state.registry.version(caller, &agent_ref, VersionRef::Id(task.version_id)).await)
    },)?;
    Ok(TaskView { task, agent, version })
}

async fn show(State(state): State<AppState>, session: SignedIn, Path(id): Path<String>) -> Result<Markup, WebError> {
    let view = task_view(&state, &session.caller(), task_id(&id)?).await?;
    Ok(task_page(&session, &view, None))
}

/// Cancels; a task that finished meanwhile (its page was older than its end) is shown as it is now,
/// saying why it was not cancelled.
async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(session, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, WebError> {
    let caller = session.caller();
    let id = task_id(&id)?;
    match state.tasks.cancel(&caller, id).await {
        Ok(task) => Ok(see_other(&format!("/tasks/{}", task.id), "Task cancelled")),
        Err(ServiceError::Conflict(why)) => {
            let view = task_view(&state, &caller, id).await?;
            let error = format!("The task was not cancelled: {why}.");
            Ok((StatusCode::CONFLICT, task_page(&session, &view, Some(&error))).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// A task id from the path; text that cannot name a task is "not found", as an unknown one is.
fn task_id(raw: &str) -> Result<TaskId, WebError> {
    TaskId::parse(raw).map_err(|_| WebError::not_found("Task"))
}

/// What the page shows beside the task but may be gone (a deleted agent): absent, not an error.
fn found<T>(result: Result<T, ServiceError>) -> Result<Option<T>, WebError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(ServiceError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn list_page(
    session: &SignedIn,
    query: &ListQuery,
    listing: &Listing,
    form: &NewTaskForm,
    error: Option<&str>,
) -> Markup {
    let content = html! {
        h1 { "Tasks" }
        section.panel aria-labelledby="new-task-heading" {
            h2 #new-task-heading { "New task" }
            (new_task_form(session, &listing.agents, form, error))
        }
        section aria-labelledby="task-list-heading" {
            h2 #task-list-heading { "The account's tasks" }
            form.toolbar method="get" action="/tasks" {
                label for="filter-status" { "Status" }
                select #filter-status name="status" {
                    option value="" { "Any status" }
                    @for status in STATUSES {
                        option value=(status.as_str()) selected[query.status() == Some(status.as_str())] { (status.as_str()) }
                    }
                }
                label for="filter-agent" { "Agent" }
                select #filter-agent name="agent" {
                    option value="" { "Any agent" }
                    @for agent in &listing.agents {
                        option value=(agent.slug) selected[query.agent() == Some(agent.slug.as_str())] { (agent.metadata.name) }
                    }
                }
                button type="submit" { "Filter" }
            }
            div #task-list data-live="2000" {
                (task_table(query, listing))
            }
        }
    };
    layout::page(session, Section::Tasks, "Tasks", content)
}

fn new_task_form(session: &SignedIn, agents: &[Agent], form: &NewTaskForm, error: Option<&str>) -> Markup {
    html! {
        form method="post" action="/tasks" {
            (csrf_field(session))
            @if let Some(error) = error { p.error role="alert" { (error) } }
            @if agents.is_empty() {
                p.hint { "Create an agent first: a task is worked by one of the account's agents." }
            }
            label for="new-task-agent" { "Agent" }
            select #new-task-agent name="agent" required {
                option value="" { "Choose an agent" }
                @for agent in agents {
                    option value=(agent.slug) selected[form.agent == agent.slug] {
                        (agent.metadata.name)
                        @if agent.status == AgentStatus::Deployed { " (deployed)" }
                    }
                }
            }
            label for="new-task-title" { "Title (optional)" }
            input #new-task-title type="text" name="title" maxlength="200" value=(form.title) placeholder=(DEFAULT_TITLE);
            label for="new-task-input" { "Input (JSON)" }
            textarea #new-task-input name="input" aria-describedby="new-task-input-hint" spellcheck="false" { (form.input) }
            p #new-task-input-hint .hint {
                "Free JSON for whoever works the task; " code { "{}" } " when empty. Talon's runtime sends "
                code { "{\"message\": \"…\"}" } " or " code { "{\"messages\": […]}" } " to the agent's model."
            }
            label for="new-task-executor" { "Worked by" }
            select #new-task-executor name="executor" {
                option value="" selected[form.executor.is_empty()] { "The default: Talon's runtime if the agent is deployed, else external workers" }
                option value="runtime" selected[form.executor == "runtime"] { "Talon's runtime" }
                option value="external" selected[form.executor == "external"] { "External workers (claimed through the API)" }
            }
            p { button type="submit" { "Create task" } }
        }
    }
}

fn task_table(query: &ListQuery, listing: &Listing) -> Markup {
    let tasks = &listing.tasks;
    let first = tasks.items.first().map(|t| t.task.id.to_string());
    let last = tasks.items.last().map(|t| t.task.id.to_string());
    // Which way more tasks lie depends on the direction the page was read in (newest first).
    let (newer, older) = match listing.window {
        Window::Offset { .. } => (false, tasks.has_more),
        Window::After { .. } => (true, tasks.has_more),
        Window::Before { .. } => (tasks.has_more, true),
    };
    html! {
        p.muted { (tasks.total) @if tasks.total == 1 { " task" } @else { " tasks" } }
        @if tasks.items.is_empty() {
            p { "No tasks here." }
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Task" } th scope="col" { "Agent" } th scope="col" { "Status" }
                    th.num scope="col" { "Attempts" } th scope="col" { "Created" } th scope="col" { "Finished" }
                } }
                tbody {
                    @for listed in &tasks.items {
                        @let task = &listed.task;
                        tr {
                            td { a href={ "/tasks/" (task.id) } { (task.title) } }
                            td { (listed.agent_name) }
                            td { (badge(task.status.as_str())) }
                            td.num { (task.attempts) " of " (task.max_attempts) }
                            td { (when(task.created_at)) }
                            td { @if let Some(at) = task.completed_at { (when(at)) } @else { "—" } }
                        }
                    }
                }
            }
        }
        nav.toolbar aria-label="Task pages" {
            @if let (true, Some(first)) = (newer, &first) {
                a href=(query.href(Some(("before", first)))) { "Newer tasks" }
            }
            @if let (true, Some(last)) = (older, &last) {
                a href=(query.href(Some(("after", last)))) { "Older tasks" }
            }
            @if tasks.items.is_empty() && !matches!(listing.window, Window::Offset { .. }) {
                a href=(query.href(None)) { "The newest tasks" }
            }
        }
    }
}

fn task_page(session: &SignedIn, view: &TaskView, error: Option<&str>) -> Markup {
    let TaskView { task, agent, version } = view;
    let finished = task.status.is_terminal();
    let cancellable = task.status.transition(TaskStatus::Cancelled).is_ok();
    let content = html! {
        p { a href="/tasks" { "← Tasks" } }
        h1 { (task.title) }
        @if let Some(error) = error { p.error role="alert" { (error) } }
        div #task-state data-live=[(!finished).then_some("2000")] {
            dl.facts {
                dt { "Status" } dd { (badge(task.status.as_str())) }
                dt { "Agent" }
                dd {
                    @if let Some(agent) = agent { a href={ "/agents/" (agent.slug) } { (agent.metadata.name) } }
                    @else { code { (task.agent_id) } " (deleted)" }
                }
                dt { "Version" }
                dd { @if let Some(v) = version { "v" (v.number) } @else { code { (task.version_id) } } }
                dt { "Worked by" } dd { (task.executor.as_str()) }
                dt { "Attempts" } dd { (task.attempts) " of " (task.max_attempts) }
                dt { "Created" } dd { (when(task.created_at)) }
                @if task.run_at > task.created_at && !finished { dt { "Runs after" } dd { (when(task.run_at)) } }
                dt { "Started" } dd { @if let Some(at) = task.started_at { (when(at)) } @else { "not yet" } }
                dt { "Finished" } dd { @if let Some(at) = task.completed_at { (when(at)) } @else { "not yet" } }
                @if let Some(lease) = &task.lease { dt { "Lease expires" } dd { (when(lease.expires_at)) } }
            }
            @if let Some(error) = &task.error {
                h2 { "Error" }
                (layout::code_block(error))
            }
            h2 { "Output" }
            @if let Some(output) = &task.output { (json_block(output)) }
            @else if finished { p.muted { "The task finished without output." } }
            @else { p.muted { "No output yet; this part of the page refreshes itself until the task finishes." } }
        }
        h2 { "Input" }
        (json_block(&task.input))
        @if cancellable {
            form method="post" action={ "/tasks/" (task.id) "/cancel" } data-confirm="Cancel this task?" {
                (csrf_field(session))
                p { button.danger type="submit" { "Cancel task" } }
            }
        }
    };
    layout::page(session, Section::Tasks, &task.title, content)
}
