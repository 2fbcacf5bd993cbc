//! Starting an evaluation, reading its report, listing an agent's evaluations, and cancelling one.

use std::collections::HashMap;

use serde_json::json;
use talon_domain::agent::{AgentRef, VersionRef};
use talon_domain::evaluation::{
    CaseResult, DEFAULT_CONCURRENCY, Evaluation, EvaluationStatus, MAX_CONCURRENCY, MAX_VERSIONS, Report,
};
use talon_domain::event::{self, Event};
use talon_domain::time::now;
use talon_domain::{EvaluationId, ValidationErrors, VersionId};
use talon_store::{Page, Window};

use super::EvaluationService;
use crate::services::{Caller, ServiceError};

/// An evaluation as a request starts it.
#[derive(Debug, Clone)]
pub struct StartEvaluation {
    pub dataset: String,
    pub versions: Vec<VersionRef>,
    pub concurrency: Option<i64>,
}

/// An evaluation with its results and its report (live while it runs), and its versions' numbers.
#[derive(Debug, Clone)]
pub struct EvaluationReport {
    pub evaluation: Evaluation,
    pub results: Vec<CaseResult>,
    pub report: Report,
    pub numbers: HashMap<VersionId, i64>,
}

impl EvaluationService {
    /// Starts running every case of the dataset against each version; the driver creates the tasks.
    pub async fn start(
        &self,
        caller: &Caller,
        reference: &AgentRef,
        request: StartEvaluation,
    ) -> Result<EvaluationReport, ServiceError> {
        let agent = self.registry.owned(caller, reference).await?;
        let mut errors = ValidationErrors::new();
        if request.versions.is_empty() || request.versions.len() > MAX_VERSIONS {
            errors.add("versions", format!("Must name 1 to {MAX_VERSIONS} versions"));
        }
        let concurrency = request.concurrency.unwrap_or(i64::from(DEFAULT_CONCURRENCY));
        let concurrency = match u32::try_from(concurrency).ok().filter(|c| (1..=MAX_CONCURRENCY).contains(c)) {
            Some(concurrency) => concurrency,
            None => {
                errors.add("concurrency", format!("Must be an integer from 1 to {MAX_CONCURRENCY}"));
                DEFAULT_CONCURRENCY
            }
        };
        errors.finish(())?;
        let mut versions = Vec::with_capacity(request.versions.len());
        for (index, reference) in request.versions.iter().enumerate() {
            let field = format!("versions[{index}]");
            let version = self.registry.version_of(&agent, reference).await.map_err(|e| match e {
                ServiceError::NotFound(what) => ServiceError::NotFoundAt { what, field: field.clone() },
                other => other,
            })?;
            if versions.contains(&version.id) {
                return Err(ValidationErrors::single(field, "Must name a version no other entry names").into());
            }
            versions.push(version.id);
        }
        let dataset = self
            .store
            .dataset(agent.id, &request.dataset)
            .await?
            .ok_or_else(|| ServiceError::NotFoundAt { what: "Dataset", field: "dataset".into() })?;
        let evaluation = Evaluation {
            id: EvaluationId::new(),
            owner: agent.owner,
            agent_id: agent.id,
            dataset_id: dataset.id,
            dataset_name: dataset.name,
            dataset_revision: dataset.revision,
            cases: dataset.cases,
            versions,
            concurrency,
            status: EvaluationStatus::Running,
            summaries: Vec::new(),
            created_at: now(),
            completed_at: None,
        };
        let results = evaluation.pending_results();
        let data = json!({
            "id": evaluation.id.to_string(),
            "agent": agent.id.to_string(),
            "dataset": evaluation.dataset_name,
            "datasetRevision": evaluation.dataset_revision,
            "versions": evaluation.versions.iter().map(ToString::to_string).collect::<Vec<_>>(),
        });
        let event = Event::new(agent.owner, event::EVALUATION_STARTED, data).by(&caller.actor);
        self.store.insert_evaluation(&evaluation, &results, &event).await?;
        self.outbox.ring();
        self.started.ring();
        self.reported(evaluation, results).await
    }

    /// The evaluation with its results; another agent's (or account's) is "not found".
    pub async fn report(
        &self,
        caller: &Caller,
        reference: &AgentRef,
        id: EvaluationId,
    ) -> Result<EvaluationReport, ServiceError> {
        let evaluation = self.owned(caller, reference, id).await?;
        let results = self.store.case_results(evaluation.id).await?;
        self.reported(evaluation, results).await
    }

    /// The agent's evaluations, newest first, without their results, and their versions' numbers.
    pub async fn list(
        &self,
        caller: &Caller,
        reference: &AgentRef,
        window: Window,
    ) -> Result<(Page<Evaluation>, HashMap<VersionId, i64>), ServiceError> {
        let agent = self.registry.owned(caller, reference).await?;
        let page = self.store.list_evaluations(agent.id, window).await?;
        let mut versions: Vec<VersionId> = page.items.iter().flat_map(|e| e.versions.iter().copied()).collect();
        versions.sort_unstable();
        versions.dedup();
        let numbers = self.store.version_numbers(&versions).await?.into_iter().collect();
        Ok((page, numbers))
    }

    /// Stops a running evaluation: its queued and running tasks are cancelled, and what settled stays.
    /// 409 once it has completed or was cancelled.
    pub async fn cancel(
        &self,
        caller: &Caller,
        reference: &AgentRef,
        id: EvaluationId,
    ) -> Result<EvaluationReport, ServiceError> {
        let evaluation = self.owned(caller, reference, id).await?;
        let data = json!({"id": evaluation.id.to_string(), "agent": evaluation.agent_id.to_string()});
        let event = Event::new(evaluation.owner, event::EVALUATION_CANCELLED, data).by(&caller.actor);
        if !self.store.cancel_evaluation(evaluation.id, now(), &event).await? {
            return Err(ServiceError::conflict(format!("The evaluation is {}, not running", evaluation.status)));
        }
        self.outbox.ring();
        let results = self.store.case_results(evaluation.id).await?;
        // As Talon, for the account: a judge's task belongs to another agent than a restricted key's.
        let system = self.acting_for(evaluation.owner).await?;
        for result in results.iter().filter(|r| r.status.is_in_flight()) {
            for task in result.task_id.iter().chain(&result.judge_task_ids) {
                // A task that already settled cannot be cancelled, and need not be.
                match self.tasks.cancel(&system, *task).await {
                    Ok(_) | Err(ServiceError::Conflict(_) | ServiceError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let evaluation = self.store.evaluation(evaluation.id).await?.ok_or(ServiceError::NotFound("Evaluation"))?;
        self.reported(evaluation, results).await
    }

    async fn owned(&self, caller: &Caller, reference: &AgentRef, id: EvaluationId) -> Result<Evaluation, ServiceError> {
        let agent = self.registry.owned(caller, reference).await?;
        self.store.evaluation(id).await?.filter(|e| e.agent_id == agent.id).ok_or(ServiceError::NotFound("Evaluation"))
    }

    async fn reported(
        &self,
        evaluation: Evaluation,
        results: Vec<CaseResult>,
    ) -> Result<EvaluationReport, ServiceError> {
        let report = Report::of(&evaluation.versions, &results);
        let numbers = self.store.version_numbers(&evaluation.versions).await?.into_iter().collect();
        Ok(EvaluationReport { evaluation, results, report, numbers })
    }
}
