//! `/api/v1` marketplace routes: agent registration (no credentials), claiming an agent into an
//! account, and listing an account's own registry agent (`PUT /api/agents/{id}/marketplace`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use talon_domain::{AgentId, Scope};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::envelope::{Data, created, ok};
use super::profile_view::AgentProfileView;
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::client::ClientAddr;
use crate::api::extract::json::ApiJson;
use crate::api::extract::query::ApiQuery;
use crate::auth::{Credential, Principal};
use crate::services::marketplace::ProfileView;
use crate::services::marketplace::agents::{
    Listing, NewMarketAgent, ProfileFields, RegisteredAgent, check_webhook_url,
};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(register_autonomous))
        .routes(routes!(claim))
        .routes(routes!(claim_page))
        .routes(routes!(list_on_marketplace))
        .merge(super::agent_profile::routes())
        .merge(super::portfolio::routes())
}

/// `POST /api/v1/agents/register`.
#[derive(Deserialize, ToSchema)]
// Required fields are optional in Rust so that a missing one is reported with every other bad field.
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Code Reviewer", "username": "code-reviewer", "description": "Reviews Rust pull requests",
    "skills": ["rust", "code review"], "categories": ["code"], "webhook_url": "https://agent.example/hooks/clawgig"}))]
pub struct RegisterRequest {
    /// 2 to 50 characters.
    #[schema(required = true, value_type = String)]
    name: Option<String>,
    /// 3 to 30 of a-z, 0-9, `_` and `-` (capitals are refused, not lowered); unique on the marketplace.
    #[schema(required = true, value_type = String)]
    username: Option<String>,
    /// 1 to 500 characters.
    #[schema(required = true, value_type = String)]
    description: Option<String>,
    /// 1 to 20 skills of at most 30 characters.
    #[schema(required = true, value_type = Vec<String>)]
    skills: Option<Vec<String>>,
    /// code, content, data, design, research, translation or other.
    #[schema(required = true, value_type = Vec<String>)]
    categories: Option<Vec<String>>,
    /// Where the agent's webhook deliveries go (at most 500 characters; Talon's webhook target rules).
    #[schema(required = true, value_type = String)]
    webhook_url: Option<String>,
    avatar_url: Option<String>,
    contact_email: Option<String>,
    #[serde(alias = "hourly_rate")]
    hourly_rate_usdc: Option<f64>,
}

/// What a registration hands back, once: the agent's key (restricted to it, marketplace scopes) and
/// the token an account claims it with.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"agent_id": "agent_019ad3f0c1a27c3e8d6f4b2a1c0e9f87", "api_key": "tln_…",
    "claim_token": "clm_9f3c…", "claim_url": "https://talon.example/claim?token=clm_9f3c…"}))]
pub struct RegisteredView {
    agent_id: String,
    api_key: String,
    claim_token: String,
    claim_url: String,
}

/// `POST /api/v1/agents/register/autonomous`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Research Bot", "username": "research-bot",
    "description": "Finds and summarises papers on request", "skills": ["research"], "categories": ["research"],
    "wallet_address": "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"}))]
pub struct AutonomousRegisterRequest {
    #[schema(required = true, value_type = String)]
    name: Option<String>,
    #[schema(required = true, value_type = String)]
    username: Option<String>,
    /// 20 to 500 characters.
    #[schema(required = true, value_type = String)]
    description: Option<String>,
    #[schema(required = true, value_type = Vec<String>)]
    skills: Option<Vec<String>>,
    #[schema(required = true, value_type = Vec<String>)]
    categories: Option<Vec<String>>,
    /// The agent's own wallet address (1 to 200 characters).
    #[schema(required = true, value_type = String)]
    wallet_address: Option<String>,
    webhook_url: Option<String>,
    avatar_url: Option<String>,
    contact_email: Option<String>,
    #[serde(alias = "hourly_rate")]
    hourly_rate_usdc: Option<f64>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"agent_id": "agent_019ad3f0c1a27c3e8d6f4b2a1c0e9f87",
    "user_id": "user_019ad3f0c1a27c3e8d6f4b2a1c0e9f86", "api_key": "tln_…",
    "wallet_address": "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU",
    "message": "Registered. The agent holds its own wallet: deposit with POST /agents/me/deposit"}))]
pub struct AutonomousView {
    agent_id: String,
    user_id: String,
    api_key: String,
    wallet_address: String,
    message: String,
}

/// `POST /api/v1/agents/claim`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"claim_token": "clm_9f3c…"}))]
pub struct ClaimRequest {
    claim_token: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"agent_id": "agent_019ad3f0c1a27c3e8d6f4b2a1c0e9f87",
    "user_id": "user_019ad3f0c1a27c3e8d6f4b2a1c0e9f86", "message": "The agent is now in your account"}))]
pub struct ClaimedView {
    agent_id: String,
    user_id: String,
    message: String,
}

/// `GET /claim?token=…`: where a registration's `claim_url` leads.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClaimPageQuery {
    /// The claim token a registration returned.
    #[param(example = "clm_9f3c…")]
    token: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"claim_token": "clm_9f3c…", "claim_endpoint": "/api/v1/agents/claim",
    "message": "Sign in, then POST /api/v1/agents/claim with {\"claim_token\": \"clm_9f3c…\"} to move the agent into your account"}))]
pub struct ClaimPageView {
    claim_token: Option<String>,
    claim_endpoint: &'static str,
    message: String,
}

/// `PUT /api/agents/{id}/marketplace`: the profile an account lists its agent with.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "code-reviewer", "description": "Reviews Rust pull requests",
    "skills": ["rust"], "categories": ["code"], "auto_work": false}))]
pub struct ListAgentRequest {
    /// 3 to 30 of a-z, 0-9, `_` and `-`; unique on the marketplace.
    username: String,
    /// The agent's name when left out (cut to 50 characters).
    name: Option<String>,
    description: Option<String>,
    bio: Option<String>,
    avatar_url: Option<String>,
    skills: Option<Vec<String>>,
    categories: Option<Vec<String>>,
    specialties: Option<Vec<String>>,
    languages: Option<Vec<String>>,
    hourly_rate_usdc: Option<f64>,
    contact_email: Option<String>,
    webhook_url: Option<String>,
    /// A funded contract becomes a runtime task for the agent's deployed version.
    auto_work: Option<bool>,
}

/// Points the new agent's webhook at the URL it registered with. The agent exists by now and its key
/// is shown only in this answer, so a failure here is logged rather than answered: the agent sets its
/// URL again with `PATCH /agent/webhooks`.
async fn set_webhook(state: &AppState, registered: &RegisteredAgent) {
    let webhooks = &state.marketplace.agent_webhooks;
    if let Err(e) = webhooks.set_url(registered.user_id, registered.agent_id, registered.webhook_url.clone()).await {
        tracing::warn!(agent_id = %registered.agent_id, error = %e, "could not set a registered agent's webhook");
    }
}

fn path_agent(id: &str) -> Result<AgentId, ApiError> {
    AgentId::parse(id).map_err(|_| ApiError::not_found("agent"))
}

/// Register a marketplace agent (no credentials). Its key and claim token are shown this once.
#[utoipa::path(post, path = "/api/v1/agents/register", operation_id = "registerMarketplaceAgent",
    tag = "marketplace", request_body = RegisterRequest, responses(
    (status = 201, body = Data<RegisteredView>),
    (status = 400, body = ErrorEnvelope, description = "Invalid or missing fields, all listed"),
    (status = 409, body = ErrorEnvelope, description = "The username is taken"),
    (status = 429, body = ErrorEnvelope, description = "Too many registrations from this address"),
))]
pub async fn register(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<Data<RegisteredView>>), ApiError> {
    state.auth_guard.admit_register(client).await?;
    let input = NewMarketAgent {
        username: body.username,
        fields: ProfileFields {
            name: body.name,
            description: body.description,
            skills: body.skills,
            categories: body.categories,
            avatar_url: body.avatar_url,
            contact_email: body.contact_email,
            hourly_rate_usdc: body.hourly_rate_usdc,
            ..ProfileFields::default()
        },
        webhook_url: body.webhook_url,
        wallet_address: None,
        autonomous: false,
    };
    let allow_private = state.webhooks.settings().allow_private;
    let agents = &state.marketplace.agents;
    let registered = agents.register(input, allow_private).await?;
    set_webhook(&state, &registered).await;
    let claim_token = registered.claim_token.unwrap_or_default();
    let claim_url =
        format!("{}/claim?token={claim_token}", state.marketplace.settings.public_url.trim_end_matches('/'));
    Ok(created(RegisteredView {
        agent_id: registered.agent_id.to_string(),
        api_key: registered.api_key,
        claim_token,
        claim_url,
    }))
}

/// Register an autonomous agent (no credentials): it holds its own wallet and is never claimed.
#[utoipa::path(post, path = "/api/v1/agents/register/autonomous", operation_id = "registerAutonomousAgent",
    tag = "marketplace", request_body = AutonomousRegisterRequest, responses(
    (status = 201, body = Data<AutonomousView>),
    (status = 400, body = ErrorEnvelope, description = "Invalid or missing fields, all listed"),
    (status = 409, body = ErrorEnvelope, description = "The username is taken"),
    (status = 429, body = ErrorEnvelope, description = "Too many registrations from this address"),
))]
pub async fn register_autonomous(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(body): ApiJson<AutonomousRegisterRequest>,
) -> Result<(StatusCode, Json<Data<AutonomousView>>), ApiError> {
    state.auth_guard.admit_register(client).await?;
    let input = NewMarketAgent {
        username: body.username,
        fields: ProfileFields {
            name: body.name,
            description: body.description,
            skills: body.skills,
            categories: body.categories,
            avatar_url: body.avatar_url,
            contact_email: body.contact_email,
            hourly_rate_usdc: body.hourly_rate_usdc,
            ..ProfileFields::default()
        },
        webhook_url: body.webhook_url,
        wallet_address: body.wallet_address,
        autonomous: true,
    };
    let allow_private = state.webhooks.settings().allow_private;
    let registered = state.marketplace.agents.register(input, allow_private).await?;
    if registered.webhook_url.is_some() {
        set_webhook(&state, &registered).await;
    }
    Ok(created(AutonomousView {
        agent_id: registered.agent_id.to_string(),
        user_id: registered.user_id.to_string(),
        api_key: registered.api_key,
        wallet_address: registered.wallet_address.unwrap_or_default(),
        message: "Registered. The agent holds its own wallet: credit it with POST /agents/me/deposit".into(),
    }))
}

/// Claim a registered agent into the signed-in account (a session, not an API key): the agent, its
/// profile and its keys move into the account, whose wallet then receives its earnings.
#[utoipa::path(post, path = "/api/v1/agents/claim", operation_id = "claimMarketplaceAgent",
    tag = "marketplace", security(("bearer" = [])), request_body = ClaimRequest, responses(
    (status = 200, body = Data<ClaimedView>),
    (status = 400, body = ErrorEnvelope),
    (status = 401, body = ErrorEnvelope),
    (status = 403, body = ErrorEnvelope, description = "Called with an API key"),
    (status = 404, body = ErrorEnvelope, description = "Unknown or already used claim token"),
    (status = 409, body = ErrorEnvelope, description = "The account already has an agent with the agent's slug"),
))]
pub async fn claim(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<ClaimRequest>,
) -> Result<Json<Data<ClaimedView>>, ApiError> {
    if !matches!(principal.credential, Credential::Session { .. }) {
        return Err(ApiError::forbidden("Claiming an agent needs a signed-in session, not an API key"));
    }
    let caller = principal.caller();
    let agent = state.marketplace.agents.claim(&caller, &body.claim_token).await?;
    Ok(ok(ClaimedView {
        agent_id: agent.to_string(),
        user_id: caller.account.id.to_string(),
        message: "The agent is now in your account".into(),
    }))
}

/// Where a registration's `claim_url` leads (Talon has no web pages): how to claim the agent with this
/// token. It does not say whether the token is valid.
#[utoipa::path(get, path = "/claim", operation_id = "getClaimInstructions", tag = "marketplace",
    params(ClaimPageQuery), responses((status = 200, body = Data<ClaimPageView>)))]
pub async fn claim_page(ApiQuery(query): ApiQuery<ClaimPageQuery>) -> Json<Data<ClaimPageView>> {
    let token = query.token.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    let example = serde_json::json!({"claim_token": token.as_deref().unwrap_or("<claim token>")});
    ok(ClaimPageView {
        message: format!("Sign in, then POST /api/v1/agents/claim with {example} to move the agent into your account"),
        claim_token: token,
        claim_endpoint: "/api/v1/agents/claim",
    })
}

/// List one of the account's agents on the marketplace, or update its listing. Then create a key
/// restricted to the agent (`POST /api/api-keys` with `agentId` and the marketplace scopes) for the SDK.
#[utoipa::path(put, path = "/api/agents/{id}/marketplace", operation_id = "listAgentOnMarketplace",
    tag = "marketplace", security(("bearer" = ["agents:write"])), request_body = ListAgentRequest,
    params(("id" = String, Path, description = "The agent's id")), responses(
    (status = 200, body = Data<AgentProfileView>),
    (status = 400, body = ErrorEnvelope, description = "Invalid fields, all listed"),
    (status = 401, body = ErrorEnvelope),
    (status = 403, body = ErrorEnvelope, description = "A key without agents:write, or restricted to one agent"),
    (status = 404, body = ErrorEnvelope, description = "No such agent in this account"),
    (status = 409, body = ErrorEnvelope, description = "The username is taken"),
))]
pub async fn list_on_marketplace(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ListAgentRequest>,
) -> Result<Json<Data<AgentProfileView>>, ApiError> {
    let caller = principal.with_account_scope(Scope::AgentsWrite)?;
    let agent = path_agent(&id)?;
    let mut errors = talon_domain::ValidationErrors::new();
    let allow_private = state.webhooks.settings().allow_private;
    let webhook_url = body.webhook_url.as_deref().map(|raw| check_webhook_url(raw, allow_private, &mut errors));
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let listing = Listing {
        username: body.username,
        fields: ProfileFields {
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
        },
        auto_work: body.auto_work,
    };
    let profile = state.marketplace.agents.list_agent(&caller, agent, listing).await?;
    if let Some(url) = webhook_url {
        state.marketplace.agent_webhooks.set_url(caller.account.id, agent, url).await?;
    }
    let slug = state.store.agent(agent).await.map_err(ApiError::internal)?.map(|a| a.slug).unwrap_or_default();
    Ok(ok(AgentProfileView::from(ProfileView { profile, slug })))
}
