//! Wallet entry and withdrawal rows.

use chrono::{DateTime, Utc};
use talon_domain::marketplace::Micros;
use talon_domain::{UserId, WithdrawalId};
use uuid::Uuid;

use super::{WalletEntry, Withdrawal};

#[derive(sqlx::FromRow)]
pub(crate) struct EntryRow {
    pub id: Uuid,
    pub kind: String,
    pub reference: Option<String>,
    pub external_reference: Option<String>,
    pub created_at: DateTime<Utc>,
    pub amount: i64,
}

impl From<EntryRow> for WalletEntry {
    fn from(row: EntryRow) -> Self {
        WalletEntry {
            id: row.id,
            kind: row.kind,
            contract: row.reference,
            external_reference: row.external_reference,
            amount: Micros::from_micros(row.amount),
            created_at: row.created_at,
        }
    }
}

pub(crate) const WITHDRAWAL_COLUMNS: &str =
    "id, user_id, amount_micros, status, wallet_address, tx_signature, ledger_tx_id, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct WithdrawalRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub amount_micros: i64,
    pub status: String,
    pub wallet_address: Option<String>,
    pub tx_signature: Option<String>,
    pub ledger_tx_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<WithdrawalRow> for Withdrawal {
    fn from(row: WithdrawalRow) -> Self {
        Withdrawal {
            id: WithdrawalId::from_uuid(row.id),
            user_id: UserId::from_uuid(row.user_id),
            amount: Micros::from_micros(row.amount_micros),
            status: row.status,
            wallet_address: row.wallet_address,
            tx_signature: row.tx_signature,
            ledger_tx_id: row.ledger_tx_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}
