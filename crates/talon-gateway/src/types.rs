//! The OpenAI chat-completions wire shapes Talon speaks with callers and with upstreams.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    /// A string, or an array of content parts; `null` on an assistant message that only calls tools.
    #[serde(default)]
    pub content: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl ChatMessage {
    pub fn text(role: &str, content: &str) -> Self {
        ChatMessage {
            role: role.into(),
            content: Value::String(content.into()),
            tool_calls: None,
            tool_call_id: None,
            name: None,
        }
    }

    /// The message's text, joining text parts of an array.
    pub fn text_content(&self) -> String {
        match &self.content {
            Value::String(s) => s.clone(),
            Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect::<Vec<_>>().join(""),
            _ => String::new(),
        }
    }
}

/// What goes upstream: the agent's system prompt already first, its tools and settings applied.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    /// OpenAI function tools: `{"type": "function", "function": {"name", "description", "parameters"}}`.
    pub tools: Vec<Value>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u64>,
    pub user: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

/// One piece of a streamed answer, whatever the provider.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatChunk {
    pub content: Option<String>,
    /// OpenAI `delta.tool_calls` entries, passed through.
    pub tool_calls: Option<Value>,
    pub finish_reason: Option<String>,
    pub usage: Option<Usage>,
}

impl ChatChunk {
    pub fn text(content: impl Into<String>) -> Self {
        ChatChunk { content: Some(content.into()), ..Default::default() }
    }
}

/// Rough token count for providers that report none: words and punctuation runs.
pub fn estimate_tokens(text: &str) -> u64 {
    text.split_whitespace().map(|w| 1 + (w.chars().count() as u64) / 6).sum()
}

/// Gathers streamed `tool_calls` deltas (by index) into complete OpenAI tool calls.
#[derive(Debug, Default)]
pub struct ToolCallAccumulator {
    calls: Vec<Value>,
}

impl ToolCallAccumulator {
    pub fn add(&mut self, deltas: &Value) {
        for delta in deltas.as_array().into_iter().flatten() {
            let index = delta["index"].as_u64().unwrap_or(0) as usize;
            while self.calls.len() <= index {
                self.calls
                    .push(serde_json::json!({"id": "", "type": "function", "function": {"name": "", "arguments": ""}}));
            }
            let call = &mut self.calls[index];
            if let Some(id) = delta["id"].as_str() {
                call["id"] = Value::from(id);
            }
            if let Some(name) = delta["function"]["name"].as_str() {
                call["function"]["name"] = Value::from(name);
            }
            if let Some(arguments) = delta["function"]["arguments"].as_str() {
                let joined = format!("{}{arguments}", call["function"]["arguments"].as_str().unwrap_or_default());
                call["function"]["arguments"] = Value::from(joined);
            }
        }
    }

    pub fn finish(self) -> Option<Value> {
        (!self.calls.is_empty()).then_some(Value::Array(self.calls))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tool_call_deltas_merge_by_index() {
        let mut calls = ToolCallAccumulator::default();
        calls.add(
            &json!([{"index": 0, "id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": ""}}]),
        );
        calls.add(&json!([{"index": 0, "function": {"arguments": "{\"q\":"}}]));
        calls.add(&json!([{"index": 0, "function": {"arguments": "\"x\"}"}}]));
        let merged = calls.finish().unwrap();
        assert_eq!(merged[0]["id"], "call_1");
        assert_eq!(merged[0]["function"], json!({"name": "lookup", "arguments": "{\"q\":\"x\"}"}));
        assert!(ToolCallAccumulator::default().finish().is_none());
    }
}
