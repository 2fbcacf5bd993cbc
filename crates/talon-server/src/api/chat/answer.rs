//! How the chat surfaces send an answer: gathered into one `chat.completion`, or as server-sent events
//! of `chat.completion.chunk`. A stream whose first token is slow is committed to after one keep-alive
//! interval and sends `: keep-alive` comments while it waits; every event is handed to the caller
//! through a small queue, and an event the caller does not take within the write timeout ends the
//! answer, which frees its concurrency place even if the connection stays open.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::json;
use talon_gateway::ProviderError;
use talon_gateway::types::{ChatChunk, Usage, estimate_tokens};
use tokio::sync::mpsc;

use crate::api::error::ApiError;
use crate::api::middleware::request_id::{current_request_id, with_request_id};
use crate::services::chat::{Answer, ChatError};
use crate::state::AppState;

pub(super) type Opening = Pin<Box<dyn Future<Output = Result<Answer, ChatError>> + Send>>;

/// What a surface decides about its answers.
pub(super) struct Reply {
    /// The `model` the chunks and the completion name.
    pub name: String,
    pub version: i64,
    /// `None` for a JSON answer.
    pub stream: Option<StreamOptions>,
    /// The surface's rendering of a chat failure.
    pub error: fn(ChatError) -> ApiError,
    /// The surface's rendering of a JSON answer that failed part-way.
    pub failed: fn(ProviderError) -> ApiError,
}

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct StreamOptions {
    /// OpenAI's `stream_options.include_usage`: the usage in a last chunk of its own, `choices: []`.
    pub include_usage: bool,
}

/// Opens the answer and sends it.
pub(super) async fn reply(state: &AppState, reply: Reply, opening: Opening) -> Result<Response, ApiError> {
    let Some(options) = reply.stream else {
        let answer = opening.await.map_err(reply.error)?;
        let headers = answer_headers(&answer, reply.version);
        let done = talon_gateway::gather(answer.stream).await.map_err(reply.failed)?;
        let mut response = gathered(&reply.name, done);
        response.headers_mut().extend(headers);
        return Ok(response);
    };
    let keep_alive = state.settings.sse_keep_alive;
    let mut opening = opening;
    // Failures that come quickly (limits, an unknown model, a dead upstream) keep their status; a
    // first token slower than one keep-alive interval commits to a 200 stream.
    let (headers, pending) = match tokio::time::timeout(keep_alive, &mut opening).await {
        Ok(Ok(answer)) => (answer_headers(&answer, reply.version), Pending::Ready(answer)),
        Ok(Err(e)) => return Err((reply.error)(e)),
        Err(_) => (HeaderMap::new(), Pending::Waiting(opening)),
    };
    let (tx, rx) = mpsc::channel::<String>(1);
    let pump = Pump {
        tx,
        write_timeout: state.settings.stream_write_timeout,
        keep_alive,
        request_id: current_request_id(),
        events: Events::new(reply.name, options.include_usage),
        error: reply.error,
    };
    // The pump outlives the handler: it keeps the request's id and span for its logs.
    let request_id = pump.request_id.clone();
    tokio::spawn(tracing::Instrument::instrument(
        with_request_id(request_id, pump.run(pending)),
        tracing::Span::current(),
    ));
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|event| (Ok::<_, std::convert::Infallible>(event), rx))
    });
    let mut response = Response::builder()
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    response.headers_mut().extend(headers);
    Ok(response)
}

/// Talon's headers: the model that answered, the version, and whether a test provider did.
fn answer_headers(answer: &Answer, version: i64) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(model) = HeaderValue::from_str(&answer.model) {
        headers.insert("x-talon-model", model);
    }
    headers.insert("x-talon-agent-version", HeaderValue::from(version));
    if answer.test_provider {
        headers.insert("x-talon-test-provider", HeaderValue::from_static("true"));
    }
    headers
}

pub(super) fn completion_id() -> String {
    format!("chatcmpl-{}", uuid::Uuid::now_v7().simple())
}

fn gathered(model: &str, done: talon_gateway::Completion) -> Response {
    let mut message = json!({"role": "assistant", "content": done.content});
    if let Some(calls) = done.tool_calls {
        message["tool_calls"] = calls;
    }
    let body = json!({
        "id": completion_id(),
        "object": "chat.completion",
        "created": chrono::Utc::now().timestamp(),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": done.finish_reason}],
        "usage": done.usage,
    });
    Json(body).into_response()
}

/// Logs what really went wrong upstream, for the operator; the caller gets a plain message.
pub(super) fn log_upstream_failure(error: &dyn std::fmt::Display) {
    tracing::warn!(request_id = %current_request_id(), error = %error, "the upstream model failed");
}

enum Pending {
    Ready(Answer),
    Waiting(Opening),
}

struct Pump {
    tx: mpsc::Sender<String>,
    write_timeout: Duration,
    keep_alive: Duration,
    request_id: String,
    events: Events,
    error: fn(ChatError) -> ApiError,
}

impl Pump {
    /// Hands one event to the caller; false when it went away or stopped reading.
    async fn send(&self, event: String) -> bool {
        match tokio::time::timeout(self.write_timeout, self.tx.send(event)).await {
            Ok(Ok(())) => true,
            Ok(Err(_)) => false,
            Err(_) => {
                tracing::info!(request_id = %self.request_id, timeout = ?self.write_timeout,
                    "the caller stopped reading the stream; ending the answer");
                false
            }
        }
    }

    async fn run(mut self, pending: Pending) {
        let answer = match pending {
            Pending::Ready(answer) => answer,
            Pending::Waiting(mut opening) => {
                let mut ticks = tokio::time::interval(self.keep_alive);
                loop {
                    tokio::select! {
                        opened = &mut opening => match opened {
                            Ok(answer) => break answer,
                            Err(e) => {
                                let event = error_event(&(self.error)(e));
                                self.send(event).await;
                                return;
                            }
                        },
                        _ = ticks.tick() => if !self.send(": keep-alive\n\n".to_owned()).await { return },
                    }
                }
            }
        };
        let mut chunks = answer.stream;
        while let Some(item) = chunks.next().await {
            match item {
                Ok(chunk) => {
                    if let Some(event) = self.events.chunk(chunk)
                        && !self.send(event).await
                    {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(request_id = %self.request_id, error = %e, "the upstream model failed part-way");
                    let error = json!({"error": {"message": "The upstream model failed part-way through the answer",
                        "type": "api_error", "code": "upstream_error"}});
                    self.send(format!("data: {error}\n\n")).await;
                    return;
                }
            }
        }
        for event in self.events.finish() {
            if !self.send(event).await {
                return;
            }
        }
    }
}

/// A failure after the stream was committed to, as its last event.
fn error_event(error: &ApiError) -> String {
    let code = error.public_code().to_ascii_lowercase();
    let error = json!({"error": {"message": error.message(), "type": "api_error", "code": code}});
    format!("data: {error}\n\n")
}

/// Chunks as `chat.completion.chunk` events.
struct Events {
    id: String,
    created: i64,
    model: String,
    include_usage: bool,
    role_sent: bool,
    reported: Option<Usage>,
    completion_tokens: u64,
}

impl Events {
    fn new(model: String, include_usage: bool) -> Self {
        Self {
            id: completion_id(),
            created: chrono::Utc::now().timestamp(),
            model,
            include_usage,
            role_sent: false,
            reported: None,
            completion_tokens: 0,
        }
    }

    fn chunk(&mut self, chunk: ChatChunk) -> Option<String> {
        if chunk.usage.is_some() {
            self.reported = chunk.usage;
        }
        if chunk.content.is_none() && chunk.tool_calls.is_none() && chunk.finish_reason.is_none() {
            return None;
        }
        let mut delta = json!({});
        if !self.role_sent {
            delta["role"] = json!("assistant");
            self.role_sent = true;
        }
        if let Some(content) = &chunk.content {
            self.completion_tokens += estimate_tokens(content);
            delta["content"] = json!(content);
        }
        if let Some(calls) = chunk.tool_calls {
            delta["tool_calls"] = calls;
        }
        let body = json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": chunk.finish_reason}],
        });
        Some(format!("data: {body}\n\n"))
    }

    /// The usage chunk when asked for, then `[DONE]`.
    fn finish(&mut self) -> Vec<String> {
        let mut events = Vec::new();
        if self.include_usage {
            let usage = self.reported.unwrap_or(Usage {
                prompt_tokens: 0,
                completion_tokens: self.completion_tokens,
                total_tokens: self.completion_tokens,
            });
            let body = json!({
                "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [], "usage": usage,
            });
            events.push(format!("data: {body}\n\n"));
        }
        events.push("data: [DONE]\n\n".to_owned());
        events
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn parse(event: &str) -> Value {
        serde_json::from_str(event.strip_prefix("data: ").unwrap().trim()).unwrap()
    }

    #[test]
    fn usage_comes_alone_at_the_end_only_when_asked() {
        let usage = Usage { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 };
        for include_usage in [false, true] {
            let mut events = Events::new("bot".into(), include_usage);
            let first = parse(&events.chunk(ChatChunk::text("Hi")).unwrap());
            assert_eq!(first["choices"][0]["delta"], json!({"role": "assistant", "content": "Hi"}));
            assert!(first.get("usage").is_none());
            assert!(events.chunk(ChatChunk { usage: Some(usage), ..Default::default() }).is_none());
            let last = events.finish();
            assert_eq!(last.last().unwrap(), "data: [DONE]\n\n");
            if include_usage {
                let alone = parse(&last[0]);
                assert_eq!(alone["choices"], json!([]));
                assert_eq!(alone["usage"]["total_tokens"], 12);
            } else {
                assert_eq!(last.len(), 1);
            }
        }
    }
}
