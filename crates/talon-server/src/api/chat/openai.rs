//! `/v1/chat/completions` and `/v1/models`: the OpenAI API, where `model` names an agent (`support-bot`,
//! or `support-bot@7` to pin version 7), so every OpenAI SDK works with a base URL and a key.

use axum::extract::{Path, State};
use axum::http::{Method, Uri};
use axum::response::Response;
use axum::{Extension, Json};
use serde::Serialize;
use talon_domain::Scope;
use talon_domain::agent::{AgentStatus, ServedRef};
use talon_gateway::ProviderError;
use utoipa::ToSchema;

use super::answer::{Reply, log_upstream_failure, reply};
use super::asker;
use super::requests::ChatCompletionRequest;
use crate::api::error::{ApiError, ErrorCode, OpenAiError};
use crate::api::extract::json::ApiJson;
use crate::api::middleware::metrics::RequestStart;
use crate::auth::Principal;
use crate::services::chat::{ChatError, Limit};
use crate::state::AppState;

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
        ChatError::ApiAccessOff => ApiError::forbidden("API access is turned off for this agent"),
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

/// Create a chat completion (JSON or `stream: true` for server-sent events).
///
/// `model` names a deployed agent (`support-bot`, or `support-bot@7` for its version 7). Parameters
/// Talon does not use (`top_p`, `frequency_penalty`, `presence_penalty`, `seed`, `logit_bias`, …) are
/// accepted and ignored, as every OpenAI SDK sends some of them; those it uses are checked. Errors come
/// in OpenAI's shape.
#[utoipa::path(post, path = "/v1/chat/completions", operation_id = "createChatCompletion",
    tag = "openai", security(("bearer" = ["chat"])), request_body = ChatCompletionRequest,
    responses((status = 200, description = "chat.completion, or a text/event-stream of chat.completion.chunk"),
        (status = 400, body = OpenAiError, description = "Malformed or invalid request; `param` names the first field at fault"),
        (status = 401, body = OpenAiError, description = "Missing or invalid API key"),
        (status = 403, body = OpenAiError, description = "The key lacks the `chat` scope"),
        (status = 404, body = OpenAiError, description = "No such model (agent or version), or the agent is not deployed"),
        (status = 413, body = OpenAiError, description = "Request body is too large"),
        (status = 429, body = OpenAiError, description = "Rate or concurrency limit reached; Retry-After says when to retry"),
        (status = 500, body = OpenAiError, description = "Unexpected server-side error"),
        (status = 502, body = OpenAiError, description = "The upstream model failed, or the agent is in an error state"),
        (status = 504, body = OpenAiError, description = "The upstream model timed out")))]
pub async fn chat_completions(
    State(state): State<AppState>,
    principal: Principal,
    start: Option<Extension<RequestStart>>,
    ApiJson(request): ApiJson<ChatCompletionRequest>,
) -> Result<Response, ApiError> {
    let caller = principal.with_scope(Scope::Chat)?;
    let (model, input, stream) = request.into_parts()?;
    let served = ServedRef::parse(&model).ok_or_else(|| chat_error(ChatError::NotFound))?;
    let sticky = super::sticky_key(&principal, input.user.as_deref());
    let target = state.chat.target(&caller, &served, &sticky).await.map_err(chat_error)?;
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
#[schema(example = json!({"object": "list", "data": [{"id": "support-bot", "object": "model", "created": 1796018527,
    "owned_by": "talon"}]}))]
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
    responses((status = 200, body = ModelObject, description = "A model object"),
        (status = 404, body = OpenAiError, description = "No such model")))]
pub async fn model(
    State(state): State<AppState>,
    principal: Principal,
    Path(model): Path<String>,
) -> Result<Json<ModelObject>, ApiError> {
    let caller = principal.with_scope(Scope::Chat)?;
    let served = ServedRef::parse(&model).ok_or_else(model_not_found)?;
    let target = state.chat.target(&caller, &served, &principal.idempotency_scope()).await.map_err(|e| match e {
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
