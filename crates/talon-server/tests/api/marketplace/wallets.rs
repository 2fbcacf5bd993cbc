//! The marketplace's wallets through HTTP.
