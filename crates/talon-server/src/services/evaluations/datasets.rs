//! Datasets: an agent's named sets of cases, created, replaced (each save a new revision), read and
//! deleted by the agent's owner; every write is an event, and so an entry in the audit log.

use serde_json::json;
use talon_domain::agent::{Agent, AgentRef, VersionRef};
use talon_domain::evaluation::{self, Case, Check, Dataset, DatasetSummary, MAX_DATASETS};
use talon_domain::event::{self, Event};
use talon_domain::time::now;
use talon_domain::{DatasetId, ValidationErrors};

use super::EvaluationService;
use crate::services::{Caller, ServiceError};

/// A dataset's content as a request sends it.
#[derive(Debug, Clone)]
pub struct DatasetInput {
    pub description: String,
    pub cases: Vec<Case>,
}

/// The largest input a case holds, serialized: a task's limit.
const CASE_INPUT_MAX_BYTES: usize = 1 << 20;

impl EvaluationService {
    /// Creates the agent's dataset `name`; 409 when it has one by that name.
    pub async fn create_dataset(
        &self,
        caller: &Caller,
        reference: &AgentRef,
        name: &str,
        input: DatasetInput,
    ) -> Result<Dataset, ServiceError> {
        let dataset = self.checked(caller, reference, name, input).await?;
        self.insert(caller, dataset).await
    }

    /// Replaces the agent's dataset `name` (its next revision), or creates it; `true` when created.
    pub async fn put_dataset(
        &self,
        caller: &Caller,
        reference: &AgentRef,
        name: &str,
        input: DatasetInput,
    ) -> Result<(Dataset, bool), ServiceError> {
        let dataset = self.checked(caller, reference, name, input).await?;
        let event = dataset_event(caller, &dataset, event::DATASET_UPDATED);
        if let Some(replaced) = self.store.replace_dataset(&dataset, &event).await? {
            self.outbox.ring();
            return Ok((replaced, false));
        }
        Ok((self.insert(caller, dataset).await?, true))
    }

    /// Inserts a checked dataset: 409 when the agent has one by its name, or has all it may hold.
    async fn insert(&self, caller: &Caller, dataset: Dataset) -> Result<Dataset, ServiceError> {
        if self.store.datasets(dataset.agent_id).await?.len() >= MAX_DATASETS {
            return Err(ServiceError::conflict(format!("An agent holds at most {MAX_DATASETS} datasets")));
        }
        let event = dataset_event(caller, &dataset, event::DATASET_CREATED);
        if !self.store.insert_dataset(&dataset, &event).await? {
            return Err(ServiceError::conflict(format!(
                "The agent already has a dataset `{}`: replace it with PUT /api/agents/{{id}}/datasets/{}",
                dataset.name, dataset.name
            )));
        }
        self.outbox.ring();
        Ok(dataset)
    }

    pub async fn dataset(&self, caller: &Caller, reference: &AgentRef, name: &str) -> Result<Dataset, ServiceError> {
        let agent = self.registry.owned(caller, reference).await?;
        self.store.dataset(agent.id, name).await?.ok_or(ServiceError::NotFound("Dataset"))
    }

    pub async fn datasets(&self, caller: &Caller, reference: &AgentRef) -> Result<Vec<DatasetSummary>, ServiceError> {
        let agent = self.registry.owned(caller, reference).await?;
        Ok(self.store.datasets(agent.id).await?)
    }

    /// Deletes it; evaluations already run on it keep their cases and results.
    pub async fn delete_dataset(&self, caller: &Caller, reference: &AgentRef, name: &str) -> Result<(), ServiceError> {
        let agent = self.registry.owned(caller, reference).await?;
        let data = json!({"agent": agent.id.to_string(), "name": name});
        let event = Event::new(agent.owner, event::DATASET_DELETED, data).by(&caller.actor);
        if !self.store.delete_dataset(agent.id, name, &event).await? {
            return Err(ServiceError::NotFound("Dataset"));
        }
        self.outbox.ring();
        Ok(())
    }

    /// The dataset `input` makes for the caller's agent, every rule checked: the name, the cases
    /// and their checks, each input's size, and that every judge names an agent version of the caller's.
    async fn checked(
        &self,
        caller: &Caller,
        reference: &AgentRef,
        name: &str,
        input: DatasetInput,
    ) -> Result<Dataset, ServiceError> {
        evaluation::validate_dataset_name(name).map_err(|message| ValidationErrors::single("name", message))?;
        let agent = self.registry.owned(caller, reference).await?;
        let mut errors = match evaluation::validate_cases(&input.description, &input.cases) {
            Ok(()) => ValidationErrors::new(),
            Err(errors) => errors,
        };
        for (index, case) in input.cases.iter().enumerate() {
            if serde_json::to_vec(&case.input).map_or(true, |bytes| bytes.len() > CASE_INPUT_MAX_BYTES) {
                errors.add(format!("cases[{index}].input"), "Must be at most 1 MB of JSON");
            }
        }
        errors.finish(())?;
        // A judge naming no agent of the caller's is "not found" at its place, as an unknown agent is
        // wherever a body names one.
        for (index, case) in input.cases.iter().enumerate() {
            for (position, check) in case.checks.iter().enumerate() {
                if let Check::Judge { agent: judge, .. } = check
                    && self.judge_of(caller, judge).await.is_err()
                {
                    let field = format!("cases[{index}].checks[{position}].agent");
                    return Err(ServiceError::NotFoundAt { what: "Agent", field });
                }
            }
        }
        let at = now();
        let dataset = Dataset {
            id: DatasetId::new(),
            owner: agent.owner,
            agent_id: agent.id,
            name: name.to_owned(),
            description: input.description,
            cases: input.cases,
            revision: 1,
            created_at: at,
            updated_at: at,
        };
        Ok(dataset)
    }

    /// The judge a check names (`slug`, `agent_…`, optionally `@version` or `@label`), resolved among
    /// the caller's agents: its agent and version, or why it names none (a message for the field).
    pub(super) async fn judge_of(
        &self,
        caller: &Caller,
        text: &str,
    ) -> Result<(Agent, talon_domain::VersionId), String> {
        let (agent_text, version_text) = match text.split_once('@') {
            Some((agent, version)) => (agent, Some(version)),
            None => (text, None),
        };
        let unknown = || format!("No agent of yours is `{text}`");
        let reference = AgentRef::parse(agent_text).ok_or_else(unknown)?;
        let agent = self.registry.owned(caller, &reference).await.map_err(|_| unknown())?;
        let version = match version_text {
            None => agent.current_version_id,
            Some(version) => {
                let version = VersionRef::parse(version).ok_or_else(unknown)?;
                self.registry.version_of(&agent, &version).await.map_err(|_| unknown())?.id
            }
        };
        Ok((agent, version))
    }
}

fn dataset_event(caller: &Caller, dataset: &Dataset, kind: &'static str) -> Event {
    let data = json!({
        "agent": dataset.agent_id.to_string(),
        "name": dataset.name,
        "cases": dataset.cases.len(),
    });
    Event::new(dataset.owner, kind, data).by(&caller.actor)
}
