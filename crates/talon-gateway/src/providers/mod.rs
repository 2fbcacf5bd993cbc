//! Upstream providers. Each turns a `ChatRequest` into a stream of chunks.

pub mod anthropic;
pub mod echo;
pub mod openai;

use std::pin::Pin;

use async_trait::async_trait;
use futures::Stream;

use crate::ProviderError;
use crate::types::{ChatChunk, ChatRequest};

pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<ChatChunk, ProviderError>> + Send>>;

#[async_trait]
pub trait Provider: Send + Sync {
    /// Starts a streamed completion with `model` (the part after `provider/`). Resolves once the
    /// upstream has accepted the request; errors before that (connect, status) come back here.
    async fn stream(&self, model: &str, request: &ChatRequest) -> Result<ChunkStream, ProviderError>;

    /// The built-in test provider says so, so that nobody mistakes its answers for a model's.
    fn is_test(&self) -> bool {
        false
    }
}
