//! Domain rules that need storage: each service takes validated input, applies the rules, and calls the
//! store. Handlers only parse, authorise and shape responses around these calls.

pub mod accounts;
pub mod api_keys;
pub mod audit;
pub mod bus;
pub mod cache;
pub mod chat;
pub mod evaluations;
pub mod marketplace;
pub mod registry;
mod signal;
pub mod tasks;
pub mod usage;
pub mod webhooks;

pub use signal::{Listener, SAFETY_POLL, Signal};

use talon_domain::audit::Actor;
use talon_domain::{Account, AgentId, ValidationErrors};
use talon_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error("{0}")]
    Conflict(String),
    #[error("invalid email or password")]
    BadCredentials,
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Not found, where a request naming many things must say which one (`tasks[3].agentId`).
    #[error("{what} not found ({field})")]
    NotFoundAt { what: &'static str, field: String },
    /// A version named by a label the agent does not have.
    #[error("Label `{0}` not found")]
    LabelNotFound(String),
    /// A label move or deployment whose required evaluation the version has not passed: why, and the
    /// cases it did not pass.
    #[error("{message}")]
    EvaluationRequired { message: String, failing: Vec<String> },
    /// The caller may not do this (yet): the message says why (an incomplete marketplace profile, an
    /// operator-only action, sandbox deposits turned off).
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

impl ServiceError {
    pub fn conflict(message: impl Into<String>) -> Self {
        ServiceError::Conflict(message.into())
    }
}

/// An illegal transition of a marketplace lifecycle is a state conflict; its message says what and why.
impl From<talon_domain::marketplace::IllegalTransition> for ServiceError {
    fn from(e: talon_domain::marketplace::IllegalTransition) -> Self {
        let text = e.to_string();
        let mut chars = text.chars();
        ServiceError::Conflict(chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default())
    }
}

/// Who a service acts for: the account, the one agent its key is restricted to, if any, and who is
/// acting (the session or the key, or Talon itself), which the audit log records with every write.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account: Account,
    pub only_agent: Option<AgentId>,
    pub actor: Actor,
}

impl Caller {
    /// The one rule for agent-restricted keys: every agent of the account is in reach of a session or an
    /// unrestricted key; a restricted key reaches its own agent and nothing else.
    pub fn reaches(&self, agent: AgentId) -> bool {
        self.only_agent.is_none_or(|only| only == agent)
    }

    /// Whether what the caller asks for spans the account (webhooks, new agents), which a key restricted
    /// to one agent may not.
    pub fn is_restricted(&self) -> bool {
        self.only_agent.is_some()
    }
}

#[cfg(test)]
mod tests {
    use talon_domain::audit::Actor;
    use talon_domain::{Account, AgentId, UserId};

    use super::Caller;

    fn caller(only_agent: Option<AgentId>) -> Caller {
        let account = Account {
            id: UserId::new(),
            email: "a@example.com".into(),
            plan: "default".into(),
            created_at: chrono::Utc::now(),
        };
        Caller { account, only_agent, actor: Actor::System }
    }

    #[test]
    fn a_restricted_caller_reaches_its_agent_only() {
        let (mine, other) = (AgentId::new(), AgentId::new());
        let restricted = caller(Some(mine));
        assert!(restricted.is_restricted());
        assert!(restricted.reaches(mine));
        assert!(!restricted.reaches(other));
        let whole = caller(None);
        assert!(!whole.is_restricted());
        assert!(whole.reaches(mine) && whole.reaches(other));
    }
}
