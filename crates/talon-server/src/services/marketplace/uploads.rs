//! Files attached to contracts: stored under the data dir, served to the contract's parties only.

use super::MarketplaceDeps;

pub struct Uploads {
    #[allow(dead_code)]
    deps: MarketplaceDeps,
}

impl Uploads {
    pub fn new(deps: MarketplaceDeps) -> Self {
        Self { deps }
    }
}
