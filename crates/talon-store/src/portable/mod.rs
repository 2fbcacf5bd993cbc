//! Store implementations written once for both databases. Their statements use `$N` placeholders,
//! which PostgreSQL and SQLite (through sqlx) both bind by number; each macro instantiates one trait
//! for one store type. What differs between the databases (claiming rows under concurrency) comes
//! from the store's `dialect` module.

mod accounts;
mod agents;
mod api_keys;
mod idempotency;
mod tasks;
mod usage;
mod webhooks;

pub(crate) use accounts::impl_account_store;
pub(crate) use agents::impl_agent_store;
pub(crate) use api_keys::impl_api_key_store;
pub(crate) use idempotency::impl_idempotency_store;
pub(crate) use tasks::impl_task_store;
pub(crate) use usage::impl_usage_store;
pub(crate) use webhooks::impl_webhook_store;
