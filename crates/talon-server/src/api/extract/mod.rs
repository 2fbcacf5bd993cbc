//! What handlers take from a request: the typed JSON body, the caller, the client's address.

pub mod client;
pub mod free_json;
pub mod json;
mod patch;
mod principal;
pub mod query;

pub use client::ClientAddr;
pub use json::{ApiJson, MaybeJson};
pub use patch::Patch;
pub use query::{ApiQuery, Bounded, Flag, Integer};
