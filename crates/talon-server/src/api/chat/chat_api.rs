//! The per-agent chat API (`POST /api/v1/bot/{botId}/chat`, as chat-api.txt documents it) and the
//! deployed-agents chat (`POST /api/v1/chat {agent}`). Both answer in the OpenAI shapes; their errors
//! carry the chat API's codes (`bot_not_found`, `invalid_api_key`, …).

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::Response;
use talon_domain::Scope;
use talon_domain::agent::{AgentStatus, ServedRef};
use talon_gateway::ProviderError;

use super::answer::{Reply, StreamOptions, log_upstream_failure, reply};
use super::asker;
use super::openai::{limited, timed_out};
use super::requests::{AgentChatRequest, BotChatRequest};
use crate::api::error::{ApiError, ChatApiError, ErrorCode};
use crate::api::extract::json::ApiJson;
use crate::api::middleware::metrics::RequestStart;
use crate::auth::Principal;
use crate::services::chat::{ChatError, ChatInput, Target};
use crate::state::AppState;

/// Requests above this are refused with 413 `request_too_large`, by Content-Length before reading.
pub const MAX_CHAT_BODY: usize = 100 * 1024;

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
        ChatError::ApiAccessOff => {
            ApiError::forbidden("API access is turned off for this bot").with_code("api_not_enabled")
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
    let error = match route {
        Route::Bot => bot_error,
        Route::Agents => agents_error,
    };
    let target = target.serving().map_err(error)?;
    let asker = asker(state, principal, start, stream);
    let name = target.agent.slug.clone();
    let version = target.version.number;
    let chat = state.chat.clone();
    let opening = Box::pin(async move { chat.open(&target, input, asker).await });
    let stream = stream.then_some(StreamOptions::default());
    reply(state, Reply { name, version, stream, error, failed }, opening).await
}

/// Chat with one agent. API access must be turned on for it (`PATCH /api/agents/:id {"apiAccess": true}`).
///
/// The body takes the fields of the chat API's reference only: any other is refused with
/// `invalid_request`. Errors carry the chat API's codes.
#[utoipa::path(post, path = "/api/v1/bot/{bot_id}/chat", operation_id = "botChat",
    tag = "chat", security(("bearer" = ["chat"])),
    params(("bot_id" = String, Path, description = "The agent's id or slug")), request_body = BotChatRequest,
    responses((status = 200, description = "chat.completion, or a text/event-stream of chunks"),
        (status = 400, body = ChatApiError, description = "`invalid_request`: missing or unknown fields, empty messages, invalid roles"),
        (status = 401, body = ChatApiError, description = "`missing_api_key`, `invalid_api_key` or `invalid_api_key_format`"),
        (status = 403, body = ChatApiError, description = "`api_not_enabled`, or `insufficient_scope` without the `chat` scope"),
        (status = 404, body = ChatApiError, description = "`bot_not_found`"),
        (status = 413, body = ChatApiError, description = "`request_too_large`: the body is over 100 KB"),
        (status = 429, body = ChatApiError, description = "`rate_limited`, `concurrent_limit` or `bot_rate_limited`, with `retry_after`"),
        (status = 500, body = ChatApiError, description = "`internal_error`"),
        (status = 503, body = ChatApiError, description = "`bot_offline` or `container_error`"),
        (status = 504, body = ChatApiError, description = "`timeout`")))]
pub async fn bot_chat(
    State(state): State<AppState>,
    principal: Principal,
    // The route is mounted as a service, so the path parameter is captured twice: read it by name.
    Path(params): Path<std::collections::HashMap<String, String>>,
    start: Option<Extension<RequestStart>>,
    ApiJson(request): ApiJson<BotChatRequest>,
) -> Result<Response, ApiError> {
    let bot_id = params.get("bot_id").cloned().unwrap_or_default();
    let caller = principal.with_scope(Scope::Chat).map_err(|e| ApiError::from(e).with_code("insufficient_scope"))?;
    let (input, stream) = request.into_input()?;
    let bot = ServedRef::parse(&bot_id).ok_or_else(|| bot_error(ChatError::NotFound))?;
    let sticky = super::sticky_key(&principal, input.user.as_deref());
    let target = state.chat.bot(&caller, &bot, &sticky).await.map_err(bot_error)?;
    answer(&state, &principal, start, Route::Bot, target, input, stream).await
}

/// Chat with a deployed agent by slug, with the bot route's codes: a stopped agent is 404 `bot_offline`,
/// one in error 502 `bot_offline`.
///
/// The body takes `agent` and the chat API's fields only: any other is refused with `invalid_request`.
#[utoipa::path(post, path = "/api/v1/chat", operation_id = "agentChat",
    tag = "chat", security(("bearer" = ["chat"])), request_body = AgentChatRequest,
    responses((status = 200, description = "chat.completion, or a text/event-stream of chunks"),
        (status = 400, body = ChatApiError, description = "`invalid_request`: missing or unknown fields, empty messages, invalid roles"),
        (status = 401, body = ChatApiError, description = "`missing_api_key`, `invalid_api_key` or `invalid_api_key_format`"),
        (status = 403, body = ChatApiError, description = "`insufficient_scope` without the `chat` scope"),
        (status = 404, body = ChatApiError, description = "`bot_not_found`, or `bot_offline` for an agent that is not deployed"),
        (status = 413, body = ChatApiError, description = "`request_too_large`: the body is over 100 KB"),
        (status = 429, body = ChatApiError, description = "`rate_limited`, `concurrent_limit` or `bot_rate_limited`, with `retry_after`"),
        (status = 500, body = ChatApiError, description = "`internal_error`"),
        (status = 502, body = ChatApiError, description = "`bot_offline`: the agent is in an error state"),
        (status = 503, body = ChatApiError, description = "`container_error`: the agent's model could not be reached"),
        (status = 504, body = ChatApiError, description = "`timeout`")))]
pub async fn agent_chat(
    State(state): State<AppState>,
    principal: Principal,
    start: Option<Extension<RequestStart>>,
    ApiJson(request): ApiJson<AgentChatRequest>,
) -> Result<Response, ApiError> {
    let caller = principal.with_scope(Scope::Chat).map_err(|e| ApiError::from(e).with_code("insufficient_scope"))?;
    let (reference, input, stream) = request.into_parts()?;
    let agent = ServedRef::parse(&reference).ok_or_else(|| agents_error(ChatError::NotFound))?;
    let sticky = super::sticky_key(&principal, input.user.as_deref());
    let target = state.chat.agent(&caller, &agent, &sticky).await.map_err(agents_error)?;
    answer(&state, &principal, start, Route::Agents, target, input, stream).await
}
