//! The audit log: entries written beside the outbox's events (in the same transaction, by
//! `db::outbox`) and, for writes that record no event (API keys, webhooks), in the transaction of the
//! write itself (`sql::record_on`), never on their own; read newest first, a window at a time.
//! Retention never deletes them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::audit::{ActorFilter, AuditEntry};
use talon_domain::{AgentId, UserId};

use crate::{Page, StoreError, Window};

mod rows;
pub(crate) mod sql;

/// Which of an account's entries to list; every condition given must hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub agent: Option<AgentId>,
    pub actor: Option<ActorFilter>,
    /// Entries recorded at or after this.
    pub from: Option<DateTime<Utc>>,
    /// Entries recorded before this.
    pub to: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait AuditStore {
    /// The account's entries matching `filter`, newest first.
    async fn list_audit(
        &self,
        account: UserId,
        filter: AuditFilter,
        window: Window,
    ) -> Result<Page<AuditEntry>, StoreError>;
}
