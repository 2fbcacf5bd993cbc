use serde_json::json;
use talon_domain::agent::diff::{DefinitionDiff, diff};
use talon_domain::agent::{Agent, AgentRef, Definition, DefinitionChange, Version, VersionRef, commit_message};
use talon_domain::audit;
use talon_domain::{ValidationErrors, VersionId};
use talon_store::Page;

use super::appends::Append;
use super::{Caller, RegistryService, ServiceError};

/// A new version: any subset of the definition's parts; the rest carries over.
#[derive(Debug, Default)]
pub struct VersionRequest {
    pub definition: DefinitionChange,
    pub commit_message: Option<String>,
    /// Optimistic concurrency: refuse unless this is still the current version.
    pub expected_version_id: Option<VersionId>,
}

/// The outcome of a version request: a new version, or the current one when nothing would change.
pub struct NewVersion {
    pub version: Version,
    pub diff_from_parent: DefinitionDiff,
    pub created: bool,
}

impl RegistryService {
    pub async fn create_version(
        &self,
        caller: &Caller,
        reference: &AgentRef,
        input: VersionRequest,
    ) -> Result<NewVersion, ServiceError> {
        let mut errors = ValidationErrors::new();
        let message = commit_message(input.commit_message.as_deref(), &mut errors);
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let agent = self.owned(caller, reference).await?;
        let primary_field = input.definition.primary_model_field();
        let change = input.definition;
        self.append(caller, &agent, input.expected_version_id, primary_field, move |current| {
            let next = change.apply(&current.definition)?;
            Ok((next, message.clone()))
        })
        .await
    }

    /// A new version whose content equals `target`'s. History is never rewritten.
    pub async fn rollback(
        &self,
        caller: &Caller,
        reference: &AgentRef,
        target: VersionRef,
    ) -> Result<NewVersion, ServiceError> {
        let agent = self.owned(caller, reference).await?;
        let target = self.version_of(&agent, &target).await?;
        let message = format!("Rollback to version {}", target.number);
        let audit_as = json!({"rolledBackTo": target.id.to_string(), "rolledBackToNumber": target.number});
        let audit_as = Some((audit::VERSION_ROLLED_BACK, audit_as));
        self.append_audited(caller, &agent, None, "model.primary", audit_as, move |_| {
            Ok((target.definition.clone(), Some(message.clone())))
        })
        .await
    }

    /// Appends the version `derive` makes from the current one, in the agent's queue (see `appends`): a
    /// request is derived from whatever version is current when its turn comes, unless the caller pinned
    /// `expected`. A definition identical to the current one creates nothing.
    async fn append(
        &self,
        caller: &Caller,
        agent: &Agent,
        expected: Option<VersionId>,
        primary_field: &'static str,
        derive: impl Fn(&Version) -> Result<(Definition, Option<String>), ValidationErrors> + Send + Sync + 'static,
    ) -> Result<NewVersion, ServiceError> {
        self.append_audited(caller, agent, expected, primary_field, None, derive).await
    }

    /// `append`, naming the change `audit_as` (an action and its detail) in the audit log.
    async fn append_audited(
        &self,
        caller: &Caller,
        agent: &Agent,
        expected: Option<VersionId>,
        primary_field: &'static str,
        audit_as: Option<(&'static str, serde_json::Value)>,
        derive: impl Fn(&Version) -> Result<(Definition, Option<String>), ValidationErrors> + Send + Sync + 'static,
    ) -> Result<NewVersion, ServiceError> {
        let author = Self::author(caller);
        let actor = caller.actor;
        let appended = self
            .appender
            .append(agent.id, |reply| Append {
                author,
                actor,
                audit_as,
                expected,
                primary_field,
                derive: Box::new(derive),
                reply,
            })
            .await?;
        if appended.created {
            self.changed(agent.id);
        }
        Ok(appended)
    }

    pub async fn list_versions(
        &self,
        caller: &Caller,
        reference: &AgentRef,
        offset: i64,
        limit: i64,
    ) -> Result<Page<Version>, ServiceError> {
        let agent = self.readable(caller, reference).await?;
        let mut page = self.store.list_versions(agent.id, offset, limit).await?;
        page.items = self.presented(caller, &agent, page.items).await?;
        Ok(page)
    }

    pub async fn version(
        &self,
        caller: &Caller,
        reference: &AgentRef,
        version: VersionRef,
    ) -> Result<Version, ServiceError> {
        let agent = self.readable(caller, reference).await?;
        let version = self.version_of(&agent, &version).await?;
        self.presented_one(caller, &agent, version).await
    }

    /// Two versions and their diff. `from` and `to` may belong to this agent or to any agent of its fork
    /// tree the caller may read (comparing a fork with its parent); for a key restricted to one agent,
    /// only to that agent.
    pub async fn compare(
        &self,
        caller: &Caller,
        reference: &AgentRef,
        from: VersionRef,
        to: VersionRef,
    ) -> Result<(Version, Version, DefinitionDiff), ServiceError> {
        let agent = self.readable(caller, reference).await?;
        let mut from = self.version_in_tree(caller, &agent, from).await?;
        let mut to = self.version_in_tree(caller, &agent, to).await?;
        let diff = diff(&from.definition, &to.definition);
        self.hide_unseen_merge(caller, &mut from).await?;
        self.hide_unseen_merge(caller, &mut to).await?;
        Ok((from, to, diff))
    }

    /// A version number or label names a version of `agent`; an id may name one of any agent of its tree.
    async fn version_in_tree(
        &self,
        caller: &Caller,
        agent: &Agent,
        reference: VersionRef,
    ) -> Result<Version, ServiceError> {
        let id = match reference {
            VersionRef::Number(_) | VersionRef::Label(_) => return self.version_of(agent, &reference).await,
            VersionRef::Id(id) => id,
        };
        let version = self.store.version(id).await?.ok_or(ServiceError::NotFound("Version"))?;
        if version.agent_id == agent.id {
            return Ok(version);
        }
        let tree = self.store.lineage(agent.id).await?;
        let reachable = tree
            .iter()
            .any(|e| e.id == version.agent_id && (e.owner == caller.account.id || e.public) && caller.reaches(e.id));
        if reachable { Ok(version) } else { Err(ServiceError::NotFound("Version")) }
    }
}
