//! The per-agent chat API (`POST /api/v1/bot/{botId}/chat`, as chat-api.txt documents it) and the
//! deployed-agents chat (`POST /api/v1/chat {agent}`). Both answer in the OpenAI shapes; their errors
//! carry the chat API's codes (`bot_not_found`, `invalid_api_key`, …).

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Value, json};
use talon_domain::agent::AgentStatus;
use talon_domain::{ApiKeySecret, Scope, ValidationErrors};
use talon_gateway::ProviderError;
use talon_gateway::types::ChatMessage;

use super::answer::{Reply, StreamOptions, log_upstream_failure, reply};
use super::openai::{asker, limited, timed_out};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::json::{ApiJson, JsonObject, optional_bool};
use crate::api::middleware::metrics::RequestStart;
use crate::auth::Principal;
use crate::services::chat::{ChatError, ChatInput, Target};
use crate::state::AppState;

/// Requests above this are refused with 413 `request_too_large`, by Content-Length before reading.
pub const MAX_CHAT_BODY: usize = 100 * 1024;
const ROLES: [&str; 3] = ["user", "assistant", "system"];

fn parse(body: &JsonObject) -> Result<(ChatInput, bool), ApiError> {
    let mut errors = ValidationErrors::new();
    let mut messages = Vec::new();
    match body.get("messages") {
        Some(Value::Array(items)) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                let role = item["role"].as_str().unwrap_or_default();
                if !ROLES.contains(&role) {
                    errors.add(format!("messages[{i}].role"), "Must be user, assistant or system");
                }
                match item["content"].as_str() {
                    Some(content) => messages.push(ChatMessage::text(role, content)),
                    None => errors.add(format!("messages[{i}].content"), "Required string content"),
                }
            }
        }
        _ => errors.add("messages", "Must be a non-empty array of messages"),
    }
    let stream = optional_bool(body, "stream", &mut errors).unwrap_or(false);
    let model = match body.get("model") {
        None | Some(Value::Null) => None,
        Some(Value::String(m)) => Some(m.clone()),
        Some(_) => {
            errors.add("model", "Must be a string such as provider/model");
            None
        }
    };
    let user = body.get("user").and_then(Value::as_str).map(str::to_owned);
    errors
        .finish((ChatInput { messages, model, temperature: None, max_tokens: None, user }, stream))
        .map_err(ApiError::validation)
}

/// Which chat route answers. Both share one mapping and every code; they differ only in the status of
/// an agent that is not serving, which each route's document fixes: 503 on the bot route
/// (chat-api.txt), 404 for a stopped agent and 502 for one in error on `/api/v1/chat`
/// (deployed-agents-api.txt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Bot,
    Agents,
}

fn chat_error(route: Route, error: ChatError) -> ApiError {
    match error {
        ChatError::NotFound => ApiError::new(ErrorCode::NotFound, "Bot not found or the key does not have access"),
        ChatError::NotServing(status) => {
            let (message, error_state) = match status {
                AgentStatus::Error => ("The bot is in an error state", true),
                AgentStatus::Stopped => ("The bot is stopped", false),
                _ => ("The bot is not deployed", false),
            };
            let code = match (route, error_state) {
                (Route::Bot, _) => ErrorCode::Unavailable,
                (Route::Agents, true) => ErrorCode::UpstreamError,
                (Route::Agents, false) => ErrorCode::NotFound,
            };
            ApiError::new(code, message).with_code("bot_offline")
        }
        ChatError::UnknownModel(model) => {
            ApiError::new(ErrorCode::BadRequest, format!("Unknown model `{model}`")).with_code("invalid_request")
        }
        ChatError::Limited(limit) => limited(limit),
        ChatError::Timeout(_) => timed_out(),
        // Nothing came from any model before its first-token timeout: the upstream timed out.
        ChatError::Upstream(e) if matches!(e.last(), Some(ProviderError::FirstTokenTimeout(_))) => {
            log_upstream_failure(&e);
            timed_out()
        }
        ChatError::Upstream(e) => {
            log_upstream_failure(&e);
            ApiError::new(ErrorCode::Unavailable, "The bot's model could not be reached").with_code("container_error")
        }
        ChatError::Service(e) => e.into(),
    }
}

fn bot_error(error: ChatError) -> ApiError {
    chat_error(Route::Bot, error)
}

fn agents_error(error: ChatError) -> ApiError {
    chat_error(Route::Agents, error)
}

/// A JSON answer that failed part-way: never a truncated answer.
fn failed(error: ProviderError) -> ApiError {
    if let ProviderError::Deadline(_) = error {
        return timed_out();
    }
    log_upstream_failure(&error);
    ApiError::new(ErrorCode::Unavailable, "The bot's model failed part-way through the answer")
        .with_code("container_error")
}

async fn answer(
    state: &AppState,
    principal: &Principal,
    start: Option<Extension<RequestStart>>,
    route: Route,
    target: Target,
    input: ChatInput,
    stream: bool,
) -> Result<Response, ApiError> {
    if target.agent.status != AgentStatus::Deployed {
        return Err(chat_error(route, ChatError::NotServing(target.agent.status)));
    }
    let asker = asker(state, principal, start, stream);
    let name = target.agent.slug.clone();
    let version = target.version.number;
    let chat = state.chat.clone();
    let opening = Box::pin(async move { chat.open(&target, input, asker).await });
    let error = match route {
        Route::Bot => bot_error,
        Route::Agents => agents_error,
    };
    let stream = stream.then_some(StreamOptions::default());
    reply(state, Reply { name, version, stream, error, failed }, opening).await
}

/// Chat with one agent. API access must be turned on for it (`PATCH /api/agents/:id {"apiAccess": true}`).
#[utoipa::path(post, path = "/api/v1/bot/{bot_id}/chat", operation_id = "botChat",
    tag = "chat", security(("bearer" = ["chat"])),
    params(("bot_id" = String, Path, description = "The agent's id or slug")), request_body = Object,
    responses((status = 200, description = "chat.completion, or a text/event-stream of chunks"),
        (status = 400), (status = 401), (status = 403), (status = 404), (status = 413), (status = 429), (status = 503), (status = 504)))]
pub async fn bot_chat(
    State(state): State<AppState>,
    principal: Principal,
    // The route is mounted as a service, so the path parameter is captured twice: read it by name.
    Path(params): Path<std::collections::HashMap<String, String>>,
    start: Option<Extension<RequestStart>>,
    ApiJson(body): ApiJson<JsonObject>,
) -> Result<Response, ApiError> {
    let bot_id = params.get("bot_id").cloned().unwrap_or_default();
    let caller = principal.with_scope(Scope::Chat).map_err(|e| ApiError::from(e).with_code("insufficient_scope"))?;
    let (input, stream) = parse(&body)?;
    let target = state.chat.agent(&caller, &bot_id).await.map_err(bot_error)?;
    if !target.agent.api_access {
        return Err(ApiError::forbidden("API access is turned off for this bot").with_code("api_not_enabled"));
    }
    answer(&state, &principal, start, Route::Bot, target, input, stream).await
}

/// Chat with a deployed agent by slug, with the bot route's codes: a stopped agent is 404 `bot_offline`,
/// one in error 502 `bot_offline`.
#[utoipa::path(post, path = "/api/v1/chat", operation_id = "agentChat",
    tag = "chat", security(("bearer" = ["chat"])), request_body = Object,
    responses((status = 200), (status = 400), (status = 401), (status = 404), (status = 429), (status = 502),
        (status = 503), (status = 504)))]
pub async fn agent_chat(
    State(state): State<AppState>,
    principal: Principal,
    start: Option<Extension<RequestStart>>,
    ApiJson(body): ApiJson<JsonObject>,
) -> Result<Response, ApiError> {
    let caller = principal.with_scope(Scope::Chat).map_err(|e| ApiError::from(e).with_code("insufficient_scope"))?;
    let Some(reference) = body.get("agent").and_then(Value::as_str).map(str::to_owned) else {
        return Err(ApiError::validation(ValidationErrors::single("agent", "Required: the agent's slug")));
    };
    let (input, stream) = parse(&body)?;
    let target = state.chat.agent(&caller, &reference).await.map_err(agents_error)?;
    answer(&state, &principal, start, Route::Agents, target, input, stream).await
}

/// How the request authenticated, for naming a 401 precisely.
enum Credentials {
    Missing,
    BadFormat,
    Present,
}

fn credentials(headers: &HeaderMap) -> Credentials {
    // The scheme is case-insensitive (RFC 9110): `bearer` is read like `Bearer`.
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .and_then(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer").then_some(token));
    match token.map(str::trim) {
        None | Some("") => Credentials::Missing,
        Some(t) if ApiKeySecret::looks_like_key(t) && ApiKeySecret::parse(t).is_err() => Credentials::BadFormat,
        Some(_) => Credentials::Present,
    }
}

/// Renames errors that the shared middleware produced (authentication, limits, body size, JSON) to the
/// chat API's codes; errors the chat handlers named already pass through.
pub async fn chat_errors(request: Request, next: Next) -> Response {
    let credentials = credentials(request.headers());
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return Response::from_parts(parts, Body::empty());
    };
    // Errors from outside the handlers (a body over the limit) may come without the envelope.
    let mut envelope: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        json!({"error": {
            "message": status.canonical_reason().unwrap_or("Request failed"),
            "details": [],
            "requestId": crate::api::middleware::request_id::current_request_id(),
        }})
    });
    let current = envelope["error"]["code"].as_str().unwrap_or_default().to_owned();
    if current.chars().any(|c| c.is_ascii_uppercase()) || current.is_empty() {
        let code = match status.as_u16() {
            401 => match credentials {
                Credentials::Missing => "missing_api_key",
                Credentials::BadFormat => "invalid_api_key_format",
                Credentials::Present => "invalid_api_key",
            },
            403 => "insufficient_scope",
            404 => "bot_not_found",
            413 => "request_too_large",
            429 => "rate_limited",
            503 => "bot_offline",
            504 => "timeout",
            s if s < 500 => "invalid_request",
            _ => "internal_error",
        };
        envelope["error"]["code"] = json!(code);
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        let retry_after =
            parts.headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        envelope["error"]["retry_after"] = json!(retry_after);
    }
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/json"));
    Response::from_parts(parts, Body::from(envelope.to_string()))
}
