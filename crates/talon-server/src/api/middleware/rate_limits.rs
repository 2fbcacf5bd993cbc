use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Duration;

use crate::api::error::{ApiError, ErrorCode};
use crate::auth::Principal;
use crate::limits::{Admission, Window, now_ms};
use crate::state::AppState;

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

/// Counts each authenticated request against its key's (or session's) minute and its account's day,
/// and reports the budget in `X-RateLimit-*` headers on every authenticated response.
pub async fn enforce_rate_limits(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(principal) = request.extensions().get::<Principal>() else {
        return next.run(request).await;
    };
    let plan = state.plans.get(&principal.account.plan);
    let windows = [
        Window { key: principal.rate_limit_subject(), max: plan.key_requests_per_minute, period: MINUTE },
        Window { key: format!("account:{}", principal.account.id), max: plan.account_requests_per_day, period: DAY },
    ];
    let admission = match state.limiter.admit(&windows, now_ms()).await {
        Ok(admission) => admission,
        Err(e) => {
            // Serving without limits beats refusing everyone while the limiter's backend is down.
            tracing::error!(error = %e, "rate limiter failed; admitting the request");
            metrics::counter!("talon_rate_limiter_errors_total").increment(1);
            return next.run(request).await;
        }
    };
    let mut response = if admission.allowed {
        next.run(request).await
    } else {
        ApiError::new(ErrorCode::RateLimited, "Rate limit exceeded; retry after the reset time")
            .with_retry_after(admission.retry_after)
            .into_response()
    };
    set_headers(response.headers_mut(), &admission);
    response
}

/// A response that already reports a budget (an inner limit, such as the marketplace's, refused it)
/// keeps that report.
fn set_headers(headers: &mut HeaderMap, admission: &Admission) {
    if headers.contains_key("x-ratelimit-limit") {
        return;
    }
    headers.insert("x-ratelimit-limit", HeaderValue::from(admission.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(admission.remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(admission.reset_at));
}
