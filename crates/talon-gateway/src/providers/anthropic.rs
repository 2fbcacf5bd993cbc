//! Anthropic's Messages API, translated both ways: OpenAI-shaped requests become Messages requests,
//! and Messages stream events become OpenAI-shaped chunks (text, tool calls, finish reason, usage).

use std::collections::HashMap;

use async_trait::async_trait;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde_json::{Value, json};

use super::openai::{connect_error, status_error};
use super::{ChunkStream, Provider};
use crate::ProviderError;
use crate::types::{ChatChunk, ChatRequest, Usage};

const API_VERSION: &str = "2023-06-01";
/// Anthropic requires `max_tokens`; this applies when the agent's config sets none.
const DEFAULT_MAX_TOKENS: u64 = 4096;

pub struct Anthropic {
    client: reqwest::Client,
    base_url: String,
    api_key: Option<String>,
}

impl Anthropic {
    pub fn new(client: reqwest::Client, base_url: &str, api_key: Option<String>) -> Self {
        Self { client, base_url: base_url.trim_end_matches('/').to_owned(), api_key }
    }
}

/// The Messages request for an OpenAI-shaped one.
pub fn to_messages_request(model: &str, request: &ChatRequest) -> Value {
    let mut system = Vec::new();
    let mut messages: Vec<Value> = Vec::new();
    for message in &request.messages {
        match message.role.as_str() {
            "system" => system.push(message.text_content()),
            "tool" => messages.push(json!({
                "role": "user",
                "content": [{
                    "type": "tool_result",
                    "tool_use_id": message.tool_call_id.clone().unwrap_or_default(),
                    "content": message.text_content(),
                }]
            })),
            "assistant" if message.tool_calls.is_some() => {
                let mut blocks = Vec::new();
                let text = message.text_content();
                if !text.is_empty() {
                    blocks.push(json!({"type": "text", "text": text}));
                }
                for call in message.tool_calls.as_ref().and_then(Value::as_array).into_iter().flatten() {
                    let arguments = call["function"]["arguments"].as_str().unwrap_or("{}");
                    blocks.push(json!({
                        "type": "tool_use",
                        "id": call["id"],
                        "name": call["function"]["name"],
                        "input": serde_json::from_str::<Value>(arguments).unwrap_or_else(|_| json!({})),
                    }));
                }
                messages.push(json!({"role": "assistant", "content": blocks}));
            }
            role => messages.push(json!({"role": role, "content": message.text_content()})),
        }
    }
    let mut body = json!({
        "model": model,
        "messages": messages,
        "max_tokens": request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        "stream": true,
    });
    if !system.is_empty() {
        body["system"] = json!(system.join("\n\n"));
    }
    if let Some(t) = request.temperature {
        body["temperature"] = json!(t);
    }
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|t| {
                json!({
                    "name": t["function"]["name"],
                    "description": t["function"]["description"],
                    "input_schema": t["function"]["parameters"],
                })
            })
            .collect();
    }
    if let Some(user) = &request.user {
        body["metadata"] = json!({"user_id": user});
    }
    body
}

/// Translates Messages stream events into chunks, keeping what spans events (tool-call numbering,
/// input tokens from `message_start`).
#[derive(Default)]
pub struct EventTranslator {
    input_tokens: u64,
    /// Anthropic content-block index → OpenAI tool-call index.
    tool_calls: HashMap<u64, u64>,
    finished: bool,
}

impl EventTranslator {
    /// `Ok(None)` for events with nothing to pass on.
    pub fn translate(&mut self, event: &str, data: &str) -> Result<Option<ChatChunk>, ProviderError> {
        let value: Value = serde_json::from_str(data).map_err(|e| ProviderError::Malformed(e.to_string()))?;
        match event {
            "message_start" => {
                self.input_tokens = value["message"]["usage"]["input_tokens"].as_u64().unwrap_or(0);
                Ok(None)
            }
            "content_block_start" if value["content_block"]["type"] == "tool_use" => {
                let index = value["index"].as_u64().unwrap_or(0);
                let call_index = self.tool_calls.len() as u64;
                self.tool_calls.insert(index, call_index);
                let block = &value["content_block"];
                Ok(Some(ChatChunk {
                    tool_calls: Some(json!([{
                        "index": call_index,
                        "id": block["id"],
                        "type": "function",
                        "function": {"name": block["name"], "arguments": ""},
                    }])),
                    ..Default::default()
                }))
            }
            "content_block_delta" => {
                let delta = &value["delta"];
                match delta["type"].as_str() {
                    Some("text_delta") => Ok(Some(ChatChunk::text(delta["text"].as_str().unwrap_or_default()))),
                    Some("input_json_delta") => {
                        let index = value["index"].as_u64().unwrap_or(0);
                        let call_index = self.tool_calls.get(&index).copied().unwrap_or(0);
                        Ok(Some(ChatChunk {
                            tool_calls: Some(json!([{
                                "index": call_index,
                                "function": {"arguments": delta["partial_json"]},
                            }])),
                            ..Default::default()
                        }))
                    }
                    _ => Ok(None),
                }
            }
            "message_delta" => {
                let output_tokens = value["usage"]["output_tokens"].as_u64().unwrap_or(0);
                let finish_reason = value["delta"]["stop_reason"].as_str().map(|reason| {
                    match reason {
                        "end_turn" | "stop_sequence" => "stop",
                        "max_tokens" => "length",
                        "tool_use" => "tool_calls",
                        other => other,
                    }
                    .to_owned()
                });
                Ok(Some(ChatChunk {
                    finish_reason,
                    usage: Some(Usage {
                        prompt_tokens: self.input_tokens,
                        completion_tokens: output_tokens,
                        total_tokens: self.input_tokens + output_tokens,
                    }),
                    ..Default::default()
                }))
            }
            "message_stop" => {
                self.finished = true;
                Ok(None)
            }
            "error" => Err(ProviderError::Malformed(format!("error event: {}", value["error"]))),
            _ => Ok(None),
        }
    }
}

#[async_trait]
impl Provider for Anthropic {
    async fn stream(&self, model: &str, request: &ChatRequest) -> Result<ChunkStream, ProviderError> {
        let mut call = self
            .client
            .post(format!("{}/messages", self.base_url))
            .header("anthropic-version", API_VERSION)
            .json(&to_messages_request(model, request));
        if let Some(key) = &self.api_key {
            call = call.header("x-api-key", key);
        }
        let response = call.send().await.map_err(connect_error)?;
        if !response.status().is_success() {
            return Err(status_error(response).await);
        }
        let events = Box::pin(response.bytes_stream().eventsource());
        let chunks = futures::stream::unfold(
            (events, EventTranslator::default(), false),
            |(mut events, mut translator, done)| async move {
                if done {
                    return None;
                }
                loop {
                    match events.next().await {
                        None if translator.finished => return None,
                        None => return Some((Err(ProviderError::Cut), (events, translator, true))),
                        Some(Err(e)) => {
                            return Some((Err(ProviderError::Malformed(e.to_string())), (events, translator, true)));
                        }
                        Some(Ok(event)) => match translator.translate(&event.event, &event.data) {
                            Ok(Some(chunk)) => return Some((Ok(chunk), (events, translator, false))),
                            Ok(None) if translator.finished => return None,
                            Ok(None) => continue,
                            Err(e) => return Some((Err(e), (events, translator, true))),
                        },
                    }
                }
            },
        );
        Ok(Box::pin(chunks))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ChatMessage;

    #[test]
    fn requests_translate_to_messages() {
        let mut assistant = ChatMessage::text("assistant", "");
        assistant.tool_calls = Some(json!([{"id": "call_1", "type": "function",
            "function": {"name": "lookup", "arguments": "{\"q\":\"x\"}"}}]));
        let mut tool = ChatMessage::text("tool", "42");
        tool.tool_call_id = Some("call_1".into());
        let request = ChatRequest {
            messages: vec![ChatMessage::text("system", "Be brief."), ChatMessage::text("user", "Hi"), assistant, tool],
            tools: vec![
                json!({"type": "function", "function": {"name": "lookup", "description": "Look up", "parameters": {"type": "object"}}}),
            ],
            temperature: Some(0.2),
            max_tokens: None,
            user: Some("customer-1".into()),
        };
        let body = to_messages_request("claude-x", &request);
        assert_eq!(body["system"], "Be brief.");
        assert_eq!(body["max_tokens"], DEFAULT_MAX_TOKENS);
        assert_eq!(body["messages"][0], json!({"role": "user", "content": "Hi"}));
        assert_eq!(
            body["messages"][1]["content"][0],
            json!({"type": "tool_use", "id": "call_1", "name": "lookup", "input": {"q": "x"}})
        );
        assert_eq!(body["messages"][2]["content"][0]["type"], "tool_result");
        assert_eq!(
            body["tools"][0],
            json!({"name": "lookup", "description": "Look up", "input_schema": {"type": "object"}})
        );
        assert_eq!(body["metadata"]["user_id"], "customer-1");
    }

    #[test]
    fn stream_events_translate_to_chunks() {
        let mut t = EventTranslator::default();
        assert_eq!(t.translate("message_start", r#"{"message":{"usage":{"input_tokens":7}}}"#).unwrap(), None);
        let text =
            t.translate("content_block_delta", r#"{"index":0,"delta":{"type":"text_delta","text":"Hi"}}"#).unwrap();
        assert_eq!(text.unwrap().content.as_deref(), Some("Hi"));
        let start = t
            .translate(
                "content_block_start",
                r#"{"index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"lookup"}}"#,
            )
            .unwrap()
            .unwrap();
        assert_eq!(start.tool_calls.unwrap()[0]["function"]["name"], "lookup");
        let args = t
            .translate(
                "content_block_delta",
                r#"{"index":1,"delta":{"type":"input_json_delta","partial_json":"{\"q\""}}"#,
            )
            .unwrap()
            .unwrap();
        assert_eq!(args.tool_calls.unwrap()[0], json!({"index": 0, "function": {"arguments": "{\"q\""}}));
        let end = t
            .translate("message_delta", r#"{"delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":5}}"#)
            .unwrap()
            .unwrap();
        assert_eq!(end.finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(end.usage.unwrap(), Usage { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 });
        assert_eq!(t.translate("message_stop", "{}").unwrap(), None);
        assert!(t.finished);
        assert!(t.translate("error", r#"{"error":{"type":"overloaded_error"}}"#).is_err());
    }
}
