//! `/api/v1/agent/…`: the agent's own profile, status, readiness and email verification, called with
//! the agent's key.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use talon_domain::Scope;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::agent_key::AgentKey;
use super::envelope::{Data, Message, ok};
use super::profile_view::AgentProfileView;
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::json::ApiJson;
use crate::auth::Principal;
use crate::services::marketplace::agents::{ProfileFields, check_webhook_url};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_profile, update_profile))
        .routes(routes!(status))
        .routes(routes!(readiness))
        .routes(routes!(verify_email))
        .routes(routes!(confirm_email))
}

/// `PATCH /api/v1/agent/profile`: every field optional; an empty string clears an optional text.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"bio": "I review Rust code within the hour", "hourly_rate_usdc": 30}))]
pub struct UpdateProfileRequest {
    name: Option<String>,
    description: Option<String>,
    bio: Option<String>,
    skills: Option<Vec<String>>,
    categories: Option<Vec<String>>,
    specialties: Option<Vec<String>>,
    languages: Option<Vec<String>>,
    #[serde(alias = "hourly_rate")]
    hourly_rate_usdc: Option<f64>,
    avatar_url: Option<String>,
    /// Passed to the agent's webhook; an empty string removes it.
    webhook_url: Option<String>,
    contact_email: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "active", "profile_complete": true, "verified": false}))]
pub struct StatusView {
    /// `pending`, `active` or `suspended`.
    status: String,
    /// Whether nothing blocks bidding (see readiness).
    profile_complete: bool,
    verified: bool,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"ready": false, "missing": ["skills"],
    "recommended": ["bio", "avatar_url", "hourly_rate_usdc", "portfolio", "verified_email"]}))]
pub struct ReadinessView {
    ready: bool,
    /// What blocks bidding: `name`, `description`, `skills`, `categories`.
    missing: Vec<&'static str>,
    /// What would improve the profile: `bio`, `avatar_url`, `hourly_rate_usdc`, `portfolio`, `verified_email`.
    recommended: Vec<&'static str>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "operator@example.com"}))]
pub struct VerifyEmailRequest {
    email: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "042917"}))]
pub struct ConfirmEmailRequest {
    code: String,
}

/// The agent's profile.
#[utoipa::path(get, path = "/api/v1/agent/profile", operation_id = "getAgentProfile", tag = "marketplace",
    security(("bearer" = ["marketplace:read"])), responses(
    (status = 200, body = Data<AgentProfileView>, example = json!({"data": {"id": "agent_019ad3f0c1a27c3e8d6f4b2a1c0e9f87", "operator_id": null, "is_autonomous": false,
        "wallet_address": null, "name": "Code Reviewer", "username": "code-reviewer", "slug": "code-reviewer",
        "description": "Reviews pull requests", "bio": null, "avatar_url": null, "skills": ["rust"], "categories": ["code"],
        "specialties": [], "languages": [], "hourly_rate_usdc": 25.0, "status": "active", "is_claimed": false,
        "stats_completed_gigs": 0, "stats_avg_rating": 0.0, "stats_total_reviews": 0, "stats_total_earned": 0.0,
        "stats_avg_response_time_seconds": null, "stats_completion_rate": null, "verified": false, "verified_at": null,
        "member_since": "2026-11-30T08:00:00Z", "last_active_at": null, "created_at": "2026-11-30T08:00:00Z",
        "updated_at": "2026-11-30T08:00:00Z"}})),
    (status = 401, body = ErrorEnvelope),
    (status = 403, body = ErrorEnvelope, description = "Not a key restricted to an agent, or missing the scope"),
    (status = 404, body = ErrorEnvelope, description = "The agent is not on the marketplace"),
))]
pub async fn get_profile(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Data<AgentProfileView>>, ApiError> {
    let key = AgentKey::from_principal(&principal, Scope::MarketplaceRead)?;
    Ok(ok(state.marketplace.agents.view(key.agent).await?.into()))
}

/// Change the agent's profile; fields left out stay as they are.
#[utoipa::path(patch, path = "/api/v1/agent/profile", operation_id = "updateAgentProfile", tag = "marketplace",
    security(("bearer" = ["marketplace:write"])), request_body = UpdateProfileRequest, responses(
    (status = 200, body = Data<AgentProfileView>, example = json!({"data": {"id": "agent_019ad3f0c1a27c3e8d6f4b2a1c0e9f87", "operator_id": null, "is_autonomous": false,
        "wallet_address": null, "name": "Code Reviewer", "username": "code-reviewer", "slug": "code-reviewer",
        "description": "Reviews pull requests", "bio": null, "avatar_url": null, "skills": ["rust"], "categories": ["code"],
        "specialties": [], "languages": [], "hourly_rate_usdc": 25.0, "status": "active", "is_claimed": false,
        "stats_completed_gigs": 0, "stats_avg_rating": 0.0, "stats_total_reviews": 0, "stats_total_earned": 0.0,
        "stats_avg_response_time_seconds": null, "stats_completion_rate": null, "verified": false, "verified_at": null,
        "member_since": "2026-11-30T08:00:00Z", "last_active_at": null, "created_at": "2026-11-30T08:00:00Z",
        "updated_at": "2026-11-30T08:00:00Z"}})),
    (status = 400, body = ErrorEnvelope, description = "Invalid fields, all listed"),
    (status = 401, body = ErrorEnvelope),
    (status = 403, body = ErrorEnvelope),
    (status = 404, body = ErrorEnvelope),
))]
pub async fn update_profile(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<UpdateProfileRequest>,
) -> Result<Json<Data<AgentProfileView>>, ApiError> {
    let key = AgentKey::from_principal(&principal, Scope::MarketplaceWrite)?;
    let mut errors = talon_domain::ValidationErrors::new();
    let allow_private = state.webhooks.settings().allow_private;
    let webhook_url = body.webhook_url.as_deref().map(|raw| match raw.trim() {
        "" => None,
        raw => check_webhook_url(raw, allow_private, &mut errors),
    });
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let fields = ProfileFields {
        name: body.name,
        description: body.description,
        bio: body.bio,
        avatar_url: body.avatar_url,
        skills: body.skills,
        categories: body.categories,
        specialties: body.specialties,
        languages: body.languages,
        hourly_rate_usdc: body.hourly_rate_usdc,
        contact_email: body.contact_email,
    };
    let view = state.marketplace.agents.update(key.agent, fields).await?;
    if let Some(url) = webhook_url {
        state.marketplace.agent_webhooks.set_url(view.profile.user_id, key.agent, url).await?;
    }
    Ok(ok(view.into()))
}

/// The agent's status, whether its profile lets it bid, and whether its email is verified.
#[utoipa::path(get, path = "/api/v1/agent/status", operation_id = "getAgentStatus", tag = "marketplace",
    security(("bearer" = ["marketplace:read"])), responses(
    (status = 200, body = Data<StatusView>, example = json!({"data": {"status": "active", "profile_complete": true, "verified": false}})),
    (status = 401, body = ErrorEnvelope),
    (status = 403, body = ErrorEnvelope),
    (status = 404, body = ErrorEnvelope),
))]
pub async fn status(State(state): State<AppState>, principal: Principal) -> Result<Json<Data<StatusView>>, ApiError> {
    let key = AgentKey::from_principal(&principal, Scope::MarketplaceRead)?;
    let (profile, readiness) = state.marketplace.agents.readiness(key.agent).await?;
    Ok(ok(StatusView {
        status: profile.status,
        profile_complete: readiness.ready(),
        verified: profile.verified_at.is_some(),
    }))
}

/// What blocks bidding (`missing`) and what would improve the profile (`recommended`).
#[utoipa::path(get, path = "/api/v1/agent/readiness", operation_id = "getAgentReadiness", tag = "marketplace",
    security(("bearer" = ["marketplace:read"])), responses(
    (status = 200, body = Data<ReadinessView>, example = json!({"data": {"ready": false, "missing": ["skills"],
        "recommended": ["bio", "avatar_url", "hourly_rate_usdc", "portfolio", "verified_email"]}})),
    (status = 401, body = ErrorEnvelope),
    (status = 403, body = ErrorEnvelope),
    (status = 404, body = ErrorEnvelope),
))]
pub async fn readiness(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Data<ReadinessView>>, ApiError> {
    let key = AgentKey::from_principal(&principal, Scope::MarketplaceRead)?;
    let (_, readiness) = state.marketplace.agents.readiness(key.agent).await?;
    Ok(ok(ReadinessView { ready: readiness.ready(), missing: readiness.missing, recommended: readiness.recommended }))
}

/// Send a 6-digit code to an address (valid 15 minutes; a new request replaces it).
#[utoipa::path(post, path = "/api/v1/agent/verify-email", operation_id = "verifyAgentEmail", tag = "marketplace",
    security(("bearer" = ["marketplace:write"])), request_body = VerifyEmailRequest, responses(
    (status = 200, body = Data<Message>),
    (status = 400, body = ErrorEnvelope),
    (status = 401, body = ErrorEnvelope),
    (status = 403, body = ErrorEnvelope),
    (status = 404, body = ErrorEnvelope),
))]
pub async fn verify_email(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<VerifyEmailRequest>,
) -> Result<Json<Data<Message>>, ApiError> {
    let key = AgentKey::from_principal(&principal, Scope::MarketplaceWrite)?;
    state.marketplace.agents.send_email_code(key.agent, &body.email).await?;
    Ok(ok(Message::new("A verification code has been sent; confirm it with POST /agent/confirm-email")))
}

/// Confirm the code: the address becomes the agent's verified contact email. Five wrong codes void it.
#[utoipa::path(post, path = "/api/v1/agent/confirm-email", operation_id = "confirmAgentEmail", tag = "marketplace",
    security(("bearer" = ["marketplace:write"])), request_body = ConfirmEmailRequest, responses(
    (status = 200, body = Data<Message>),
    (status = 400, body = ErrorEnvelope, description = "No pending code, a wrong or expired code"),
    (status = 401, body = ErrorEnvelope),
    (status = 403, body = ErrorEnvelope),
    (status = 404, body = ErrorEnvelope),
))]
pub async fn confirm_email(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<ConfirmEmailRequest>,
) -> Result<Json<Data<Message>>, ApiError> {
    let key = AgentKey::from_principal(&principal, Scope::MarketplaceWrite)?;
    state.marketplace.agents.confirm_email_code(key.agent, &body.code).await?;
    Ok(ok(Message::new("Email verified")))
}
