//! Group commit of new versions. Appends to one agent queue up in this process; one task at a time
//! drains an agent's queue, derives each queued request's version from the one before it (in arrival
//! order), and writes the whole run in one transaction. Every request still gets its own version, parent,
//! diff and event, and an `expectedVersionId` is checked against the version just before it, so a stale
//! one is refused (409) without holding up the others. Between replicas the database decides: the
//! transaction moves the agent's head only from the head the run was derived from, and a run that lost
//! that race is derived again from the new head.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex};

use talon_domain::agent::diff::{DefinitionDiff, diff};
use talon_domain::agent::{Author, Definition, Version, default_commit_message};
use talon_domain::audit::Actor;
use talon_domain::event::{self, Event};
use talon_domain::time::now;
use talon_domain::{AgentId, UserId, ValidationErrors, VersionId};
use talon_store::{AppendOutcome, Store};
use tokio::sync::oneshot;

use super::agents::version_event_data;
use super::versions::NewVersion;
use super::{ServiceError, Signal, check_models};

/// Optimistic appends are derived again when another replica appended first; beyond this, give up with 409.
const APPEND_ATTEMPTS: usize = 64;
/// At most this many requests are written in one transaction; the rest wait for the next one.
const MAX_GROUP: usize = 256;

/// Derives a request's definition (and commit message, if it named one) from the current version.
pub(super) type Derive = Box<dyn Fn(&Version) -> Result<(Definition, Option<String>), ValidationErrors> + Send + Sync>;

/// One request for a new version, waiting in its agent's queue.
pub(super) struct Append {
    pub author: Author,
    /// Who asks, for the audit log.
    pub actor: Actor,
    /// The audit log's name for the change and its added detail, when not `version.created` (a rollback).
    pub audit_as: Option<(&'static str, serde_json::Value)>,
    /// Refuse unless this is the version just before the request's own.
    pub expected: Option<VersionId>,
    /// Where the request named its primary model, for validation messages.
    pub primary_field: &'static str,
    pub derive: Derive,
    pub reply: oneshot::Sender<Result<NewVersion, ServiceError>>,
}

pub(super) struct Appender {
    store: Arc<dyn Store>,
    outbox: Signal,
    providers: Arc<[String]>,
    /// The queued requests of every agent being appended to; an agent is here exactly while a task drains it.
    queues: Mutex<HashMap<AgentId, Vec<Append>>>,
}

impl Appender {
    pub(super) fn new(store: Arc<dyn Store>, outbox: Signal, providers: Arc<[String]>) -> Arc<Self> {
        Arc::new(Self { store, outbox, providers, queues: Mutex::new(HashMap::new()) })
    }

    /// Queues `request` on `agent` and waits for its outcome. The draining runs in a task of its own, so a
    /// caller that goes away abandons only its answer, never the other requests of its group.
    pub(super) async fn append(
        self: &Arc<Self>,
        agent: AgentId,
        request: impl FnOnce(oneshot::Sender<Result<NewVersion, ServiceError>>) -> Append,
    ) -> Result<NewVersion, ServiceError> {
        let (reply, answer) = oneshot::channel();
        let request = request(reply);
        let start_draining = {
            let mut queues = self.queues.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match queues.entry(agent) {
                Entry::Occupied(mut queue) => {
                    queue.get_mut().push(request);
                    false
                }
                Entry::Vacant(slot) => {
                    slot.insert(vec![request]);
                    true
                }
            }
        };
        if start_draining {
            let appender = Arc::clone(self);
            tokio::spawn(async move { appender.drain(agent).await });
        }
        answer.await.map_err(|_| ServiceError::Internal("the version's append was abandoned".into()))?
    }

    /// Takes the agent's queued requests, a group at a time, until none are left.
    async fn drain(self: Arc<Self>, agent: AgentId) {
        let mut lane = Lane { appender: &self, agent, done: false };
        loop {
            let group = {
                let mut queues = self.queues.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let Some(queue) = queues.get_mut(&agent) else { break };
                if queue.is_empty() {
                    queues.remove(&agent);
                    lane.done = true;
                    break;
                }
                let take = queue.len().min(MAX_GROUP);
                queue.drain(..take).collect::<Vec<_>>()
            };
            self.commit_group(agent, group).await;
        }
    }

    /// Writes one group's versions in one transaction and answers each request.
    async fn commit_group(&self, agent: AgentId, group: Vec<Append>) {
        let mut outcomes = Vec::new();
        for _ in 0..APPEND_ATTEMPTS {
            let head = match self.store.agent_head(agent).await {
                Ok(Some((agent, head))) => (agent.owner, head),
                Ok(None) => return answer_all(group, || ServiceError::NotFound("Agent")),
                Err(e) => return answer_all(group, || ServiceError::Internal(e.to_string())),
            };
            let planned = plan(&self.providers, head.0, head.1, &group);
            let (versions, events): (Vec<_>, Vec<_>) = planned
                .iter()
                .filter_map(|p| match p {
                    Planned::Created(new, event) => Some((new.version.clone(), event.clone())),
                    _ => None,
                })
                .unzip();
            match self.store.append_versions(&versions, &events).await {
                Ok(AppendOutcome::Appended) => {
                    if !versions.is_empty() {
                        self.outbox.ring();
                    }
                    outcomes = planned;
                    break;
                }
                Ok(AppendOutcome::Stale) => continue,
                Err(e) => return answer_all(group, || ServiceError::Internal(e.to_string())),
            }
        }
        if outcomes.is_empty() {
            return answer_all(group, || ServiceError::Conflict("The agent is changing too fast; retry".into()));
        }
        for (request, outcome) in group.into_iter().zip(outcomes) {
            let answer = match outcome {
                Planned::Created(new, _) => Ok(new),
                Planned::Unchanged(version, Some(diff_from_parent)) => {
                    Ok(NewVersion { version, diff_from_parent, created: false })
                }
                Planned::Unchanged(version, None) => self.unchanged_head(version).await,
                Planned::Refused(error) => Err(error),
            };
            // A caller that went away no longer wants its answer; its version stands.
            let _ = request.reply.send(answer);
        }
    }

    /// The answer to a request that would change nothing of the agent's (already stored) current version:
    /// that version, with how it differs from the version it was made from (nothing for a first version,
    /// or for a fork whose parent has since been deleted).
    async fn unchanged_head(&self, version: Version) -> Result<NewVersion, ServiceError> {
        let parent = match version.parent_version_id {
            Some(id) => self.store.version(id).await?,
            None => None,
        };
        let diff_from_parent = parent.map(|p| diff(&p.definition, &version.definition)).unwrap_or_default();
        Ok(NewVersion { version, diff_from_parent, created: false })
    }
}

/// Derives each request's outcome in order, each from the version the one before it left current.
fn plan(providers: &[String], owner: UserId, head: Version, group: &[Append]) -> Vec<Planned> {
    let mut current = head;
    // The diff of `current` from its parent, when `current` was made in this group.
    let mut current_diff: Option<DefinitionDiff> = None;
    let mut planned = Vec::with_capacity(group.len());
    for request in group {
        if let Some(expected) = request.expected.filter(|e| *e != current.id) {
            planned.push(Planned::Refused(stale(expected, current.id)));
            continue;
        }
        let derived = (request.derive)(&current)
            .and_then(|(definition, message)| {
                check_models(providers, &definition, request.primary_field)?;
                Ok((definition, message))
            })
            .map_err(ServiceError::from);
        let (definition, message) = match derived {
            Ok(derived) => derived,
            Err(error) => {
                planned.push(Planned::Refused(error));
                continue;
            }
        };
        if definition.content_hash() == current.content_hash {
            planned.push(Planned::Unchanged(current.clone(), current_diff.clone()));
            continue;
        }
        let diff_from_parent = diff(&current.definition, &definition);
        let message = message.unwrap_or_else(|| default_commit_message(&diff_from_parent.changed_parts()));
        let version = Version::next(&current, definition, message, request.author.clone(), now());
        let mut event = Event::new(owner, event::VERSION_CREATED, version_event_data(&version)).by(&request.actor);
        if let Some((action, detail)) = &request.audit_as {
            event = event.audited_as(action, detail.clone());
        }
        current = version.clone();
        current_diff = Some(diff_from_parent.clone());
        planned.push(Planned::Created(NewVersion { version, diff_from_parent, created: true }, event));
    }
    planned
}

/// What becomes of one request of a group.
enum Planned {
    Created(NewVersion, Event),
    /// Nothing would change: the current version, with its diff when it was made in the same group.
    Unchanged(Version, Option<DefinitionDiff>),
    Refused(ServiceError),
}

fn answer_all(group: Vec<Append>, error: impl Fn() -> ServiceError) {
    for request in group {
        let _ = request.reply.send(Err(error()));
    }
}

pub(super) fn stale(expected: VersionId, current: VersionId) -> ServiceError {
    ServiceError::Conflict(format!("Version {expected} is no longer current; the current version is {current}"))
}

/// An agent's queue while a task drains it. Should the task end without emptying it (a panic), the queue
/// is removed, its requests answered with an error by their dropped senders, and the next request starts
/// a new task.
struct Lane<'a> {
    appender: &'a Appender,
    agent: AgentId,
    done: bool,
}

impl Drop for Lane<'_> {
    fn drop(&mut self) {
        if !self.done {
            let mut queues = self.appender.queues.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            queues.remove(&self.agent);
        }
    }
}

#[cfg(test)]
mod tests {
    use talon_domain::agent::DefinitionChange;

    use super::*;

    fn author() -> Author {
        Author { id: UserId::new(), email: "a@example.com".into() }
    }

    fn first() -> Version {
        let definition =
            DefinitionChange { prompt: Some("v1".into()), ..Default::default() }.into_new_definition().unwrap();
        Version::first(AgentId::new(), definition, "first".into(), author(), now())
    }

    /// A request setting the prompt to `prompt`, expecting `expected` (if any) to be current.
    fn request(prompt: &str, expected: Option<VersionId>) -> Append {
        let change = DefinitionChange { prompt: Some(prompt.into()), ..Default::default() };
        let (reply, _) = oneshot::channel();
        Append {
            author: author(),
            actor: Actor::System,
            audit_as: None,
            expected,
            primary_field: "model.primary",
            derive: Box::new(move |current| Ok((change.apply(&current.definition)?, None))),
            reply,
        }
    }

    fn providers() -> Vec<String> {
        vec!["test".into()]
    }

    #[test]
    fn a_group_becomes_one_chain_in_arrival_order() {
        let head = first();
        let group = [request("a", None), request("b", None), request("b", None), request("c", None)];
        let planned = plan(&providers(), UserId::new(), head.clone(), &group);
        let mut parent = head;
        let mut made = Vec::new();
        for outcome in &planned {
            match outcome {
                Planned::Created(new, event) => {
                    assert_eq!(new.version.parent_version_id, Some(parent.id));
                    assert_eq!(new.version.number, parent.number + 1);
                    assert_eq!(event.data["id"], new.version.id.to_string());
                    parent = new.version.clone();
                    made.push(new.version.definition.prompt.clone());
                }
                Planned::Unchanged(version, diff) => {
                    // The second "b" changes nothing of the "b" made just before it, in this group.
                    assert_eq!(version.id, parent.id);
                    assert!(diff.as_ref().is_some_and(|d| d.prompt.is_some()), "the diff of that version");
                }
                Planned::Refused(e) => panic!("{e}"),
            }
        }
        assert_eq!(made, ["a", "b", "c"]);
    }

    #[test]
    fn a_stale_expected_version_is_refused_alone() {
        let head = first();
        let group = [
            request("a", Some(head.id)), // current: accepted
            request("b", Some(head.id)), // no longer current after "a": refused
            request("c", None),          // unaffected
            request("d", Some(head.id)), // still stale
        ];
        let planned = plan(&providers(), UserId::new(), head.clone(), &group);
        let kinds: Vec<&str> = planned
            .iter()
            .map(|p| match p {
                Planned::Created(..) => "created",
                Planned::Unchanged(..) => "unchanged",
                Planned::Refused(ServiceError::Conflict(message)) => {
                    assert!(message.contains(&head.id.to_string()), "{message}");
                    "409"
                }
                Planned::Refused(e) => panic!("{e}"),
            })
            .collect();
        assert_eq!(kinds, ["created", "409", "created", "409"]);
        let Planned::Created(c, _) = &planned[2] else { unreachable!() };
        assert_eq!(c.version.number, 3, "c follows a directly");
    }

    #[test]
    fn an_invalid_request_is_refused_alone() {
        let head = first();
        let mut bad = request("x", None);
        bad.derive = Box::new(|current| {
            let change = DefinitionChange {
                model: Some(talon_domain::agent::ModelInput::Name("nowhere/m".into())),
                ..Default::default()
            };
            Ok((change.apply(&current.definition)?, None))
        });
        let planned = plan(&providers(), UserId::new(), head, &[bad, request("a", None)]);
        assert!(matches!(planned[0], Planned::Refused(ServiceError::Invalid(_))));
        assert!(matches!(planned[1], Planned::Created(..)));
    }
}
