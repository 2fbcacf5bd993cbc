//! The audit log: who (a session, an API key, Talon itself) did what to which resource of an account,
//! and when. Most entries are made from the events the store writes to the outbox (every write in the
//! registry records one), with the actor the event carries; writes that record no event (API keys,
//! webhooks) make theirs directly. Entries are never purged and never hold secrets: their detail is the
//! event's data, which webhooks receive anyway, or a few ids and names.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::event::Event;
use crate::id::{AgentId, ApiKeyId, AuditId, UserId};

/// The public prefix of a session's id (`sess_<32 hex digits>`), as the audit log shows it.
pub const SESSION_PREFIX: &str = "sess";
/// Detail larger than this (serialized) is dropped, keeping the entry small whatever an event carries.
pub const MAX_DETAIL_BYTES: usize = 4096;

pub const API_KEY_CREATED: &str = "api_key.created";
pub const API_KEY_REVOKED: &str = "api_key.revoked";
pub const WEBHOOK_CREATED: &str = "webhook.created";
pub const WEBHOOK_UPDATED: &str = "webhook.updated";
pub const WEBHOOK_DELETED: &str = "webhook.deleted";
pub const WEBHOOK_SECRET_ROTATED: &str = "webhook.secret_rotated";
/// A rollback is a new version; the audit log names it as what it was.
pub const VERSION_ROLLED_BACK: &str = "version.rolled_back";

/// Who made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in session (the API's bearer token or the dashboard's cookie) of `account`.
    Session { account: UserId, session: Uuid },
    /// An API key of `account`.
    ApiKey { account: UserId, key: ApiKeyId },
    /// Talon itself: the runtime, maintenance, a registration without a caller.
    System,
    /// Someone of another account (forking this account's public agent): who is theirs to know.
    OtherAccount,
}

impl Actor {
    /// `session`, `apiKey`, `system` or `otherAccount`.
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::Session { .. } => "session",
            Actor::ApiKey { .. } => "apiKey",
            Actor::System => "system",
            Actor::OtherAccount => "otherAccount",
        }
    }

    /// The session's or key's id as the API shows it (`sess_…`, `key_…`); none for Talon or another account.
    pub fn public_id(&self) -> Option<String> {
        match self {
            Actor::Session { session, .. } => Some(format!("{SESSION_PREFIX}_{}", session.simple())),
            Actor::ApiKey { key, .. } => Some(key.to_string()),
            Actor::System | Actor::OtherAccount => None,
        }
    }

    /// The bare id kept in the database.
    pub fn uuid(&self) -> Option<Uuid> {
        match self {
            Actor::Session { session, .. } => Some(*session),
            Actor::ApiKey { key, .. } => Some(*key.as_uuid()),
            Actor::System | Actor::OtherAccount => None,
        }
    }

    pub fn account(&self) -> Option<UserId> {
        match self {
            Actor::Session { account, .. } | Actor::ApiKey { account, .. } => Some(*account),
            Actor::System | Actor::OtherAccount => None,
        }
    }

    /// The actor as stored: its kind, its bare id and its account (see `uuid`, `account`).
    pub fn from_stored(kind: &str, id: Option<Uuid>, account: Option<UserId>) -> Option<Actor> {
        match (kind, id, account) {
            ("session", Some(session), Some(account)) => Some(Actor::Session { account, session }),
            ("apiKey", Some(key), Some(account)) => Some(Actor::ApiKey { account, key: ApiKeyId::from_uuid(key) }),
            ("system", _, _) => Some(Actor::System),
            ("otherAccount", _, _) => Some(Actor::OtherAccount),
            _ => None,
        }
    }

    /// The actor as `account`'s log may name it: someone of another account is not named.
    fn seen_by(self, account: UserId) -> Actor {
        match self.account() {
            Some(own) if own != account => Actor::OtherAccount,
            _ => self,
        }
    }
}

/// Which entries to list by who made them: `system`, a session (`sess_…`) or an API key (`key_…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorFilter {
    System,
    Session(Uuid),
    ApiKey(ApiKeyId),
}

impl ActorFilter {
    pub fn parse(raw: &str) -> Option<ActorFilter> {
        if raw == "system" {
            return Some(ActorFilter::System);
        }
        if let Some(hex) = raw.strip_prefix(concat!("sess", "_")) {
            return (hex.len() == 32).then(|| Uuid::try_parse(hex).ok()).flatten().map(ActorFilter::Session);
        }
        raw.starts_with("key_").then(|| ApiKeyId::parse(raw).ok()).flatten().map(ActorFilter::ApiKey)
    }

    /// The stored kind and bare id this filter matches.
    pub fn stored(&self) -> (&'static str, Option<Uuid>) {
        match self {
            ActorFilter::System => ("system", None),
            ActorFilter::Session(id) => ("session", Some(*id)),
            ActorFilter::ApiKey(id) => ("apiKey", Some(*id.as_uuid())),
        }
    }
}

/// One entry of an account's audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: AuditId,
    /// Whose log it is in.
    pub account: UserId,
    pub actor: Actor,
    /// What was done: the event's type (`agent.deployed`) or an action of this module (`api_key.created`).
    pub action: String,
    /// The kind of resource changed: `agent`, `version`, `label`, `api_key`, `webhook`.
    pub resource_type: String,
    /// Its id (a label's name); none when the change did not name one.
    pub resource_id: Option<String>,
    /// The agent the change concerns, for listing one agent's entries.
    pub agent: Option<AgentId>,
    /// A little JSON saying more (the version deployed, the label's previous version); never a secret.
    pub detail: Value,
    pub at: DateTime<Utc>,
}

impl AuditEntry {
    /// An entry for a change that records no event.
    pub fn new(
        account: UserId,
        actor: Actor,
        action: &str,
        resource: (&str, String),
        agent: Option<AgentId>,
        detail: Value,
        at: DateTime<Utc>,
    ) -> AuditEntry {
        AuditEntry {
            id: AuditId::new(),
            account,
            actor: actor.seen_by(account),
            action: action.to_owned(),
            resource_type: resource.0.to_owned(),
            resource_id: Some(resource.1),
            agent,
            detail: bounded(detail),
            at,
        }
    }

    /// The entry an event makes, if its type is audited: every change to an agent (`agent.*`: created,
    /// updated, deleted, forked, deployed, stopped, its labels and splits) and to its versions
    /// (`version.*`), to its datasets (`dataset.*`) and evaluations (`evaluation.*`). An event without
    /// an actor was caused by Talon itself.
    pub fn of_event(event: &Event) -> Option<AuditEntry> {
        let audit = event.audit.as_ref();
        let action = audit.and_then(|a| a.action).unwrap_or(event.kind);
        let (resource_type, resource_key) = resource_of(event.kind)?;
        let text = |key: &str| event.data.get(key).and_then(Value::as_str);
        // The agent's id is `agentId` in a version's data, `agent` in a label's and `id` in an agent's;
        // a version's id never reads as an agent's.
        let agent = AGENT_KEYS.iter().find_map(|key| text(key).and_then(|raw| AgentId::parse(raw).ok()));
        let resource_id = text(resource_key).map(str::to_owned).or_else(|| agent.map(|a| a.to_string()));
        let mut detail = event.data.clone();
        if let (Value::Object(into), Some(Value::Object(more))) = (&mut detail, audit.and_then(|a| a.detail.clone())) {
            into.extend(more);
        }
        let actor = audit.and_then(|a| a.actor).unwrap_or(Actor::System);
        Some(AuditEntry {
            id: AuditId::new(),
            account: event.account,
            actor: actor.seen_by(event.account),
            action: action.to_owned(),
            resource_type: resource_type.to_owned(),
            resource_id,
            agent,
            detail: bounded(detail),
            at: event.created_at,
        })
    }
}

/// Where an audited event's data may name its agent, in the order tried.
const AGENT_KEYS: [&str; 3] = ["agentId", "agent", "id"];

/// An audited event type's resource: its kind and the data key holding its id (the agent's id when
/// absent). `None` for event types the log does not record (tasks, the marketplace).
fn resource_of(kind: &str) -> Option<(&'static str, &'static str)> {
    let (prefix, action) = kind.split_once('.')?;
    match prefix {
        "version" => Some(("version", "id")),
        "agent" if action.starts_with("label") => Some(("label", "label")),
        "agent" => Some(("agent", "id")),
        "dataset" => Some(("dataset", "name")),
        "evaluation" => Some(("evaluation", "id")),
        _ => None,
    }
}

/// `detail` as kept: an object, and a small one.
fn bounded(detail: Value) -> Value {
    match detail {
        Value::Object(_) if detail.to_string().len() <= MAX_DETAIL_BYTES => detail,
        Value::Object(_) => Value::Object(Map::from_iter([("truncated".to_owned(), Value::Bool(true))])),
        _ => Value::Object(Map::new()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::VersionId;
    use crate::event::{self, Event};

    fn data_id(entry: &AuditEntry) -> Option<String> {
        entry.detail["id"].as_str().map(str::to_owned)
    }

    fn key_of(account: UserId) -> Actor {
        Actor::ApiKey { account, key: ApiKeyId::new() }
    }

    #[test]
    fn an_agent_event_names_the_agent_and_its_actor() {
        let account = UserId::new();
        let agent = AgentId::new();
        let actor = key_of(account);
        let data = json!({"id": agent.to_string(), "status": "deployed"});
        let entry = AuditEntry::of_event(&Event::new(account, event::AGENT_DEPLOYED, data.clone()).by(&actor)).unwrap();
        assert_eq!(entry.action, "agent.deployed");
        assert_eq!((entry.resource_type.as_str(), entry.resource_id), ("agent", Some(agent.to_string())));
        assert_eq!(entry.agent, Some(agent));
        assert_eq!(entry.actor, actor);
        assert_eq!(entry.detail, data);
    }

    #[test]
    fn a_version_event_names_the_version_and_its_agent() {
        let agent = AgentId::new();
        let data = json!({"id": VersionId::new().to_string(), "agentId": agent.to_string()});
        let entry = AuditEntry::of_event(&Event::new(UserId::new(), event::VERSION_CREATED, data)).unwrap();
        assert_eq!(entry.resource_type, "version");
        assert_eq!(entry.resource_id, data_id(&entry));
        assert_eq!(entry.agent, Some(agent));
        assert_eq!(entry.actor, Actor::System, "no actor: Talon itself");
    }

    #[test]
    fn a_label_event_names_the_label_and_keeps_the_previous_version() {
        let agent = AgentId::new();
        let data = json!({"agent": agent.to_string(), "label": "production", "versionId": "ver_2", "previousVersionId": "ver_1"});
        let entry = AuditEntry::of_event(&Event::new(UserId::new(), "agent.label_moved", data)).unwrap();
        assert_eq!((entry.resource_type.as_str(), entry.resource_id.as_deref()), ("label", Some("production")));
        assert_eq!(entry.agent, Some(agent));
        assert_eq!(entry.detail["previousVersionId"], "ver_1");
    }

    #[test]
    fn tasks_and_the_marketplace_are_not_audited() {
        assert!(AuditEntry::of_event(&Event::new(UserId::new(), event::TASK_CREATED, json!({}))).is_none());
        assert!(AuditEntry::of_event(&Event::new(UserId::new(), event::CONTRACT_FUNDED, json!({}))).is_none());
    }

    #[test]
    fn an_override_renames_the_action_and_adds_detail() {
        let event = Event::new(UserId::new(), event::VERSION_CREATED, json!({"id": "ver_3", "versionNumber": 3}))
            .audited_as(VERSION_ROLLED_BACK, json!({"rolledBackTo": "ver_1"}));
        let entry = AuditEntry::of_event(&event).unwrap();
        assert_eq!(entry.action, VERSION_ROLLED_BACK);
        assert_eq!(entry.detail, json!({"id": "ver_3", "versionNumber": 3, "rolledBackTo": "ver_1"}));
    }

    #[test]
    fn another_accounts_actor_is_not_named() {
        let (owner, forker) = (UserId::new(), UserId::new());
        let event =
            Event::new(owner, event::AGENT_FORKED, json!({"id": AgentId::new().to_string()})).by(&key_of(forker));
        let entry = AuditEntry::of_event(&event).unwrap();
        assert_eq!(entry.actor, Actor::OtherAccount);
        assert_eq!(entry.actor.public_id(), None);
    }

    #[test]
    fn large_detail_is_dropped() {
        let big = json!({"commitMessage": "x".repeat(MAX_DETAIL_BYTES)});
        let entry = AuditEntry::new(
            UserId::new(),
            Actor::System,
            WEBHOOK_UPDATED,
            ("webhook", "w".into()),
            None,
            big,
            crate::time::now(),
        );
        assert_eq!(entry.detail, json!({"truncated": true}));
    }

    #[test]
    fn actors_round_trip_through_storage_and_filters() {
        let account = UserId::new();
        let session = Actor::Session { account, session: Uuid::now_v7() };
        let key = key_of(account);
        for actor in [session, key, Actor::System] {
            assert_eq!(Actor::from_stored(actor.kind(), actor.uuid(), actor.account()), Some(actor));
            let filter = ActorFilter::parse(&actor.public_id().unwrap_or_else(|| "system".into())).unwrap();
            assert_eq!(filter.stored(), (actor.kind(), actor.uuid()));
        }
        assert!(ActorFilter::parse("sess_123").is_none());
        assert!(ActorFilter::parse("someone").is_none());
        assert!(ActorFilter::parse(&Uuid::now_v7().to_string()).is_none(), "a bare id names no kind");
    }
}
