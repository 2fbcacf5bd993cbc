//! Audit rows and their conversion into domain entries.

use chrono::{DateTime, Utc};
use talon_domain::audit::{Actor, AuditEntry};
use talon_domain::{AgentId, AuditId, UserId};
use uuid::Uuid;

use crate::StoreError;
use crate::db::Bind;

pub(super) const COLUMNS: &str = "id, user_id, actor_type, actor_id, actor_account, action, resource_type, resource_id, agent_id, detail, created_at";
pub(super) const COLUMN_COUNT: usize = 11;

#[derive(sqlx::FromRow)]
pub(super) struct AuditRow {
    id: Uuid,
    user_id: Uuid,
    actor_type: String,
    actor_id: Option<Uuid>,
    actor_account: Option<Uuid>,
    action: String,
    resource_type: String,
    resource_id: Option<String>,
    agent_id: Option<Uuid>,
    detail: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = StoreError;
    fn try_from(row: AuditRow) -> Result<Self, StoreError> {
        let actor = Actor::from_stored(&row.actor_type, row.actor_id, row.actor_account.map(UserId::from_uuid))
            .ok_or_else(|| StoreError::Corrupt(format!("audit entry {}: actor `{}`", row.id, row.actor_type)))?;
        Ok(AuditEntry {
            id: AuditId::from_uuid(row.id),
            account: UserId::from_uuid(row.user_id),
            actor,
            action: row.action,
            resource_type: row.resource_type,
            resource_id: row.resource_id,
            agent: row.agent_id.map(AgentId::from_uuid),
            detail: serde_json::from_str(&row.detail).map_err(|e| StoreError::Corrupt(format!("audit detail: {e}")))?,
            at: row.created_at,
        })
    }
}

/// Binds one entry's values in `COLUMNS` order.
pub(super) fn bind_entry<'q, Q: Bind<'q>>(query: Q, entry: &AuditEntry) -> Q {
    query
        .bind(*entry.id.as_uuid())
        .bind(*entry.account.as_uuid())
        .bind(entry.actor.kind())
        .bind(entry.actor.uuid())
        .bind(entry.actor.account().map(|a| *a.as_uuid()))
        .bind(entry.action.clone())
        .bind(entry.resource_type.clone())
        .bind(entry.resource_id.clone())
        .bind(entry.agent.map(|a| *a.as_uuid()))
        .bind(entry.detail.to_string())
        .bind(entry.at)
}
