//! Events: every state change records one, in the same transaction as the change, in an outbox that
//! the webhook dispatcher drains.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::audit::Actor;
use crate::id::{AgentId, EventId, UserId};

/// Every event type the server emits; webhooks subscribe to these names (or `*`).
pub const EVENT_TYPES: &[&str] = &[
    AGENT_CREATED,
    AGENT_UPDATED,
    AGENT_DELETED,
    AGENT_FORKED,
    AGENT_MERGED,
    AGENT_DEPLOYED,
    AGENT_STOPPED,
    AGENT_LABEL_MOVED,
    AGENT_LABEL_DELETED,
    VERSION_CREATED,
    DATASET_CREATED,
    DATASET_UPDATED,
    DATASET_DELETED,
    EVALUATION_STARTED,
    EVALUATION_COMPLETED,
    EVALUATION_CANCELLED,
    TASK_CREATED,
    TASK_STARTED,
    TASK_COMPLETED,
    TASK_FAILED,
    TASK_CANCELLED,
    GIG_POSTED,
    PROPOSAL_ACCEPTED,
    CONTRACT_FUNDED,
    CONTRACT_DELIVERED,
    CONTRACT_APPROVED,
    CONTRACT_DISPUTED,
    CONTRACT_RESOLVED,
    MESSAGE_RECEIVED,
    REVIEW_RECEIVED,
];

/// The marketplace's events, the ones an agent's own webhook can subscribe to (the SDK's names).
pub const MARKETPLACE_EVENT_TYPES: &[&str] = &[
    GIG_POSTED,
    PROPOSAL_ACCEPTED,
    CONTRACT_FUNDED,
    CONTRACT_DELIVERED,
    CONTRACT_APPROVED,
    CONTRACT_DISPUTED,
    CONTRACT_RESOLVED,
    MESSAGE_RECEIVED,
    REVIEW_RECEIVED,
];

pub const AGENT_CREATED: &str = "agent.created";
pub const AGENT_UPDATED: &str = "agent.updated";
pub const AGENT_DELETED: &str = "agent.deleted";
pub const AGENT_FORKED: &str = "agent.forked";
/// A fork's version was merged back into the agent (a new version of the agent, with `version.created`).
pub const AGENT_MERGED: &str = "agent.merged";
pub const AGENT_DEPLOYED: &str = "agent.deployed";
pub const AGENT_STOPPED: &str = "agent.stopped";
pub const AGENT_LABEL_MOVED: &str = "agent.label_moved";
pub const AGENT_LABEL_DELETED: &str = "agent.label_deleted";
pub const VERSION_CREATED: &str = "version.created";
pub const DATASET_CREATED: &str = "dataset.created";
pub const DATASET_UPDATED: &str = "dataset.updated";
pub const DATASET_DELETED: &str = "dataset.deleted";
pub const EVALUATION_STARTED: &str = "evaluation.started";
/// Every case of an evaluation settled: the data holds each version's summary.
pub const EVALUATION_COMPLETED: &str = "evaluation.completed";
pub const EVALUATION_CANCELLED: &str = "evaluation.cancelled";
pub const TASK_CREATED: &str = "task.created";
pub const TASK_STARTED: &str = "task.started";
pub const TASK_COMPLETED: &str = "task.completed";
pub const TASK_FAILED: &str = "task.failed";
pub const TASK_CANCELLED: &str = "task.cancelled";
pub const GIG_POSTED: &str = "gig.posted";
pub const PROPOSAL_ACCEPTED: &str = "proposal.accepted";
pub const CONTRACT_FUNDED: &str = "contract.funded";
pub const CONTRACT_DELIVERED: &str = "contract.delivered";
pub const CONTRACT_APPROVED: &str = "contract.approved";
pub const CONTRACT_DISPUTED: &str = "contract.disputed";
pub const CONTRACT_RESOLVED: &str = "contract.resolved";
pub const MESSAGE_RECEIVED: &str = "message.received";
pub const REVIEW_RECEIVED: &str = "review.received";

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: EventId,
    /// The account whose webhooks receive it.
    pub account: UserId,
    /// The agent a marketplace event is meant for: that agent's own webhook receives it too.
    pub agent: Option<AgentId>,
    pub kind: &'static str,
    /// The `data` of the delivered payload.
    pub data: Value,
    pub created_at: DateTime<Utc>,
    /// Who caused it and how the audit log names it (see `audit`); never delivered to webhooks. Boxed:
    /// most events travel without it, and events sit in enums that should stay small.
    pub audit: Option<Box<EventAudit>>,
}

/// What the audit log records of an event beyond its type and data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventAudit {
    /// Who caused the event; none for Talon itself.
    pub actor: Option<Actor>,
    /// The action the log names, when it is not the event's type (a rollback's `version.created`).
    pub action: Option<&'static str>,
    /// More detail for the log alone, merged into the event's data.
    pub detail: Option<Value>,
}

impl Event {
    pub fn new(account: UserId, kind: &'static str, data: Value) -> Self {
        Event { id: EventId::new(), account, agent: None, kind, data, created_at: crate::time::now(), audit: None }
    }

    /// The event, caused by `actor` (the audit log's "who").
    pub fn by(mut self, actor: &Actor) -> Self {
        self.audit.get_or_insert_with(Box::default).actor = Some(*actor);
        self
    }

    /// The event, named `action` in the audit log with `detail` added there.
    pub fn audited_as(mut self, action: &'static str, detail: Value) -> Self {
        let audit = self.audit.get_or_insert_with(Box::default);
        audit.action = Some(action);
        audit.detail = Some(detail);
        self
    }

    /// An event for `agent`'s own webhook as well as for the webhooks of the account holding it.
    pub fn for_agent(account: UserId, agent: AgentId, kind: &'static str, data: Value) -> Self {
        Event { agent: Some(agent), ..Event::new(account, kind, data) }
    }
}
