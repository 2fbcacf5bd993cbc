//! Merging a fork back into an agent it descends from: a three-way merge (`talon_domain::agent::merge`)
//! of a version of the fork ("theirs") into the agent's current version ("ours") against their common
//! ancestor: the agent's version the fork's branch was made from, or, once a version of the same fork
//! has been merged, the newest merged version that precedes theirs. The new version records the fork's
//! version as its second parent, and is appended only onto the head the merge was computed against.

use serde_json::json;
use talon_domain::agent::diff::diff;
use talon_domain::agent::merge::{self, Merge, Resolution};
use talon_domain::agent::{Agent, AgentRef, MergedFrom, Version, VersionRef, commit_message};
use talon_domain::event::{self, Event};
use talon_domain::time::now;
use talon_domain::{AgentId, ValidationErrors, VersionId};
use talon_store::AppendOutcome;

use super::agents::version_event_data;
use super::appends::stale;
use super::versions::NewVersion;
use super::{Caller, RegistryService, ServiceError};

/// Merge a fork's version back.
#[derive(Debug)]
pub struct MergeRequest {
    /// The fork: an agent whose lineage reaches the agent merged into.
    pub from_agent: AgentRef,
    /// The fork's version to merge; its current version by default.
    pub from_version: Option<VersionRef>,
    pub commit_message: Option<String>,
    /// One per conflict; `None` asks for a merge without conflicts.
    pub resolutions: Option<Vec<Resolution>>,
    /// Refuse unless this is still the agent's current version.
    pub expected_version_id: Option<VersionId>,
}

/// A merge as computed, before anything is written.
#[derive(Debug)]
pub struct MergePreview {
    pub merge: Merge,
    /// The common ancestor.
    pub base: Version,
    /// The agent's current version.
    pub ours: Version,
    /// The fork's version.
    pub theirs: Version,
}

pub enum MergeOutcome {
    /// The new version (or, when the merge changes nothing, the current one, `created: false`).
    Merged(Box<NewVersion>),
    /// The merge has conflicts and the request resolved none: nothing was written.
    Conflicts(Box<MergePreview>),
}

impl RegistryService {
    /// The merge of `from_agent` (at `from_version`, else its current version) into the caller's agent
    /// `reference`, without writing anything.
    pub async fn merge_preview(
        &self,
        caller: &Caller,
        reference: &AgentRef,
        from_agent: &AgentRef,
        from_version: Option<&VersionRef>,
    ) -> Result<MergePreview, ServiceError> {
        let (_, _, preview) = self.prepare_merge(caller, reference, from_agent, from_version).await?;
        Ok(preview)
    }

    /// Merges and appends the result as the agent's new version, if the merge has no conflicts or the
    /// request resolves every one.
    pub async fn merge(
        &self,
        caller: &Caller,
        reference: &AgentRef,
        input: MergeRequest,
    ) -> Result<MergeOutcome, ServiceError> {
        let mut errors = ValidationErrors::new();
        let message = commit_message(input.commit_message.as_deref(), &mut errors);
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let (parent, fork, preview) =
            self.prepare_merge(caller, reference, &input.from_agent, input.from_version.as_ref()).await?;
        let ours = &preview.ours;
        if let Some(expected) = input.expected_version_id.filter(|e| *e != ours.id) {
            return Err(stale(expected, ours.id));
        }
        let definition = match &input.resolutions {
            None if !preview.merge.is_clean() => return Ok(MergeOutcome::Conflicts(Box::new(preview))),
            None => merge::validated(&preview.merge.definition)?,
            Some(resolutions) => preview.merge.resolve(resolutions)?,
        };
        self.check_models(&definition, "model.primary")?;
        if definition.content_hash() == ours.content_hash {
            let before = match ours.parent_version_id {
                Some(id) => self.store.version(id).await?,
                None => None,
            };
            let diff_from_parent = before.map(|b| diff(&b.definition, &ours.definition)).unwrap_or_default();
            let unchanged = NewVersion { version: preview.ours, diff_from_parent, created: false };
            return Ok(MergeOutcome::Merged(Box::new(unchanged)));
        }

        let theirs = &preview.theirs;
        let message =
            message.unwrap_or_else(|| format!("Merge fork {} at version {}", fork.metadata.name, theirs.number));
        let mut version = Version::next(ours, definition, message, Self::author(caller), now());
        let merged_from = MergedFrom { agent_id: fork.id, version_id: theirs.id, number: theirs.number };
        version.merged_from = Some(merged_from);
        let mut data = version_event_data(&version);
        data["mergedFrom"] = merged_from_json(&merged_from);
        let merged = json!({
            "id": parent.id.to_string(),
            "versionId": version.id.to_string(),
            "versionNumber": version.number,
            "fromAgentId": fork.id.to_string(),
            "fromVersionId": theirs.id.to_string(),
            "fromVersionNumber": theirs.number,
            "baseVersionId": preview.base.id.to_string(),
        });
        let events = [
            Event::new(parent.owner, event::VERSION_CREATED, data).by(&caller.actor),
            Event::new(parent.owner, event::AGENT_MERGED, merged).by(&caller.actor),
        ];
        match self.store.append_versions(std::slice::from_ref(&version), &events).await? {
            AppendOutcome::Appended => {
                self.changed(parent.id);
                self.outbox.ring();
                let diff_from_parent = diff(&ours.definition, &version.definition);
                Ok(MergeOutcome::Merged(Box::new(NewVersion { version, diff_from_parent, created: true })))
            }
            AppendOutcome::Stale => {
                let current = self.store.agent(parent.id).await?.map_or(ours.id, |a| a.current_version_id);
                Err(stale(ours.id, current))
            }
        }
    }

    /// The agent (owned), the fork (readable, descending from it) and the merge of the fork's version.
    async fn prepare_merge(
        &self,
        caller: &Caller,
        reference: &AgentRef,
        from_agent: &AgentRef,
        from_version: Option<&VersionRef>,
    ) -> Result<(Agent, Agent, MergePreview), ServiceError> {
        let parent = self.owned(caller, reference).await?;
        let fork = self.readable(caller, from_agent).await.map_err(|e| match e {
            ServiceError::NotFound(what) => ServiceError::NotFoundAt { what, field: "fromAgentId".into() },
            other => other,
        })?;
        if fork.id == parent.id {
            return Err(
                ValidationErrors::single("fromAgentId", "Must name a fork of the agent, not the agent itself").into()
            );
        }
        let theirs = match from_version {
            Some(version) => self.version_of(&fork, version).await.map_err(|e| match e {
                ServiceError::NotFound(what) => ServiceError::NotFoundAt { what, field: "fromVersionId".into() },
                other => other,
            })?,
            None => self.current_version(&fork).await?,
        };
        let fork_point = self.fork_point(parent.id, fork.id).await?;
        // A merged version of the same fork that precedes theirs is a nearer common ancestor.
        let base_id = self
            .store
            .merges_into(&[parent.id])
            .await?
            .into_iter()
            .filter(|m| m.from.agent_id == fork.id && m.from.number <= theirs.number)
            .max_by_key(|m| m.from.number)
            .map_or(fork_point, |m| m.from.version_id);
        let base = self
            .store
            .version(base_id)
            .await?
            .ok_or_else(|| ServiceError::Internal(format!("merge base {base_id} vanished")))?;
        let ours = self.current_version(&parent).await?;
        let merge = merge::merge(&base.definition, &ours.definition, &theirs.definition);
        Ok((parent, fork, MergePreview { merge, base, ours, theirs }))
    }

    /// The version of `parent` that the branch leading to `fork` was forked from: `fork`'s lineage is
    /// walked up until it reaches `parent`. Refused when it never does.
    async fn fork_point(&self, parent: AgentId, fork: AgentId) -> Result<VersionId, ServiceError> {
        let tree = self.store.lineage(fork).await?;
        let mut at = fork;
        for _ in 0..=tree.len() {
            let Some(entry) = tree.iter().find(|e| e.id == at) else { break };
            match entry.parent {
                Some(up) if up == parent => {
                    return entry
                        .forked_from_version_id
                        .ok_or_else(|| ServiceError::conflict("The version this fork was made from no longer exists"));
                }
                Some(up) => at = up,
                None => break,
            }
        }
        Err(ValidationErrors::single("fromAgentId", "Is not a fork of this agent: its lineage does not reach it")
            .into())
    }
}

impl RegistryService {
    /// Forgets which fork a merge merged when `caller` may not see that fork.
    pub(super) async fn hide_unseen_merge(&self, caller: &Caller, version: &mut Version) -> Result<(), ServiceError> {
        if let Some(from) = version.merged_from
            && !self.cached_agent(from.agent_id).await?.is_some_and(|f| Self::may_read(caller, &f))
        {
            version.merged_from = None;
        }
        Ok(())
    }
}

/// `mergedFrom` as events and views show it.
pub(crate) fn merged_from_json(from: &MergedFrom) -> serde_json::Value {
    json!({"agentId": from.agent_id.to_string(), "versionId": from.version_id.to_string(), "number": from.number})
}
