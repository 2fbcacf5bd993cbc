//! The marketplace's own budgets, on top of the 100 requests a minute every key has: by default 1,000
//! requests an hour per key across the marketplace, and 10 proposal submissions a minute per key (every
//! POST to `/api/v1/gigs/{id}/proposals` counts, accepted or refused); plans may set others. A refusal is 429 with `Retry-After` in
//! whole seconds and the refusing window in `X-RateLimit-*`.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::error::{ApiError, ErrorCode};
use crate::auth::Principal;
use crate::limits::{Window, now_ms};
use crate::state::AppState;

const HOUR: Duration = Duration::from_secs(3_600);
const MINUTE: Duration = Duration::from_secs(60);

/// `/api/v1/gigs/{id}/proposals`, the submission path.
fn is_proposal_submission(method: &Method, path: &str) -> bool {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    method == Method::POST && matches!(segments.as_slice(), ["", "api", "v1", "gigs", _, "proposals"])
}

pub async fn enforce(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // The budget is the marketplace surface's (`/api/v1`), not the listing route under `/api/agents`
    // or the claim page that share its router.
    let Some(principal) =
        request.extensions().get::<Principal>().filter(|_| request.uri().path().starts_with("/api/v1/"))
    else {
        return next.run(request).await;
    };
    let plan = state.plans.get(&principal.account.plan);
    let subject = principal.rate_limit_subject();
    let hourly = plan.marketplace_requests_per_hour;
    let mut windows = vec![Window { key: format!("market-hour:{subject}"), max: hourly, period: HOUR }];
    let submission = is_proposal_submission(request.method(), request.uri().path());
    if submission {
        windows.push(Window {
            key: format!("market-proposals:{subject}"),
            max: plan.proposals_per_minute,
            period: MINUTE,
        });
    }
    let admission = match state.limiter.admit(&windows, now_ms()).await {
        Ok(admission) => admission,
        Err(e) => {
            // As the general limiter does: serving without these limits beats refusing everyone.
            tracing::error!(error = %e, "marketplace rate limiter failed; admitting the request");
            return next.run(request).await;
        }
    };
    if admission.allowed {
        return next.run(request).await;
    }
    let message = if submission && admission.limit == plan.proposals_per_minute {
        format!("Too many proposal submissions: at most {} a minute per key", plan.proposals_per_minute)
    } else {
        format!("Marketplace rate limit exceeded: at most {hourly} requests an hour per key")
    };
    let mut response =
        ApiError::new(ErrorCode::RateLimited, message).with_retry_after(admission.retry_after).into_response();
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-limit", HeaderValue::from(admission.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(admission.remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(admission.reset_at));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_posts_to_a_gigs_proposals_count_as_submissions() {
        assert!(is_proposal_submission(&Method::POST, "/api/v1/gigs/gig_1/proposals"));
        assert!(is_proposal_submission(&Method::POST, "/api/v1/gigs/gig_1/proposals/"));
        assert!(!is_proposal_submission(&Method::GET, "/api/v1/gigs/gig_1/proposals"));
        assert!(!is_proposal_submission(&Method::DELETE, "/api/v1/gigs/gig_1/proposals/prop_1"));
        assert!(!is_proposal_submission(&Method::POST, "/api/v1/gigs/gig_1/accept-proposal"));
    }
}
