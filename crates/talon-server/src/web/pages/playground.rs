//! `/playground`: chat with a deployed agent (or a chosen version of it), the answer streaming in.
//! The page is a form that `assets/app.js` sends to `POST /playground/stream`, which answers through
//! the chat service exactly as `/v1/chat/completions` does (the same target, limits and accounting)
//! and streams server-sent events of its own small protocol:
//!
//! - `data: {"delta": "…"}` for each piece of the answer;
//! - `data: {"done": true, "model": "provider/model", "version": 3, "latencyMs": 412}` at the end;
//! - `data: {"error": "…"}` if the model fails once the answer has begun.
//!
//! A request refused before the answer begins (no such agent, not deployed, a limit) gets an HTTP error
//! status with a plain-text message, which the script shows.

use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use futures::StreamExt;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;
use talon_domain::Scope;
use talon_domain::agent::{Agent, AgentRef, AgentStatus, ServedRef, VersionRef};
use talon_domain::validation::ValidationErrors;
use talon_gateway::ProviderError;
use talon_gateway::types::ChatMessage;
use tokio::sync::mpsc;

use crate::api::chat::chat_api::MAX_CHAT_BODY;
use crate::api::error::{ApiError, ErrorCode};
use crate::api::middleware::metrics::RequestStart;
use crate::services::chat::{Answer, Asker, ChatError, ChatInput, Limit, Role};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::layout::{self, Section};
use crate::web::session::{Changing, SignedIn};

pub fn routes() -> Router<AppState> {
    Router::new().route("/playground", get(playground_page)).route("/playground/stream", post(stream))
}

#[derive(Deserialize)]
pub struct PlaygroundQuery {
    agent: Option<String>,
    version: Option<String>,
}

pub async fn playground_page(
    State(state): State<AppState>,
    session: SignedIn,
    Query(query): Query<PlaygroundQuery>,
) -> Result<Markup, WebError> {
    let caller = session.principal.with_scope(Scope::Chat)?;
    let agents = state.chat.deployed(&caller).await.map_err(refusal)?;
    let wanted = query.agent.as_deref().map(str::trim).filter(|a| !a.is_empty());
    let content = html! {
        h1 { "Playground" }
        @if agents.is_empty() {
            p { "You have no deployed agent to chat with. " a href="/agents" { "Deploy one of your agents" } " first." }
        } @else {
            @if let Some(wanted) = wanted.filter(|w| !agents.iter().any(|a| names(a, w))) {
                p.error role="alert" { "“" (wanted) "” is not one of your deployed agents; choose one below." }
            }
            (form(&agents, wanted, query.version.as_deref()))
        }
    };
    Ok(layout::page(&session, Section::Playground, "Playground", content))
}

/// Whether `reference` (a slug or an id) names `agent`.
fn names(agent: &Agent, reference: &str) -> bool {
    agent.slug == reference || AgentRef::parse(reference).is_some_and(|r| r == AgentRef::Id(agent.id))
}

fn form(agents: &[Agent], wanted: Option<&str>, version: Option<&str>) -> Markup {
    let version = version.map(str::trim).filter(|v| v.parse::<i64>().is_ok_and(|n| n >= 1));
    html! {
        form #playground .panel {
            div.row {
                div {
                    label for="playground-agent" { "Agent" }
                    select #playground-agent name="agent" {
                        @for agent in agents {
                            option value=(agent.slug) selected[wanted.is_some_and(|w| names(agent, w))] {
                                (agent.metadata.name) " (" (agent.slug) ")"
                            }
                        }
                    }
                }
                div {
                    label for="playground-version" { "Version (optional)" }
                    input #playground-version type="number" name="version" min="1" step="1" inputmode="numeric"
                        value=[version] aria-describedby="playground-version-hint";
                    p #playground-version-hint .hint { "Empty: the version the agent serves." }
                }
            }
            div #chat-log .chat-log role="log" aria-live="polite" aria-label="Conversation" {}
            p #chat-status .hint role="status" {}
            label for="playground-message" { "Message" }
            textarea #playground-message name="message" rows="3" required aria-describedby="playground-message-hint" {}
            p #playground-message-hint .hint { "Ctrl+Enter sends. The conversation is kept until the page is reloaded." }
            p { button type="submit" { "Send" } }
            noscript { p.error { "The playground needs JavaScript to stream the answers." } }
        }
    }
}

/// The body the playground's script sends.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaygroundRequest {
    /// The agent's slug or id.
    agent: String,
    /// A version number to pin; the served version when absent.
    version: Option<i64>,
    messages: Vec<PlaygroundMessage>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaygroundMessage {
    role: Role,
    content: String,
}

impl PlaygroundRequest {
    /// The agent (and version) to ask, and the conversation as the chat service takes it.
    fn into_parts(self) -> Result<(ServedRef, ChatInput), WebError> {
        let mut errors = ValidationErrors::new();
        let agent = AgentRef::parse(self.agent.trim());
        if agent.is_none() {
            errors.add("agent", "Must be the slug or id of one of your agents");
        }
        if self.version.is_some_and(|n| n < 1) {
            errors.add("version", "Must be a version number (1, 2, …)");
        }
        if self.messages.is_empty() {
            errors.add("messages", "Must hold at least one message");
        }
        for (i, message) in self.messages.iter().enumerate() {
            if !Role::CHAT_API.contains(&message.role) {
                errors.add(format!("messages[{i}].role"), format!("Must be {}", Role::listed(&Role::CHAT_API)));
            }
        }
        let messages = self.messages.iter().map(|m| ChatMessage::text(m.role.as_str(), &m.content)).collect();
        let input = ChatInput { messages, ..ChatInput::default() };
        let served = agent.map(|agent| ServedRef { agent, pinned: self.version.map(VersionRef::Number) });
        match (errors.finish(input), served) {
            (Ok(input), Some(served)) => Ok((served, input)),
            (Err(errors), _) => Err(ApiError::validation(errors).into()),
            (Ok(_), None) => Err(WebError::bad_request("agent: Must be the slug or id of one of your agents")),
        }
    }
}

/// `POST /playground/stream`: the answer as server-sent events, or a plain-text error.
pub async fn stream(
    State(state): State<AppState>,
    start: Option<Extension<RequestStart>>,
    changing: Result<Changing, WebError>,
    body: Body,
) -> Response {
    let arrived = start.map_or_else(Instant::now, |Extension(RequestStart(at))| at);
    match open(&state, changing, body, arrived).await {
        Ok((answer, version)) => streamed(&state, answer, version, arrived),
        Err(error) => plain_error(error),
    }
}

/// Checks the request, then opens the answer through the chat service, as the OpenAI endpoint does.
async fn open(
    state: &AppState,
    changing: Result<Changing, WebError>,
    body: Body,
    arrived: Instant,
) -> Result<(Answer, i64), WebError> {
    let Changing(session) = changing?;
    let bytes: Bytes = axum::body::to_bytes(body, MAX_CHAT_BODY).await.map_err(|_| {
        WebError::Api(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("The conversation is larger than {} KiB; reload the page to start a new one", MAX_CHAT_BODY / 1024),
        ))
    })?;
    let request: PlaygroundRequest = crate::api::extract::json::parse(&bytes)?;
    let (served, input) = request.into_parts()?;
    let caller = session.principal.with_scope(Scope::Chat)?;
    let sticky = crate::api::chat::sticky_key(&session.principal, input.user.as_deref());
    let target = state.chat.target(&caller, &served, &sticky).await.map_err(refusal)?;
    let version = target.version.number;
    let asker = Asker::chat(session.principal.account.clone(), None, arrived, true, state.settings.chat_timeout);
    let answer = state.chat.open(&target, input, asker).await.map_err(refusal)?;
    Ok((answer, version))
}

/// The answer as events: a task hands each to the response through a small queue, and ends the
/// answer (freeing its place in the concurrency limits) if the browser stops taking them.
fn streamed(state: &AppState, answer: Answer, version: i64, arrived: Instant) -> Response {
    let (tx, rx) = mpsc::channel::<String>(1);
    let write_timeout = state.settings.stream_write_timeout;
    tokio::spawn(async move {
        let send = |event: String| {
            let tx = tx.clone();
            async move { matches!(tokio::time::timeout(write_timeout, tx.send(event)).await, Ok(Ok(()))) }
        };
        let Answer { model, mut stream, .. } = answer;
        while let Some(item) = stream.next().await {
            let event = match item {
                Ok(chunk) => match chunk.content.filter(|c| !c.is_empty()) {
                    Some(text) => event(&json!({"delta": text})),
                    None => continue,
                },
                Err(e) => {
                    send(event(&json!({"error": failed_part_way(&e)}))).await;
                    return;
                }
            };
            if !send(event).await {
                return;
            }
        }
        let latency = u64::try_from(arrived.elapsed().as_millis()).unwrap_or(u64::MAX);
        send(event(&json!({"done": true, "model": model, "version": version, "latencyMs": latency}))).await;
    });
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|event| (Ok::<_, std::convert::Infallible>(event), rx))
    });
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn event(data: &serde_json::Value) -> String {
    format!("data: {data}\n\n")
}

fn failed_part_way(error: &ProviderError) -> &'static str {
    tracing::warn!(error = %error, "the upstream model failed part-way through a playground answer");
    "The model failed part-way through the answer"
}

/// What the chat service refused, with the status the chat endpoints give it.
fn refusal(error: ChatError) -> WebError {
    let api = match error {
        ChatError::NotFound => {
            ApiError::new(ErrorCode::NotFound, "No such agent or version among your deployed agents")
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
        ChatError::ApiAccessOff => ApiError::forbidden("API access is turned off for this agent"),
        ChatError::Limited(Limit::AgentRate { retry_after }) => {
            ApiError::new(ErrorCode::RateLimited, "This agent's request rate limit was reached; retry later")
                .with_retry_after(retry_after)
        }
        ChatError::Limited(_) => {
            ApiError::new(ErrorCode::RateLimited, "Too many answers in flight; retry when one finishes")
                .with_retry_after(1)
        }
        ChatError::Timeout(_) => timed_out(),
        ChatError::Upstream(e) => {
            tracing::warn!(error = %e, "the upstream model failed to answer in the playground");
            match e.last() {
                Some(ProviderError::FirstTokenTimeout(_)) => timed_out(),
                _ => ApiError::new(ErrorCode::UpstreamError, "The model failed to answer"),
            }
        }
        ChatError::Service(e) => e.into(),
    };
    WebError::Api(api)
}

fn timed_out() -> ApiError {
    ApiError::new(ErrorCode::UpstreamTimeout, "The model did not start answering in time")
}

/// An error as the script reads it: the status, and the message as plain text.
fn plain_error(error: WebError) -> Response {
    let (status, message) = match &error {
        WebError::SignIn { .. } => (StatusCode::UNAUTHORIZED, "Your session has ended; sign in again.".to_owned()),
        other => (other.status(), other.message()),
    };
    if let WebError::Api(e) = &error
        && let Some(cause) = e.failure_cause()
    {
        tracing::error!(status = status.as_u16(), cause = %cause, "a playground request failed");
    }
    let mut response = (status, message).into_response();
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    if let WebError::Api(e) = &error
        && let Some(seconds) = e.retry_after()
    {
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: serde_json::Value) -> Result<(ServedRef, ChatInput), WebError> {
        let request: PlaygroundRequest = crate::api::extract::json::parse(body.to_string().as_bytes())?;
        request.into_parts()
    }

    #[test]
    fn a_request_names_the_agent_and_maybe_a_version() {
        let (served, input) =
            parse(json!({"agent": "bot", "version": 2, "messages": [{"role": "user", "content": "hi"}]})).unwrap();
        assert_eq!(served, ServedRef { agent: AgentRef::Slug("bot".into()), pinned: Some(VersionRef::Number(2)) });
        assert_eq!(input.messages[0].text_content(), "hi");
        let (served, _) =
            parse(json!({"agent": "bot", "version": null, "messages": [{"role": "user", "content": "x"}]})).unwrap();
        assert_eq!(served.pinned, None);
    }

    #[test]
    fn a_bad_request_says_what_is_wrong() {
        for (body, field) in [
            (json!({"agent": "bot", "messages": []}), "messages"),
            (json!({"agent": "bot", "version": 0, "messages": [{"role": "user", "content": "x"}]}), "version"),
            (json!({"agent": "bot", "version": "2", "messages": [{"role": "user", "content": "x"}]}), "version"),
            (json!({"agent": "bot", "messages": [{"role": "tool", "content": "x"}]}), "messages[0].role"),
            (json!({"messages": [{"role": "user", "content": "x"}]}), "agent"),
            (json!({"agent": "bot", "messages": [], "extra": 1}), "extra"),
        ] {
            let error = parse(body.clone()).err().unwrap_or_else(|| panic!("{body} was accepted"));
            assert_eq!(error.status(), StatusCode::BAD_REQUEST, "{body}");
            assert!(error.message().contains(field), "{body}: {}", error.message());
        }
    }
}
