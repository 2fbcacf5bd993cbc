//! `test/echo`: a deterministic provider for demos and tests. It answers with the last user message,
//! streamed word by word, and counts tokens as words.

use async_trait::async_trait;
use futures::stream;

use super::{ChunkStream, Provider};
use crate::ProviderError;
use crate::types::{ChatChunk, ChatRequest, Usage, estimate_tokens};

pub const PROVIDER: &str = "test";
pub const MODEL: &str = "echo";

pub struct Echo;

#[async_trait]
impl Provider for Echo {
    async fn stream(&self, model: &str, request: &ChatRequest) -> Result<ChunkStream, ProviderError> {
        if model != MODEL {
            return Err(ProviderError::UnknownModel(format!("{PROVIDER}/{model}")));
        }
        let answer =
            request.messages.iter().rev().find(|m| m.role == "user").map(|m| m.text_content()).unwrap_or_default();
        let prompt_tokens: u64 = request.messages.iter().map(|m| estimate_tokens(&m.text_content())).sum();
        let completion_tokens = estimate_tokens(&answer);
        let mut chunks: Vec<Result<ChatChunk, ProviderError>> =
            answer.split_inclusive(' ').map(|word| Ok(ChatChunk::text(word))).collect();
        chunks.push(Ok(ChatChunk {
            finish_reason: Some("stop".into()),
            usage: Some(Usage { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens }),
            ..Default::default()
        }));
        Ok(Box::pin(stream::iter(chunks)))
    }

    fn is_test(&self) -> bool {
        true
    }
}
