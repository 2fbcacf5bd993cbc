//! `/v1/chat/completions` and `/v1/models`: the OpenAI API, where `model` names an agent (`support-bot`,
//! or `support-bot@7` to pin version 7), so every OpenAI SDK works with a base URL and a key.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, Method, Uri};
use axum::middleware::Next;
use axum::response::Response;
use axum::{Extension, Json};
use serde::Serialize;
use serde_json::{Value, json};
use talon_domain::agent::AgentStatus;
use talon_domain::usage::Source;
use talon_domain::{Scope, ValidationErrors};
use talon_gateway::ProviderError;
use talon_gateway::types::ChatMessage;
use utoipa::ToSchema;

use super::answer::{Reply, StreamOptions, log_upstream_failure, reply};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::json::{ApiJson, JsonObject, optional_bool};
use crate::api::middleware::metrics::RequestStart;
use crate::auth::{Credential, Principal};
use crate::services::chat::{Asker, ChatError, ChatInput, Limit};
use crate::state::AppState;

const ROLES: [&str; 4] = ["system", "user", "assistant", "tool"];

/// The OpenAI request, validated field by field.
fn parse(body: &JsonObject) -> Result<(String, ChatInput, Option<StreamOptions>), ApiError> {
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
    // One choice per answer: a request for several must not be answered with one.
    match body.get("n") {
        None | Some(Value::Null) => {}
        Some(n) if n.as_u64() == Some(1) => {}
        Some(_) => errors.add("n", "Only n = 1 is supported"),
    }
    let include_usage = match body.get("stream_options") {
        None | Some(Value::Null) => false,
        Some(_) if !stream => {
            errors.add("stream_options", "Only allowed when stream is true");
            false
        }
        Some(Value::Object(options)) => match options.get("include_usage") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(include)) => *include,
            Some(_) => {
                errors.add("stream_options.include_usage", "Must be a boolean");
                false
            }
        },
        Some(_) => {
            errors.add("stream_options", "Must be an object");
            false
        }
    };
    let input = ChatInput { messages, model: None, temperature, max_tokens, user };
    let stream = stream.then_some(StreamOptions { include_usage });
    errors.finish((model, input, stream)).map_err(ApiError::validation)
}

fn chat_error(error: ChatError) -> ApiError {
    match error {
        ChatError::NotFound => model_not_found(),
        ChatError::NotServing(AgentStatus::Error) => {
            ApiError::new(ErrorCode::UpstreamError, "The agent is in an error state and not answering")
        }
        ChatError::NotServing(status) => {
            ApiError::new(ErrorCode::NotFound, format!("The agent is {status}; deploy it to chat with it"))
                .with_code("model_not_found")
        }
        ChatError::UnknownModel(model) => {
            ApiError::new(ErrorCode::BadRequest, format!("The agent's model `{model}` names no configured provider"))
        }
        ChatError::Limited(limit) => limited(limit),
        ChatError::Timeout(_) => timed_out(),
        ChatError::Upstream(e) => {
            log_upstream_failure(&e);
            match e.last() {
                Some(ProviderError::Status { status: 429, .. }) => {
                    ApiError::new(ErrorCode::RateLimited, "The upstream model is rate limited; retry later")
                }
                Some(ProviderError::FirstTokenTimeout(_)) => timed_out(),
                _ => ApiError::new(ErrorCode::UpstreamError, "The upstream model failed to answer")
                    .with_code("upstream_error"),
            }
        }
        ChatError::Service(e) => e.into(),
    }
}

fn model_not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "The model does not exist: no such agent, or no such version")
        .with_code("model_not_found")
}

/// A JSON answer that failed part-way: never a truncated answer.
fn failed(error: ProviderError) -> ApiError {
    if let ProviderError::Deadline(_) = error {
        return timed_out();
    }
    log_upstream_failure(&error);
    ApiError::new(ErrorCode::UpstreamError, "The upstream model failed part-way through the answer")
        .with_code("upstream_error")
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
/// arrived; JSON answers get the chat timeout as their deadline, and every answer must start within it.
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
        start_timeout: Some(state.settings.chat_timeout),
    }
}

/// Create a chat completion (JSON or `stream: true` for server-sent events).
#[utoipa::path(post, path = "/v1/chat/completions", operation_id = "createChatCompletion",
    tag = "openai", security(("bearer" = ["chat"])), request_body = Object,
    responses((status = 200, description = "chat.completion, or a text/event-stream of chat.completion.chunk"),
        (status = 400), (status = 401), (status = 404), (status = 429), (status = 502), (status = 504)))]
pub async fn chat_completions(
    State(state): State<AppState>,
    principal: Principal,
    start: Option<Extension<RequestStart>>,
    ApiJson(body): ApiJson<JsonObject>,
) -> Result<Response, ApiError> {
    let caller = principal.with_scope(Scope::Chat)?;
    let (model, input, stream) = parse(&body)?;
    let target = state.chat.target(&caller, &model).await.map_err(chat_error)?;
    let asker = asker(&state, &principal, start, stream.is_some());
    let version = target.version.number;
    let chat = state.chat.clone();
    let opening = Box::pin(async move { chat.open(&target, input, asker).await });
    reply(&state, Reply { name: model, version, stream, error: chat_error, failed }, opening).await
}

/// OpenAI's model object: a deployed agent, named by its slug (or `slug@N`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelObject {
    id: String,
    /// Always `model`.
    object: &'static str,
    /// When the agent was created (Unix seconds).
    created: i64,
    /// Always `talon`.
    owned_by: &'static str,
}

impl ModelObject {
    fn new(id: String, created: chrono::DateTime<chrono::Utc>) -> Self {
        Self { id, object: "model", created: created.timestamp(), owned_by: "talon" }
    }
}

/// OpenAI's model list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    /// Always `list`.
    object: &'static str,
    data: Vec<ModelObject>,
}

/// The caller's deployed agents, as models.
#[utoipa::path(get, path = "/v1/models", operation_id = "listModels", tag = "openai", security(("bearer" = ["chat"])),
    responses((status = 200, body = ModelList, description = "A list of models: one per deployed agent")))]
pub async fn models(State(state): State<AppState>, principal: Principal) -> Result<Json<ModelList>, ApiError> {
    let caller = principal.with_scope(Scope::Chat)?;
    let agents = state.chat.deployed(&caller).await.map_err(chat_error)?;
    let data = agents.into_iter().map(|a| ModelObject::new(a.slug, a.created_at)).collect();
    Ok(Json(ModelList { object: "list", data }))
}

/// One model: a deployed agent (`slug`, or `slug@N` for its version N).
#[utoipa::path(get, path = "/v1/models/{model}", operation_id = "retrieveModel",
    tag = "openai", security(("bearer" = ["chat"])),
    params(("model" = String, Path, description = "The agent's slug, optionally @N")),
    responses((status = 200, body = ModelObject, description = "A model object"), (status = 404, description = "No such model")))]
pub async fn model(
    State(state): State<AppState>,
    principal: Principal,
    Path(model): Path<String>,
) -> Result<Json<ModelObject>, ApiError> {
    let caller = principal.with_scope(Scope::Chat)?;
    let target = state.chat.target(&caller, &model).await.map_err(|e| match e {
        ChatError::NotFound | ChatError::NotServing(_) => model_not_found(),
        e => chat_error(e),
    })?;
    Ok(Json(ModelObject::new(model, target.agent.created_at)))
}

/// Any other path under `/v1`, answered as OpenAI does.
pub async fn unknown_url(method: Method, uri: Uri) -> ApiError {
    ApiError::new(ErrorCode::NotFound, format!("Invalid URL ({method} {})", uri.path()))
}

pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed, format!("Method {method} is not allowed on {}", uri.path()))
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
    // Like OpenAI, an unknown URL or method has no code; the rest keep theirs, in lower case.
    let code = match error["code"].as_str() {
        Some("NOT_FOUND" | "METHOD_NOT_ALLOWED") => Value::Null,
        Some(code) => json!(code.to_ascii_lowercase()),
        None => json!(kind),
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
