//! `/agents/{agent}/merge?from={fork}`: merging a fork back from the dashboard. The page shows the
//! merge preview (`RegistryService::merge_preview`, as `GET …/merge-preview`): the merged prompt and each
//! conflict with its base, ours and theirs; its form posts a commit message and one choice per conflict
//! to the merge `POST …/merge` makes, computed against the head the page showed. A merge done is `303`
//! to the agent with a notice; a conflict left unresolved or a head that moved shows the form again.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;
use talon_domain::VersionId;
use talon_domain::agent::merge::{Choice, Conflict, Resolution};
use talon_domain::agent::{AgentRef, VersionRef};

use super::super::redirect::see_other;
use super::{agent_nav, agent_ref, base_href};
use crate::api::error::ApiError;
use crate::services::registry::{MergeOutcome, MergePreview, MergeRequest};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::form::{CsrfForm, all_values};
use crate::web::layout::{self, Section, csrf_field};
use crate::web::session::SignedIn;

/// `?from=` the fork (id or slug) and `&version=` its version (its current one when left out).
#[derive(Debug, Default, Deserialize)]
pub struct MergeQuery {
    from: Option<String>,
    version: Option<String>,
}

/// The form as posted: `choice_{i}` (`ours`, `theirs`, `value`) and `value_{i}` for the conflict whose
/// field is `field_{i}`.
struct MergeForm {
    from: String,
    version: String,
    head: String,
    commit_message: String,
    choices: HashMap<String, (String, String)>,
}

impl MergeForm {
    fn of(pairs: &[(String, String)]) -> Self {
        let first = |name: &str| all_values(pairs, name).into_iter().next().unwrap_or_default();
        let mut choices = HashMap::new();
        for (key, field) in pairs {
            if let Some(i) = key.strip_prefix("field_") {
                choices.insert(field.clone(), (first(&format!("choice_{i}")), first(&format!("value_{i}"))));
            }
        }
        MergeForm {
            from: first("from"),
            version: first("version"),
            head: first("head"),
            commit_message: first("commit_message"),
            choices,
        }
    }

    /// One resolution per conflict given a choice; a conflict without one is left for the merge to report.
    fn resolutions(&self, conflicts: &[Conflict]) -> Result<Vec<Resolution>, WebError> {
        let mut resolutions = Vec::new();
        for conflict in conflicts {
            let Some((choice, value)) = self.choices.get(&conflict.field) else { continue };
            let choice = match choice.as_str() {
                "ours" => Choice::Ours,
                "theirs" => Choice::Theirs,
                "value" => Choice::Value(typed_value(&conflict.field, value)),
                "" => continue,
                other => return Err(WebError::bad_request(format!("`{other}` is not a choice"))),
            };
            resolutions.push(Resolution { field: conflict.field.clone(), choice });
        }
        Ok(resolutions)
    }
}

/// A value typed in the form: the prompt's text as it is (with Unix line breaks); for the other parts
/// JSON, or the text itself (a model's `provider/model`).
fn typed_value(field: &str, text: &str) -> Value {
    let text = text.replace("\r\n", "\n");
    if field.starts_with("prompt") {
        return Value::String(text);
    }
    serde_json::from_str(text.trim()).unwrap_or(Value::String(text.trim().to_owned()))
}

fn fork_ref(text: Option<&str>) -> Result<AgentRef, WebError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Err(WebError::bad_request("Name the fork to merge: ?from=<fork>")),
        Some(text) => AgentRef::parse(text).ok_or_else(|| WebError::not_found("Agent")),
    }
}

fn version_ref(text: Option<&str>) -> Result<Option<VersionRef>, WebError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(text) => VersionRef::parse(text).map(Some).ok_or_else(|| WebError::not_found("Version")),
    }
}

pub async fn page(
    State(state): State<AppState>,
    session: SignedIn,
    Path(agent): Path<String>,
    Query(query): Query<MergeQuery>,
) -> Result<Markup, WebError> {
    let reference = agent_ref(&agent)?;
    let form = MergeForm {
        from: query.from.unwrap_or_default(),
        version: query.version.unwrap_or_default(),
        head: String::new(),
        commit_message: String::new(),
        choices: HashMap::new(),
    };
    let shown = load(&state, &session, &reference, &form).await?;
    Ok(merge_page(&session, &reference, &shown, &form, None))
}

/// What the page shows: the merge and the names of the two agents.
struct Shown {
    preview: MergePreview,
    name: String,
    slug: String,
    fork_name: String,
}

async fn load(state: &AppState, session: &SignedIn, reference: &AgentRef, form: &MergeForm) -> Result<Shown, WebError> {
    let caller = session.caller();
    let fork = fork_ref(Some(&form.from))?;
    let version = version_ref(Some(&form.version))?;
    let preview = state.registry.merge_preview(&caller, reference, &fork, version.as_ref()).await?;
    let (agent, _) = state.registry.agent(&caller, reference).await?;
    let (fork_agent, _) = state.registry.agent(&caller, &fork).await?;
    Ok(Shown { preview, name: agent.metadata.name, slug: agent.slug, fork_name: fork_agent.metadata.name })
}

pub async fn merge(
    State(state): State<AppState>,
    Path(agent): Path<String>,
    CsrfForm(session, pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let reference = agent_ref(&agent)?;
    let form = MergeForm::of(&pairs);
    let caller = session.caller();
    let fork = fork_ref(Some(&form.from))?;
    let from_version = version_ref(Some(&form.version))?;
    let shown = load(&state, &session, &reference, &form).await?;
    let conflicts = &shown.preview.merge.conflicts;
    // Text that is no version id cannot be the head's: the same conflict as a moved head.
    let expected_version_id = match form.head.trim() {
        "" => None,
        raw => Some(VersionId::parse(raw).map_err(|_| {
            WebError::Api(ApiError::conflict(format!("`{raw}` is not the current version (not a version id)")))
        })?),
    };
    let outcome = match form.resolutions(conflicts) {
        Ok(resolutions) => {
            let request = MergeRequest {
                from_agent: fork,
                from_version,
                commit_message: Some(form.commit_message.clone()).filter(|m| !m.trim().is_empty()),
                resolutions: (!conflicts.is_empty()).then_some(resolutions),
                expected_version_id,
            };
            state.registry.merge(&caller, &reference, request).await.map_err(WebError::from)
        }
        Err(e) => Err(e),
    };
    let (status, message) = match outcome {
        Ok(MergeOutcome::Merged(new)) => {
            let notice = if new.created {
                format!("Merged “{}”: version {} committed", shown.fork_name, new.version.number)
            } else {
                format!("Nothing changed: version {} already has the merged content", new.version.number)
            };
            return Ok(see_other(&base_href(&reference), &notice));
        }
        Ok(MergeOutcome::Conflicts(_)) => (
            StatusCode::CONFLICT,
            "The merge has conflicts now: the head moved since the page was shown. Choose how to resolve each one."
                .to_owned(),
        ),
        Err(e) if e.status() == StatusCode::NOT_FOUND => return Err(e),
        Err(e) => {
            let moved = e.status() == StatusCode::CONFLICT && form.head.trim() != shown.preview.ours.id.to_string();
            let message = if moved {
                format!(
                    "The head moved: version {} was committed after you opened this page, so nothing was merged. \
                     The merge below is computed again against it; check it, then merge again.",
                    shown.preview.ours.number
                )
            } else {
                e.message()
            };
            (e.status(), message)
        }
    };
    let body = merge_page(&session, &reference, &shown, &form, Some(&message));
    Ok((status, body).into_response())
}

fn merge_page(
    session: &SignedIn,
    reference: &AgentRef,
    shown: &Shown,
    form: &MergeForm,
    error: Option<&str>,
) -> Markup {
    let base = base_href(reference);
    let preview = &shown.preview;
    let conflicts = &preview.merge.conflicts;
    let title = format!("Merge “{}” into “{}”", shown.fork_name, shown.name);
    layout::page(
        session,
        Section::Agents,
        &title,
        html! {
            h1 { (title) }
            (agent_nav(&base, "Merge", Some(shown.slug.as_str())))
            @if let Some(error) = error { p.error role="alert" { (error) } }
            p.muted {
                "Version " (preview.theirs.number) " of the fork into version " (preview.ours.number)
                " (the head), from their common ancestor, version " (preview.base.number) " of the agent that made it."
            }
            @if conflicts.is_empty() {
                p { "No conflicts: every change of both sides merges." }
            } @else {
                p { (conflicts.len()) @if conflicts.len() == 1 { " conflict" } @else { " conflicts" } " to resolve." }
            }
            section aria-labelledby="merged-heading" {
                h2 #merged-heading { "Merged prompt" }
                @if !conflicts.is_empty() { p.hint { "Each conflicting part is shown as ours until it is resolved." } }
                pre.code { (preview.merge.definition.prompt) }
            }
            form.panel method="post" action={ (base) "/merge" } {
                (csrf_field(session))
                input type="hidden" name="from" value=(form.from);
                input type="hidden" name="version" value=(preview.theirs.number);
                input type="hidden" name="head" value=(preview.ours.id);
                @for (i, conflict) in conflicts.iter().enumerate() {
                    (conflict_fields(i, conflict, form.choices.get(&conflict.field)))
                }
                label for="merge-message" { "Commit message (optional)" }
                input #merge-message type="text" name="commit_message" maxlength="1000" value=(form.commit_message)
                    placeholder={ "Merge fork " (shown.fork_name) " at version " (preview.theirs.number) };
                button type="submit" { "Merge" }
            }
        },
    )
}

/// One conflict: its three sides and the choice among ours, theirs and a value typed in.
fn conflict_fields(i: usize, conflict: &Conflict, chosen: Option<&(String, String)>) -> Markup {
    let (choice, value) = chosen.map_or(("", ""), |(c, v)| (c.as_str(), v.as_str()));
    let id = |what: &str| format!("conflict-{i}-{what}");
    html! {
        fieldset {
            legend { "Conflict at " code { (conflict.field) } }
            input type="hidden" name={ "field_" (i) } value=(conflict.field);
            div.row {
                div { h3 { "Base" } pre.code { (shown_value(&conflict.base)) } }
                div { h3 { "Ours (this agent)" } pre.code { (shown_value(&conflict.ours)) } }
                div { h3 { "Theirs (the fork)" } pre.code { (shown_value(&conflict.theirs)) } }
            }
            div.toolbar {
                label.inline for=(id("ours")) {
                    input #(id("ours")) type="radio" name={ "choice_" (i) } value="ours" checked[choice == "ours"];
                    "Ours"
                }
                label.inline for=(id("theirs")) {
                    input #(id("theirs")) type="radio" name={ "choice_" (i) } value="theirs" checked[choice == "theirs"];
                    "Theirs"
                }
                label.inline for=(id("value")) {
                    input #(id("value")) type="radio" name={ "choice_" (i) } value="value" checked[choice == "value"];
                    "Value (below)"
                }
            }
            label for=(id("text")) { "Value" }
            textarea #(id("text")) name={ "value_" (i) } { "\n" (value) }
        }
    }
}

/// A side as shown: text as it is, anything else as JSON; "(none)" where the side has nothing.
fn shown_value(value: &Value) -> String {
    match value {
        Value::Null => "(none)".to_owned(),
        Value::String(text) => text.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}
