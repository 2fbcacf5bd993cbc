use serde_json::Value;
use talon_domain::agent::diff::{DefinitionDiff, diff};
use talon_domain::agent::{Agent, Author, Definition, DefinitionPatch, Version, default_commit_message};
use talon_domain::event::{self, Event};
use talon_domain::time::now;
use talon_domain::{ValidationErrors, VersionId};
use talon_store::{AppendOutcome, Page};

use super::agents::{parse_commit_message, version_event_data};
use super::{APPEND_ATTEMPTS, Caller, RegistryService, ServiceError};

/// A new version as the request sends it: any subset of the definition's parts.
#[derive(Debug, Default)]
pub struct VersionInput {
    pub definition: DefinitionPatch,
    pub commit_message: Option<Value>,
    /// Optimistic concurrency: refuse unless this is still the current version.
    pub expected_version_id: Option<String>,
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
        reference: &str,
        input: VersionInput,
    ) -> Result<NewVersion, ServiceError> {
        let mut errors = ValidationErrors::new();
        let message = parse_commit_message(input.commit_message.as_ref(), &mut errors);
        if input.definition.is_empty() {
            errors.add("body", "Send at least one of prompt, tools, config or model");
        }
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let expected = match input.expected_version_id.as_deref() {
            Some(raw) => Some(VersionId::parse(raw).map_err(|_| {
                ServiceError::Invalid(ValidationErrors::single("expectedVersionId", "Must be a version id"))
            })?),
            None => None,
        };
        let agent = self.owned(caller, reference).await?;
        let primary_field = input.definition.primary_model_field();
        self.append(caller, &agent, expected, primary_field, |current| {
            let next = input.definition.apply(&current.definition)?;
            Ok((next, message.clone()))
        })
        .await
    }

    /// A new version whose content equals `target`'s. History is never rewritten.
    pub async fn rollback(
        &self,
        caller: &Caller,
        reference: &str,
        target: Option<&str>,
    ) -> Result<NewVersion, ServiceError> {
        let target = target
            .ok_or_else(|| ServiceError::Invalid(ValidationErrors::single("versionId", "Required field missing")))?;
        let agent = self.owned(caller, reference).await?;
        let target = self.version_of(&agent, target).await?;
        let message = format!("Rollback to version {}", target.number);
        self.append(caller, &agent, None, "model.primary", |_| Ok((target.definition.clone(), Some(message.clone()))))
            .await
    }

    /// Appends the version `make` derives from the current one, retrying from the new current version when
    /// another writer appended first (unless the caller pinned `expected`). A definition identical to the
    /// current one creates nothing.
    async fn append(
        &self,
        caller: &Caller,
        agent: &Agent,
        expected: Option<VersionId>,
        primary_field: &str,
        make: impl Fn(&Version) -> Result<(Definition, Option<String>), ValidationErrors>,
    ) -> Result<NewVersion, ServiceError> {
        let _turn = self.append_lock(agent.id).lock().await;
        for _ in 0..APPEND_ATTEMPTS {
            let (_, current) = self.store.agent_head(agent.id).await?.ok_or(ServiceError::NotFound("Agent"))?;
            if let Some(expected) = expected.filter(|e| *e != current.id) {
                return Err(stale(expected, current.id));
            }
            let (definition, message) = make(&current)?;
            self.check_models(&definition, primary_field)?;
            let content_hash = definition.content_hash();
            if content_hash == current.content_hash {
                let diff_from_parent = self.diff_from_parent(&current).await?;
                return Ok(NewVersion { version: current, diff_from_parent, created: false });
            }
            let diff_from_parent = diff(&current.definition, &definition);
            let version = Version {
                id: VersionId::new(),
                agent_id: agent.id,
                number: current.number + 1,
                parent_version_id: Some(current.id),
                content_hash,
                commit_message: message.unwrap_or_else(|| default_commit_message(&diff_from_parent.changed_parts())),
                definition,
                fork_type: None,
                created_by: Author { id: caller.account.id, email: caller.account.email.clone() },
                created_at: now(),
            };
            let events = [Event::new(agent.owner, event::VERSION_CREATED, version_event_data(&version))];
            match self.store.append_version(&version, &events).await? {
                AppendOutcome::Appended => {
                    self.outbox.written();
                    return Ok(NewVersion { version, diff_from_parent, created: true });
                }
                AppendOutcome::Stale if expected.is_some() => {
                    let now_current = self.store.agent(agent.id).await?.map_or(current.id, |a| a.current_version_id);
                    return Err(stale(current.id, now_current));
                }
                AppendOutcome::Stale => continue,
            }
        }
        Err(ServiceError::Conflict("The agent is changing too fast; retry".into()))
    }

    /// How `version` differs from the version it was made from; empty for a first version (or when a
    /// fork's parent has since been deleted).
    async fn diff_from_parent(&self, version: &Version) -> Result<DefinitionDiff, ServiceError> {
        let parent = match version.parent_version_id {
            Some(id) => self.store.version(id).await?,
            None => None,
        };
        Ok(parent.map(|p| diff(&p.definition, &version.definition)).unwrap_or_default())
    }

    pub async fn list_versions(
        &self,
        caller: &Caller,
        reference: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Page<Version>, ServiceError> {
        let agent = self.readable(caller, reference).await?;
        let mut page = self.store.list_versions(agent.id, offset, limit).await?;
        page.items = self.presented(caller, &agent, page.items).await?;
        Ok(page)
    }

    pub async fn version(&self, caller: &Caller, reference: &str, version: &str) -> Result<Version, ServiceError> {
        let agent = self.readable(caller, reference).await?;
        let version = self.version_of(&agent, version).await?;
        self.presented_one(caller, &agent, version).await
    }

    /// Two versions and their diff. `from` and `to` may belong to this agent or to any agent of its fork
    /// tree the caller may read (comparing a fork with its parent); for a key restricted to one agent,
    /// only to that agent.
    pub async fn compare(
        &self,
        caller: &Caller,
        reference: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<(Version, Version, DefinitionDiff), ServiceError> {
        let mut errors = ValidationErrors::new();
        if from.is_none() {
            errors.add("from", "Required query parameter missing");
        }
        if to.is_none() {
            errors.add("to", "Required query parameter missing");
        }
        let (Some(from), Some(to)) = (from, to) else {
            return Err(errors.into());
        };
        let agent = self.readable(caller, reference).await?;
        let from = self.version_in_tree(caller, &agent, from).await?;
        let to = self.version_in_tree(caller, &agent, to).await?;
        let diff = diff(&from.definition, &to.definition);
        Ok((from, to, diff))
    }

    /// A version number names a version of `agent`; an id may name one of any agent of its tree.
    async fn version_in_tree(&self, caller: &Caller, agent: &Agent, reference: &str) -> Result<Version, ServiceError> {
        if reference.bytes().all(|b| b.is_ascii_digit()) {
            return self.version_of(agent, reference).await;
        }
        let id = VersionId::parse(reference).map_err(|_| ServiceError::NotFound("Version"))?;
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

fn stale(expected: VersionId, current: VersionId) -> ServiceError {
    ServiceError::Conflict(format!("Version {expected} is no longer current; the current version is {current}"))
}
