//! `LedgerStore` for every store, in SQL both databases run. Accounts without an id (the platform
//! and the external ones) are matched with `IS NULL`, so each read has a variant for them.

use async_trait::async_trait;
use chrono::{Duration, DurationRound, Utc};
use talon_domain::marketplace::{LedgerAccount, Micros, Transaction};

use super::StoredTransaction;
use super::rows::{PostingRow, account_columns, kind_columns, transactions_from_rows};
use crate::db::{On, Portable, Tx, run};
use crate::{LedgerStore, StoreError};

const INSERT_TRANSACTION: &str = "INSERT INTO ledger_transactions (id, kind, reference, external_reference, created_at)
     VALUES ($1, $2, $3, $4, $5)";

/// Serialises, until the end of the transaction, the appends that debit one account (PostgreSQL; a
/// SQLite store has one writer, so its transactions already take turns).
const LOCK_ACCOUNT: &str = "SELECT pg_advisory_xact_lock($1)";

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
        let mut tx = self.db().begin().await?;
        let stored = append_in(&mut tx, transaction, None).await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn append_covered(
        &self,
        transaction: &Transaction,
        external_reference: Option<&str>,
    ) -> Result<StoredTransaction, StoreError> {
        let mut tx = self.db().begin().await?;
        let stored = append_covered_in(&mut tx, transaction, external_reference).await?;
        tx.commit().await?;
        Ok(stored)
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

/// Appends `transaction` inside `tx` after checking, under a per-account lock held until `tx` ends,
/// that no internal account it debits goes below zero (`StoreError::Overdrawn` otherwise). Other
/// stores call it to move money in the same database transaction as the change that moves it (a
/// contract's status), so both happen or neither does.
pub(crate) async fn append_covered_in(
    tx: &mut Tx,
    transaction: &Transaction,
    external_reference: Option<&str>,
) -> Result<StoredTransaction, StoreError> {
    // Locks are taken in one order (the postings' accounts, sorted) so two appends cannot deadlock.
    let mut debited: Vec<(LedgerAccount, Micros)> = transaction
        .postings()
        .iter()
        .filter(|p| p.account.is_internal() && p.amount.is_negative())
        .map(|p| (p.account, p.amount))
        .collect();
    debited.sort_by_key(|(account, _)| *account);
    for (account, amount) in debited {
        if matches!(tx, On::Postgres(_)) {
            let key = lock_key(&account);
            run!(tx.conn(), |c| sqlx::query(LOCK_ACCOUNT).bind(key).execute(c).await.map(|_| ()))?;
        }
        let balance = balance_in(tx, &account).await?;
        let needed = amount.checked_neg().unwrap_or(Micros::MAX_API_AMOUNT);
        if balance.checked_add(amount).is_none_or(Micros::is_negative) {
            return Err(StoreError::Overdrawn { account, balance, needed });
        }
    }
    append_in(tx, transaction, external_reference).await
}

/// A 64-bit advisory-lock key for an account. Two accounts sharing a key only take turns needlessly,
/// so folding the UUID's halves together is enough.
fn lock_key(account: &LedgerAccount) -> i64 {
    let (kind, id) = account_columns(account);
    let salt = kind.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let (high, low) = id.map_or((0, 0), |id| id.as_u64_pair());
    (salt ^ high ^ low.rotate_left(17)).cast_signed()
}

async fn balance_in(tx: &mut Tx, account: &LedgerAccount) -> Result<Micros, StoreError> {
    let micros: i64 = match account_columns(account) {
        (kind, Some(owner)) => {
            run!(tx.conn(), |c| { sqlx::query_scalar(BALANCE_OF_OWNED).bind(kind).bind(owner).fetch_one(c).await })?
        }
        (kind, None) => run!(tx.conn(), |c| sqlx::query_scalar(BALANCE_OF_UNOWNED).bind(kind).fetch_one(c).await)?,
    };
    Ok(Micros::from_micros(micros))
}

/// Appends `transaction` and its postings inside `tx`, unchecked.
pub(crate) async fn append_in(
    tx: &mut Tx,
    transaction: &Transaction,
    external_reference: Option<&str>,
) -> Result<StoredTransaction, StoreError> {
    // Databases keep microseconds: truncate so the stored record equals the one returned.
    let created_at = Utc::now().duration_trunc(Duration::microseconds(1)).unwrap_or_else(|_| Utc::now());
    let id = uuid::Uuid::now_v7();
    let (kind, reference) = kind_columns(transaction.kind());
    run!(tx.conn(), |c| {
        sqlx::query(INSERT_TRANSACTION)
            .bind(id)
            .bind(kind)
            .bind(reference.as_deref())
            .bind(external_reference)
            .bind(created_at)
            .execute(c)
            .await
            .map(|_| ())
    })
    .map_err(|e| StoreError::unique(e, "reference"))?;
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
    Ok(StoredTransaction { id, created_at, transaction: transaction.clone() })
}
