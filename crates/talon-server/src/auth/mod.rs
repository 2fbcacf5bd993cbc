//! Who is calling: a session (JWT, every scope) or an API key (its scopes, maybe one agent only).

mod authenticator;
pub mod jwt;
pub mod password;

use chrono::{DateTime, Utc};
use talon_domain::audit::Actor;
use talon_domain::{Account, AgentId, ApiKeyId, Scope};
use uuid::Uuid;

pub use authenticator::Authenticator;

/// Why a caller was not let in (401) or not let through (403), in words the caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{0}")]
    Unauthorized(std::borrow::Cow<'static, str>),
    #[error("{0}")]
    Forbidden(std::borrow::Cow<'static, str>),
    #[error("could not check the credential: {0}")]
    Store(#[from] talon_store::StoreError),
}

#[derive(Debug, Clone)]
pub enum Credential {
    /// A signed-in session: its id (the token's `sid`) and when its token expires.
    Session {
        id: Uuid,
        expires_at: DateTime<Utc>,
    },
    ApiKey {
        id: ApiKeyId,
        scopes: Vec<Scope>,
        agent_id: Option<AgentId>,
    },
}

/// The authenticated caller of a request, put in its extensions by `authenticate`.
#[derive(Debug, Clone)]
pub struct Principal {
    pub account: Account,
    pub credential: Credential,
}

impl Principal {
    /// 403 naming the scope when an API key lacks it; a session holds every scope.
    pub fn require_scope(&self, scope: Scope) -> Result<(), AuthError> {
        match &self.credential {
            Credential::Session { .. } => Ok(()),
            Credential::ApiKey { scopes, .. } if scopes.contains(&scope) => Ok(()),
            Credential::ApiKey { .. } => {
                Err(AuthError::Forbidden(format!("This API key is missing the required scope `{scope}`").into()))
            }
        }
    }

    /// Some operations (managing API keys) are for the account holder's own session only.
    pub fn require_session(&self) -> Result<(), AuthError> {
        match self.credential {
            Credential::Session { .. } => Ok(()),
            Credential::ApiKey { .. } => {
                Err(AuthError::Forbidden("API keys cannot manage API keys; sign in and use a session token".into()))
            }
        }
    }

    /// The session this request was made with; an API key is refused, saying how keys are ended.
    pub fn session(&self) -> Result<(Uuid, DateTime<Utc>), AuthError> {
        match self.credential {
            Credential::Session { id, expires_at } => Ok((id, expires_at)),
            Credential::ApiKey { .. } => Err(AuthError::Forbidden(
                "This ends a session, and an API key is not one; revoke the key with DELETE /api/api-keys/{id}".into(),
            )),
        }
    }

    /// Whose idempotency records this request reads and writes: the credential's, never the whole
    /// account's, so one key can never be answered with what another key (or a session) was given.
    pub fn idempotency_scope(&self) -> String {
        match &self.credential {
            Credential::Session { id, .. } => format!("session:{}", id.simple()),
            Credential::ApiKey { id, .. } => format!("key:{id}"),
        }
    }

    /// The caller as services see it: the account, the one agent an agent-restricted key may reach, and
    /// the session or key acting (the audit log's "who").
    pub fn caller(&self) -> crate::services::Caller {
        let account = self.account.id;
        let (only_agent, actor) = match &self.credential {
            Credential::ApiKey { id, agent_id, .. } => (*agent_id, Actor::ApiKey { account, key: *id }),
            Credential::Session { id, .. } => (None, Actor::Session { account, session: *id }),
        };
        crate::services::Caller { account: self.account.clone(), only_agent, actor }
    }

    /// `require_scope`, then the caller for a service call.
    pub fn with_scope(&self, scope: Scope) -> Result<crate::services::Caller, AuthError> {
        self.require_scope(scope)?;
        Ok(self.caller())
    }

    /// `with_scope`, for what spans the whole account or creates agents (webhooks, creating and forking
    /// agents): a key restricted to one agent is refused (403), since it may see and change only its agent.
    pub fn with_account_scope(&self, scope: Scope) -> Result<crate::services::Caller, AuthError> {
        let caller = self.with_scope(scope)?;
        if caller.is_restricted() {
            return Err(AuthError::Forbidden(
                "This API key is restricted to one agent; this needs a key for the whole account or a session".into(),
            ));
        }
        Ok(caller)
    }

    /// What the per-minute rate limit counts against: the key, or the account's sessions.
    pub fn rate_limit_subject(&self) -> String {
        match &self.credential {
            Credential::Session { .. } => format!("session:{}", self.account.id),
            Credential::ApiKey { id, .. } => format!("key:{id}"),
        }
    }
}
