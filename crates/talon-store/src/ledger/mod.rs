//! The marketplace ledger: append-only double-entry transactions, and balances summed from their
//! postings. No balance is ever stored, so the stored ledger can always be re-checked from scratch.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::marketplace::{LedgerAccount, Micros, Transaction};

use crate::StoreError;

mod rows;
pub(crate) mod sql;

/// A transaction as the ledger recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTransaction {
    /// A UUIDv7: ids increase with the time of appending, which is the ledger's order.
    pub id: uuid::Uuid,
    pub created_at: DateTime<Utc>,
    pub transaction: Transaction,
}

#[async_trait]
pub trait LedgerStore {
    /// Records a transaction and all its postings in one database transaction: all or nothing. The
    /// caller has checked it against current balances (`Balances::apply`); the ledger only appends.
    async fn append_transaction(&self, transaction: &Transaction) -> Result<StoredTransaction, StoreError>;

    /// Appends `transaction` only if no internal account it debits goes below zero, checked against the
    /// ledger as it stands when appending (concurrent appends that debit the same account take turns),
    /// so two withdrawals racing for one balance cannot both pass. `external_reference` (a deposit's
    /// or withdrawal's outside reference) is unique per kind: `Conflict("reference")` on a repeat.
    async fn append_covered(
        &self,
        transaction: &Transaction,
        external_reference: Option<&str>,
    ) -> Result<StoredTransaction, StoreError>;

    /// The account's balance: the sum of its postings (zero for an account never posted to).
    async fn balance(&self, account: &LedgerAccount) -> Result<Micros, StoreError>;

    /// The transactions that touched the account, oldest first, with all their postings.
    async fn transactions_of(
        &self,
        account: &LedgerAccount,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<StoredTransaction>, StoreError>;
}
