//! `LedgerStore` for every store, in SQL both databases run. Accounts without an id (the platform
//! and the external ones) are matched with `IS NULL`, so each read has a variant for them.

use async_trait::async_trait;
use chrono::{Duration, DurationRound, Utc};
use talon_domain::marketplace::{LedgerAccount, Micros, Transaction};

use super::StoredTransaction;
use super::rows::{PostingRow, account_columns, kind_columns, transactions_from_rows};
use crate::db::{Portable, run};
use crate::{LedgerStore, StoreError};

const INSERT_TRANSACTION: &str =
    "INSERT INTO ledger_transactions (id, kind, reference, created_at) VALUES ($1, $2, $3, $4)";

const INSERT_POSTING: &str = "INSERT INTO ledger_postings (transaction_id, position, account_kind, account_id, amount)
     VALUES ($1, $2, $3, $4, $5)";

const BALANCE_OF_OWNED: &str = "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM ledger_postings
     WHERE account_kind = $1 AND account_id = $2";

const BALANCE_OF_UNOWNED: &str = "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM ledger_postings
     WHERE account_kind = $1 AND account_id IS NULL";

/// One page of the transactions that touched an account (filtered by `$filter`), joined with all
/// their postings.
macro_rules! history {
    ($filter:literal, $limit:literal, $offset:literal) => {
        concat!(
            "SELECT t.id AS transaction_id, t.kind, t.reference, t.created_at, p.account_kind, p.account_id, p.amount
             FROM (SELECT id, kind, reference, created_at FROM ledger_transactions
                   WHERE id IN (SELECT transaction_id FROM ledger_postings WHERE ",
            $filter,
            ")
                   ORDER BY id LIMIT ",
            $limit,
            " OFFSET ",
            $offset,
            ") t
             JOIN ledger_postings p ON p.transaction_id = t.id
             ORDER BY t.id, p.position"
        )
    };
}

const HISTORY_OF_OWNED: &str = history!("account_kind = $1 AND account_id = $2", "$3", "$4");
const HISTORY_OF_UNOWNED: &str = history!("account_kind = $1 AND account_id IS NULL", "$2", "$3");

#[async_trait]
impl<S: Portable> LedgerStore for S {
    async fn append_transaction(&self, transaction: &Transaction) -> Result<StoredTransaction, StoreError> {
        // Databases keep microseconds: truncate so the stored record equals the one returned.
        let created_at = Utc::now().duration_trunc(Duration::microseconds(1)).unwrap_or_else(|_| Utc::now());
        let id = uuid::Uuid::now_v7();
        let (kind, reference) = kind_columns(transaction.kind());
        let mut tx = self.db().begin().await?;
        run!(tx.conn(), |c| {
            sqlx::query(INSERT_TRANSACTION)
                .bind(id)
                .bind(kind)
                .bind(reference.as_deref())
                .bind(created_at)
                .execute(c)
                .await
                .map(|_| ())
        })?;
        for (position, posting) in transaction.postings().iter().enumerate() {
            let position = i32::try_from(position).map_err(|_| StoreError::Corrupt("too many postings".into()))?;
            let (account_kind, account_id) = account_columns(&posting.account);
            run!(tx.conn(), |c| {
                sqlx::query(INSERT_POSTING)
                    .bind(id)
                    .bind(position)
                    .bind(account_kind)
                    .bind(account_id)
                    .bind(posting.amount.as_micros())
                    .execute(c)
                    .await
                    .map(|_| ())
            })?;
        }
        tx.commit().await?;
        Ok(StoredTransaction { id, created_at, transaction: transaction.clone() })
    }

    async fn balance(&self, account: &LedgerAccount) -> Result<Micros, StoreError> {
        let micros: i64 = match account_columns(account) {
            (kind, Some(owner)) => run!(self.db().reader(), |e| {
                sqlx::query_scalar(BALANCE_OF_OWNED).bind(kind).bind(owner).fetch_one(e).await
            })?,
            (kind, None) => {
                run!(self.db().reader(), |e| { sqlx::query_scalar(BALANCE_OF_UNOWNED).bind(kind).fetch_one(e).await })?
            }
        };
        Ok(Micros::from_micros(micros))
    }

    async fn transactions_of(
        &self,
        account: &LedgerAccount,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<StoredTransaction>, StoreError> {
        let rows: Vec<PostingRow> = match account_columns(account) {
            (kind, Some(owner)) => run!(self.db().reader(), |e| {
                sqlx::query_as(HISTORY_OF_OWNED).bind(kind).bind(owner).bind(limit).bind(offset).fetch_all(e).await
            })?,
            (kind, None) => run!(self.db().reader(), |e| {
                sqlx::query_as(HISTORY_OF_UNOWNED).bind(kind).bind(limit).bind(offset).fetch_all(e).await
            })?,
        };
        transactions_from_rows(rows)
    }
}
