//! `/agents/{agent}/evaluations/{id}`: an evaluation's report, as `GET …/evaluations/{evaluationId}`
//! reads it: one row per version (pass rate, passed, failed, errored, latency, tokens), then each case's
//! result per version, the cases whose verdict differs between versions marked. While it runs, the
//! report is a live region the dashboard's script refreshes, and a button cancels it.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, html};
use talon_domain::agent::AgentRef;
use talon_domain::evaluation::{CaseResult, CaseStatus, EvaluationStatus};
use talon_domain::{EvaluationId, VersionId};

use super::super::super::redirect::see_other;
use super::super::{agent_nav, agent_ref, base_href};
use super::datasets::excerpt;
use super::{percent, version_name};
use crate::services::evaluations::EvaluationReport;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::form::{CsrfForm, NoFields};
use crate::web::layout::{self, Section, badge, csrf_field, when};
use crate::web::session::SignedIn;

/// How much of an answer a cell quotes; the task's page has all of it.
const ANSWER_EXCERPT_CHARS: usize = 200;

fn evaluation_id(text: &str) -> Result<EvaluationId, WebError> {
    EvaluationId::parse(text).map_err(|_| WebError::not_found("Evaluation"))
}

pub async fn page(
    State(state): State<AppState>,
    session: SignedIn,
    Path((agent, id)): Path<(String, String)>,
) -> Result<Markup, WebError> {
    let reference = agent_ref(&agent)?;
    let id = evaluation_id(&id)?;
    let caller = session.caller();
    let report = state.evaluations.report(&caller, &reference, id).await?;
    let agent = state.registry.owned(&caller, &reference).await?;
    Ok(report_page(&session, &reference, &agent.metadata.name, &agent.slug, &report))
}

pub async fn cancel(
    State(state): State<AppState>,
    Path((agent, id)): Path<(String, String)>,
    CsrfForm(session, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, WebError> {
    let reference = agent_ref(&agent)?;
    let id = evaluation_id(&id)?;
    state.evaluations.cancel(&session.caller(), &reference, id).await?;
    let path = format!("{}/evaluations/{id}", base_href(&reference));
    Ok(see_other(&path, "Evaluation cancelled: what settled is kept"))
}

fn report_page(session: &SignedIn, reference: &AgentRef, name: &str, slug: &str, shown: &EvaluationReport) -> Markup {
    let base = base_href(reference);
    let evaluation = &shown.evaluation;
    let running = evaluation.status == EvaluationStatus::Running;
    let title = format!("Evaluation on {}", evaluation.dataset_name);
    let settled = shown.results.iter().filter(|r| r.status.is_settled()).count();
    let here = format!("{base}/evaluations/{}", evaluation.id);
    layout::page(
        session,
        Section::Agents,
        &title,
        html! {
            h1 { (title) }
            (agent_nav(&base, "Evaluation", Some(slug)))
            p { a href={ (base) "/evaluations" } { "← Datasets and evaluations of " (name) } }
            div #evaluation-report data-live=[running.then_some("2000")] {
                dl.facts {
                    dt { "Status" } dd { (badge(evaluation.status.as_str())) }
                    dt { "Dataset" }
                    dd {
                        a href={ (base) "/datasets/" (evaluation.dataset_name) } { (evaluation.dataset_name) }
                        " (revision " (evaluation.dataset_revision) ", " (evaluation.cases.len()) " cases)"
                    }
                    dt { "Settled" } dd { (settled) " of " (shown.results.len()) " results" }
                    dt { "Concurrency" } dd { (evaluation.concurrency) }
                    dt { "Started" } dd { (when(evaluation.created_at)) }
                    dt { "Finished" } dd { @if let Some(at) = evaluation.completed_at { (when(at)) } @else { "not yet" } }
                }
                @if running {
                    p.muted { "Running: this part of the page refreshes itself until the evaluation finishes." }
                    form method="post" action={ (here) "/cancel" } data-confirm="Cancel this evaluation?" {
                        (csrf_field(session))
                        p { button.danger type="submit" { "Cancel evaluation" } }
                    }
                }
                (summaries(&base, shown))
                (cases(shown))
            }
        },
    )
}

fn summaries(base: &str, shown: &EvaluationReport) -> Markup {
    let number = |id: &VersionId| shown.numbers.get(id).copied();
    html! {
        section aria-labelledby="summaries-heading" {
            h2 #summaries-heading { "Versions" }
            table {
                thead {
                    tr {
                        th scope="col" { "Version" }
                        th.num scope="col" { "Pass rate" }
                        th.num scope="col" { "Passed" }
                        th.num scope="col" { "Failed" }
                        th.num scope="col" { "Errored" }
                        th.num scope="col" { "Average latency (ms)" }
                        th.num scope="col" { "Tokens" }
                    }
                }
                tbody {
                    @for s in &shown.report.summaries {
                        tr {
                            th scope="row" {
                                @match number(&s.version_id) {
                                    Some(n) => a href={ (base) "/versions/" (n) } { "Version " (n) },
                                    None => (version_name(None)),
                                }
                            }
                            td.num { (percent(s.pass_rate)) }
                            td.num { (s.passed) }
                            td.num { (s.failed) }
                            td.num { (s.errored) }
                            td.num { @if let Some(ms) = s.average_latency_ms { (format!("{ms:.0}")) } @else { "–" } }
                            td.num { (s.total_tokens) }
                        }
                    }
                }
            }
        }
    }
}

fn cases(shown: &EvaluationReport) -> Markup {
    let evaluation = &shown.evaluation;
    let by_case: HashMap<(i64, VersionId), &CaseResult> =
        shown.results.iter().map(|r| ((r.case_index, r.version_id), r)).collect();
    let differing = &shown.report.differing;
    html! {
        section aria-labelledby="cases-heading" {
            h2 #cases-heading { "Cases" }
            @if differing.is_empty() {
                p { "No case has a different verdict between the versions." }
            } @else {
                p {
                    (differing.len()) @if differing.len() == 1 { " case differs" } @else { " cases differ" }
                    " between the versions (marked below): "
                    @for (i, name) in differing.iter().enumerate() {
                        @if i > 0 { ", " }
                        mark { (name) }
                    }
                }
            }
            table aria-label="Each case's result per version" {
                thead {
                    tr {
                        th scope="col" { "Case" }
                        @for v in &evaluation.versions {
                            th scope="col" {
                                @match shown.numbers.get(v) { Some(n) => { "Version " (n) }, None => (version_name(None)) }
                            }
                        }
                    }
                }
                tbody {
                    @for (index, case) in evaluation.cases.iter().enumerate() {
                        @let differs = differing.contains(&case.name);
                        tr class=[differs.then_some("differs")] {
                            th scope="row" {
                                (case.name)
                                @if differs { " " mark { "differs" } }
                            }
                            @for v in &evaluation.versions {
                                td {
                                    @if let Some(result) = i64::try_from(index).ok().and_then(|i| by_case.get(&(i, *v))) {
                                        (cell(result))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One case of one version: its status, what failed, the answer's beginning, its task.
fn cell(result: &CaseResult) -> Markup {
    html! {
        (case_badge(result.status))
        @let failed: Vec<_> = result.checks.iter().filter(|c| !c.passed).collect();
        @if !failed.is_empty() {
            ul {
                @for check in failed {
                    li { code { (check.kind) } ": " (excerpt(&check.detail, 300)) }
                }
            }
        }
        @if let Some(error) = &result.error { p.error { (excerpt(error, 300)) } }
        @if let Some(answer) = &result.answer { code.excerpt { (excerpt(answer, ANSWER_EXCERPT_CHARS)) } }
        @if let Some(task) = result.task_id {
            a href={ "/tasks/" (task) } { "Task" }
            @for (i, judge) in result.judge_task_ids.iter().enumerate() {
                " · " a href={ "/tasks/" (judge) } { "Judge " (i + 1) }
            }
        }
    }
}

/// A case's status as a badge (app.css colours each status).
fn case_badge(status: CaseStatus) -> Markup {
    html! { span class={ "badge " (status.as_str()) } { (status.as_str()) } }
}
