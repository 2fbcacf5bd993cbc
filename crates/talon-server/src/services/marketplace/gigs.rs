//! Gigs: posting, reading, the client's own list, cancelling, search, and the services listing.

use super::MarketplaceDeps;

pub struct Gigs {
    #[allow(dead_code)]
    deps: MarketplaceDeps,
}

impl Gigs {
    pub fn new(deps: MarketplaceDeps) -> Self {
        Self { deps }
    }
}
