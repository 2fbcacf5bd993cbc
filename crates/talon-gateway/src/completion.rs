//! A streamed answer gathered into one: for callers that want the whole answer at once (a JSON chat
//! completion, a task worked by the runtime).

use futures::StreamExt;
use serde_json::Value;

use crate::ProviderError;
use crate::providers::ChunkStream;
use crate::types::{ToolCallAccumulator, Usage, estimate_tokens};

/// The whole answer of one stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub content: String,
    /// Complete OpenAI tool calls, when the model called any.
    pub tool_calls: Option<Value>,
    /// The provider's last finish reason; `stop` when it sent none.
    pub finish_reason: String,
    pub usage: Usage,
    /// The provider reported no usage, so the completion tokens are estimated from the content.
    pub usage_estimated: bool,
}

/// Reads `stream` to its end. A stream that fails part-way is that error, never a truncated answer.
pub async fn gather(mut stream: ChunkStream) -> Result<Completion, ProviderError> {
    let (mut content, mut tools, mut finish, mut usage) = (String::new(), ToolCallAccumulator::default(), None, None);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        content.push_str(chunk.content.as_deref().unwrap_or_default());
        if let Some(deltas) = &chunk.tool_calls {
            tools.add(deltas);
        }
        finish = chunk.finish_reason.or(finish);
        usage = chunk.usage.or(usage);
    }
    let usage_estimated = usage.is_none();
    let usage = usage.unwrap_or_else(|| {
        let completion_tokens = estimate_tokens(&content);
        Usage { prompt_tokens: 0, completion_tokens, total_tokens: completion_tokens }
    });
    Ok(Completion {
        content,
        tool_calls: tools.finish(),
        finish_reason: finish.unwrap_or_else(|| "stop".into()),
        usage,
        usage_estimated,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::types::ChatChunk;

    fn stream(items: Vec<Result<ChatChunk, ProviderError>>) -> ChunkStream {
        Box::pin(futures::stream::iter(items))
    }

    #[tokio::test]
    async fn content_finish_and_reported_usage() {
        let usage = Usage { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 };
        let done = gather(stream(vec![
            Ok(ChatChunk::text("Hello")),
            Ok(ChatChunk::text(" there")),
            Ok(ChatChunk { finish_reason: Some("length".into()), ..Default::default() }),
            Ok(ChatChunk { usage: Some(usage), ..Default::default() }),
        ]))
        .await
        .unwrap();
        assert_eq!(done.content, "Hello there");
        assert_eq!(done.finish_reason, "length");
        assert_eq!((done.usage, done.usage_estimated), (usage, false));
        assert_eq!(done.tool_calls, None);
    }

    #[tokio::test]
    async fn usage_is_estimated_when_the_provider_sends_none() {
        let done = gather(stream(vec![Ok(ChatChunk::text("one two three"))])).await.unwrap();
        assert_eq!(done.finish_reason, "stop");
        assert!(done.usage_estimated);
        assert_eq!(done.usage.prompt_tokens, 0);
        assert_eq!(done.usage.completion_tokens, estimate_tokens("one two three"));
        assert_eq!(done.usage.total_tokens, done.usage.completion_tokens);
    }

    #[tokio::test]
    async fn tool_calls_are_assembled() {
        let first = json!([{"index": 0, "id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":"}}]);
        let rest = json!([{"index": 0, "function": {"arguments": "1}"}}]);
        let done = gather(stream(vec![
            Ok(ChatChunk { tool_calls: Some(first), ..Default::default() }),
            Ok(ChatChunk { tool_calls: Some(rest), finish_reason: Some("tool_calls".into()), ..Default::default() }),
        ]))
        .await
        .unwrap();
        assert_eq!(done.content, "");
        assert_eq!(done.finish_reason, "tool_calls");
        let calls = done.tool_calls.unwrap();
        assert_eq!(calls[0]["function"], json!({"name": "lookup", "arguments": "{\"q\":1}"}));
    }

    #[tokio::test]
    async fn a_failure_part_way_is_the_error() {
        let failed = gather(stream(vec![Ok(ChatChunk::text("Hel")), Err(ProviderError::Cut)])).await;
        assert_eq!(failed, Err(ProviderError::Cut));
    }
}
