//! Labels: named pointers to an agent's versions, moved and deleted by the agent's owner; every move
//! and deletion is an event (`agent.label_moved`, `agent.label_deleted`) written with it.

use serde_json::json;
use talon_domain::ValidationErrors;
use talon_domain::agent::{AgentRef, Label, VersionRef, validate_label_name};
use talon_domain::evaluation::Gate;
use talon_domain::event::{self, Event};
use talon_domain::time::now;
use talon_store::{GateWrite, LabelMove};

use super::{Caller, RegistryService, ServiceError};
use crate::services::evaluations::admit;

/// A label's name as a path sends it: 400 naming `label` unless it is well formed.
fn checked_name(name: &str) -> Result<(), ServiceError> {
    validate_label_name(name).map_err(|message| ValidationErrors::single("label", message).into())
}

impl RegistryService {
    /// Points the agent's label `name` at `version` (a version of the agent by id, number or another
    /// label), creating the label if need be. `gate` changes what the label requires of its versions
    /// (`None` keeps it, `Some(None)` removes it, `Some(Some(gate))` sets it); the version must pass the
    /// label's gate as it is after this move.
    pub async fn move_label(
        &self,
        caller: &Caller,
        reference: &AgentRef,
        name: &str,
        version: VersionRef,
        gate: Option<Option<Gate>>,
    ) -> Result<Label, ServiceError> {
        checked_name(name)?;
        let agent = self.owned(caller, reference).await?;
        let version = self.version_of(&agent, &version).await?;
        let required = match &gate {
            Some(change) => change.clone(),
            None => self.store.label(agent.id, name).await?.and_then(|label| label.required_evaluation),
        };
        if let Some(required) = &required {
            admit(&*self.store, &agent, &version, required).await?;
        }
        let at = now();
        let moved = LabelMove {
            agent: agent.id,
            name,
            version: version.id,
            moved_by: caller.account.id,
            at,
            gate: match &gate {
                None => GateWrite::Keep,
                Some(Some(set)) => GateWrite::Set(set),
                Some(None) => GateWrite::Clear,
            },
        };
        let event = |previous: Option<talon_domain::VersionId>| {
            let data = json!({
                "agent": agent.id.to_string(),
                "label": name,
                "versionId": version.id.to_string(),
                "versionNumber": version.number,
                "previousVersionId": previous.map(|v| v.to_string()),
                "requireEvaluation": required,
            });
            Event::new(agent.owner, event::AGENT_LABEL_MOVED, data).by(&caller.actor)
        };
        self.store.move_label(moved, &event).await?.ok_or(ServiceError::NotFound("Agent"))?;
        self.changed(agent.id);
        self.outbox.ring();
        Ok(Label {
            agent_id: agent.id,
            name: name.to_owned(),
            version_id: version.id,
            version_number: version.number,
            updated_at: at,
            moved_by: caller.account.id,
            required_evaluation: required,
        })
    }

    /// The agent's labels, by name (the agent as `readable` allows).
    pub async fn labels(&self, caller: &Caller, reference: &AgentRef) -> Result<Vec<Label>, ServiceError> {
        let agent = self.readable(caller, reference).await?;
        Ok(self.store.labels(agent.id).await?)
    }

    /// The labels of an agent already found, for showing it.
    pub async fn labels_of(&self, agent: &talon_domain::agent::Agent) -> Result<Vec<Label>, ServiceError> {
        Ok(self.store.labels(agent.id).await?)
    }

    /// The arms of the agent's canary split as (version number, weight), in the split's order; none
    /// without a split.
    pub async fn split_numbers(&self, agent: &talon_domain::agent::Agent) -> Result<Vec<(i64, u32)>, ServiceError> {
        let Some(split) = &agent.split else { return Ok(Vec::new()) };
        let ids: Vec<_> = split.arms.iter().map(|a| a.version_id).collect();
        let numbers: std::collections::HashMap<_, _> = self.store.version_numbers(&ids).await?.into_iter().collect();
        Ok(split.arms.iter().filter_map(|a| Some((*numbers.get(&a.version_id)?, a.weight))).collect())
    }

    /// Deletes the agent's label `name`; "not found" naming it when the agent has no such label.
    pub async fn delete_label(&self, caller: &Caller, reference: &AgentRef, name: &str) -> Result<(), ServiceError> {
        checked_name(name)?;
        let agent = self.owned(caller, reference).await?;
        let data = json!({"agent": agent.id.to_string(), "label": name});
        let event = Event::new(agent.owner, event::AGENT_LABEL_DELETED, data).by(&caller.actor);
        if !self.store.delete_label(agent.id, name, &event).await? {
            return Err(ServiceError::LabelNotFound(name.to_owned()));
        }
        self.changed(agent.id);
        self.outbox.ring();
        Ok(())
    }
}
