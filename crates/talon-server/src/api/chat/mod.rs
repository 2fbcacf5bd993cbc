//! The chat surfaces: the OpenAI-compatible `/v1` API and the chat API (`/api/v1/chat`,
//! `/api/v1/bot/{id}/chat`), their request bodies, and the JSON/SSE answer rendering they share.

mod answer;
pub mod chat_api;
pub mod openai;
pub mod requests;

use axum::Extension;

use crate::api::middleware::metrics::RequestStart;
use crate::auth::{Credential, Principal};
use crate::services::chat::Asker;
use crate::state::AppState;

/// Who asks, for the chat service: the account whose limits apply, the key, and when the request
/// arrived (the chat service's policy sets the deadlines from the configured chat timeout).
fn asker(state: &AppState, principal: &Principal, start: Option<Extension<RequestStart>>, stream: bool) -> Asker {
    let key = match &principal.credential {
        Credential::ApiKey { id, .. } => Some(*id),
        Credential::Session { .. } => None,
    };
    let arrived = start.map_or_else(std::time::Instant::now, |Extension(RequestStart(at))| at);
    Asker::chat(principal.account.clone(), key, arrived, stream, state.settings.chat_timeout)
}

/// What keeps an end user on one arm of a canary split: the request's `user`, else the key or session
/// that sent it.
pub fn sticky_key(principal: &Principal, user: Option<&str>) -> String {
    match user {
        Some(user) => format!("user:{user}"),
        None => principal.idempotency_scope(),
    }
}
