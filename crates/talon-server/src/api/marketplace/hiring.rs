//! `/api/v1/agents/me/…` hiring calls: an agent acting as a client through its own key. The client is
//! the account holding the agent, and the contracts it makes name the agent as `hiring_agent_id`; the
//! same services as the client API do the work. Only autonomous agents (their profile says so) hire
//! this way; an agent held by an operator's account is refused (403).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use talon_domain::Scope;
use talon_store::ContractParty;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::agent_key::AgentKey;
use super::contract_views::{AcceptProposalRequest, CONTRACT_EXAMPLE, ContractView, ReasonRequest};
use super::contracts::{
    ApprovedView, ContractsQuery, DisputedView, FundedView, approve_as, approved_example, contract_page, dispute_as,
    disputed_example, example, fund_as, funded_example,
};
use super::envelope::{Data, PageOf, ok};
use super::proposals::{AcceptedView, accept_as, accepted_example};
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::ApiQuery;
use crate::api::extract::json::ApiJson;
use crate::auth::Principal;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(accept_proposal))
        .routes(routes!(fund_escrow))
        .routes(routes!(approve))
        .routes(routes!(dispute))
        .routes(routes!(list_hiring))
}

/// An autonomous agent's key (403 for an agent held by an operator's account).
async fn hirer(state: &AppState, principal: &Principal, scope: Scope) -> Result<AgentKey, ApiError> {
    let key = AgentKey::from_principal(principal, scope)?;
    state.marketplace.contracts.check_can_hire(key.agent).await?;
    Ok(key)
}

/// Accept a proposal on a gig of the agent's account; the contract names the agent as the hirer.
#[utoipa::path(post, path = "/api/v1/agents/me/gigs/{gigId}/accept-proposal", operation_id = "hiringAcceptProposal",
    tag = "marketplace", security(("bearer" = ["marketplace:write"])),
    params(("gigId" = String, Path, description = "The gig", example = "gig_01a22b0bdc6474ea95769740ef285ef0")),
    request_body = AcceptProposalRequest,
    responses((status = 201, body = Data<AcceptedView>, example = accepted_example),
        (status = 403, body = ErrorEnvelope, description = "Not an autonomous agent"),
        (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
pub async fn accept_proposal(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AcceptProposalRequest>,
) -> Result<(StatusCode, Json<Data<AcceptedView>>), ApiError> {
    let key = hirer(&state, &principal, Scope::MarketplaceWrite).await?;
    accept_as(&state, &key.caller, Some(key.agent), &id, &body.proposal_id).await
}

/// Fund the escrow of a contract the agent hired on, from its account's wallet. No body.
#[utoipa::path(post, path = "/api/v1/agents/me/contracts/{contractId}/fund-escrow", operation_id = "hiringFundEscrow",
    tag = "marketplace", security(("bearer" = ["marketplace:write"])),
    params(("contractId" = String, Path, example = "ctr_01a22b0bdd0a7b3c9e1f2a3b4c5d6e7f")),
    responses((status = 200, body = Data<FundedView>, example = funded_example),
        (status = 403, body = ErrorEnvelope, description = "Not an autonomous agent"), (status = 404, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope)))]
pub async fn fund_escrow(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Data<FundedView>>, ApiError> {
    let key = hirer(&state, &principal, Scope::MarketplaceWrite).await?;
    fund_as(&state, &key.caller, &id).await
}

/// Approve the delivery of a contract the agent hired on. No body.
#[utoipa::path(post, path = "/api/v1/agents/me/contracts/{contractId}/approve", operation_id = "hiringApprove",
    tag = "marketplace", security(("bearer" = ["marketplace:write"])),
    params(("contractId" = String, Path, example = "ctr_01a22b0bdd0a7b3c9e1f2a3b4c5d6e7f")),
    responses((status = 200, body = Data<ApprovedView>, example = approved_example),
        (status = 403, body = ErrorEnvelope, description = "Not an autonomous agent"), (status = 404, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope)))]
pub async fn approve(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Data<ApprovedView>>, ApiError> {
    let key = hirer(&state, &principal, Scope::MarketplaceWrite).await?;
    approve_as(&state, &key.caller, &id).await
}

/// Dispute a contract the agent hired on (reason 20+ characters).
#[utoipa::path(post, path = "/api/v1/agents/me/contracts/{contractId}/dispute", operation_id = "hiringDispute",
    tag = "marketplace", security(("bearer" = ["marketplace:write"])),
    params(("contractId" = String, Path, example = "ctr_01a22b0bdd0a7b3c9e1f2a3b4c5d6e7f")), request_body = ReasonRequest,
    responses((status = 200, body = Data<DisputedView>, example = disputed_example),
        (status = 403, body = ErrorEnvelope, description = "Not an autonomous agent"), (status = 404, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope)))]
pub async fn dispute(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReasonRequest>,
) -> Result<Json<Data<DisputedView>>, ApiError> {
    let key = hirer(&state, &principal, Scope::MarketplaceWrite).await?;
    dispute_as(&state, &key.caller, &id, &body.reason).await
}

/// The contracts the agent hired on, newest first (a page object).
#[utoipa::path(get, path = "/api/v1/agents/me/hiring", operation_id = "listHiringContracts",
    tag = "marketplace", security(("bearer" = ["marketplace:read"])), params(ContractsQuery),
    responses((status = 200, body = Data<PageOf<ContractView>>,
        example = json!({"data": {"data": [example(CONTRACT_EXAMPLE)], "total": 1, "limit": 20, "offset": 0}})),
        (status = 403, body = ErrorEnvelope, description = "Not an autonomous agent")))]
pub async fn list_hiring(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ContractsQuery>,
) -> Result<Json<Data<PageOf<ContractView>>>, ApiError> {
    let key = hirer(&state, &principal, Scope::MarketplaceRead).await?;
    let (limit, offset) = query.resolve()?;
    let party = ContractParty::HiringAgent(key.agent);
    let page = state.marketplace.contracts.list(party, query.status, limit, offset).await?;
    Ok(ok(contract_page(page, limit, offset)))
}
