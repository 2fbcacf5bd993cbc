//! The store conformance suite: every test runs against SQLite and PostgreSQL.

/// Runs each named `async fn(Backend)` of the module as one test per database.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test] async fn $name() { super::$name(talon_store::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test] async fn $name() { super::$name(talon_store::Backend::Postgres).await } )*
        }
    };
}

mod common;

mod accounts;
mod agents;
mod api_keys;
mod audit;
mod contracts;
mod evaluations;
mod gigs;
mod idempotency;
mod labels;
mod ledger;
mod lists;
mod marketplace;
mod merges;
mod task_batches;
mod tasks;
mod usage;
mod webhooks;
