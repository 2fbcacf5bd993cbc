//! Row shapes shared by both databases, and their conversion into domain types.

use chrono::{DateTime, Utc};
use talon_domain::{Account, AgentId, ApiKey, ApiKeyId, Scope, UserId};
use uuid::Uuid;

use crate::{Reservation, StoreError, StoredResponse};

#[derive(sqlx::FromRow)]
pub(crate) struct AccountRow {
    pub id: Uuid,
    pub email: String,
    pub plan: String,
    pub created_at: DateTime<Utc>,
}

impl From<AccountRow> for Account {
    fn from(row: AccountRow) -> Self {
        Account { id: UserId::from_uuid(row.id), email: row.email, plan: row.plan, created_at: row.created_at }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AccountWithPasswordRow {
    #[sqlx(flatten)]
    pub account: AccountRow,
    pub password_hash: String,
}

#[derive(sqlx::FromRow)]
pub(crate) struct SessionAccountRow {
    #[sqlx(flatten)]
    pub account: AccountRow,
    pub session_generation: i64,
    pub revoked: bool,
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApiKeyRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub key_prefix: String,
    pub scopes: String,
    pub agent_id: Option<Uuid>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = StoreError;
    fn try_from(row: ApiKeyRow) -> Result<Self, StoreError> {
        Ok(ApiKey {
            id: ApiKeyId::from_uuid(row.id),
            user_id: UserId::from_uuid(row.user_id),
            name: row.name,
            key_prefix: row.key_prefix,
            scopes: decode_scopes(&row.scopes)?,
            agent_id: row.agent_id.map(AgentId::from_uuid),
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct KeyWithAccountRow {
    #[sqlx(flatten)]
    pub key: ApiKeyRow,
    pub email: String,
    pub plan: String,
    pub account_created_at: DateTime<Utc>,
}

/// Scopes are stored as one space-separated column: they are always read and written whole.
pub(crate) fn encode_scopes(scopes: &[Scope]) -> String {
    scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
}

fn decode_scopes(raw: &str) -> Result<Vec<Scope>, StoreError> {
    raw.split_whitespace()
        .map(|s| s.parse().map_err(|e: talon_domain::scope::UnknownScope| StoreError::Corrupt(e.to_string())))
        .collect()
}

#[derive(sqlx::FromRow)]
pub(crate) struct IdempotencyRow {
    pub fingerprint: Vec<u8>,
    pub response_status: Option<i32>,
    pub response_content_type: Option<String>,
    pub response_body: Option<Vec<u8>>,
}

impl IdempotencyRow {
    pub fn into_reservation(self) -> Reservation {
        match (self.response_status, self.response_body) {
            (Some(status), Some(body)) => Reservation::Completed {
                fingerprint: self.fingerprint,
                response: StoredResponse {
                    status: u16::try_from(status).unwrap_or(500),
                    content_type: self.response_content_type,
                    body,
                },
            },
            _ => Reservation::InFlight { fingerprint: self.fingerprint },
        }
    }
}

impl TryFrom<KeyWithAccountRow> for crate::AuthenticatedKey {
    type Error = StoreError;
    fn try_from(row: KeyWithAccountRow) -> Result<Self, StoreError> {
        let account = Account {
            id: UserId::from_uuid(row.key.user_id),
            email: row.email,
            plan: row.plan,
            created_at: row.account_created_at,
        };
        Ok(crate::AuthenticatedKey { key: row.key.try_into()?, account })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AgentRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub capabilities: String,
    pub public: bool,
    pub api_access: bool,
    pub status: String,
    pub current_version_id: Uuid,
    pub deployed_version_id: Option<Uuid>,
    pub deployed_at: Option<DateTime<Utc>>,
    pub fork_count: i64,
    pub depth: i64,
    pub parent_agent_id: Option<Uuid>,
    pub parent_version_id: Option<Uuid>,
    pub fork_type: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) const AGENT_COLUMNS: &str = "a.id, a.user_id, a.slug, a.name, a.description, a.capabilities, a.public, \
     a.api_access, a.status, a.current_version_id, a.deployed_version_id, a.deployed_at, a.fork_count, a.depth, \
     a.parent_agent_id, a.parent_version_id, a.fork_type, a.created_at, a.updated_at";

fn corrupt(what: &str) -> impl FnOnce(String) -> StoreError + '_ {
    move |e| StoreError::Corrupt(format!("{what}: {e}"))
}

impl TryFrom<AgentRow> for talon_domain::agent::Agent {
    type Error = StoreError;
    fn try_from(row: AgentRow) -> Result<Self, StoreError> {
        use talon_domain::agent::{AgentMetadata, ForkOrigin, ForkType};
        let fork_origin = match row.fork_type {
            Some(kind) => Some(ForkOrigin {
                parent_agent_id: row.parent_agent_id.map(AgentId::from_uuid),
                parent_version_id: row.parent_version_id.map(talon_domain::VersionId::from_uuid),
                fork_type: kind.parse::<ForkType>().map_err(corrupt("fork type"))?,
            }),
            None => None,
        };
        Ok(talon_domain::agent::Agent {
            id: AgentId::from_uuid(row.id),
            owner: UserId::from_uuid(row.user_id),
            slug: row.slug,
            metadata: AgentMetadata {
                name: row.name,
                description: row.description,
                capabilities: serde_json::from_str(&row.capabilities)
                    .map_err(|e| StoreError::Corrupt(format!("capabilities: {e}")))?,
            },
            public: row.public,
            api_access: row.api_access,
            status: row.status.parse().map_err(corrupt("status"))?,
            current_version_id: talon_domain::VersionId::from_uuid(row.current_version_id),
            deployed_version_id: row.deployed_version_id.map(talon_domain::VersionId::from_uuid),
            deployed_at: row.deployed_at,
            fork_count: row.fork_count,
            depth: row.depth,
            fork_origin,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct VersionRow {
    pub id: Uuid,
    pub agent_id: Uuid,
    pub number: i64,
    pub parent_version_id: Option<Uuid>,
    pub definition: String,
    pub content_hash: String,
    pub commit_message: String,
    pub fork_type: Option<String>,
    pub created_by: Uuid,
    pub created_by_email: String,
    pub created_at: DateTime<Utc>,
}

pub(crate) const VERSION_COLUMNS: &str = "v.id, v.agent_id, v.number, v.parent_version_id, v.definition, \
     v.content_hash, v.commit_message, v.fork_type, v.created_by, u.email AS created_by_email, v.created_at";

impl TryFrom<VersionRow> for talon_domain::agent::Version {
    type Error = StoreError;
    fn try_from(row: VersionRow) -> Result<Self, StoreError> {
        use talon_domain::agent::{Author, ForkType, Version};
        Ok(Version {
            id: talon_domain::VersionId::from_uuid(row.id),
            agent_id: AgentId::from_uuid(row.agent_id),
            number: row.number,
            parent_version_id: row.parent_version_id.map(talon_domain::VersionId::from_uuid),
            definition: serde_json::from_str(&row.definition)
                .map_err(|e| StoreError::Corrupt(format!("definition: {e}")))?,
            content_hash: row.content_hash,
            commit_message: row.commit_message,
            fork_type: row.fork_type.map(|k| k.parse::<ForkType>()).transpose().map_err(corrupt("fork type"))?,
            created_by: Author { id: UserId::from_uuid(row.created_by), email: row.created_by_email },
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct LineageRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub public: bool,
    pub parent_agent_id: Option<Uuid>,
    pub name: String,
    pub fork_type: Option<String>,
    pub parent_version_id: Option<Uuid>,
    pub current_version_id: Uuid,
    pub number: i64,
}

impl TryFrom<LineageRow> for talon_domain::agent::lineage::LineageEntry {
    type Error = StoreError;
    fn try_from(row: LineageRow) -> Result<Self, StoreError> {
        Ok(talon_domain::agent::lineage::LineageEntry {
            id: AgentId::from_uuid(row.id),
            owner: UserId::from_uuid(row.user_id),
            public: row.public,
            parent: row.parent_agent_id.map(AgentId::from_uuid),
            name: row.name,
            fork_type: row
                .fork_type
                .map(|k| k.parse::<talon_domain::agent::ForkType>())
                .transpose()
                .map_err(corrupt("fork type"))?,
            forked_from_version_id: row.parent_version_id.map(talon_domain::VersionId::from_uuid),
            current_version_id: talon_domain::VersionId::from_uuid(row.current_version_id),
            current_version_number: row.number,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    pub id: Uuid,
    pub kind: String,
    pub data: String,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<EventRow> for crate::StoredEvent {
    type Error = StoreError;
    fn try_from(row: EventRow) -> Result<Self, StoreError> {
        Ok(crate::StoredEvent {
            id: talon_domain::EventId::from_uuid(row.id),
            kind: row.kind,
            data: serde_json::from_str(&row.data).map_err(|e| StoreError::Corrupt(format!("event: {e}")))?,
            created_at: row.created_at,
        })
    }
}

/// An agent joined with its current version; the version's columns carry a `v_` prefix.
#[derive(sqlx::FromRow)]
pub(crate) struct AgentHeadRow {
    #[sqlx(flatten)]
    pub agent: AgentRow,
    pub v_id: Uuid,
    pub v_number: i64,
    pub v_parent_version_id: Option<Uuid>,
    pub v_definition: String,
    pub v_content_hash: String,
    pub v_commit_message: String,
    pub v_fork_type: Option<String>,
    pub v_created_by: Uuid,
    pub v_created_by_email: String,
    pub v_created_at: DateTime<Utc>,
}

/// An agent joined with one of its versions (`v`) and that version's author (`u`); callers add the
/// join condition on `v` and the `WHERE` clause.
pub(crate) const AGENT_WITH_VERSION: &str = "SELECT a.id, a.user_id, a.slug, a.name, a.description, a.capabilities, \
     a.public, a.api_access, a.status, a.current_version_id, a.deployed_version_id, a.deployed_at, a.fork_count, a.depth, \
     a.parent_agent_id, a.parent_version_id, a.fork_type, a.created_at, a.updated_at, \
     v.id AS v_id, v.number AS v_number, v.parent_version_id AS v_parent_version_id, v.definition AS v_definition, \
     v.content_hash AS v_content_hash, v.commit_message AS v_commit_message, v.fork_type AS v_fork_type, \
     v.created_by AS v_created_by, u.email AS v_created_by_email, v.created_at AS v_created_at \
     FROM agents a JOIN agent_versions v ON ";

/// The join to the agent's current version.
pub(crate) const ON_CURRENT_VERSION: &str = "v.id = a.current_version_id JOIN users u ON u.id = v.created_by";
/// The join to the version the agent serves: its deployed one, else its current one.
pub(crate) const ON_SERVED_VERSION: &str =
    "v.id = COALESCE(a.deployed_version_id, a.current_version_id) JOIN users u ON u.id = v.created_by";

impl TryFrom<AgentHeadRow> for (talon_domain::agent::Agent, talon_domain::agent::Version) {
    type Error = StoreError;
    fn try_from(row: AgentHeadRow) -> Result<Self, StoreError> {
        let version = VersionRow {
            id: row.v_id,
            agent_id: row.agent.id,
            number: row.v_number,
            parent_version_id: row.v_parent_version_id,
            definition: row.v_definition,
            content_hash: row.v_content_hash,
            commit_message: row.v_commit_message,
            fork_type: row.v_fork_type,
            created_by: row.v_created_by,
            created_by_email: row.v_created_by_email,
            created_at: row.v_created_at,
        };
        Ok((row.agent.try_into()?, version.try_into()?))
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TaskRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub agent_id: Uuid,
    pub version_id: Uuid,
    pub title: String,
    pub description: String,
    pub priority: i32,
    pub status: String,
    pub executor: String,
    pub input: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
    pub dedupe_key: Option<String>,
    pub lease_token: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

pub(crate) const TASK_COLUMNS: &str = "id, user_id, agent_id, version_id, title, description, priority, status, \
     executor, input, output, error, attempts, max_attempts, run_at, dedupe_key, lease_token, lease_expires_at, \
     created_at, updated_at, started_at, completed_at";

impl TryFrom<TaskRow> for talon_domain::task::Task {
    type Error = StoreError;
    fn try_from(row: TaskRow) -> Result<Self, StoreError> {
        use talon_domain::task::{Lease, Priority, Task};
        let json = |text: &str| serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("task json: {e}")));
        Ok(Task {
            id: talon_domain::TaskId::from_uuid(row.id),
            owner: UserId::from_uuid(row.user_id),
            agent_id: AgentId::from_uuid(row.agent_id),
            version_id: talon_domain::VersionId::from_uuid(row.version_id),
            title: row.title,
            description: row.description,
            priority: Priority::from_rank(row.priority).ok_or_else(|| StoreError::Corrupt("task priority".into()))?,
            status: row.status.parse().map_err(corrupt("task status"))?,
            executor: row.executor.parse().map_err(corrupt("task executor"))?,
            input: json(&row.input)?,
            output: row.output.as_deref().map(json).transpose()?,
            error: row.error,
            attempts: row.attempts,
            max_attempts: row.max_attempts,
            run_at: row.run_at,
            dedupe_key: row.dedupe_key,
            lease: match (row.lease_token, row.lease_expires_at) {
                (Some(token), Some(expires_at)) => Some(Lease { token, expires_at }),
                _ => None,
            },
            created_at: row.created_at,
            updated_at: row.updated_at,
            started_at: row.started_at,
            completed_at: row.completed_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ListedTaskRow {
    #[sqlx(flatten)]
    pub task: TaskRow,
    pub agent_name: String,
}

/// `RETURNING` gives rows in no particular order; claims hand them out by priority, then age.
pub(crate) fn claimed_in_order(rows: Vec<TaskRow>) -> Result<Vec<talon_domain::task::Task>, StoreError> {
    let mut tasks = rows.into_iter().map(TryInto::try_into).collect::<Result<Vec<talon_domain::task::Task>, _>>()?;
    tasks.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.id.cmp(&b.id)));
    Ok(tasks)
}

#[derive(sqlx::FromRow)]
pub(crate) struct WebhookRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub url: String,
    pub events: String,
    pub description: String,
    pub active: bool,
    pub disabled_reason: Option<String>,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) const WEBHOOK_COLUMNS: &str = "id, user_id, url, events, description, active, disabled_reason, secret, \
     previous_secret, previous_secret_expires_at, failing_since, created_at, updated_at";

impl TryFrom<WebhookRow> for talon_domain::webhook::Webhook {
    type Error = StoreError;
    fn try_from(row: WebhookRow) -> Result<Self, StoreError> {
        Ok(talon_domain::webhook::Webhook {
            id: talon_domain::WebhookId::from_uuid(row.id),
            owner: UserId::from_uuid(row.user_id),
            url: row.url,
            events: serde_json::from_str(&row.events)
                .map_err(|e| StoreError::Corrupt(format!("webhook events: {e}")))?,
            description: row.description,
            active: row.active,
            disabled_reason: row.disabled_reason,
            sealed_secret: row.secret,
            previous_secret: row.previous_secret.zip(row.previous_secret_expires_at),
            failing_since: row.failing_since,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DeliveryRow {
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub user_id: Uuid,
    pub event_id: Uuid,
    pub event_kind: String,
    pub payload: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub last_latency_ms: Option<i64>,
    pub last_response_body: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) const DELIVERY_COLUMNS: &str = "id, webhook_id, user_id, event_id, event_kind, payload, status, attempts, \
     next_attempt_at, last_status_code, last_error, last_latency_ms, last_response_body, created_at, updated_at";

impl TryFrom<DeliveryRow> for talon_domain::webhook::Delivery {
    type Error = StoreError;
    fn try_from(row: DeliveryRow) -> Result<Self, StoreError> {
        Ok(talon_domain::webhook::Delivery {
            id: talon_domain::DeliveryId::from_uuid(row.id),
            webhook_id: talon_domain::WebhookId::from_uuid(row.webhook_id),
            owner: UserId::from_uuid(row.user_id),
            event_id: talon_domain::EventId::from_uuid(row.event_id),
            event_kind: row.event_kind,
            payload: row.payload,
            status: row.status.parse().map_err(corrupt("delivery status"))?,
            attempts: row.attempts,
            next_attempt_at: row.next_attempt_at,
            last_status_code: row.last_status_code,
            last_error: row.last_error,
            last_latency_ms: row.last_latency_ms,
            last_response_body: row.last_response_body,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct PendingEventRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: String,
    pub data: String,
    pub created_at: DateTime<Utc>,
}
