//! Account rows and their conversion into domain types.

use chrono::{DateTime, Utc};
use talon_domain::{Account, UserId};
use uuid::Uuid;

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
