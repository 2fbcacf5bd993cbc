//! `/v1/chat/completions` and `/v1/models`: the OpenAI API, where `model` names an agent (`support-bot`,
//! or `support-bot@7` to pin version 7), so every OpenAI SDK works with a base URL and a key.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures::StreamExt;
use serde_json::{Value, json};
use talon_domain::agent::AgentStatus;
use talon_domain::usage::Source;
use talon_domain::{Scope, ValidationErrors};
use talon_gateway::ProviderError;
use talon_gateway::types::ChatMessage;

use crate::auth::{Credential, Principal};
use crate::http::error::{ApiError, ErrorCode};
use crate::http::json::{ApiJson, JsonObject, optional_bool};
use crate::http::metrics::RequestStart;
use crate::services::chat::{Answer, Asker, ChatError, ChatInput, Limit, Target};
use crate::state::AppState;

const ROLES: [&str; 4] = ["system", "user", "assistant", "tool"];

/// The OpenAI request, validated field by field.
fn parse(body: &JsonObject) -> Result<(String, ChatInput, bool), ApiError> {
    let mut errors = ValidationErrors::new();
    let model = match body.get("model") {
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        _ => {
            errors.add("model", "Required: the agent's slug, e.g. support-bot (or support-bot@7)");
            String::new()
        }
    };
    let mut messages = Vec::new();
    match body.get("messages") {
        Some(Value::Array(items)) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                match serde_json::from_value::<ChatMessage>(item.clone()) {
                    Ok(m) if ROLES.contains(&m.role.as_str()) => messages.push(m),
                    Ok(_) => errors.add(format!("messages[{i}].role"), "Must be system, user, assistant or tool"),
                    Err(e) => errors.add(format!("messages[{i}]"), e.to_string()),
                }
            }
        }
        _ => errors.add("messages", "Must be a non-empty array of messages"),
    }
    let stream = optional_bool(body, "stream", &mut errors).unwrap_or(false);
    let temperature = body.get("temperature").and_then(Value::as_f64);
    if temperature.is_some_and(|t| !(0.0..=2.0).contains(&t)) {
        errors.add("temperature", "Must be from 0 to 2");
    }
    let max_tokens = body.get("max_tokens").or_else(|| body.get("max_completion_tokens")).and_then(Value::as_u64);
    let user = body.get("user").and_then(Value::as_str).map(str::to_owned);
    let input = ChatInput { messages, model: None, temperature, max_tokens, user };
    errors.finish((model, input, stream)).map_err(ApiError::validation)
}

fn chat_error(error: ChatError) -> ApiError {
    match error {
        ChatError::NotFound => {
            ApiError::new(ErrorCode::NotFound, "The model does not exist: no such agent, or no such version")
        }
        ChatError::NotServing(AgentStatus::Error) => {
            ApiError::new(ErrorCode::UpstreamError, "The agent is in an error state and not answering")
        }
        ChatError::NotServing(status) => {
            ApiError::new(ErrorCode::NotFound, format!("The agent is {status}; deploy it to chat with it"))
        }
        ChatError::UnknownModel(model) => {
            ApiError::new(ErrorCode::BadRequest, format!("The agent's model `{model}` names no configured provider"))
        }
        ChatError::Limited(limit) => limited(limit),
        ChatError::Timeout(_) => timed_out(),
        ChatError::Upstream(e) => match e.last() {
            Some(ProviderError::Status { status: 429, .. }) => {
                ApiError::new(ErrorCode::RateLimited, "The upstream model is rate limited; retry later")
            }
            Some(ProviderError::FirstTokenTimeout(_)) => {
                ApiError::new(ErrorCode::UpstreamTimeout, "The upstream model did not answer in time")
            }
            _ => ApiError::new(ErrorCode::UpstreamError, format!("The upstream model failed: {e}")),
        },
        ChatError::Service(e) => e.into(),
    }
}

/// 429 for a chat limit, under the chat API's codes (`bot_rate_limited`, `concurrent_limit`).
pub(super) fn limited(limit: Limit) -> ApiError {
    match limit {
        Limit::AgentRate { retry_after } => {
            ApiError::new(ErrorCode::RateLimited, "This agent's request rate limit was reached; retry later")
                .with_code("bot_rate_limited")
                .with_retry_after(retry_after)
        }
        Limit::AccountConcurrency | Limit::AgentConcurrency => {
            let whose = if limit == Limit::AccountConcurrency { "account" } else { "agent" };
            ApiError::new(
                ErrorCode::RateLimited,
                format!("Too many answers in flight for this {whose}; retry when one finishes"),
            )
            .with_code("concurrent_limit")
            .with_retry_after(1)
        }
    }
}

pub(super) fn timed_out() -> ApiError {
    ApiError::new(ErrorCode::UpstreamTimeout, "The upstream request timed out").with_code("timeout")
}

/// Who asks, for the chat service: the account whose limits apply, the key, and when the request
/// arrived; JSON answers get the chat timeout as their deadline.
pub(super) fn asker(
    state: &AppState,
    principal: &Principal,
    start: Option<Extension<RequestStart>>,
    stream: bool,
) -> Asker {
    Asker {
        account: principal.account.clone(),
        key: match &principal.credential {
            Credential::ApiKey { id, .. } => Some(*id),
            Credential::Session { .. } => None,
        },
        source: Source::Chat,
        arrived: start.map_or_else(std::time::Instant::now, |Extension(RequestStart(at))| at),
        timeout: (!stream).then_some(state.settings.chat_timeout),
    }
}

/// Create a chat completion (JSON or `stream: true` for server-sent events).
#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai", security(("bearer" = [])), request_body = Object,
    responses((status = 200, description = "chat.completion, or a text/event-stream of chat.completion.chunk"),
        (status = 400), (status = 401), (status = 404), (status = 429), (status = 502)))]
pub async fn chat_completions(
    State(state): State<AppState>,
    principal: Principal,
    start: Option<Extension<RequestStart>>,
    ApiJson(body): ApiJson<JsonObject>,
) -> Result<Response, ApiError> {
    let caller = principal.with_scope(Scope::Chat)?;
    let (model, input, stream) = parse(&body)?;
    let target = state.chat.target(&caller, &model).await.map_err(chat_error)?;
    let answer = state.chat.open(&target, input, asker(&state, &principal, start, stream)).await.map_err(chat_error)?;
    respond(model, &target, answer, stream).await
}

/// The answer as a `chat.completion` or an event stream, with Talon's headers: the model that
/// answered, the version, and whether a test provider did.
pub(super) async fn respond(name: String, target: &Target, answer: Answer, stream: bool) -> Result<Response, ApiError> {
    let Answer { model, test_provider, stream: chunks } = answer;
    let mut response = if stream { streamed(name, chunks) } else { gathered(&name, chunks).await? };
    let headers = response.headers_mut();
    if let Ok(model) = HeaderValue::from_str(&model) {
        headers.insert("x-talon-model", model);
    }
    headers.insert("x-talon-agent-version", HeaderValue::from(target.version.number));
    if test_provider {
        headers.insert("x-talon-test-provider", HeaderValue::from_static("true"));
    }
    Ok(response)
}

fn completion_id() -> String {
    format!("chatcmpl-{}", uuid::Uuid::now_v7().simple())
}

/// The whole answer as one `chat.completion`. A stream that fails part-way is an error, never a
/// truncated answer.
pub(super) async fn gathered(model: &str, stream: talon_gateway::ChunkStream) -> Result<Response, ApiError> {
    let done = talon_gateway::gather(stream).await.map_err(|e| match e {
        ProviderError::Deadline(_) => timed_out(),
        e => ApiError::new(ErrorCode::UpstreamError, format!("The upstream model failed: {e}")),
    })?;
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
    Ok(Json(body).into_response())
}

/// Server-sent events, forwarded chunk by chunk as they arrive. A finished stream ends with
/// `data: [DONE]`; a failed one ends with an error event and no `[DONE]`.
pub(super) fn streamed(model: String, stream: talon_gateway::ChunkStream) -> Response {
    let id = completion_id();
    let created = chrono::Utc::now().timestamp();
    let events = futures::stream::unfold((stream, true, false), move |(mut stream, first, done)| {
        let (id, model) = (id.clone(), model.clone());
        async move {
            if done {
                return None;
            }
            let event = match stream.next().await {
                None => "data: [DONE]\n\n".to_owned(),
                Some(Err(e)) => {
                    let error = json!({"error": {"message": format!("The upstream model failed: {e}"), "type": "api_error", "code": "upstream_error"}});
                    return Some((
                        Ok::<_, std::convert::Infallible>(format!("data: {error}\n\n")),
                        (stream, false, true),
                    ));
                }
                Some(Ok(chunk)) => {
                    let mut delta = json!({});
                    if first {
                        delta["role"] = json!("assistant");
                    }
                    if let Some(content) = &chunk.content {
                        delta["content"] = json!(content);
                    }
                    if let Some(calls) = &chunk.tool_calls {
                        delta["tool_calls"] = calls.clone();
                    }
                    let mut body = json!({
                        "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": chunk.finish_reason}],
                    });
                    if let Some(usage) = chunk.usage {
                        body["usage"] = json!(usage);
                    }
                    return Some((Ok(format!("data: {body}\n\n")), (stream, false, false)));
                }
            };
            Some((Ok(event), (stream, false, true)))
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(events))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The caller's deployed agents, as models.
#[utoipa::path(get, path = "/v1/models", tag = "openai", security(("bearer" = [])),
    responses((status = 200, description = "A list of models: one per deployed agent")))]
pub async fn models(State(state): State<AppState>, principal: Principal) -> Result<Json<Value>, ApiError> {
    let caller = principal.with_scope(Scope::Chat)?;
    let agents = state.chat.deployed(&caller).await.map_err(chat_error)?;
    let data: Vec<Value> = agents
        .into_iter()
        .map(|a| json!({"id": a.slug, "object": "model", "created": a.created_at.timestamp(), "owned_by": "talon"}))
        .collect();
    Ok(Json(json!({"object": "list", "data": data})))
}

/// Renders every error on the OpenAI surface in OpenAI's shape:
/// `{"error": {"message", "type", "param", "code"}}`.
pub async fn openai_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let envelope: Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let error = &envelope["error"];
    let kind = match status.as_u16() {
        400 | 404 | 405 | 409 | 413 | 415 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        429 => "rate_limit_error",
        _ => "api_error",
    };
    let code = match (status.as_u16(), error["code"].as_str()) {
        (404, _) => "model_not_found".to_owned(),
        (_, Some(code)) => code.to_ascii_lowercase(),
        _ => kind.to_owned(),
    };
    let body = json!({"error": {
        "message": error["message"].as_str().unwrap_or("Request failed"),
        "type": kind,
        "param": error["details"][0]["field"],
        "code": code,
    }});
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, Body::from(body.to_string()))
}
