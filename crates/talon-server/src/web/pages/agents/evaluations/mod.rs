//! `/agents/{agent}/evaluations`: an agent's datasets and evaluations, the form that creates a dataset
//! and the one that starts an evaluation (`EvaluationService::create_dataset` and `start`, as
//! `POST …/datasets` and `POST …/evaluations` make them); `datasets` is one dataset's page (its cases,
//! replaced or deleted there), `report` one evaluation's report. Only the agent's owner sees any of it:
//! the service answers "not found" to everyone else.

mod datasets;
mod report;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use talon_domain::agent::{Agent, AgentRef, Label, VersionRef};
use talon_domain::evaluation::{DEFAULT_CONCURRENCY, DatasetSummary, Evaluation, MAX_CONCURRENCY, MAX_VERSIONS};
use talon_store::{Page, Window};

use super::super::redirect::see_other;
use super::{agent_nav, agent_ref, base_href};
use crate::services::evaluations::StartEvaluation;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::form::{CsrfForm, all_values};
use crate::web::layout::{self, Section, badge, csrf_field, when};
use crate::web::session::SignedIn;

pub use datasets::{create as create_dataset, delete as delete_dataset, page as dataset_page, save as save_dataset};
pub use report::{cancel, page as report_page};

/// Evaluations a page of the list shows.
const PAGE: i64 = 25;
/// The newest versions the start form offers as checkboxes; older ones are named by label.
const VERSION_CHOICES: i64 = 10;
/// What the new-dataset form shows before anything is typed: one case of each common kind of check.
const EXAMPLE: &str = r#"{
  "description": "Answers we rely on",
  "cases": [
    {"name": "greets", "input": "Say hello", "checks": [{"type": "contains", "value": "hello", "ignoreCase": true}]}
  ]
}"#;

/// `?page=`: the page of evaluations.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    page: Option<String>,
}

/// The new-dataset form as posted, and as shown again when it is refused.
#[derive(Debug, Default, Deserialize)]
pub struct NewDatasetForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    json: String,
}

/// What the page shows besides the lists: the forms' text, and the error of the one refused.
#[derive(Default)]
struct Forms {
    dataset: NewDatasetForm,
    dataset_error: Option<String>,
    start_error: Option<String>,
}

impl Forms {
    /// The forms as a page first shows them: the new-dataset form holds an example to edit.
    fn fresh() -> Self {
        Forms { dataset: NewDatasetForm { name: String::new(), json: EXAMPLE.to_owned() }, ..Forms::default() }
    }
}

/// What the evaluations page lists.
struct Listing {
    agent: Agent,
    datasets: Vec<DatasetSummary>,
    evaluations: Page<Evaluation>,
    numbers: std::collections::HashMap<talon_domain::VersionId, i64>,
    labels: Vec<Label>,
    head: i64,
    page: i64,
}

async fn listing(state: &AppState, session: &SignedIn, reference: &AgentRef, page: i64) -> Result<Listing, WebError> {
    let caller = session.caller();
    let agent = state.registry.owned(&caller, reference).await?;
    let (_, head) = state.registry.agent(&caller, reference).await?;
    let datasets = state.evaluations.datasets(&caller, reference).await?;
    let window = Window::Offset { offset: (page - 1).saturating_mul(PAGE), limit: PAGE };
    let (evaluations, numbers) = state.evaluations.list(&caller, reference, window).await?;
    let labels = state.registry.labels_of(&agent).await?;
    Ok(Listing { agent, datasets, evaluations, numbers, labels, head: head.number, page })
}

pub async fn page(
    State(state): State<AppState>,
    session: SignedIn,
    Path(agent): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Markup, WebError> {
    let reference = agent_ref(&agent)?;
    let page = query.page.as_deref().and_then(|p| p.parse::<i64>().ok()).filter(|p| (1..=100_000).contains(p));
    let listing = listing(&state, &session, &reference, page.unwrap_or(1)).await?;
    Ok(evaluations_page(&session, &reference, &listing, &Forms::fresh()))
}

/// Starts an evaluation of the chosen dataset against the checked versions, then shows its report.
pub async fn start(
    State(state): State<AppState>,
    Path(agent): Path<String>,
    CsrfForm(session, pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let reference = agent_ref(&agent)?;
    let started = match start_request(&pairs) {
        Ok(request) => state.evaluations.start(&session.caller(), &reference, request).await.map_err(WebError::from),
        Err(e) => Err(e),
    };
    let error = match started {
        Ok(report) => {
            let path = format!("{}/evaluations/{}", base_href(&reference), report.evaluation.id);
            return Ok(see_other(&path, "Evaluation started"));
        }
        Err(e) => e,
    };
    // Another account's agent is "not found" here too, before anything is shown.
    let listing = listing(&state, &session, &reference, 1).await?;
    let forms = Forms { start_error: Some(error.message()), ..Forms::fresh() };
    Ok((error.status(), evaluations_page(&session, &reference, &listing, &forms)).into_response())
}

/// The service's request from the start form: `dataset`, a `version` per checked box, `concurrency`.
fn start_request(pairs: &[(String, String)]) -> Result<StartEvaluation, WebError> {
    let first = |name: &str| all_values(pairs, name).into_iter().next().unwrap_or_default();
    let dataset = first("dataset").trim().to_owned();
    if dataset.is_empty() {
        return Err(WebError::bad_request("Choose the dataset to run"));
    }
    let mut versions = Vec::new();
    for text in all_values(pairs, "version") {
        let version = VersionRef::parse(text.trim()).ok_or_else(|| WebError::not_found("Version"))?;
        if !versions.contains(&version) {
            versions.push(version);
        }
    }
    if versions.is_empty() {
        return Err(WebError::bad_request("Check at least one version to evaluate"));
    }
    let concurrency = match first("concurrency").trim() {
        "" => None,
        text => Some(text.parse::<i64>().map_err(|_| {
            WebError::bad_request(format!("Concurrency must be a whole number from 1 to {MAX_CONCURRENCY}"))
        })?),
    };
    Ok(StartEvaluation { dataset, versions, concurrency })
}

fn evaluations_page(session: &SignedIn, reference: &AgentRef, listing: &Listing, forms: &Forms) -> Markup {
    let base = base_href(reference);
    let agent = &listing.agent;
    let title = format!("{}: evaluations", agent.metadata.name);
    layout::page(
        session,
        Section::Agents,
        &title,
        html! {
            h1 { (title) }
            (agent_nav(&base, "Evaluations", Some(agent.slug.as_str())))
            p.muted {
                "A dataset holds cases: an input for the agent and checks of its answer. An evaluation runs every \
                 case against the versions you choose, as tasks, and reports each version's pass rate."
            }
            section aria-labelledby="datasets-heading" {
                h2 #datasets-heading { "Datasets" }
                (datasets_table(&base, &listing.datasets))
            }
            (start_form(session, &base, listing, forms.start_error.as_deref()))
            (evaluations_table(&base, listing))
            (datasets::new_form(session, &base, &forms.dataset, forms.dataset_error.as_deref()))
        },
    )
}

fn datasets_table(base: &str, datasets: &[DatasetSummary]) -> Markup {
    html! {
        @if datasets.is_empty() {
            p { "No datasets yet: create one below." }
        } @else {
            table {
                thead {
                    tr {
                        th scope="col" { "Name" }
                        th scope="col" { "Description" }
                        th.num scope="col" { "Cases" }
                        th.num scope="col" { "Revision" }
                        th scope="col" { "Updated" }
                    }
                }
                tbody {
                    @for d in datasets {
                        tr {
                            td { a href={ (base) "/datasets/" (d.name) } { (d.name) } }
                            td { (d.description) }
                            td.num { (d.case_count) }
                            td.num { (d.revision) }
                            td { (when(d.updated_at)) }
                        }
                    }
                }
            }
        }
    }
}

fn start_form(session: &SignedIn, base: &str, listing: &Listing, error: Option<&str>) -> Markup {
    let newest = (listing.head - VERSION_CHOICES + 1).max(1);
    html! {
        section.panel aria-labelledby="start-heading" {
            h2 #start-heading { "Start an evaluation" }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            @if listing.datasets.is_empty() {
                p.muted { "Create a dataset first." }
            } @else {
                form method="post" action={ (base) "/evaluations" } {
                    (csrf_field(session))
                    label for="start-dataset" { "Dataset" }
                    select #start-dataset name="dataset" required {
                        @for d in &listing.datasets { option value=(d.name) { (d.name) " (" (d.case_count) " cases)" } }
                    }
                    fieldset {
                        legend { "Versions (1 to " (MAX_VERSIONS) ")" }
                        div.checks {
                            @for n in (newest..=listing.head).rev() {
                                label.inline for={ "start-v" (n) } {
                                    input #{ "start-v" (n) } type="checkbox" name="version" value=(n) checked[n == listing.head];
                                    "Version " (n) @if n == listing.head { " (head)" }
                                }
                            }
                            @for label in &listing.labels {
                                label.inline for={ "start-label-" (label.name) } {
                                    input #{ "start-label-" (label.name) } type="checkbox" name="version" value=(label.name);
                                    "Label " (label.name) " (version " (label.version_number) ")"
                                }
                            }
                        }
                    }
                    label for="start-concurrency" { "Concurrency" }
                    input #start-concurrency type="number" name="concurrency" min="1" max=(MAX_CONCURRENCY)
                        value=(DEFAULT_CONCURRENCY) aria-describedby="start-concurrency-hint";
                    p #start-concurrency-hint .hint { "How many of its tasks wait in the queue at once." }
                    p { button type="submit" { "Start evaluation" } }
                }
            }
        }
    }
}

fn evaluations_table(base: &str, listing: &Listing) -> Markup {
    let page = listing.page;
    let number = |id: &talon_domain::VersionId| listing.numbers.get(id).copied();
    html! {
        section aria-labelledby="evaluations-heading" {
            h2 #evaluations-heading { "Evaluations" }
            @if listing.evaluations.items.is_empty() {
                p { "No evaluations on this page." }
            } @else {
                table {
                    thead {
                        tr {
                            th scope="col" { "Started" }
                            th scope="col" { "Dataset" }
                            th scope="col" { "Versions" }
                            th scope="col" { "Status" }
                            th scope="col" { "Pass rates" }
                            th scope="col" { "Report" }
                        }
                    }
                    tbody {
                        @for e in &listing.evaluations.items {
                            tr {
                                td { (when(e.created_at)) }
                                td { (e.dataset_name) " " span.muted { "rev. " (e.dataset_revision) } }
                                td { (versions_text(&e.versions, &number)) }
                                td { (badge(e.status.as_str())) }
                                td {
                                    @for (i, s) in e.summaries.iter().enumerate() {
                                        @if i > 0 { ", " }
                                        (version_name(number(&s.version_id))) " " (percent(s.pass_rate))
                                    }
                                }
                                td { a href={ (base) "/evaluations/" (e.id) } { "Report" } }
                            }
                        }
                    }
                }
            }
            @if page > 1 || listing.evaluations.has_more {
                nav.toolbar aria-label="Pages of evaluations" {
                    @if page > 1 { a href={ (base) "/evaluations?page=" (page - 1) } { "Newer evaluations" } }
                    @if listing.evaluations.has_more { a href={ (base) "/evaluations?page=" (page + 1) } { "Older evaluations" } }
                }
            }
        }
    }
}

fn versions_text(
    versions: &[talon_domain::VersionId],
    number: &impl Fn(&talon_domain::VersionId) -> Option<i64>,
) -> String {
    versions.iter().map(|v| version_name(number(v))).collect::<Vec<_>>().join(", ")
}

/// A version as a report names it: "v3", or "a deleted version" when its number is unknown.
fn version_name(number: Option<i64>) -> String {
    number.map_or_else(|| "a deleted version".to_owned(), |n| format!("v{n}"))
}

/// A rate from 0 to 1 as a whole percentage.
fn percent(rate: f64) -> String {
    format!("{:.0} %", rate * 100.0)
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    fn pairs(fields: &[(&str, &str)]) -> Vec<(String, String)> {
        fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn the_start_form_names_each_version_once() {
        let form = pairs(&[("dataset", "smoke"), ("version", "2"), ("version", "production"), ("version", "2")]);
        let request = start_request(&form).unwrap();
        assert_eq!(request.dataset, "smoke");
        assert_eq!(request.versions, [VersionRef::Number(2), VersionRef::Label("production".into())]);
        assert_eq!(request.concurrency, None);
    }

    #[test]
    fn the_start_form_needs_a_dataset_a_version_and_a_whole_concurrency() {
        assert_eq!(start_request(&pairs(&[("version", "1")])).unwrap_err().status(), StatusCode::BAD_REQUEST);
        assert_eq!(start_request(&pairs(&[("dataset", "smoke")])).unwrap_err().status(), StatusCode::BAD_REQUEST);
        let fractional = pairs(&[("dataset", "smoke"), ("version", "1"), ("concurrency", "2.5")]);
        assert_eq!(start_request(&fractional).unwrap_err().status(), StatusCode::BAD_REQUEST);
        let unnamed = pairs(&[("dataset", "smoke"), ("version", "Not a version!")]);
        assert_eq!(start_request(&unnamed).unwrap_err().status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn rates_read_as_percentages() {
        assert_eq!(percent(0.5), "50 %");
        assert_eq!(percent(1.0), "100 %");
        assert_eq!(version_name(None), "a deleted version");
    }
}
