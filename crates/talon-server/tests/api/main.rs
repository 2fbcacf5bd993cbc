//! The server's integration tests: real HTTP on 127.0.0.1:0 against SQLite and PostgreSQL, one module
//! per capability, all linked into one binary.

#[macro_use]
mod common;

mod agent_health;
mod api_keys;
mod audit;
mod auth;
mod auth_limits;
mod bot_chat;
mod cached_reads;
mod chat_limits;
mod chat_usage;
mod connections;
mod dashboard;
mod error_surfaces;
mod errors;
mod evaluations;
mod idempotency;
mod json_depth;
mod labels_and_splits;
mod list_cursors;
mod marketplace;
mod nul_characters;
mod openai;
mod openai_sdk;
mod ops;
mod private_files;
mod python_client;
mod rate_limits;
mod redis_outage;
mod registry_access;
mod registry_agents;
mod registry_appends;
mod registry_inputs;
mod registry_lineage;
mod registry_merges;
mod registry_privacy;
mod registry_requests;
mod registry_slugs;
mod registry_versions;
mod replicas;
mod request_log;
mod restricted_keys;
mod schema_contract;
mod sessions;
mod shutdown;
mod tasks;
mod tasks_batch;
mod tasks_leases;
mod tasks_runtime;
mod typed_requests;
mod webhooks;
