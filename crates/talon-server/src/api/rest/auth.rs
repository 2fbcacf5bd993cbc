use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use talon_domain::Account;
use utoipa::ToSchema;

use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::ClientAddr;
use crate::api::extract::json::ApiJson;
use crate::auth::Principal;
use crate::services::accounts::Session;
use crate::state::AppState;

/// An email and password, to register or to sign in.
#[derive(Deserialize, ToSchema)]
// Optional in Rust so that a missing one is reported with the other's faults; both are required.
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "you@example.com", "password": "your-secure-password"}))]
pub struct Credentials {
    /// The account's email address (compared trimmed and lower-cased).
    #[schema(example = "you@example.com", required = true, value_type = String, min_length = 1)]
    email: Option<String>,
    /// The account's password.
    #[schema(example = "your-secure-password", required = true, value_type = String)]
    password: Option<String>,
}

// Never built: registration reads `Credentials`; this states the rules it applies to them.
/// A new account's email and password. Unknown fields are refused.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "you@example.com", "password": "your-secure-password"}))]
#[allow(dead_code)]
struct NewCredentials {
    /// Trimmed and lowercased: one `@`, a dot inside the domain, no whitespace or control characters.
    #[schema(
        example = "you@example.com",
        max_length = 254,
        pattern = r"^\s*[^@\s\x00-\x1f\x7f-\x9f]+@[^@.\s\x00-\x1f\x7f-\x9f][^@\s\x00-\x1f\x7f-\x9f]*\.[^@\s\x00-\x1f\x7f-\x9f]*[^@.\s\x00-\x1f\x7f-\x9f]\s*$"
    )]
    email: String,
    /// At least 8 characters and at most 1024 bytes, not only whitespace.
    #[schema(example = "your-secure-password", min_length = 8, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    password: String,
}

#[derive(Serialize, ToSchema)]
pub struct UserView {
    #[schema(example = "user_0193a4c1e5d27c3e8f1a2b3c4d5e6f70")]
    id: String,
    email: String,
}

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    /// A session token (JWT) for `Authorization: Bearer …`.
    token: String,
    user: UserView,
}

impl From<Session> for SessionView {
    fn from(session: Session) -> Self {
        SessionView {
            token: session.token,
            user: UserView { id: session.account.id.to_string(), email: session.account.email },
        }
    }
}

/// The answer to every well-formed registration, whether or not the email already had an account.
#[derive(Serialize, ToSchema)]
pub struct RegistrationView {
    #[schema(example = "you@example.com")]
    email: String,
    message: &'static str,
}

/// The signed-in account.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "user_01a22b0bdc0576358ca0307875d257d5", "email": "you@example.com", "plan": "default",
    "createdAt": "2026-11-30T06:02:07.237964Z"}))]
pub struct AccountView {
    id: String,
    email: String,
    plan: String,
    #[serde(rename = "createdAt")]
    created_at: DateTime<Utc>,
}

impl From<Account> for AccountView {
    fn from(account: Account) -> Self {
        AccountView {
            id: account.id.to_string(),
            email: account.email,
            plan: account.plan,
            created_at: account.created_at,
        }
    }
}

/// Create an account, then sign in with `/api/auth/login`. The answer is the same whether or not the
/// email already has an account (whose password is then left unchanged), so it does not reveal who
/// has one.
#[utoipa::path(post, path = "/api/auth/register", operation_id = "register",
    tag = "auth", request_body = NewCredentials, responses(
    (status = 202, body = RegistrationView, description = "Registered, unless the email already had an account"),
    (status = 400, body = ErrorEnvelope, description = "Invalid email, weak password or unknown fields"),
    (status = 429, body = ErrorEnvelope, description = "Too many registrations from this address (see Retry-After)"),
    (status = 503, body = ErrorEnvelope, description = "Too many passwords being hashed; retry shortly"),
))]
pub async fn register(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<(StatusCode, Json<RegistrationView>), ApiError> {
    state.auth_guard.admit_register(client).await?;
    let _hashing = state.auth_guard.hashing_place().await?;
    let email = state.accounts.register(body.email.as_deref(), body.password.as_deref()).await?;
    let message = "Sign in with POST /api/auth/login to get a session token";
    Ok((StatusCode::ACCEPTED, Json(RegistrationView { email, message })))
}

/// Exchange an email and password for a session token.
#[utoipa::path(post, path = "/api/auth/login", operation_id = "login",
    tag = "auth", request_body = Credentials, responses(
    (status = 200, body = SessionView),
    (status = 400, body = ErrorEnvelope, description = "A missing field, a wrong type or unknown fields"),
    (status = 401, body = ErrorEnvelope, description = "Wrong email or password"),
    (status = 429, body = ErrorEnvelope, description = "Too many attempts for this email or from this address (see Retry-After)"),
    (status = 503, body = ErrorEnvelope, description = "Too many passwords being hashed; retry shortly"),
))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Json<SessionView>, ApiError> {
    state.auth_guard.admit_login(client, body.email.as_deref()).await?;
    let _hashing = state.auth_guard.hashing_place().await?;
    let session = state.accounts.login(body.email.as_deref(), body.password.as_deref()).await?;
    Ok(Json(session.into()))
}

/// The account behind the presented token or API key.
#[utoipa::path(get, path = "/api/auth/me", operation_id = "getCurrentAccount",
    tag = "auth", security(("bearer" = [])), responses(
    (status = 200, body = AccountView),
    (status = 401, body = ErrorEnvelope),
))]
pub async fn me(principal: Principal) -> Json<AccountView> {
    Json(principal.account.into())
}

/// End the session whose token is presented; the token is refused from then on, on every replica.
#[utoipa::path(post, path = "/api/auth/logout", operation_id = "logout",
    tag = "auth", security(("bearer" = [])), responses(
    (status = 204, description = "Signed out"),
    (status = 401, body = ErrorEnvelope),
    (status = 403, body = ErrorEnvelope, description = "An API key was presented: revoke keys with DELETE /api/api-keys/{id}"),
))]
pub async fn logout(State(state): State<AppState>, principal: Principal) -> Result<StatusCode, ApiError> {
    let (session, expires_at) = principal.session()?;
    state.accounts.logout(principal.account.id, session, expires_at).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sign out everywhere: end every session of the account issued so far, this one included. API keys
/// are not affected. New sign-ins work at once.
#[utoipa::path(post, path = "/api/auth/sessions/revoke-all", operation_id = "revokeAllSessions",
    tag = "auth", security(("bearer" = [])), responses(
    (status = 204, description = "Every session ended"),
    (status = 401, body = ErrorEnvelope),
    (status = 403, body = ErrorEnvelope, description = "An API key was presented: sessions are ended by a session"),
))]
pub async fn revoke_all_sessions(State(state): State<AppState>, principal: Principal) -> Result<StatusCode, ApiError> {
    principal.session()?;
    state.accounts.revoke_all_sessions(principal.account.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
