//! HTTP handlers, one module per surface. Each handler parses, authorises, calls a service and shapes
//! the response; nothing else.

mod agent_views;
pub mod agents;
pub mod api_keys;
pub mod auth;
pub mod bot_chat;
mod chat_answer;
pub mod deployed_agents;
pub mod openai;
pub mod ops;
mod pagination;
pub mod tasks;
pub mod usage;
pub mod versions;
pub mod webhooks;
