//! The audit log as an account reads it: newest first, filtered by agent, actor and time, never another
//! account's entries, and only its own agent's for a key restricted to one.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use talon_domain::agent::AgentRef;
use talon_domain::audit::{ActorFilter, AuditEntry};
use talon_store::{AuditFilter, Page, Store, Window};

use super::registry::RegistryService;
use super::{Caller, ServiceError};

pub struct AuditService {
    store: Arc<dyn Store>,
    registry: Arc<RegistryService>,
}

/// Which entries to list.
#[derive(Debug, Default)]
pub struct AuditQuery {
    /// One agent's entries: by id (a deleted agent's too) or by slug (an agent that exists).
    pub agent: Option<AgentRef>,
    pub actor: Option<ActorFilter>,
    /// Entries recorded at or after this.
    pub from: Option<DateTime<Utc>>,
    /// Entries recorded before this; a `to` at or before `from` is an empty period.
    pub to: Option<DateTime<Utc>>,
}

impl AuditService {
    pub fn new(store: Arc<dyn Store>, registry: Arc<RegistryService>) -> Self {
        Self { store, registry }
    }

    pub async fn list(
        &self,
        caller: &Caller,
        query: AuditQuery,
        window: Window,
    ) -> Result<Page<AuditEntry>, ServiceError> {
        let agent = match query.agent {
            // An id is taken as it is, so a deleted agent's history stays readable; the account's own
            // entries are the only ones read, so another account's agent id finds nothing.
            Some(AgentRef::Id(id)) if caller.reaches(id) => Some(id),
            Some(AgentRef::Id(_)) => return Err(ServiceError::NotFound("Agent")),
            Some(reference) => Some(self.registry.owned(caller, &reference).await?.id),
            None => caller.only_agent,
        };
        let filter = AuditFilter { agent, actor: query.actor, from: query.from, to: query.to };
        Ok(self.store.list_audit(caller.account.id, filter, window).await?)
    }
}
