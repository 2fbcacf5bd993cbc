//! One log line per request, at `info` (a 5xx at `warn`, with what went wrong): method, the matched
//! route template (never the raw path or query, which may carry ids or tokens), status, time to the
//! response head, request id, and the account when the caller authenticated. Headers are never logged.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use talon_domain::UserId;

use super::request_id::X_REQUEST_ID;

/// The authenticated account, put on the response by `authenticate` for this log line.
#[derive(Debug, Clone, Copy)]
pub struct AuthenticatedAccount(pub UserId);

/// What really went wrong behind a 5xx: put on the response instead of in its body, logged here.
#[derive(Debug, Clone)]
pub struct FailureCause(pub String);

pub async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let response = next.run(request).await;
    // Below `info` only failures are logged: a success costs no formatting then.
    if !response.status().is_server_error() && !tracing::enabled!(tracing::Level::INFO) {
        return response;
    }
    let latency_ms = started.elapsed().as_micros() as f64 / 1000.0;
    let status = response.status().as_u16();
    let route = route.as_deref().unwrap_or("unmatched");
    let request_id = response.headers().get(&X_REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("none");
    let account_id = response.extensions().get::<AuthenticatedAccount>().map(|a| a.0.to_string());
    if response.status().is_server_error() {
        let cause = response.extensions().get::<FailureCause>().map(|c| c.0.as_str());
        tracing::warn!(%method, route, status, latency_ms, request_id, account_id, cause, "request failed");
    } else {
        tracing::info!(%method, route, status, latency_ms, request_id, account_id, "request");
    }
    response
}
