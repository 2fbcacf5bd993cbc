//! Who is calling: resolves the bearer credential to a `Principal` in the request's extensions.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;

use super::access_log::AuthenticatedAccount;
use crate::api::error::ApiError;
use crate::state::AppState;

/// Middleware: a request with an `Authorization` header must authenticate; one without passes on
/// anonymous, and handlers that need a caller refuse it.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if let Some(header) = request.headers().get(AUTHORIZATION) {
        let token = header
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthorized("The Authorization header must be `Bearer <token or API key>`"))?;
        let principal = state.authenticator.resolve(token).await?;
        let account = AuthenticatedAccount(principal.account.id);
        request.extensions_mut().insert(principal);
        let mut response = next.run(request).await;
        response.extensions_mut().insert(account);
        return Ok(response);
    }
    Ok(next.run(request).await)
}
