//! The REST resources under `/api`, one module each. A handler takes a typed request, checks the
//! caller's scope, calls a service and shapes the response; nothing else.

pub(crate) mod agent_inputs;
mod agent_requests;
mod agent_views;
pub mod agents;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod deployed_agents;
pub mod evaluations;
pub mod labels;
pub mod merges;
pub(crate) mod pagination;
pub mod splits;
pub mod tasks;
pub mod usage;
pub mod versions;
pub mod webhooks;
