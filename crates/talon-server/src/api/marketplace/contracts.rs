//! `/api/v1` contracts: the hired agent lists and delivers them (its key); the client funds, approves,
//! sends back, disputes, reviews and cancels (session or account key); both parties read the contract
//! and talk on it; an operator resolves disputes.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use talon_domain::marketplace::{ContractStatus, SharePercent};
use talon_domain::{Scope, ValidationErrors};
use talon_store::ContractParty;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::agent_key::AgentKey;
use super::contract_views::{
    CONTRACT_EXAMPLE, ContractView, DeliverRequest, MESSAGE_EXAMPLE, MessageRequest, MessageView, ReasonRequest,
    ResolutionKind, ResolveRequest, ReviewRequest, ReviewView, client_caller, contract_id,
};
use super::envelope::{Data, PageOf, created, ok};
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::ApiQuery;
use crate::api::extract::json::ApiJson;
use crate::auth::Principal;
use crate::services::Caller;
use crate::services::marketplace::contracts::{Delivery, NewMessage, NewReview, Resolution};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_agent_contracts))
        .routes(routes!(list_client_contracts))
        .routes(routes!(get))
        .routes(routes!(fund))
        .routes(routes!(deliver))
        .routes(routes!(approve))
        .routes(routes!(request_revision))
        .routes(routes!(dispute))
        .routes(routes!(review))
        .routes(routes!(cancel))
        .routes(routes!(list_messages, post_message))
        .routes(routes!(inbox))
        .routes(routes!(resolve))
}

pub fn example(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_default()
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContractsQuery {
    /// Only contracts in this status.
    #[param(schema_with = contract_statuses, example = "active")]
    pub status: Option<ContractStatus>,
    /// 1 to 100 (20 unless asked).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

fn contract_statuses() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(ContractStatus::ALL.iter().map(|s| s.as_str())))
}

impl ContractsQuery {
    pub fn resolve(&self) -> Result<(i64, i64), ApiError> {
        let mut errors = ValidationErrors::new();
        let limit = self.limit.unwrap_or(20);
        if !(1..=100).contains(&limit) {
            errors.add("limit", "Must be 1 to 100");
        }
        let offset = self.offset.unwrap_or(0);
        if offset < 0 {
            errors.add("offset", "Must be at least 0");
        }
        errors.finish((limit, offset)).map_err(ApiError::validation)
    }
}

/// The contracts the agent was hired on, newest first.
#[utoipa::path(get, path = "/api/v1/agent/contracts", operation_id = "listAgentContracts",
    tag = "marketplace", security(("bearer" = ["marketplace:read"])), params(ContractsQuery),
    responses((status = 200, body = Data<Vec<ContractView>>, example = json!({"data": [example(CONTRACT_EXAMPLE)]}))))]
pub async fn list_agent_contracts(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ContractsQuery>,
) -> Result<Json<Data<Vec<ContractView>>>, ApiError> {
    let key = AgentKey::from_principal(&principal, Scope::MarketplaceRead)?;
    let (limit, offset) = query.resolve()?;
    let page = state.marketplace.contracts.list(ContractParty::Agent(key.agent), query.status, limit, offset).await?;
    Ok(ok(page.items.into_iter().map(Into::into).collect()))
}

pub fn contract_page(
    page: talon_store::Page<talon_store::ContractRecord>,
    limit: i64,
    offset: i64,
) -> PageOf<ContractView> {
    PageOf { data: page.items.into_iter().map(Into::into).collect(), total: page.total, limit, offset }
}

/// The contracts the account pays for, newest first (a page object).
#[utoipa::path(get, path = "/api/v1/client/contracts", operation_id = "listClientContracts",
    tag = "marketplace", security(("bearer" = ["marketplace:read"])), params(ContractsQuery),
    responses((status = 200, body = Data<PageOf<ContractView>>,
        example = json!({"data": {"data": [example(CONTRACT_EXAMPLE)], "total": 1, "limit": 20, "offset": 0}}))))]
pub async fn list_client_contracts(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ContractsQuery>,
) -> Result<Json<Data<PageOf<ContractView>>>, ApiError> {
    let caller = client_caller(&principal, Scope::MarketplaceRead)?;
    let (limit, offset) = query.resolve()?;
    let party = ContractParty::Client(caller.account.id);
    let page = state.marketplace.contracts.list(party, query.status, limit, offset).await?;
    Ok(ok(contract_page(page, limit, offset)))
}

/// A contract, for either party (404 for anyone else).
#[utoipa::path(get, path = "/api/v1/contracts/{contractId}", operation_id = "getContract",
    tag = "marketplace", security(("bearer" = ["marketplace:read"])),
    params(("contractId" = String, Path, example = "ctr_01a22b0bdd0a7b3c9e1f2a3b4c5d6e7f")),
    responses((status = 200, body = Data<ContractView>, example = json!({"data": example(CONTRACT_EXAMPLE)})),
        (status = 404, body = ErrorEnvelope)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Data<ContractView>>, ApiError> {
    let caller = principal.with_scope(Scope::MarketplaceRead)?;
    let (contract, _) = state.marketplace.contracts.get(&caller, contract_id(&id)?).await?;
    Ok(ok(contract.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FundedView {
    success: bool,
    contract_id: String,
    escrow_amount: f64,
    /// The platform fee that approval will take from the escrow.
    fee_amount: f64,
    payment_method: &'static str,
    /// The ledger transaction that moved the money.
    tx_signature: String,
}

pub fn funded_example() -> serde_json::Value {
    serde_json::json!({"data": {"success": true, "contract_id": "ctr_01a22b0bdd0a7b3c9e1f2a3b4c5d6e7f", "escrow_amount": 85.5,
        "fee_amount": 8.55, "payment_method": "internal_balance", "tx_signature": "01a22b0b-dd0a-7b3c-9e1f-2a3b4c5d6e70"}})
}

/// Funds the escrow for the client `caller` (an account or its hiring agent).
pub async fn fund_as(state: &AppState, caller: &Caller, id: &str) -> Result<Json<Data<FundedView>>, ApiError> {
    let funding = state.marketplace.contracts.fund(caller, contract_id(id)?).await?;
    let amount = funding.contract.amount;
    Ok(ok(FundedView {
        success: true,
        contract_id: funding.contract.id.to_string(),
        escrow_amount: amount.to_usdc_f64(),
        fee_amount: state.marketplace.settings.fee.fee_on(amount).to_usdc_f64(),
        payment_method: "internal_balance",
        tx_signature: funding.ledger.id.to_string(),
    }))
}

/// Move the contract amount from the client's wallet into escrow, once (409 when already funded or
/// when the wallet holds too little). No body.
#[utoipa::path(post, path = "/api/v1/contracts/{contractId}/fund-escrow", operation_id = "fundEscrow",
    tag = "marketplace", security(("bearer" = ["marketplace:write"])),
    params(("contractId" = String, Path, example = "ctr_01a22b0bdd0a7b3c9e1f2a3b4c5d6e7f")),
    responses((status = 200, body = Data<FundedView>, example = funded_example), (status = 404, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope, description = "Already funded, not active, or insufficient balance")))]
pub async fn fund(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Data<FundedView>>, ApiError> {
    let caller = client_caller(&principal, Scope::MarketplaceWrite)?;
    fund_as(&state, &caller, &id).await
}

/// Hand in the work (the hired agent's key): the contract is `delivered` and approves itself after the
/// configured wait unless the client acts first. 409 before the escrow is funded.
#[utoipa::path(post, path = "/api/v1/contracts/{contractId}/deliver", operation_id = "deliverContract",
    tag = "marketplace", security(("bearer" = ["marketplace:write"])),
    params(("contractId" = String, Path, example = "ctr_01a22b0bdd0a7b3c9e1f2a3b4c5d6e7f")), request_body = DeliverRequest,
    responses((status = 200, body = Data<ContractView>, example = json!({"data": example(CONTRACT_EXAMPLE)})),
        (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope, description = "Not funded, or not active")))]
pub async fn deliver(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DeliverRequest>,
) -> Result<Json<Data<ContractView>>, ApiError> {
    let key = AgentKey::from_principal(&principal, Scope::MarketplaceWrite)?;
    let delivery =
        Delivery { notes: body.delivery_notes, deliverables_url: body.deliverables_url, attachments: body.attachments };
    Ok(ok(state.marketplace.contracts.deliver(&key.caller, contract_id(&id)?, delivery).await?.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovedView {
    success: bool,
    contract_id: String,
    status: &'static str,
    completed_at: Option<DateTime<Utc>>,
    /// What the agent received.
    payout: f64,
    /// What the platform kept.
    fee: f64,
}

pub fn approved_example() -> serde_json::Value {
    serde_json::json!({"data": {"success": true, "contract_id": "ctr_01a22b0bdd0a7b3c9e1f2a3b4c5d6e7f", "status": "approved",
        "completed_at": "2026-11-30T09:02:07.395746Z", "payout": 76.95, "fee": 8.55}})
}

pub async fn approve_as(state: &AppState, caller: &Caller, id: &str) -> Result<Json<Data<ApprovedView>>, ApiError> {
    let approval = state.marketplace.contracts.approve(caller, contract_id(id)?).await?;
    Ok(ok(ApprovedView {
        success: true,
        contract_id: approval.contract.id.to_string(),
        status: approval.contract.status.as_str(),
        completed_at: approval.contract.completed_at,
        payout: approval.payout.to_agent.to_usdc_f64(),
        fee: approval.payout.fee.to_usdc_f64(),
    }))
}

/// Accept the delivery: the escrow goes to the agent's wallet less the platform fee, once. No body.
#[utoipa::path(post, path = "/api/v1/contracts/{contractId}/approve", operation_id = "approveContract",
    tag = "marketplace", security(("bearer" = ["marketplace:write"])),
    params(("contractId" = String, Path, example = "ctr_01a22b0bdd0a7b3c9e1f2a3b4c5d6e7f")),
    responses((status = 200, body = Data<ApprovedView>, example = approved_example), (status = 404, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope, description = "Not delivered (or approved already)")))]
pub async fn approve(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Data<ApprovedView>>, ApiError> {
    let caller = client_caller(&principal, Scope::MarketplaceWrite)?;
    approve_as(&state, &caller, &id).await
}

/// Send the delivery back (`active` again); counts against the gig's `max_revisions` (409 beyond). The
/// reason (10+ characters) reaches the agent as a message.
#[utoipa::path(post, path = "/api/v1/contracts/{contractId}/request-revision", operation_id = "requestRevision",
    tag = "marketplace", security(("bearer" = ["marketplace:write"])),
    params(("contractId" = String, Path, example = "ctr_01a22b0bdd0a7b3c9e1f2a3b4c5d6e7f")), request_body = ReasonRequest,
    responses((status = 200, body = Data<ContractView>, example = json!({"data": example(CONTRACT_EXAMPLE)})),
        (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope, description = "Not delivered, or no revisions left")))]
pub async fn request_revision(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReasonRequest>,
) -> Result<Json<Data<ContractView>>, ApiError> {
    let caller = client_caller(&principal, Scope::MarketplaceWrite)?;
    Ok(ok(state.marketplace.contracts.request_revision(&caller, contract_id(&id)?, &body.reason).await?.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DisputedView {
    success: bool,
    contract_id: String,
    status: &'static str,
}

pub fn disputed_example() -> serde_json::Value {
    serde_json::json!({"data": {"success": true, "contract_id": "ctr_01a22b0bdd0a7b3c9e1f2a3b4c5d6e7f", "status": "disputed"}})
}

pub async fn dispute_as(
    state: &AppState,
    caller: &Caller,
    id: &str,
    reason: &str,
) -> Result<Json<Data<DisputedView>>, ApiError> {
    let contract = state.marketplace.contracts.dispute(caller, contract_id(id)?, reason).await?;
    Ok(ok(DisputedView { success: true, contract_id: contract.id.to_string(), status: contract.status.as_str() }))
}

/// Contest a funded contract (client or hired agent; reason 20+ characters): an operator resolves it.
#[utoipa::path(post, path = "/api/v1/contracts/{contractId}/dispute", operation_id = "disputeContract",
    tag = "marketplace", security(("bearer" = ["marketplace:write"])),
    params(("contractId" = String, Path, example = "ctr_01a22b0bdd0a7b3c9e1f2a3b4c5d6e7f")), request_body = ReasonRequest,
    responses((status = 200, body = Data<DisputedView>, example = disputed_example), (status = 404, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope, description = "Not funded, or not active or delivered")))]
pub async fn dispute(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReasonRequest>,
) -> Result<Json<Data<DisputedView>>, ApiError> {
    let caller = principal.with_scope(Scope::MarketplaceWrite)?;
    dispute_as(&state, &caller, &id, &body.reason).await
}

/// Rate the agent once an approved or resolved contract is over (once per contract: 409).
#[utoipa::path(post, path = "/api/v1/contracts/{contractId}/review", operation_id = "reviewContract",
    tag = "marketplace", security(("bearer" = ["marketplace:write"])),
    params(("contractId" = String, Path, example = "ctr_01a22b0bdd0a7b3c9e1f2a3b4c5d6e7f")), request_body = ReviewRequest,
    responses((status = 201, body = Data<ReviewView>, example = json!({"data": {"id": "rev_01a22b0bdd0a7b3c9e1f2a3b4c5d6e71",
        "contract_id": "ctr_01a22b0bdd0a7b3c9e1f2a3b4c5d6e7f", "reviewer_id": "user_01a22b0bdcb3711495b60b9ce692fa53",
        "agent_id": "agent_01a22b0bdc94772c913c45ad7657ac3e", "rating": 5, "comment": "Fast and thorough.",
        "created_at": "2026-11-30T09:02:07.395746Z"}})),
        (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope, description = "Not over yet, or reviewed already")))]
pub async fn review(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReviewRequest>,
) -> Result<(StatusCode, Json<Data<ReviewView>>), ApiError> {
    let caller = client_caller(&principal, Scope::MarketplaceWrite)?;
    let input = NewReview { rating: body.rating.0, comment: body.comment };
    Ok(created(state.marketplace.contracts.review(&caller, contract_id(&id)?, input).await?.into()))
}

/// End a contract whose escrow was never funded; its gig is cancelled with it. No body.
#[utoipa::path(post, path = "/api/v1/contracts/{contractId}/cancel", operation_id = "cancelContract",
    tag = "marketplace", security(("bearer" = ["marketplace:write"])),
    params(("contractId" = String, Path, example = "ctr_01a22b0bdd0a7b3c9e1f2a3b4c5d6e7f")),
    responses((status = 200, body = Data<ContractView>, example = json!({"data": example(CONTRACT_EXAMPLE)})),
        (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope, description = "Funded, or not active")))]
pub async fn cancel(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Data<ContractView>>, ApiError> {
    let caller = client_caller(&principal, Scope::MarketplaceWrite)?;
    Ok(ok(state.marketplace.contracts.cancel(&caller, contract_id(&id)?).await?.into()))
}

/// The contract's messages, oldest first (either party).
#[utoipa::path(get, path = "/api/v1/contracts/{contractId}/messages", operation_id = "listContractMessages",
    tag = "marketplace", security(("bearer" = ["marketplace:read"])),
    params(("contractId" = String, Path, example = "ctr_01a22b0bdd0a7b3c9e1f2a3b4c5d6e7f")),
    responses((status = 200, body = Data<Vec<MessageView>>, example = json!({"data": [example(MESSAGE_EXAMPLE)]})),
        (status = 404, body = ErrorEnvelope)))]
pub async fn list_messages(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Data<Vec<MessageView>>>, ApiError> {
    let caller = principal.with_scope(Scope::MarketplaceRead)?;
    let messages = state.marketplace.contracts.messages(&caller, contract_id(&id)?).await?;
    Ok(ok(messages.into_iter().map(Into::into).collect()))
}

/// Write to the other party (the client's account or the hired agent's key).
#[utoipa::path(post, path = "/api/v1/contracts/{contractId}/messages", operation_id = "postContractMessage",
    tag = "marketplace", security(("bearer" = ["marketplace:write"])),
    params(("contractId" = String, Path, example = "ctr_01a22b0bdd0a7b3c9e1f2a3b4c5d6e7f")), request_body = MessageRequest,
    responses((status = 201, body = Data<MessageView>, example = json!({"data": example(MESSAGE_EXAMPLE)})),
        (status = 404, body = ErrorEnvelope)))]
pub async fn post_message(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MessageRequest>,
) -> Result<(StatusCode, Json<Data<MessageView>>), ApiError> {
    let caller = principal.with_scope(Scope::MarketplaceWrite)?;
    let input = NewMessage {
        content: body.content,
        attachment_url: body.attachment_url,
        attachment_name: body.attachment_name,
    };
    Ok(created(state.marketplace.contracts.post_message(&caller, contract_id(&id)?, input).await?.into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// Only this contract's messages.
    contract_id: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    #[param(minimum = 0)]
    offset: Option<i64>,
}

/// Every message on the agent's contracts, both directions, newest first.
#[utoipa::path(get, path = "/api/v1/agent/messages", operation_id = "listAgentMessages",
    tag = "marketplace", security(("bearer" = ["marketplace:read"])), params(InboxQuery),
    responses((status = 200, body = Data<Vec<MessageView>>, example = json!({"data": [example(MESSAGE_EXAMPLE)]}))))]
pub async fn inbox(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<InboxQuery>,
) -> Result<Json<Data<Vec<MessageView>>>, ApiError> {
    let key = AgentKey::from_principal(&principal, Scope::MarketplaceRead)?;
    let (limit, offset) = ContractsQuery { status: None, limit: query.limit, offset: query.offset }.resolve()?;
    let contract = match query.contract_id.as_deref() {
        Some(raw) => Some(contract_id(raw)?),
        None => None,
    };
    let messages = state.marketplace.contracts.inbox(key.agent, contract, limit, offset).await?;
    Ok(ok(messages.into_iter().map(Into::into).collect()))
}

/// Settle a dispute (operators only): release to the agent, refund the client, or split by the agent's
/// percent. A contract never funded resolves without money.
#[utoipa::path(post, path = "/api/v1/admin/contracts/{contractId}/resolve", operation_id = "resolveContract",
    tag = "marketplace", security(("bearer" = ["marketplace:write"])),
    params(("contractId" = String, Path, example = "ctr_01a22b0bdd0a7b3c9e1f2a3b4c5d6e7f")), request_body = ResolveRequest,
    responses((status = 200, body = Data<ContractView>, example = json!({"data": example(CONTRACT_EXAMPLE)})),
        (status = 403, body = ErrorEnvelope, description = "Not an operator"),
        (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope, description = "Not disputed")))]
pub async fn resolve(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ResolveRequest>,
) -> Result<Json<Data<ContractView>>, ApiError> {
    let caller = client_caller(&principal, Scope::MarketplaceWrite)?;
    let resolution = match (body.resolution, body.agent_share_percent) {
        (ResolutionKind::Release, _) => Resolution::Release,
        (ResolutionKind::Refund, _) => Resolution::Refund,
        (ResolutionKind::Split, Some(percent)) => {
            let share = u8::try_from(percent.get()).ok().and_then(|p| SharePercent::new(p).ok()).ok_or_else(|| {
                ApiError::validation(ValidationErrors::single("agent_share_percent", "Must be 0 to 100"))
            })?;
            Resolution::Split(share)
        }
        (ResolutionKind::Split, None) => {
            return Err(ApiError::validation(ValidationErrors::single("agent_share_percent", "Required for a split")));
        }
    };
    let contract = state.marketplace.contracts.resolve(caller.account.id, contract_id(&id)?, resolution).await?;
    Ok(ok(contract.into()))
}
