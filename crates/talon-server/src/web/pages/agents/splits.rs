//! Canary splits from an agent's page: start one between two versions, promote an arm, abort it; and
//! `/agents/{agent}/split`, the arms' usage side by side. Each form is posted to the registry call the
//! API makes (`POST …/deploy` with `split`, `…/deploy/promote`, `…/deploy/abort`), answered with `303`
//! back to the agent and a notice; the comparison reads what `GET …/usage/compare` reads.

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use talon_domain::agent::VersionRef;
use talon_domain::time::now;
use talon_domain::usage::{UsageRange, VersionUsage};

use super::super::redirect::see_other;
use super::{agent_nav, agent_ref, base_href};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::form::{CsrfForm, NoFields};
use crate::web::layout::{self, Section, csrf_field};
use crate::web::session::SignedIn;

/// Two arms as posted: each a version (number or label) and a weight in percent.
#[derive(Debug, Default, Deserialize)]
pub struct SplitForm {
    #[serde(default)]
    first_version: String,
    #[serde(default)]
    first_weight: String,
    #[serde(default)]
    second_version: String,
    #[serde(default)]
    second_weight: String,
}

/// The arm to promote: a version number or label.
#[derive(Debug, Default, Deserialize)]
pub struct PromoteForm {
    #[serde(default)]
    version: String,
}

/// A version a form names; text that names none is "not found", as in the API.
fn version(text: &str) -> Result<VersionRef, WebError> {
    VersionRef::parse(text.trim()).ok_or_else(|| WebError::not_found("Version"))
}

fn weight(text: &str, which: &str) -> Result<i64, WebError> {
    text.trim().parse::<i64>().map_err(|_| WebError::bad_request(format!("{which} weight must be a whole number")))
}

pub async fn start(
    State(state): State<AppState>,
    Path(agent): Path<String>,
    CsrfForm(session, form): CsrfForm<SplitForm>,
) -> Result<Response, WebError> {
    let reference = agent_ref(&agent)?;
    let arms = vec![
        (version(&form.first_version)?, weight(&form.first_weight, "First")?),
        (version(&form.second_version)?, weight(&form.second_weight, "Second")?),
    ];
    let agent = state.registry.deploy_split(&session.caller(), &reference, arms, None).await?;
    let arms = state.registry.split_numbers(&agent).await?;
    let described: Vec<String> = arms.iter().map(|(n, w)| format!("version {n} {w} %")).collect();
    let notice = format!("Canary split started: {}", described.join(", "));
    Ok(see_other(&base_href(&reference), &notice))
}

pub async fn promote(
    State(state): State<AppState>,
    Path(agent): Path<String>,
    CsrfForm(session, form): CsrfForm<PromoteForm>,
) -> Result<Response, WebError> {
    let reference = agent_ref(&agent)?;
    let target = version(&form.version)?;
    state.registry.promote(&session.caller(), &reference, target, None).await?;
    let notice = format!("Promoted: serving version {} alone", form.version.trim());
    Ok(see_other(&base_href(&reference), &notice))
}

pub async fn abort(
    State(state): State<AppState>,
    Path(agent): Path<String>,
    CsrfForm(session, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, WebError> {
    let reference = agent_ref(&agent)?;
    let caller = session.caller();
    let agent = state.registry.abort_split(&caller, &reference).await?;
    let served = state.registry.version_numbers(std::slice::from_ref(&agent)).await?;
    let notice = match agent.deployed_version_id.and_then(|id| served.get(&id)) {
        Some(n) => format!("Split aborted: serving version {n} again"),
        None => "Split aborted".to_owned(),
    };
    Ok(see_other(&base_href(&reference), &notice))
}

/// `/agents/{agent}/split`: each arm's usage over the last 30 days, the first arm beside each other one.
pub async fn page(
    State(state): State<AppState>,
    session: SignedIn,
    Path(agent): Path<String>,
) -> Result<Markup, WebError> {
    let reference = agent_ref(&agent)?;
    let caller = session.caller();
    let agent = state.registry.owned(&caller, &reference).await?;
    let arms = state.registry.split_numbers(&agent).await?;
    let range = UsageRange::parse(None, None, now()).map_err(crate::api::error::ApiError::validation)?;
    let mut columns: Vec<(i64, u32, VersionUsage)> = Vec::new();
    if let Some(&(first, first_weight)) = arms.first() {
        for &(number, weight) in &arms[1..] {
            let (a, b) = (number_ref(first)?, number_ref(number)?);
            let compared = state.usage.compare(&caller, &reference, a, b, range).await?;
            if columns.is_empty() {
                columns.push((first, first_weight, compared.from));
            }
            columns.push((number, weight, compared.to));
        }
    }
    let base = base_href(&reference);
    Ok(layout::page(
        &session,
        Section::Agents,
        &format!("{}: canary split", agent.metadata.name),
        html! {
            h1 { (agent.metadata.name) ": canary split" }
            (agent_nav(&base, "Canary split", Some(agent.slug.as_str())))
            @if columns.is_empty() {
                p.muted { "No canary split is being served. Start one from " a href=(base) { "the agent's page" } "." }
            } @else {
                p.muted { "Each arm's answers over the last 30 days (" (layout::when(range.from)) " to " (layout::when(range.to)) ")." }
                (usage_table(&columns))
            }
        },
    ))
}

fn number_ref(number: i64) -> Result<VersionRef, WebError> {
    VersionRef::number(number).ok_or_else(|| WebError::not_found("Version"))
}

/// A row of the comparison: its label and how a version's figure is shown.
type Row = (&'static str, fn(&VersionUsage) -> String);

fn usage_table(columns: &[(i64, u32, VersionUsage)]) -> Markup {
    let rows: [Row; 7] = [
        ("Requests", |u| u.requests.to_string()),
        ("Succeeded", |u| u.succeeded.to_string()),
        ("Failed", |u| u.failed.to_string()),
        ("Prompt tokens", |u| u.prompt_tokens.to_string()),
        ("Completion tokens", |u| u.completion_tokens.to_string()),
        ("Average latency (ms)", |u| format!("{:.0}", u.avg_latency_ms)),
        ("Slowest (ms)", |u| format!("{:.0}", u.max_latency_ms)),
    ];
    html! {
        table aria-label="Usage per arm" {
            thead {
                tr {
                    th scope="col" { "" }
                    @for (number, weight, _) in columns { th.num scope="col" { "Version " (number) " (" (weight) " %)" } }
                }
            }
            tbody {
                @for (label, value) in rows {
                    tr {
                        th scope="row" { (label) }
                        @for (_, _, usage) in columns { td.num { (value(usage)) } }
                    }
                }
            }
        }
    }
}

/// The owner's split controls, inside the deployment panel: the arms being served with "Promote" for
/// each and "Abort split", and the form that starts a split (or replaces the one being served).
pub(super) fn panel(session: &SignedIn, base: &str, arms: &[(i64, u32)], choices: &[i64]) -> Markup {
    let second = choices.get(1).or(choices.first()).copied().unwrap_or(1);
    html! {
        h3 #split-heading { "Canary split" }
        @if !arms.is_empty() {
            ul aria-labelledby="split-heading" {
                @for (number, weight) in arms {
                    li.toolbar {
                        a href={ (base) "/versions/" (number) } { "Version " (number) } " " (weight) " %"
                        form method="post" action={ (base) "/split/promote" } {
                            (csrf_field(session))
                            input type="hidden" name="version" value=(number);
                            button.secondary type="submit" aria-label={ "Promote version " (number) } { "Promote" }
                        }
                    }
                }
            }
            div.toolbar {
                form method="post" action={ (base) "/split/abort" } {
                    (csrf_field(session))
                    button.secondary type="submit" { "Abort split" }
                }
                a href={ (base) "/split" } { "Compare the arms' usage" }
            }
        }
        form method="post" action={ (base) "/split" } {
            (csrf_field(session))
            div.toolbar {
                label.inline for="split-first-version" { "First version" }
                select #split-first-version name="first_version" {
                    @for n in choices { option value=(n) { "Version " (n) } }
                }
                label.inline for="split-first-weight" { "First weight" }
                input #split-first-weight type="number" name="first_weight" min="1" max="99" value="90" required;
            }
            div.toolbar {
                label.inline for="split-second-version" { "Second version" }
                select #split-second-version name="second_version" {
                    @for n in choices { option value=(n) selected[*n == second] { "Version " (n) } }
                }
                label.inline for="split-second-weight" { "Second weight" }
                input #split-second-weight type="number" name="second_weight" min="1" max="99" value="10" required;
                button type="submit" { "Start split" }
            }
        }
    }
}
