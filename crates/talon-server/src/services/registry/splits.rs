//! Deployments: serving the current version, one pinned version, or a canary split between versions;
//! promoting a split's arm and aborting a split; and which version answers a chat request.

use std::sync::Arc;

use serde_json::json;
use talon_domain::VersionId;
use talon_domain::agent::split::Split;
use talon_domain::agent::{Agent, AgentRef, ServedRef, VersionRef};
use talon_domain::evaluation::Gate;
use talon_domain::event::{self, Event};
use talon_domain::time::now;
use talon_store::Deployment;

use super::agents::agent_event_data;
use super::{Caller, RegistryService, ServiceError};
use crate::services::cache::AgentVersion;
use crate::services::evaluations::admit;

impl RegistryService {
    /// Deploys the agent, serving `version` if given (pinned) or else whatever version is current. Any
    /// canary split ends. With a `gate`, the version served must have passed it.
    pub async fn deploy(
        &self,
        caller: &Caller,
        reference: &AgentRef,
        version: Option<VersionRef>,
        gate: Option<&Gate>,
    ) -> Result<Agent, ServiceError> {
        let agent = self.owned(caller, reference).await?;
        let pinned = match version {
            Some(v) => Some(self.version_of(&agent, &v).await?),
            None => None,
        };
        if let Some(gate) = gate {
            let served = match &pinned {
                Some(version) => version.clone(),
                None => self.current_version(&agent).await?,
            };
            admit(&*self.store, &agent, &served, gate).await?;
        }
        self.write_deployment(caller, agent, pinned.map(|v| v.id), None).await
    }

    /// Deploys a canary split: `arms` are versions of the agent (ids, numbers or labels, resolved now)
    /// with their weights in percent. Aborting it later goes back to the version served before the
    /// first split of a run of splits. With a `gate`, every arm must have passed it.
    pub async fn deploy_split(
        &self,
        caller: &Caller,
        reference: &AgentRef,
        arms: Vec<(VersionRef, i64)>,
        gate: Option<&Gate>,
    ) -> Result<Agent, ServiceError> {
        let agent = self.owned(caller, reference).await?;
        let mut resolved = Vec::with_capacity(arms.len());
        let mut versions = Vec::with_capacity(arms.len());
        for (index, (version, weight)) in arms.into_iter().enumerate() {
            let found = self.version_of(&agent, &version).await.map_err(|e| match e {
                ServiceError::NotFound(what) => {
                    ServiceError::NotFoundAt { what, field: format!("split[{index}].versionId") }
                }
                other => other,
            })?;
            resolved.push((found.id, weight));
            versions.push(found);
        }
        let previous = match &agent.split {
            Some(split) => split.previous_version_id,
            None => agent.deployed_version_id.unwrap_or(agent.current_version_id),
        };
        let split = Split::new(&resolved, previous)?;
        // Every arm serves real traffic: each must have passed the gate.
        if let Some(gate) = gate {
            for version in &versions {
                admit(&*self.store, &agent, version, gate).await?;
            }
        }
        let main = split.main_version();
        self.write_deployment(caller, agent, Some(main), Some(split)).await
    }

    /// Ends a split by serving `version` alone (pinned): a plain deploy of it, through `gate` if given.
    pub async fn promote(
        &self,
        caller: &Caller,
        reference: &AgentRef,
        version: VersionRef,
        gate: Option<&Gate>,
    ) -> Result<Agent, ServiceError> {
        self.deploy(caller, reference, Some(version), gate).await
    }

    /// Ends a split by serving again, alone and pinned, the version served before it began. 409 without
    /// a split.
    pub async fn abort_split(&self, caller: &Caller, reference: &AgentRef) -> Result<Agent, ServiceError> {
        let agent = self.owned(caller, reference).await?;
        let previous = match &agent.split {
            Some(split) => split.previous_version_id,
            None => return Err(ServiceError::conflict("The agent has no canary split to abort")),
        };
        self.write_deployment(caller, agent, Some(previous), None).await
    }

    /// Deploys `agent` serving `pinned` (or its current version) and `split`, with `agent.deployed`.
    async fn write_deployment(
        &self,
        caller: &Caller,
        mut agent: Agent,
        pinned: Option<VersionId>,
        split: Option<Split>,
    ) -> Result<Agent, ServiceError> {
        agent.status = agent.status.deploy().map_err(|e| ServiceError::Conflict(e.to_string()))?;
        let at = now();
        agent.deployed_version_id = pinned;
        agent.deployed_at = Some(at);
        agent.updated_at = at;
        agent.split = split;
        let mut data = agent_event_data(&agent);
        data["deployedVersionId"] = json!(pinned.unwrap_or(agent.current_version_id).to_string());
        data["deployedAt"] = json!(at);
        data["split"] = json!(agent.split.as_ref().map(|s| &s.arms));
        let event = Event::new(agent.owner, event::AGENT_DEPLOYED, data).by(&caller.actor);
        let deployment = Deployment {
            status: agent.status,
            deployed_version_id: agent.deployed_version_id,
            deployed_at: agent.deployed_at,
        };
        self.store.set_deployment_with_split(agent.id, deployment, agent.split.as_ref(), at, &event).await?;
        self.changed(agent.id);
        self.outbox.ring();
        Ok(agent)
    }

    /// The caller's agent `model` names, whatever its status, with the version that answers a chat
    /// request: the pinned one (by number, id or label), else the arm of its split that `sticky_key`
    /// (the end user, else the credential) falls on, else the version it serves. From the agent cache
    /// but for pins.
    pub async fn answering(
        &self,
        caller: &Caller,
        model: &ServedRef,
        sticky_key: &str,
    ) -> Result<AgentVersion, ServiceError> {
        let (agent, served) = self.owned_serving(caller, &model.agent).await?;
        let arm = match (&model.pinned, &agent.split) {
            (Some(pin), _) => {
                let version = self.version_of(&agent, pin).await?;
                return Ok((agent, Arc::new(version)));
            }
            (None, Some(split)) => split.choose(agent.id, sticky_key),
            (None, None) => return Ok((agent, served)),
        };
        if arm == served.id {
            return Ok((agent, served));
        }
        let version = self
            .caches
            .agents
            .version(arm, || async { Ok::<_, ServiceError>(self.store.version(arm).await?.map(Arc::new)) })
            .await?
            .filter(|v| v.agent_id == agent.id)
            .ok_or_else(|| ServiceError::Internal(format!("split arm {arm} of agent {} is missing", agent.id)))?;
        Ok((agent, version))
    }
}
