//! Plumbing shared by every aggregate: the connections a store holds, the `run!` macro that runs one
//! statement on whichever database they reach, binding written once for both, and the outbox.
//!
//! The portable statements use `$N` placeholders, which PostgreSQL and SQLite (through sqlx) both
//! bind by number, so each aggregate's `sql` module writes a statement once and `run!` instantiates
//! it for the database at hand. What differs between the databases comes from a [`Dialect`].

mod bind;
mod dialect;
pub(crate) mod outbox;

use sqlx::postgres::{PgConnection, PgPool};
use sqlx::sqlite::{SqliteConnection, SqlitePool};
use sqlx::{Postgres, Sqlite, Transaction};

pub(crate) use bind::Bind;
pub(crate) use dialect::Dialect;

/// One value per database: a pool, a connection or a transaction of SQLite or of PostgreSQL.
pub(crate) enum On<S, P> {
    Sqlite(S),
    Postgres(P),
}

/// Where a statement runs outside a transaction.
pub(crate) type PoolRef<'a> = On<&'a SqlitePool, &'a PgPool>;
/// Where a statement runs inside a transaction.
pub(crate) type ConnRef<'a> = On<&'a mut SqliteConnection, &'a mut PgConnection>;
/// An open transaction; dropped without `commit`, it rolls back.
pub(crate) type Tx = On<Transaction<'static, Sqlite>, Transaction<'static, Postgres>>;

/// Runs one statement on the database `$on` reaches: `$body` is compiled once per database with
/// `$e` bound to that database's executor, so a statement is written once for both.
macro_rules! run {
    ($on:expr, |$e:ident| $body:expr) => {
        match $on {
            $crate::db::On::Sqlite($e) => $body,
            $crate::db::On::Postgres($e) => $body,
        }
    };
}
pub(crate) use run;

/// `rows` rows of `columns` placeholders for a multi-row insert: `(?, …), (?, …)` on SQLite, numbered
/// `($1, …), ($columns+1, …)` on PostgreSQL. Binding a numbered parameter makes SQLite look its name up
/// in a list of every name (`sqlite3_bind_parameter_name`), so a statement of n numbered parameters
/// costs n² to bind: at 1,400 it cost more than writing the rows. Anonymous ones have no names.
pub(crate) fn placeholders<S, P>(on: &On<S, P>, rows: usize, columns: usize) -> String {
    match on {
        On::Sqlite(_) => anonymous_rows(rows, columns),
        On::Postgres(_) => {
            (0..rows).map(|r| format!("({})", numbered(r * columns + 1, columns))).collect::<Vec<_>>().join(", ")
        }
    }
}

/// `(?, …), (?, …)`: `rows` rows of `columns` anonymous placeholders (SQLite).
pub(crate) fn anonymous_rows(rows: usize, columns: usize) -> String {
    vec![format!("({})", anonymous(columns)); rows].join(", ")
}

/// `?, …` for `count` placeholders, bound in order (SQLite).
pub(crate) fn anonymous(count: usize) -> String {
    vec!["?"; count].join(", ")
}

/// `$first, …` for `count` placeholders.
pub(crate) fn numbered(first: usize, count: usize) -> String {
    (first..first + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

/// The connections of a store.
#[derive(Clone)]
pub enum Db {
    /// One writer connection and a pool of readers (see `sqlite`).
    Sqlite { writer: SqlitePool, reader: SqlitePool },
    /// One pool for reads and writes.
    Postgres(PgPool),
}

impl Db {
    /// Where writes, and reads that must see the latest write, run.
    pub(crate) fn writer(&self) -> PoolRef<'_> {
        match self {
            Db::Sqlite { writer, .. } => On::Sqlite(writer),
            Db::Postgres(pool) => On::Postgres(pool),
        }
    }

    pub(crate) fn reader(&self) -> PoolRef<'_> {
        match self {
            Db::Sqlite { reader, .. } => On::Sqlite(reader),
            Db::Postgres(pool) => On::Postgres(pool),
        }
    }

    /// Begins a transaction on the writer.
    pub(crate) async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite { writer, .. } => On::Sqlite(writer.begin().await?),
            Db::Postgres(pool) => On::Postgres(pool.begin().await?),
        })
    }

    pub(crate) fn dialect(&self) -> &'static Dialect {
        match self {
            Db::Sqlite { .. } => &crate::sqlite::DIALECT,
            Db::Postgres(_) => &crate::postgres::DIALECT,
        }
    }

    pub(crate) async fn ping(&self) -> Result<(), sqlx::Error> {
        run!(self.reader(), |e| sqlx::query("SELECT 1").execute(e).await.map(|_| ()))
    }

    pub(crate) async fn close(&self) {
        match self {
            Db::Sqlite { writer, reader } => {
                reader.close().await;
                writer.close().await;
            }
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

impl Tx {
    pub fn conn(&mut self) -> ConnRef<'_> {
        match self {
            On::Sqlite(tx) => On::Sqlite(&mut **tx),
            On::Postgres(tx) => On::Postgres(&mut **tx),
        }
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            On::Sqlite(tx) => tx.commit().await,
            On::Postgres(tx) => tx.commit().await,
        }
    }
}

/// A store that runs the portable statements: every store trait is implemented once for all of them.
/// Public only so it may bound those implementations; its module is private, so nothing outside the
/// crate can name or implement it.
pub trait Portable: Send + Sync {
    #[doc(hidden)]
    fn db(&self) -> &Db;
}
