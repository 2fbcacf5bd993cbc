//! What handlers take from a request: the typed JSON body, the caller, the client's address.

pub mod client;
pub mod json;
mod principal;

pub use client::ClientAddr;
pub use json::ApiJson;
