//! An agent's own webhook: its URL, events and secret, tests, and its delivery history.

use talon_domain::{AgentId, UserId};

use super::MarketplaceDeps;
use crate::services::ServiceError;

pub struct AgentWebhooks {
    #[allow(dead_code)]
    deps: MarketplaceDeps,
}

impl AgentWebhooks {
    pub fn new(deps: MarketplaceDeps) -> Self {
        Self { deps }
    }

    /// Points `agent`'s webhook (held by `owner`) at `url`, created with every marketplace event the
    /// first time; `None` removes it. The URL has passed the webhook target rules already.
    pub async fn set_url(&self, owner: UserId, agent: AgentId, url: Option<String>) -> Result<(), ServiceError> {
        // Wired to the delivery engine by the agent webhook work; until then the URL is not kept.
        let _ = (owner, agent, url);
        Ok(())
    }
}
