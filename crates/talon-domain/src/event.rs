//! Events: every state change records one, in the same transaction as the change, in an outbox that
//! the webhook dispatcher drains.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::id::{EventId, UserId};

/// Every event type the server emits; webhooks subscribe to these names (or `*`).
pub const EVENT_TYPES: &[&str] = &[
    AGENT_CREATED,
    AGENT_UPDATED,
    AGENT_DELETED,
    AGENT_FORKED,
    AGENT_DEPLOYED,
    AGENT_STOPPED,
    VERSION_CREATED,
    TASK_CREATED,
    TASK_STARTED,
    TASK_COMPLETED,
    TASK_FAILED,
    TASK_CANCELLED,
];

pub const AGENT_CREATED: &str = "agent.created";
pub const AGENT_UPDATED: &str = "agent.updated";
pub const AGENT_DELETED: &str = "agent.deleted";
pub const AGENT_FORKED: &str = "agent.forked";
pub const AGENT_DEPLOYED: &str = "agent.deployed";
pub const AGENT_STOPPED: &str = "agent.stopped";
pub const VERSION_CREATED: &str = "version.created";
pub const TASK_CREATED: &str = "task.created";
pub const TASK_STARTED: &str = "task.started";
pub const TASK_COMPLETED: &str = "task.completed";
pub const TASK_FAILED: &str = "task.failed";
pub const TASK_CANCELLED: &str = "task.cancelled";

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: EventId,
    /// The account whose webhooks receive it.
    pub account: UserId,
    pub kind: &'static str,
    /// The `data` of the delivered payload.
    pub data: Value,
    pub created_at: DateTime<Utc>,
}

impl Event {
    pub fn new(account: UserId, kind: &'static str, data: Value) -> Self {
        Event { id: EventId::new(), account, kind, data, created_at: crate::time::now() }
    }
}
