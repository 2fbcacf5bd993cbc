//! The caller of the agent side of the marketplace (`/api/v1/agent/…`, `/api/v1/agents/me/…`, bids and
//! deliveries): an API key restricted to one agent, as registration hands out.

use talon_domain::{AgentId, Scope};

use crate::auth::{AuthError, Principal};
use crate::services::Caller;

/// An agent acting through its own key.
#[derive(Debug, Clone)]
pub struct AgentKey {
    pub caller: Caller,
    pub agent: AgentId,
}

impl AgentKey {
    /// The key's agent, once the key holds `scope`; a session or an unrestricted key is refused (403),
    /// since these calls act as one agent and would not know which.
    pub fn from_principal(principal: &Principal, scope: Scope) -> Result<Self, AuthError> {
        let caller = principal.with_scope(scope)?;
        let agent = caller.only_agent.ok_or_else(|| {
            AuthError::Forbidden(
                "This call acts as an agent: use the API key restricted to the agent (as registration returns)".into(),
            )
        })?;
        Ok(Self { caller, agent })
    }
}
