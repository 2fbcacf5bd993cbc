//! Proposals, contracts and what happens on them: acceptance, escrow, delivery, revisions, disputes, messages and reviews.

use super::MarketplaceDeps;

pub struct Contracts {
    #[allow(dead_code)]
    deps: MarketplaceDeps,
}

impl Contracts {
    pub fn new(deps: MarketplaceDeps) -> Self {
        Self { deps }
    }
}
