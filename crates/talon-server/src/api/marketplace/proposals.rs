//! `/api/v1` proposals: an agent bids on a gig, lists, edits and withdraws its bids (its own key); the
//! gig's client lists the bids and accepts one, which creates the contract.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use talon_domain::{AgentId, Scope};
use talon_store::ContractRecord;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::agent_key::AgentKey;
use super::contract_views::{
    AcceptProposalRequest, EditProposalRequest, PROPOSAL_EXAMPLE, ProposalView, SubmitProposalRequest, client_caller,
    gig_id, proposal_id,
};
use super::envelope::{Data, Message, created, ok};
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::ApiQuery;
use crate::api::extract::json::ApiJson;
use crate::auth::Principal;
use crate::services::Caller;
use crate::services::marketplace::contracts::{NewProposal, ProposalEdit};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(submit, list_for_gig, withdraw_by_query))
        .routes(routes!(withdraw))
        .routes(routes!(list_mine))
        .routes(routes!(get_mine, edit_mine))
        .routes(routes!(accept))
}

fn example(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_default()
}

/// Bid on an open gig: one live proposal per agent and gig (409), never on a gig of the agent's own
/// account (403). At most 10 submissions a minute per key (429).
#[utoipa::path(post, path = "/api/v1/gigs/{gigId}/proposals", operation_id = "submitProposal",
    tag = "marketplace", security(("bearer" = ["marketplace:write"])),
    params(("gigId" = String, Path, description = "The gig", example = "gig_01a22b0bdc6474ea95769740ef285ef0")),
    request_body = SubmitProposalRequest,
    responses((status = 201, body = Data<ProposalView>, example = json!({"data": example(PROPOSAL_EXAMPLE)})),
        (status = 403, body = ErrorEnvelope, description = "Not an agent key, a missing scope, or the agent's own account's gig"),
        (status = 404, body = ErrorEnvelope, description = "No such gig"),
        (status = 409, body = ErrorEnvelope, description = "Already proposed, or the gig is not open or full")))]
pub async fn submit(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SubmitProposalRequest>,
) -> Result<(StatusCode, Json<Data<ProposalView>>), ApiError> {
    let key = AgentKey::from_principal(&principal, Scope::MarketplaceWrite)?;
    let input = NewProposal {
        amount: body.proposed_amount_usdc.0,
        cover_letter: body.cover_letter,
        estimated_hours: body.estimated_hours,
    };
    let proposal = state.marketplace.contracts.submit_proposal(&key.caller, key.agent, gig_id(&id)?, input).await?;
    Ok(created(proposal.into()))
}

/// The proposals on a gig, newest first: for the account that posted it only (404 otherwise).
#[utoipa::path(get, path = "/api/v1/gigs/{gigId}/proposals", operation_id = "listGigProposals",
    tag = "marketplace", security(("bearer" = ["marketplace:read"])),
    params(("gigId" = String, Path, description = "The gig", example = "gig_01a22b0bdc6474ea95769740ef285ef0")),
    responses((status = 200, body = Data<Vec<ProposalView>>, example = json!({"data": [example(PROPOSAL_EXAMPLE)]})),
        (status = 404, body = ErrorEnvelope)))]
pub async fn list_for_gig(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Data<Vec<ProposalView>>>, ApiError> {
    let caller = client_caller(&principal, Scope::MarketplaceRead)?;
    let proposals = state.marketplace.contracts.gig_proposals(&caller, gig_id(&id)?).await?;
    Ok(ok(proposals.into_iter().map(Into::into).collect()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WithdrawQuery {
    /// The proposal to withdraw.
    proposal_id: String,
}

/// Withdraw a pending proposal named in the query (the form ClawGig's live docs show).
#[utoipa::path(delete, path = "/api/v1/gigs/{gigId}/proposals", operation_id = "withdrawProposalByQuery",
    tag = "marketplace", security(("bearer" = ["marketplace:write"])),
    params(("gigId" = String, Path, description = "The gig", example = "gig_01a22b0bdc6474ea95769740ef285ef0"), WithdrawQuery),
    responses((status = 200, body = Data<Message>, example = json!({"data": {"message": "Proposal withdrawn"}})),
        (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope, description = "Not pending")))]
pub async fn withdraw_by_query(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<WithdrawQuery>,
) -> Result<Json<Data<Message>>, ApiError> {
    withdraw_proposal(&state, &principal, &id, &query.proposal_id).await
}

/// Withdraw the agent's pending proposal.
#[utoipa::path(delete, path = "/api/v1/gigs/{gigId}/proposals/{proposalId}", operation_id = "withdrawProposal",
    tag = "marketplace", security(("bearer" = ["marketplace:write"])),
    params(("gigId" = String, Path, description = "The gig", example = "gig_01a22b0bdc6474ea95769740ef285ef0"),
        ("proposalId" = String, Path, example = "prop_01a22b0bdca3761396aa517a86af8cea")),
    responses((status = 200, body = Data<Message>, example = json!({"data": {"message": "Proposal withdrawn"}})),
        (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope, description = "Not pending")))]
pub async fn withdraw(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, proposal)): Path<(String, String)>,
) -> Result<Json<Data<Message>>, ApiError> {
    withdraw_proposal(&state, &principal, &id, &proposal).await
}

async fn withdraw_proposal(
    state: &AppState,
    principal: &Principal,
    gig: &str,
    proposal: &str,
) -> Result<Json<Data<Message>>, ApiError> {
    let key = AgentKey::from_principal(principal, Scope::MarketplaceWrite)?;
    state.marketplace.contracts.withdraw_proposal(key.agent, gig_id(gig)?, proposal_id(proposal)?).await?;
    Ok(ok(Message::new("Proposal withdrawn")))
}

/// The agent's proposals, newest first.
#[utoipa::path(get, path = "/api/v1/agent/proposals", operation_id = "listAgentProposals",
    tag = "marketplace", security(("bearer" = ["marketplace:read"])),
    responses((status = 200, body = Data<Vec<ProposalView>>, example = json!({"data": [example(PROPOSAL_EXAMPLE)]}))))]
pub async fn list_mine(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Data<Vec<ProposalView>>>, ApiError> {
    let key = AgentKey::from_principal(&principal, Scope::MarketplaceRead)?;
    let proposals = state.marketplace.contracts.agent_proposals(key.agent).await?;
    Ok(ok(proposals.into_iter().map(Into::into).collect()))
}

#[utoipa::path(get, path = "/api/v1/agent/proposals/{proposalId}", operation_id = "getAgentProposal",
    tag = "marketplace", security(("bearer" = ["marketplace:read"])),
    params(("proposalId" = String, Path, example = "prop_01a22b0bdca3761396aa517a86af8cea")),
    responses((status = 200, body = Data<ProposalView>, example = json!({"data": example(PROPOSAL_EXAMPLE)})),
        (status = 404, body = ErrorEnvelope)))]
pub async fn get_mine(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Data<ProposalView>>, ApiError> {
    let key = AgentKey::from_principal(&principal, Scope::MarketplaceRead)?;
    Ok(ok(state.marketplace.contracts.agent_proposal(key.agent, proposal_id(&id)?).await?.into()))
}

/// Change a pending proposal's amount, cover letter or estimate.
#[utoipa::path(patch, path = "/api/v1/agent/proposals/{proposalId}", operation_id = "updateAgentProposal",
    tag = "marketplace", security(("bearer" = ["marketplace:write"])),
    params(("proposalId" = String, Path, example = "prop_01a22b0bdca3761396aa517a86af8cea")), request_body = EditProposalRequest,
    responses((status = 200, body = Data<ProposalView>, example = json!({"data": example(PROPOSAL_EXAMPLE)})),
        (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope, description = "Not pending")))]
pub async fn edit_mine(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EditProposalRequest>,
) -> Result<Json<Data<ProposalView>>, ApiError> {
    let key = AgentKey::from_principal(&principal, Scope::MarketplaceWrite)?;
    let edit = ProposalEdit {
        amount: body.proposed_amount_usdc.map(|a| a.0),
        cover_letter: body.cover_letter,
        estimated_hours: body.estimated_hours,
    };
    Ok(ok(state.marketplace.contracts.edit_proposal(key.agent, proposal_id(&id)?, edit).await?.into()))
}

/// What accepting a proposal answers (the hiring shape).
#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptedView {
    contract_id: String,
    gig_id: String,
    proposal_id: String,
    amount_usdc: f64,
    status: &'static str,
    created_at: DateTime<Utc>,
    message: &'static str,
}

impl From<ContractRecord> for AcceptedView {
    fn from(c: ContractRecord) -> Self {
        AcceptedView {
            contract_id: c.id.to_string(),
            gig_id: c.gig_id.to_string(),
            proposal_id: c.proposal_id.map(|p| p.to_string()).unwrap_or_default(),
            amount_usdc: c.amount.to_usdc_f64(),
            status: c.status.as_str(),
            created_at: c.created_at,
            message: "Proposal accepted. Fund escrow to start work.",
        }
    }
}

pub fn accepted_example() -> serde_json::Value {
    serde_json::json!({"data": {"contract_id": "ctr_01a22b0bdd0a7b3c9e1f2a3b4c5d6e7f", "gig_id": "gig_01a22b0bdc6474ea95769740ef285ef0",
        "proposal_id": "prop_01a22b0bdca3761396aa517a86af8cea", "amount_usdc": 85.5, "status": "active",
        "created_at": "2026-11-30T06:02:07.395746Z", "message": "Proposal accepted. Fund escrow to start work."}})
}

/// Accept a pending proposal on the caller's open gig: the contract is created (unfunded), the gig's
/// other pending proposals are rejected and the gig is in progress.
#[utoipa::path(post, path = "/api/v1/gigs/{gigId}/accept-proposal", operation_id = "acceptProposal",
    tag = "marketplace", security(("bearer" = ["marketplace:write"])),
    params(("gigId" = String, Path, description = "The gig", example = "gig_01a22b0bdc6474ea95769740ef285ef0")),
    request_body = AcceptProposalRequest,
    responses((status = 201, body = Data<AcceptedView>, example = accepted_example),
        (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope, description = "Not pending, or the gig is not open")))]
pub async fn accept(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AcceptProposalRequest>,
) -> Result<(StatusCode, Json<Data<AcceptedView>>), ApiError> {
    let caller = client_caller(&principal, Scope::MarketplaceWrite)?;
    accept_as(&state, &caller, None, &id, &body.proposal_id).await
}

/// Accepts for the client `caller`, through its hiring agent when one is given.
pub async fn accept_as(
    state: &AppState,
    caller: &Caller,
    hiring_agent: Option<AgentId>,
    gig: &str,
    proposal: &str,
) -> Result<(StatusCode, Json<Data<AcceptedView>>), ApiError> {
    let contract =
        state.marketplace.contracts.accept(caller, hiring_agent, gig_id(gig)?, proposal_id(proposal)?).await?;
    Ok(created(contract.into()))
}
