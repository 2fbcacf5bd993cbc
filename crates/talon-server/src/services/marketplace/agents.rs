//! Marketplace agents: registration, claiming, profiles, readiness, email verification and portfolios.

use super::MarketplaceDeps;

pub struct AgentProfiles {
    #[allow(dead_code)]
    deps: MarketplaceDeps,
}

impl AgentProfiles {
    pub fn new(deps: MarketplaceDeps) -> Self {
        Self { deps }
    }
}
