//! The gate: a label move or a deployment that requires an evaluation lets a version through only when
//! its newest completed evaluation on the current revision of the named dataset reaches the pass rate.

use talon_domain::agent::{Agent, Version};
use talon_domain::evaluation::{Gate, GateRefusal};
use talon_store::Store;

use crate::services::ServiceError;

/// Lets `version` of `agent` through `gate`, or says why not: 404 for an unknown dataset (naming
/// `requireEvaluation.dataset`), 409 for a version never evaluated on the dataset as it is now, and 409
/// naming the failing cases for one whose pass rate falls short.
pub(crate) async fn admit(
    store: &dyn Store,
    agent: &Agent,
    version: &Version,
    gate: &Gate,
) -> Result<(), ServiceError> {
    let dataset = store
        .dataset(agent.id, &gate.dataset)
        .await?
        .ok_or_else(|| ServiceError::NotFoundAt { what: "Dataset", field: "requireEvaluation.dataset".into() })?;
    let never = |why: String| ServiceError::EvaluationRequired { message: why, failing: Vec::new() };
    // A deleted dataset's evaluations are kept, and one made again by its name starts at revision 1 too.
    let latest = store.latest_evaluation_of(agent.id, &gate.dataset, version.id).await?;
    let Some(evaluation) = latest.filter(|e| e.dataset_id == dataset.id) else {
        return Err(never(format!(
            "Version {} has no completed evaluation on dataset `{}`: run one with POST /api/agents/{}/evaluations",
            version.number, gate.dataset, agent.id
        )));
    };
    if evaluation.dataset_revision != dataset.revision {
        return Err(never(format!(
            "Version {}'s newest evaluation on dataset `{}` ran its revision {}; the dataset is at revision {}: \
             evaluate the version again",
            version.number, gate.dataset, evaluation.dataset_revision, dataset.revision
        )));
    }
    let summary = evaluation.summaries.iter().find(|s| s.version_id == version.id).ok_or_else(|| {
        ServiceError::Internal(format!("evaluation {} has no summary of {}", evaluation.id, version.id))
    })?;
    let results = store.case_results(evaluation.id).await?;
    gate.admit(summary, &results).map_err(|refusal| ServiceError::EvaluationRequired {
        message: refusal_message(version.number, gate, &refusal),
        failing: refusal.failing,
    })
}

/// What a refused version is told: its rate, the minimum, and the cases it did not pass.
pub fn refusal_message(number: i64, gate: &Gate, refusal: &GateRefusal) -> String {
    const NAMED: usize = 10;
    let mut named: Vec<String> = refusal.failing.iter().take(NAMED).map(|name| format!("`{name}`")).collect();
    if refusal.failing.len() > NAMED {
        named.push(format!("and {} more", refusal.failing.len() - NAMED));
    }
    format!(
        "Version {number} passed {:.0}% of dataset `{}`, below the required {:.0}%; failing cases: {}",
        refusal.pass_rate * 100.0,
        gate.dataset,
        refusal.min_pass_rate * 100.0,
        named.join(", ")
    )
}
