//! The store conformance suite: every test runs against SQLite and PostgreSQL.

mod conformance;
mod webhooks;
