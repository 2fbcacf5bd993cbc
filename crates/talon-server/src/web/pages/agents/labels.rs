//! Moving and deleting an agent's labels from its page: forms posted to the registry calls the API
//! makes, answered with `303` back to the agent and a notice.

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use talon_domain::agent::{Label, VersionRef};

use super::super::redirect::see_other;
use super::{agent_ref, base_href};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::form::{CsrfForm, NoFields};
use crate::web::layout::csrf_field;
use crate::web::session::SignedIn;

/// A label and the version (a number, or another label) to point it at.
#[derive(Debug, Default, Deserialize)]
pub struct MoveLabelForm {
    #[serde(default)]
    label: String,
    #[serde(default)]
    version: String,
}

pub async fn move_label(
    State(state): State<AppState>,
    Path(agent): Path<String>,
    CsrfForm(session, form): CsrfForm<MoveLabelForm>,
) -> Result<Response, WebError> {
    let reference = agent_ref(&agent)?;
    let label = form.label.trim();
    let version = VersionRef::parse(form.version.trim()).ok_or_else(|| WebError::not_found("Version"))?;
    let moved = state.registry.move_label(&session.caller(), &reference, label, version, None).await?;
    let notice = format!("Label {} now points at version {}", moved.name, moved.version_number);
    Ok(see_other(&base_href(&reference), &notice))
}

pub async fn delete_label(
    State(state): State<AppState>,
    Path((agent, label)): Path<(String, String)>,
    CsrfForm(session, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, WebError> {
    let reference = agent_ref(&agent)?;
    state.registry.delete_label(&session.caller(), &reference, &label).await?;
    Ok(see_other(&base_href(&reference), &format!("Label {label} deleted")))
}

/// The owner's label forms: move (or create) one, delete each.
pub(super) fn panel(session: &SignedIn, base: &str, labels: &[Label], head: i64) -> Markup {
    html! {
        section.panel aria-labelledby="labels-heading" {
            h2 #labels-heading { "Labels" }
            p.muted { "A label names a version wherever one can be named: " code { "slug@production" } "." }
            form.toolbar method="post" action={ (base) "/labels" } {
                (csrf_field(session))
                label.inline for="label-name" { "Label" }
                input #label-name type="text" name="label" required maxlength="32" pattern="[a-z0-9\\-]{1,32}"
                    placeholder="production";
                label.inline for="label-version" { "Version" }
                input #label-version type="text" name="version" required value=(head);
                button type="submit" { "Move label" }
            }
            @for label in labels {
                form.toolbar method="post" action={ (base) "/labels/" (label.name) "/delete" } {
                    (csrf_field(session))
                    button.secondary type="submit" { "Delete label " (label.name) }
                }
            }
        }
    }
}
