//! Datasets from the dashboard: `/agents/{agent}/datasets/{name}` shows one's cases and replaces it
//! with the JSON typed in its form (a new revision, as `PUT …/datasets/{name}` does) or deletes it; the
//! evaluations page creates one from a name and the same JSON. A refused form is shown again with the
//! error beside it and the text as it was typed; nothing is written.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use talon_domain::agent::{Agent, AgentRef};
use talon_domain::evaluation::{Case, Check, Dataset};

use super::super::super::redirect::see_other;
use super::super::{agent_nav, agent_ref, base_href};
use super::{Forms, NewDatasetForm, evaluations_page, listing};
use crate::api::rest::evaluations::requests::{PutDatasetRequest, dataset_input};
use crate::services::ServiceError;
use crate::services::evaluations::DatasetInput;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::form::{CsrfForm, NoFields};
use crate::web::layout::{self, Section, csrf_field, when};
use crate::web::session::SignedIn;

/// How much of a case's input the table quotes.
const INPUT_EXCERPT_CHARS: usize = 300;

/// The replace form as posted: the dataset's whole content as JSON.
#[derive(Debug, Default, Deserialize)]
pub struct DatasetForm {
    #[serde(default)]
    json: String,
}

/// A dataset's content from the JSON a form holds: `{"description", "cases"}`, read as the API reads
/// the body of `PUT …/datasets/{name}` (unknown fields and wrong types refused).
fn content(text: &str) -> Result<DatasetInput, WebError> {
    let request: PutDatasetRequest = serde_json::from_str(text.trim()).map_err(|e| {
        WebError::bad_request(format!("The dataset is not valid JSON of {{\"description\", \"cases\"}}: {e}"))
    })?;
    Ok(dataset_input(request.description, request.cases))
}

/// A dataset's content in the order people write it: the description, then the cases.
#[derive(Serialize)]
struct Content<'a> {
    description: &'a str,
    cases: &'a [Case],
}

/// The JSON the replace form starts from: the dataset as it is.
fn content_json(dataset: &Dataset) -> String {
    let content = Content { description: &dataset.description, cases: &dataset.cases };
    serde_json::to_string_pretty(&content).unwrap_or_default()
}

pub async fn create(
    State(state): State<AppState>,
    Path(agent): Path<String>,
    CsrfForm(session, form): CsrfForm<NewDatasetForm>,
) -> Result<Response, WebError> {
    let reference = agent_ref(&agent)?;
    let name = form.name.trim().to_owned();
    let created = match content(&form.json) {
        Ok(input) => {
            state.evaluations.create_dataset(&session.caller(), &reference, &name, input).await.map_err(WebError::from)
        }
        Err(e) => Err(e),
    };
    let error = match created {
        Ok(dataset) => {
            let path = format!("{}/datasets/{}", base_href(&reference), dataset.name);
            return Ok(see_other(&path, &format!("Dataset {} created", dataset.name)));
        }
        Err(e) => e,
    };
    // Another account's agent is "not found" here, whatever was wrong with the form.
    let listing = listing(&state, &session, &reference, 1).await?;
    let forms = Forms { dataset: form, dataset_error: Some(error.message()), ..Forms::default() };
    Ok((error.status(), evaluations_page(&session, &reference, &listing, &forms)).into_response())
}

/// The agent (the caller's) and its dataset `name`, if it has one.
async fn shown(
    state: &AppState,
    session: &SignedIn,
    reference: &AgentRef,
    name: &str,
) -> Result<(Agent, Option<Dataset>), WebError> {
    let caller = session.caller();
    let agent = state.registry.owned(&caller, reference).await?;
    match state.evaluations.dataset(&caller, reference, name).await {
        Ok(dataset) => Ok((agent, Some(dataset))),
        Err(ServiceError::NotFound(_)) => Ok((agent, None)),
        Err(e) => Err(e.into()),
    }
}

pub async fn page(
    State(state): State<AppState>,
    session: SignedIn,
    Path((agent, name)): Path<(String, String)>,
) -> Result<Markup, WebError> {
    let reference = agent_ref(&agent)?;
    let (agent, dataset) = shown(&state, &session, &reference, &name).await?;
    let dataset = dataset.ok_or_else(|| WebError::not_found("Dataset"))?;
    let text = content_json(&dataset);
    Ok(dataset_page(&session, &reference, &agent, &name, Some(&dataset), &text, None))
}

/// Replaces the dataset with the form's JSON (its next revision), or creates it.
pub async fn save(
    State(state): State<AppState>,
    Path((agent, name)): Path<(String, String)>,
    CsrfForm(session, form): CsrfForm<DatasetForm>,
) -> Result<Response, WebError> {
    let reference = agent_ref(&agent)?;
    let saved = match content(&form.json) {
        Ok(input) => {
            state.evaluations.put_dataset(&session.caller(), &reference, &name, input).await.map_err(WebError::from)
        }
        Err(e) => Err(e),
    };
    let error = match saved {
        Ok((dataset, created)) => {
            let path = format!("{}/datasets/{}", base_href(&reference), dataset.name);
            let notice = if created {
                format!("Dataset {} created", dataset.name)
            } else {
                format!("Dataset {} saved: revision {}", dataset.name, dataset.revision)
            };
            return Ok(see_other(&path, &notice));
        }
        Err(e) => e,
    };
    let (agent, dataset) = shown(&state, &session, &reference, &name).await?;
    let body = dataset_page(&session, &reference, &agent, &name, dataset.as_ref(), &form.json, Some(&error.message()));
    Ok((error.status(), body).into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    Path((agent, name)): Path<(String, String)>,
    CsrfForm(session, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, WebError> {
    let reference = agent_ref(&agent)?;
    state.evaluations.delete_dataset(&session.caller(), &reference, &name).await?;
    let path = format!("{}/evaluations", base_href(&reference));
    Ok(see_other(&path, &format!("Dataset {name} deleted")))
}

fn dataset_page(
    session: &SignedIn,
    reference: &AgentRef,
    agent: &Agent,
    name: &str,
    dataset: Option<&Dataset>,
    text: &str,
    error: Option<&str>,
) -> Markup {
    let base = base_href(reference);
    let title = format!("Dataset {name}");
    layout::page(
        session,
        Section::Agents,
        &title,
        html! {
            h1 { (title) }
            (agent_nav(&base, "Dataset", Some(agent.slug.as_str())))
            p { a href={ (base) "/evaluations" } { "← Datasets and evaluations of " (agent.metadata.name) } }
            @if let Some(dataset) = dataset {
                @if !dataset.description.is_empty() { p.muted { (dataset.description) } }
                dl.facts {
                    dt { "Cases" } dd { (dataset.cases.len()) }
                    dt { "Revision" } dd { (dataset.revision) }
                    dt { "Created" } dd { (when(dataset.created_at)) }
                    dt { "Updated" } dd { (when(dataset.updated_at)) }
                }
                (cases_table(dataset))
            } @else {
                p { "This dataset does not exist (any more): saving the form creates it." }
            }
            section.panel aria-labelledby="replace-heading" {
                h2 #replace-heading { "Replace the dataset" }
                @if let Some(error) = error { p #dataset-error .error role="alert" { (error) } }
                form method="post" action={ (base) "/datasets/" (name) } {
                    (csrf_field(session))
                    label for="dataset-json" { "Dataset (JSON)" }
                    textarea #dataset-json .prompt name="json" required aria-describedby="dataset-json-hint"
                        aria-invalid=[error.map(|_| "true")] { "\n" (text) }
                    (json_hint("dataset-json-hint"))
                    p { button type="submit" { "Save dataset" } }
                }
            }
            @if dataset.is_some() {
                form method="post" action={ (base) "/datasets/" (name) "/delete" }
                    data-confirm={ "Delete dataset " (name) "? Evaluations already run keep their results." } {
                    (csrf_field(session))
                    p { button.danger type="submit" { "Delete dataset" } }
                }
            }
        },
    )
}

fn json_hint(id: &str) -> Markup {
    html! {
        p #(id) .hint {
            "An object with " code { "description" } " and " code { "cases" } ": 1 to 200 of "
            code { "{\"name\", \"input\", \"checks\"}" } ". Each check has a " code { "type" } ": "
            code { "exact" } " or " code { "contains" } " (" code { "value" } ", " code { "ignoreCase" } "), "
            code { "regex" } " (" code { "pattern" } "), " code { "jsonSchema" } " (" code { "schema" } "), "
            code { "numeric" } " (" code { "path" } ", " code { "expected" } ", " code { "tolerance" } ") or "
            code { "judge" } " (" code { "agent" } ", " code { "criteria" } "). Saving makes a new revision."
        }
    }
}

/// The evaluations page's form that creates a dataset.
pub(super) fn new_form(session: &SignedIn, base: &str, form: &NewDatasetForm, error: Option<&str>) -> Markup {
    html! {
        section.panel aria-labelledby="new-dataset-heading" {
            h2 #new-dataset-heading { "New dataset" }
            @if let Some(error) = error { p #new-dataset-error .error role="alert" { (error) } }
            form method="post" action={ (base) "/datasets" } {
                (csrf_field(session))
                label for="new-dataset-name" { "Dataset name" }
                input #new-dataset-name type="text" name="name" required maxlength="64" pattern="[a-z0-9_\\-]{1,64}"
                    value=(form.name) placeholder="smoke" aria-describedby="new-dataset-name-hint";
                p #new-dataset-name-hint .hint { "1 to 64 of a-z, 0-9, - and _." }
                label for="new-dataset-json" { "Cases (JSON)" }
                textarea #new-dataset-json .prompt name="json" required aria-describedby="new-dataset-json-hint"
                    aria-invalid=[error.map(|_| "true")] { "\n" (form.json) }
                (json_hint("new-dataset-json-hint"))
                p { button type="submit" { "Create dataset" } }
            }
        }
    }
}

fn cases_table(dataset: &Dataset) -> Markup {
    html! {
        section aria-labelledby="cases-heading" {
            h2 #cases-heading { "Cases" }
            table {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Input" } th scope="col" { "Checks" } } }
                tbody {
                    @for case in &dataset.cases {
                        tr {
                            td { (case.name) }
                            td { code.excerpt { (input_excerpt(&case.input)) } }
                            td {
                                ul {
                                    @for check in &case.checks { li { (check_text(check)) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A case's input as the table quotes it: a string as it is, anything else as compact JSON.
pub(super) fn input_excerpt(input: &Value) -> String {
    let text = match input {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    excerpt(&text, INPUT_EXCERPT_CHARS)
}

/// The first `chars` characters of `text`, with "…" when it goes on.
pub(super) fn excerpt(text: &str, chars: usize) -> String {
    let mut cut: String = text.chars().take(chars).collect();
    if text.chars().nth(chars).is_some() {
        cut.push('…');
    }
    cut
}

/// A check as a person reads it.
fn check_text(check: &Check) -> String {
    let case = |ignore: bool| if ignore { " (any case)" } else { "" };
    match check {
        Check::Exact { value, ignore_case } => format!("is exactly “{value}”{}", case(*ignore_case)),
        Check::Contains { value, ignore_case } => format!("contains “{value}”{}", case(*ignore_case)),
        Check::Regex { pattern } => format!("matches /{pattern}/"),
        Check::JsonSchema { schema } => format!("is JSON valid against {}", excerpt(&schema.to_string(), 120)),
        Check::Numeric { path, expected, tolerance } => format!("{path} is {expected} ± {tolerance}"),
        Check::Judge { agent, criteria } => format!("judged by {agent}: {}", excerpt(criteria, 200)),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use serde_json::json;

    use super::*;

    #[test]
    fn the_form_reads_what_the_api_reads() {
        let text = r#"{"description": "d", "cases": [{"name": "a", "input": "hi", "checks": [{"type": "contains", "value": "hi"}]}]}"#;
        let input = content(text).unwrap();
        assert_eq!((input.description.as_str(), input.cases.len()), ("d", 1));
        let unknown = r#"{"cases": [{"name": "a", "input": "hi", "checks": [{"type": "nearly", "value": "hi"}]}]}"#;
        assert_eq!(content(unknown).unwrap_err().status(), StatusCode::BAD_REQUEST);
        assert_eq!(content("{\"cases\": [").unwrap_err().status(), StatusCode::BAD_REQUEST);
        assert_eq!(content(r#"{"cases": [], "extra": 1}"#).unwrap_err().status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn excerpts_are_cut_by_characters() {
        assert_eq!(excerpt("héllo", 2), "hé…");
        assert_eq!(excerpt("hi", 2), "hi");
        assert_eq!(input_excerpt(&json!({"a": 1})), r#"{"a":1}"#);
    }

    #[test]
    fn a_dataset_round_trips_through_its_form() {
        let case = Case {
            name: "a".into(),
            input: json!("hi"),
            checks: vec![Check::Contains { value: "hi".into(), ignore_case: true }],
        };
        let dataset = Dataset {
            id: talon_domain::DatasetId::new(),
            owner: talon_domain::UserId::new(),
            agent_id: talon_domain::AgentId::new(),
            name: "smoke".into(),
            description: "d".into(),
            cases: vec![case.clone()],
            revision: 1,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        let text = content_json(&dataset);
        assert!(text.find("description") < text.find("cases"), "{text}");
        let input = content(&text).unwrap();
        assert_eq!(input.cases, [case]);
    }
}
