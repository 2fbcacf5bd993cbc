//! HTTP handlers, one module per surface. Each handler parses, authorises, calls a service and shapes
//! the response; nothing else.

pub mod api_keys;
pub mod auth;
pub mod ops;
