//! Any OpenAI-compatible chat-completions server.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{ChunkStream, Provider};
use crate::ProviderError;
use crate::sse::openai_chunks;
use crate::types::ChatRequest;

/// How much of an upstream error body is kept for the message.
const ERROR_BODY_KEPT: usize = 1024;

pub struct OpenAiCompatible {
    client: reqwest::Client,
    base_url: String,
    api_key: Option<String>,
}

impl OpenAiCompatible {
    pub fn new(client: reqwest::Client, base_url: &str, api_key: Option<String>) -> Self {
        Self { client, base_url: base_url.trim_end_matches('/').to_owned(), api_key }
    }
}

pub(crate) fn body(model: &str, request: &ChatRequest) -> Value {
    let mut body = json!({
        "model": model,
        "messages": request.messages,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    if !request.tools.is_empty() {
        body["tools"] = Value::Array(request.tools.clone());
    }
    if let Some(t) = request.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(m) = request.max_tokens {
        body["max_tokens"] = json!(m);
    }
    if let Some(user) = &request.user {
        body["user"] = json!(user);
    }
    body
}

/// Turns a non-2xx upstream answer into `ProviderError::Status`.
pub(crate) async fn status_error(response: reqwest::Response) -> ProviderError {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let mut message = response.text().await.unwrap_or_default();
    truncate_on_char_boundary(&mut message, ERROR_BODY_KEPT);
    ProviderError::Status { status, message, retry_after }
}

/// `String::truncate` panics when `max` falls inside a character; an upstream's body is any UTF-8.
pub(crate) fn truncate_on_char_boundary(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

pub(crate) fn connect_error(error: reqwest::Error) -> ProviderError {
    ProviderError::Connect(std::error::Error::source(&error).map_or_else(|| error.to_string(), |s| s.to_string()))
}

#[async_trait]
impl Provider for OpenAiCompatible {
    async fn stream(&self, model: &str, request: &ChatRequest) -> Result<ChunkStream, ProviderError> {
        let mut call = self.client.post(format!("{}/chat/completions", self.base_url)).json(&body(model, request));
        if let Some(key) = &self.api_key {
            call = call.bearer_auth(key);
        }
        let response = call.send().await.map_err(connect_error)?;
        if !response.status().is_success() {
            return Err(status_error(response).await);
        }
        Ok(Box::pin(openai_chunks(response.bytes_stream())))
    }
}

#[cfg(test)]
mod tests {
    use super::truncate_on_char_boundary;

    #[test]
    fn truncation_never_splits_a_character() {
        let mut text = format!("{}é tail", "x".repeat(1023));
        truncate_on_char_boundary(&mut text, 1024);
        assert_eq!(text, "x".repeat(1023));
        let mut short = "é".to_owned();
        truncate_on_char_boundary(&mut short, 1024);
        assert_eq!(short, "é");
    }
}
