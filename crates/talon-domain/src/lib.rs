//! Talon's domain: the types and rules every layer shares. Nothing here performs I/O, so every rule is
//! unit-tested directly.

pub mod account;
pub mod agent;
pub mod api_key;
pub mod audit;
pub mod evaluation;
pub mod event;
pub mod id;
pub mod marketplace;
pub mod scope;
pub mod task;
pub mod time;
pub mod usage;
pub mod validation;
pub mod webhook;

pub use account::{Account, NewAccount};
pub use api_key::{ApiKey, ApiKeySecret, KeyFormatError, NewApiKey};
pub use id::{
    AgentId, ApiKeyId, AuditId, ContractId, DatasetId, DeliveryId, EvaluationId, EventId, GigId, IdParseError,
    MessageId, PortfolioItemId, ProposalId, RequestId, ReviewId, ServiceId, TaskId, UploadId, UserId, VersionId,
    WebhookId, WithdrawalId,
};
pub use scope::Scope;
pub use validation::{FieldError, ValidationErrors};
