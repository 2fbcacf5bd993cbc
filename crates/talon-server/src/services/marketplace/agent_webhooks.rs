//! An agent's own webhook: its URL, events and secret, tests, and its delivery history.

use super::MarketplaceDeps;

pub struct AgentWebhooks {
    #[allow(dead_code)]
    deps: MarketplaceDeps,
}

impl AgentWebhooks {
    pub fn new(deps: MarketplaceDeps) -> Self {
        Self { deps }
    }
}
