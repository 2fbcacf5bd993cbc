//! API key rows and their conversion into domain types.

use chrono::{DateTime, Utc};
use talon_domain::{Account, AgentId, ApiKey, ApiKeyId, Scope, UserId};
use uuid::Uuid;

use crate::{AuthenticatedKey, StoreError};

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

impl TryFrom<KeyWithAccountRow> for AuthenticatedKey {
    type Error = StoreError;
    fn try_from(row: KeyWithAccountRow) -> Result<Self, StoreError> {
        let account = Account {
            id: UserId::from_uuid(row.key.user_id),
            email: row.email,
            plan: row.plan,
            created_at: row.account_created_at,
        };
        Ok(AuthenticatedKey { key: row.key.try_into()?, account })
    }
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
