//! The model gateway. A model is named `provider/model`; providers are configured by the operator
//! (`openai` for any OpenAI-compatible server, `anthropic` for the Messages API) plus the built-in
//! `test` provider. Every upstream call streams; a JSON answer is the stream gathered. Fallback to a
//! second model happens only before the first content reaches the caller.

pub mod completion;
pub mod config;
mod error;
mod gateway;
pub mod providers;
mod sse;
#[cfg(feature = "testing")]
pub mod testing;
pub mod types;

pub use completion::{Completion, gather};
pub use config::{ProviderConfig, ProviderKind};
pub use error::ProviderError;
pub use gateway::{Gateway, GatewayError, Opened};
pub use providers::{ChunkStream, Provider};
