//! Wallet views over the ledger (an account's entries, the escrow it has put up) and withdrawals,
//! which reserve their amount in the ledger when requested and wait for an operator to confirm them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::marketplace::{Micros, Transaction};
use talon_domain::{UserId, WithdrawalId};

use crate::{StoreError, StoredTransaction};

mod rows;
mod sql;

/// One ledger transaction as seen from one wallet: what it did to that wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletEntry {
    pub id: uuid::Uuid,
    /// `deposit`, `withdrawal`, `fund_escrow`, `release`, `refund` or `split`.
    pub kind: String,
    /// The contract (`ctr_…`) an escrow movement concerns.
    pub contract: Option<String>,
    /// A deposit's or withdrawal's outside reference.
    pub external_reference: Option<String>,
    /// Signed: what the wallet gained (positive) or gave (negative).
    pub amount: Micros,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawal {
    pub id: WithdrawalId,
    pub user_id: UserId,
    pub amount: Micros,
    /// `pending`, `confirmed` or `failed`.
    pub status: String,
    pub wallet_address: Option<String>,
    pub tx_signature: Option<String>,
    pub ledger_tx_id: Option<uuid::Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[async_trait]
pub trait MarketplaceWalletStore {
    /// What the account has put into escrows that are not resolved yet.
    async fn pending_escrow(&self, user: UserId) -> Result<Micros, StoreError>;

    /// The wallet's entries, newest first.
    async fn wallet_entries(&self, user: UserId, limit: i64, offset: i64) -> Result<Vec<WalletEntry>, StoreError>;

    /// Appends the withdrawal's ledger transaction (refusing an overdraft: `StoreError::Overdrawn`) and
    /// records the pending withdrawal, in one database transaction.
    async fn request_withdrawal(
        &self,
        withdrawal: &Withdrawal,
        transaction: &Transaction,
    ) -> Result<StoredTransaction, StoreError>;

    async fn withdrawal(&self, id: WithdrawalId) -> Result<Option<Withdrawal>, StoreError>;

    /// Marks a pending withdrawal confirmed; `false` when there is no such pending withdrawal.
    async fn confirm_withdrawal(&self, id: WithdrawalId, at: DateTime<Utc>) -> Result<bool, StoreError>;
}
