use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; names what was duplicated (e.g. `email`).
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// A ledger transaction would take an internal account (a wallet, an escrow, the platform's
    /// revenue) below zero, given what the ledger holds when it is appended.
    #[error("{account:?} holds {balance}, less than the {needed} this takes")]
    Overdrawn {
        account: talon_domain::marketplace::LedgerAccount,
        balance: talon_domain::marketplace::Micros,
        needed: talon_domain::marketplace::Micros,
    },
    /// A batch holds more items than one statement or transaction may take.
    #[error("a batch of {len} is over the limit of {max}")]
    BatchTooLarge { len: usize, max: usize },
    #[error("DATABASE_URL must start with sqlite:, postgres:// or postgresql://")]
    UnsupportedUrl,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// Maps a unique-constraint violation to `Conflict(what)`, anything else to `Database`.
    pub(crate) fn unique(err: sqlx::Error, what: &'static str) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
            _ => StoreError::Database(err),
        }
    }
}

/// Maps a column that does not parse to `Corrupt`, naming the column.
pub(crate) fn corrupt(what: &str) -> impl FnOnce(String) -> StoreError + '_ {
    move |e| StoreError::Corrupt(format!("{what}: {e}"))
}
