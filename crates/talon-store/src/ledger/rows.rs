//! How ledger accounts and transaction kinds are written to rows, and read back.

use chrono::{DateTime, Utc};
use talon_domain::marketplace::{LedgerAccount, Micros, Posting, Transaction, TransactionKind};
use talon_domain::{ContractId, UserId};

use super::StoredTransaction;
use crate::StoreError;

/// An account as its two columns: a kind, and the user or contract it belongs to.
pub(crate) fn account_columns(account: &LedgerAccount) -> (&'static str, Option<uuid::Uuid>) {
    match account {
        LedgerAccount::Wallet(user) => ("wallet", Some(*user.as_uuid())),
        LedgerAccount::Escrow(contract) => ("escrow", Some(*contract.as_uuid())),
        LedgerAccount::PlatformRevenue => ("platform_revenue", None),
        LedgerAccount::ExternalDeposits => ("external_deposits", None),
        LedgerAccount::ExternalWithdrawals => ("external_withdrawals", None),
    }
}

fn account_from_columns(kind: &str, id: Option<uuid::Uuid>) -> Result<LedgerAccount, StoreError> {
    let missing = || StoreError::Corrupt(format!("ledger account {kind} without an id"));
    Ok(match kind {
        "wallet" => LedgerAccount::Wallet(UserId::from_uuid(id.ok_or_else(missing)?)),
        "escrow" => LedgerAccount::Escrow(ContractId::from_uuid(id.ok_or_else(missing)?)),
        "platform_revenue" => LedgerAccount::PlatformRevenue,
        "external_deposits" => LedgerAccount::ExternalDeposits,
        "external_withdrawals" => LedgerAccount::ExternalWithdrawals,
        other => return Err(StoreError::Corrupt(format!("ledger account kind {other}"))),
    })
}

/// A kind as its two columns: its name, and the contract it concerns as its public id (`ctr_…`).
pub(crate) fn kind_columns(kind: TransactionKind) -> (&'static str, Option<String>) {
    match kind {
        TransactionKind::Deposit => ("deposit", None),
        TransactionKind::Withdrawal => ("withdrawal", None),
        TransactionKind::FundEscrow(c) => ("fund_escrow", Some(c.to_string())),
        TransactionKind::Release(c) => ("release", Some(c.to_string())),
        TransactionKind::Refund(c) => ("refund", Some(c.to_string())),
        TransactionKind::Split(c) => ("split", Some(c.to_string())),
    }
}

fn kind_from_columns(kind: &str, reference: Option<&str>) -> Result<TransactionKind, StoreError> {
    let contract = || -> Result<ContractId, StoreError> {
        let reference = reference.ok_or_else(|| StoreError::Corrupt(format!("ledger {kind} without a contract")))?;
        ContractId::parse(reference).map_err(|e| StoreError::Corrupt(format!("ledger reference {reference}: {e}")))
    };
    Ok(match kind {
        "deposit" => TransactionKind::Deposit,
        "withdrawal" => TransactionKind::Withdrawal,
        "fund_escrow" => TransactionKind::FundEscrow(contract()?),
        "release" => TransactionKind::Release(contract()?),
        "refund" => TransactionKind::Refund(contract()?),
        "split" => TransactionKind::Split(contract()?),
        other => return Err(StoreError::Corrupt(format!("ledger transaction kind {other}"))),
    })
}

/// One posting joined with its transaction, in the order of the ledger then of the transaction.
#[derive(sqlx::FromRow)]
pub(crate) struct PostingRow {
    pub transaction_id: uuid::Uuid,
    pub kind: String,
    pub reference: Option<String>,
    pub created_at: DateTime<Utc>,
    pub account_kind: String,
    pub account_id: Option<uuid::Uuid>,
    pub amount: i64,
}

/// Groups consecutive rows of one transaction and rebuilds each, re-checking that it balances.
pub(crate) fn transactions_from_rows(rows: Vec<PostingRow>) -> Result<Vec<StoredTransaction>, StoreError> {
    let mut out = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while let Some(first) = rows.next() {
        let mut postings = vec![posting(&first)?];
        while let Some(next) = rows.next_if(|r| r.transaction_id == first.transaction_id) {
            postings.push(posting(&next)?);
        }
        let kind = kind_from_columns(&first.kind, first.reference.as_deref())?;
        let transaction = Transaction::from_parts(kind, postings)
            .map_err(|e| StoreError::Corrupt(format!("ledger transaction {}: {e}", first.transaction_id)))?;
        out.push(StoredTransaction { id: first.transaction_id, created_at: first.created_at, transaction });
    }
    Ok(out)
}

fn posting(row: &PostingRow) -> Result<Posting, StoreError> {
    Ok(Posting {
        account: account_from_columns(&row.account_kind, row.account_id)?,
        amount: Micros::from_micros(row.amount),
    })
}
