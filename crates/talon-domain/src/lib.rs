//! Talon's domain: the types and rules every layer shares. Nothing here performs I/O, so every rule is
//! unit-tested directly.

pub mod account;
pub mod agent;
pub mod api_key;
pub mod event;
pub mod id;
pub mod scope;
pub mod task;
pub mod time;
pub mod validation;

pub use account::{Account, NewAccount};
pub use api_key::{ApiKey, ApiKeySecret, KeyFormatError, NewApiKey};
pub use id::{AgentId, ApiKeyId, EventId, IdParseError, RequestId, TaskId, UserId, VersionId};
pub use scope::Scope;
pub use validation::{FieldError, ValidationErrors};
