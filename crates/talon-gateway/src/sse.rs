//! Reading an OpenAI-compatible server-sent-events stream into chunks.

use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};
use serde_json::Value;

use crate::ProviderError;
use crate::types::{ChatChunk, Usage};

/// Turns a response body into chunks. `[DONE]` ends the stream; a body that ends without it yields
/// `ProviderError::Cut`, so a truncated answer is never mistaken for a finished one.
pub fn openai_chunks(
    body: impl Stream<Item = reqwest::Result<bytes::Bytes>> + Send + 'static,
) -> impl Stream<Item = Result<ChatChunk, ProviderError>> + Send {
    let events = Box::pin(body.eventsource());
    futures::stream::unfold((events, false), |(mut events, done)| async move {
        if done {
            return None;
        }
        loop {
            match events.next().await {
                None => return Some((Err(ProviderError::Cut), (events, true))),
                Some(Err(e)) => return Some((Err(ProviderError::Malformed(e.to_string())), (events, true))),
                Some(Ok(event)) => {
                    let data = event.data.trim();
                    if data.is_empty() {
                        continue;
                    }
                    if data == "[DONE]" {
                        return None;
                    }
                    return Some(match parse_openai_chunk(data) {
                        Ok(chunk) => (Ok(chunk), (events, false)),
                        Err(e) => (Err(e), (events, true)),
                    });
                }
            }
        }
    })
}

pub fn parse_openai_chunk(data: &str) -> Result<ChatChunk, ProviderError> {
    let value: Value = serde_json::from_str(data).map_err(|e| ProviderError::Malformed(e.to_string()))?;
    if let Some(error) = value.get("error") {
        return Err(ProviderError::Malformed(format!("error event: {error}")));
    }
    let choice = value["choices"].get(0);
    let delta = choice.map(|c| &c["delta"]);
    let usage = value.get("usage").filter(|u| !u.is_null()).map(|u| Usage {
        prompt_tokens: u["prompt_tokens"].as_u64().unwrap_or(0),
        completion_tokens: u["completion_tokens"].as_u64().unwrap_or(0),
        total_tokens: u["total_tokens"].as_u64().unwrap_or(0),
    });
    if choice.is_none() && usage.is_none() {
        return Err(ProviderError::Malformed("a chunk without choices or usage".into()));
    }
    Ok(ChatChunk {
        content: delta.and_then(|d| d["content"].as_str()).map(str::to_owned),
        tool_calls: delta.and_then(|d| d.get("tool_calls")).filter(|t| !t.is_null()).cloned(),
        finish_reason: choice.and_then(|c| c["finish_reason"].as_str()).map(str::to_owned),
        usage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(text: &'static str) -> impl Stream<Item = reqwest::Result<bytes::Bytes>> + Send + 'static {
        futures::stream::iter(
            text.as_bytes().chunks(7).map(|c| Ok(bytes::Bytes::copy_from_slice(c))).collect::<Vec<_>>(),
        )
    }

    #[tokio::test]
    async fn a_finished_stream() {
        let text = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n\
                    data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n\
                    data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\n\
                    data: [DONE]\n\n";
        let chunks: Vec<_> = openai_chunks(body(text)).collect().await;
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[0].as_ref().unwrap().content.as_deref(), Some("Hel"));
        assert_eq!(chunks[1].as_ref().unwrap().finish_reason.as_deref(), Some("stop"));
        assert_eq!(chunks[2].as_ref().unwrap().usage.unwrap().total_tokens, 5);
    }

    #[tokio::test]
    async fn a_cut_stream_ends_in_an_error() {
        let text = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n";
        let chunks: Vec<_> = openai_chunks(body(text)).collect().await;
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[1], Err(ProviderError::Cut));
    }

    #[tokio::test]
    async fn a_malformed_chunk_ends_the_stream() {
        let text = "data: {not json\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n";
        let chunks: Vec<_> = openai_chunks(body(text)).collect().await;
        assert_eq!(chunks.len(), 1);
        assert!(matches!(chunks[0], Err(ProviderError::Malformed(_))));
    }
}
