//! Wallets over the ledger: balances, history, deposits (operator or sandbox) and withdrawals.

use super::MarketplaceDeps;

pub struct Wallets {
    #[allow(dead_code)]
    deps: MarketplaceDeps,
}

impl Wallets {
    pub fn new(deps: MarketplaceDeps) -> Self {
        Self { deps }
    }
}
