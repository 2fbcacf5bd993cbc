//! `MarketplaceWalletStore` for every store, in SQL both databases run.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::marketplace::{Micros, Transaction};
use talon_domain::{UserId, WithdrawalId};

use super::rows::{EntryRow, WITHDRAWAL_COLUMNS, WithdrawalRow};
use super::{MarketplaceWalletStore, WalletEntry, Withdrawal};
use crate::db::{Portable, run};
use crate::ledger::sql::append_covered_in;
use crate::{StoreError, StoredTransaction};

/// Escrow postings of the account's contracts: what is still held sums to the unresolved escrows.
const PENDING_ESCROW: &str = "SELECT CAST(COALESCE(SUM(p.amount), 0) AS BIGINT) FROM ledger_postings p \
     JOIN contracts c ON p.account_kind = 'escrow' AND p.account_id = c.id WHERE c.client_id = $1";

const WALLET_ENTRIES: &str = "SELECT t.id, t.kind, t.reference, t.external_reference, t.created_at, \
     CAST(SUM(p.amount) AS BIGINT) AS amount \
     FROM ledger_postings p JOIN ledger_transactions t ON t.id = p.transaction_id \
     WHERE p.account_kind = 'wallet' AND p.account_id = $1 \
     GROUP BY t.id, t.kind, t.reference, t.external_reference, t.created_at \
     ORDER BY t.id DESC LIMIT $2 OFFSET $3";

const INSERT_WITHDRAWAL: &str = "INSERT INTO withdrawals (id, user_id, amount_micros, status, wallet_address, \
     tx_signature, ledger_tx_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

const CONFIRM_WITHDRAWAL: &str =
    "UPDATE withdrawals SET status = 'confirmed', updated_at = $1 WHERE id = $2 AND status = 'pending'";

#[async_trait]
impl<S: Portable> MarketplaceWalletStore for S {
    async fn pending_escrow(&self, user: UserId) -> Result<Micros, StoreError> {
        let micros: i64 = run!(self.db().reader(), |e| {
            sqlx::query_scalar(PENDING_ESCROW).bind(*user.as_uuid()).fetch_one(e).await
        })?;
        Ok(Micros::from_micros(micros))
    }

    async fn wallet_entries(&self, user: UserId, limit: i64, offset: i64) -> Result<Vec<WalletEntry>, StoreError> {
        let rows: Vec<EntryRow> = run!(self.db().reader(), |e| {
            sqlx::query_as(WALLET_ENTRIES).bind(*user.as_uuid()).bind(limit).bind(offset).fetch_all(e).await
        })?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn request_withdrawal(
        &self,
        w: &Withdrawal,
        transaction: &Transaction,
    ) -> Result<StoredTransaction, StoreError> {
        let mut tx = self.db().begin().await?;
        let stored = append_covered_in(&mut tx, transaction, None).await?;
        run!(tx.conn(), |c| {
            sqlx::query(INSERT_WITHDRAWAL)
                .bind(*w.id.as_uuid())
                .bind(*w.user_id.as_uuid())
                .bind(w.amount.as_micros())
                .bind(&w.status)
                .bind(&w.wallet_address)
                .bind(&w.tx_signature)
                .bind(stored.id)
                .bind(w.created_at)
                .bind(w.updated_at)
                .execute(c)
                .await
                .map(|_| ())
        })?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn withdrawal(&self, id: WithdrawalId) -> Result<Option<Withdrawal>, StoreError> {
        let statement = format!("SELECT {WITHDRAWAL_COLUMNS} FROM withdrawals WHERE id = $1");
        let row: Option<WithdrawalRow> =
            run!(self.db().writer(), |e| sqlx::query_as(&statement).bind(*id.as_uuid()).fetch_optional(e).await)?;
        Ok(row.map(Into::into))
    }

    async fn confirm_withdrawal(&self, id: WithdrawalId, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let done = run!(self.db().writer(), |e| {
            sqlx::query(CONFIRM_WITHDRAWAL).bind(at).bind(*id.as_uuid()).execute(e).await.map(|d| d.rows_affected())
        })?;
        Ok(done == 1)
    }
}
