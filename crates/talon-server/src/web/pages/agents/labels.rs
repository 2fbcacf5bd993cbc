//! Moving and deleting an agent's labels from its page: forms posted to the registry calls the API
//! makes, answered with `303` back to the agent and a notice. A move may set what the label requires of
//! its versions (`requireEvaluation`: a dataset and a minimum pass rate); a version the requirement
//! refuses shows the agent's page again with the refusal, which names the failing cases.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use talon_domain::agent::{Label, VersionRef};
use talon_domain::evaluation::{DatasetSummary, Gate};

use super::super::redirect::see_other;
use super::{agent_ref, base_href, detail};
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
    /// The dataset the label is to require an evaluation on; empty keeps its requirement as it is.
    #[serde(default)]
    require_dataset: String,
    /// The minimum pass rate that requirement sets, in percent.
    #[serde(default)]
    require_min_pass_rate: String,
    /// Checked to drop the label's requirement.
    #[serde(default)]
    require_none: Option<String>,
}

impl MoveLabelForm {
    /// The change to the label's requirement: `None` keeps it, `Some(None)` drops it, `Some(Some(gate))`
    /// sets it.
    fn gate(&self) -> Result<Option<Option<Gate>>, WebError> {
        let dataset = self.require_dataset.trim();
        let rate = self.require_min_pass_rate.trim();
        if self.require_none.is_some() {
            if !dataset.is_empty() {
                return Err(WebError::bad_request("Either require an evaluation or remove the requirement, not both"));
            }
            return Ok(Some(None));
        }
        match (dataset, rate) {
            ("", "") => Ok(None),
            ("", _) => Err(WebError::bad_request("Choose the dataset whose evaluation the label requires")),
            (_, "") => Err(WebError::bad_request("Give the minimum pass rate the label requires, from 0 to 100 %")),
            (dataset, rate) => {
                let percent = rate
                    .parse::<f64>()
                    .ok()
                    .filter(|p| p.is_finite())
                    .ok_or_else(|| WebError::bad_request("The minimum pass rate must be a number from 0 to 100"))?;
                let gate = Gate::new(dataset.to_owned(), percent / 100.0, "requireEvaluation")
                    .map_err(crate::api::error::ApiError::validation)?;
                Ok(Some(Some(gate)))
            }
        }
    }
}

pub async fn move_label(
    State(state): State<AppState>,
    Path(agent): Path<String>,
    CsrfForm(session, form): CsrfForm<MoveLabelForm>,
) -> Result<Response, WebError> {
    let reference = agent_ref(&agent)?;
    let label = form.label.trim();
    let version = VersionRef::parse(form.version.trim()).ok_or_else(|| WebError::not_found("Version"))?;
    let gate = form.gate()?;
    let moved = match state.registry.move_label(&session.caller(), &reference, label, version, gate).await {
        Ok(moved) => moved,
        // A requirement the version does not meet: the agent's page again, saying which cases failed.
        Err(e) => {
            let refused = WebError::from(e);
            if refused.status() != StatusCode::CONFLICT {
                return Err(refused);
            }
            return detail::refused(&state, &session, &reference, refused).await;
        }
    };
    let mut notice = format!("Label {} now points at version {}", moved.name, moved.version_number);
    if let Some(gate) = &moved.required_evaluation {
        notice.push_str(&format!("; it requires {}", requirement(gate)));
    }
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

/// What a label requires, as a person reads it.
pub(super) fn requirement(gate: &Gate) -> String {
    format!("an evaluation on {} passing at least {:.0} %", gate.dataset, gate.min_pass_rate * 100.0)
}

/// The owner's label forms: move (or create) one, optionally requiring an evaluation, delete each.
pub(super) fn panel(
    session: &SignedIn,
    base: &str,
    labels: &[Label],
    head: i64,
    datasets: &[DatasetSummary],
) -> Markup {
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
                label.inline for="label-require-dataset" { "Require evaluation on" }
                select #label-require-dataset name="require_dataset" aria-describedby="label-require-hint" {
                    option value="" { "(keep the label's requirement)" }
                    @for d in datasets { option value=(d.name) { (d.name) } }
                }
                label.inline for="label-require-rate" { "Minimum pass rate (%)" }
                input #label-require-rate type="number" name="require_min_pass_rate" min="0" max="100" step="any"
                    aria-describedby="label-require-hint";
                label.inline for="label-require-none" {
                    input #label-require-none type="checkbox" name="require_none" value="1";
                    "Remove the requirement"
                }
                button type="submit" { "Move label" }
            }
            p #label-require-hint .hint {
                "A label that requires an evaluation moves only to a version whose newest completed evaluation on \
                 the dataset as it is now passes at least that share of its cases. "
                a href={ (base) "/evaluations" } { "Datasets and evaluations" }
            }
            @if labels.iter().any(|l| l.required_evaluation.is_some()) {
                ul aria-label="What the labels require" {
                    @for label in labels {
                        @if let Some(gate) = &label.required_evaluation {
                            li { code { (label.name) } " requires " (requirement(gate)) }
                        }
                    }
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn form(dataset: &str, rate: &str, none: bool) -> MoveLabelForm {
        MoveLabelForm {
            label: "production".into(),
            version: "2".into(),
            require_dataset: dataset.into(),
            require_min_pass_rate: rate.into(),
            require_none: none.then(|| "1".to_owned()),
        }
    }

    #[test]
    fn an_empty_requirement_keeps_the_labels_and_a_checked_box_drops_it() {
        assert_eq!(form("", "", false).gate().unwrap(), None);
        assert_eq!(form("", "", true).gate().unwrap(), Some(None));
        assert_eq!(
            form(" smoke ", "90", false).gate().unwrap(),
            Some(Some(Gate::new("smoke".into(), 0.9, "x").unwrap()))
        );
    }

    #[test]
    fn a_half_filled_or_contradictory_requirement_is_refused() {
        for (dataset, rate, none) in [
            ("smoke", "", false),
            ("", "90", false),
            ("smoke", "90", true),
            ("smoke", "ninety", false),
            ("smoke", "150", false),
        ] {
            let refused = form(dataset, rate, none).gate().unwrap_err();
            assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{dataset:?} {rate:?} {none}");
        }
    }
}
