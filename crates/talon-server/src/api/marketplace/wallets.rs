//! `/api/v1` marketplace routes: wallets (balance, ledger, sandbox deposits, withdrawals), the
//! operator's deposits and withdrawal confirmations, and an autonomous agent's own wallet
//! (`/agents/me/balance|deposit|withdraw`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use talon_domain::marketplace::Micros;
use talon_domain::{Scope, UserId, ValidationErrors, WithdrawalId};
use talon_store::{StoredTransaction, WalletEntry, Withdrawal};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::agent_key::AgentKey;
use super::envelope::{Data, created, ok};
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::json::ApiJson;
use crate::api::extract::query::ApiQuery;
use crate::api::rest::pagination::LimitOffsetQuery;
use crate::auth::Principal;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(wallet))
        .routes(routes!(ledger))
        .routes(routes!(sandbox_deposit))
        .routes(routes!(request_withdrawal))
        .routes(routes!(admin_deposit))
        .routes(routes!(confirm_withdrawal))
        .routes(routes!(agent_balance))
        .routes(routes!(agent_deposit))
        .routes(routes!(agent_withdraw))
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"balance_usdc": 120.5, "pending_escrow_usdc": 50, "currency": "USDC"}))]
pub struct WalletView {
    balance_usdc: f64,
    /// What the account has put into escrows not yet resolved.
    pending_escrow_usdc: f64,
    currency: &'static str,
}

/// One ledger transaction as it touched the wallet.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "019ad3f0-c1a2-7c3e-8d6f-4b2a1c0e9f87", "kind": "deposit", "amount_usdc": 100,
    "contract_id": null, "reference": "wire-2026-11-30", "created_at": "2026-11-30T08:00:00Z"}))]
pub struct LedgerEntryView {
    id: String,
    /// deposit, withdrawal, fund_escrow, release, refund or split.
    kind: String,
    /// Signed: positive into the wallet, negative out of it.
    amount_usdc: f64,
    contract_id: Option<String>,
    /// A deposit's or withdrawal's outside reference.
    reference: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<WalletEntry> for LedgerEntryView {
    fn from(e: WalletEntry) -> Self {
        LedgerEntryView {
            id: e.id.to_string(),
            kind: e.kind,
            amount_usdc: e.amount.to_usdc_f64(),
            contract_id: e.contract,
            reference: e.external_reference,
            created_at: e.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount_usdc": 100, "reference": "sandbox-1"}))]
pub struct DepositRequest {
    /// More than 0, at most 6 decimals.
    amount_usdc: f64,
    /// Unique: the same reference is never credited twice.
    reference: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "019ad3f0-c1a2-7c3e-8d6f-4b2a1c0e9f87", "user_id": "user_019ad3f0c1a27c3e8d6f4b2a1c0e9f86",
    "amount_usdc": 100, "reference": "sandbox-1", "balance_usdc": 100, "created_at": "2026-11-30T08:00:00Z"}))]
pub struct DepositView {
    /// The ledger transaction.
    id: String,
    user_id: String,
    amount_usdc: f64,
    reference: String,
    balance_usdc: f64,
    created_at: DateTime<Utc>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "client@example.com", "amount_usdc": 250, "reference": "wire-2026-11-30"}))]
pub struct AdminDepositRequest {
    email: String,
    amount_usdc: f64,
    reference: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount_usdc": 40, "wallet_address": "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"}))]
pub struct WithdrawalRequest {
    amount_usdc: f64,
    wallet_address: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "wd_019ad3f0c1a27c3e8d6f4b2a1c0e9f89", "amount_usdc": 40, "status": "pending",
    "wallet_address": null, "tx_signature": null, "created_at": "2026-11-30T08:00:00Z", "updated_at": "2026-11-30T08:00:00Z"}))]
pub struct WithdrawalView {
    id: String,
    amount_usdc: f64,
    /// pending (the amount is already out of the wallet), confirmed or failed.
    status: String,
    wallet_address: Option<String>,
    tx_signature: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Withdrawal> for WithdrawalView {
    fn from(w: Withdrawal) -> Self {
        WithdrawalView {
            id: w.id.to_string(),
            amount_usdc: w.amount.to_usdc_f64(),
            status: w.status,
            wallet_address: w.wallet_address,
            tx_signature: w.tx_signature,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"balance_usdc": 120.5, "pending_escrow_usdc": 0}))]
pub struct AgentBalanceView {
    balance_usdc: f64,
    pending_escrow_usdc: f64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"tx_signature": "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW", "amount_usdc": 25}))]
pub struct AgentDepositRequest {
    /// The on-chain transfer already made; each is credited once.
    tx_signature: String,
    amount_usdc: f64,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"success": true, "amount_usdc": 25, "tx_signature": "5VERv8…", "balance_usdc": 25}))]
pub struct AgentDepositView {
    success: bool,
    amount_usdc: f64,
    tx_signature: String,
    balance_usdc: f64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount_usdc": 10}))]
pub struct AgentWithdrawRequest {
    amount_usdc: f64,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"success": true, "amount_usdc": 10, "tx_signature": null, "status": "pending",
    "remaining_balance_usdc": 15}))]
pub struct AgentWithdrawView {
    success: bool,
    amount_usdc: f64,
    tx_signature: Option<String>,
    /// Always `pending`: an operator pays withdrawals out.
    status: &'static str,
    remaining_balance_usdc: f64,
}

/// A positive amount of at most 6 decimals.
fn amount(value: f64) -> Result<Micros, ApiError> {
    match Micros::from_usdc_f64(value) {
        Ok(m) if m.is_positive() => Ok(m),
        _ => Err(ApiError::validation(ValidationErrors::single(
            "amount_usdc",
            "Must be a USDC amount greater than 0 with at most 6 decimals",
        ))),
    }
}

fn reference(text: &str, field: &str) -> Result<String, ApiError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > 200 {
        return Err(ApiError::validation(ValidationErrors::single(field, "Must be 1 to 200 characters")));
    }
    Ok(text.to_owned())
}

async fn deposit_view(
    state: &AppState,
    user: UserId,
    stored: StoredTransaction,
    amount: Micros,
    reference: String,
) -> Result<DepositView, ApiError> {
    let balance = state.marketplace.wallets.balance(user).await?;
    Ok(DepositView {
        id: stored.id.to_string(),
        user_id: user.to_string(),
        amount_usdc: amount.to_usdc_f64(),
        reference,
        balance_usdc: balance.balance.to_usdc_f64(),
        created_at: stored.created_at,
    })
}

/// The caller's wallet: balance and escrow put up.
#[utoipa::path(get, path = "/api/v1/wallet", operation_id = "getWallet", tag = "marketplace",
    security(("bearer" = ["marketplace:read"])), responses(
    (status = 200, body = Data<WalletView>, example = json!({"data": {"balance_usdc": 120.5, "pending_escrow_usdc": 50, "currency": "USDC"}})),
    (status = 401, body = ErrorEnvelope),
    (status = 403, body = ErrorEnvelope, description = "A key without marketplace:read"),
))]
pub async fn wallet(State(state): State<AppState>, principal: Principal) -> Result<Json<Data<WalletView>>, ApiError> {
    let caller = principal.with_scope(Scope::MarketplaceRead)?;
    let b = state.marketplace.wallets.balance(caller.account.id).await?;
    Ok(ok(WalletView {
        balance_usdc: b.balance.to_usdc_f64(),
        pending_escrow_usdc: b.pending_escrow.to_usdc_f64(),
        currency: "USDC",
    }))
}

/// The wallet's ledger entries, newest first.
#[utoipa::path(get, path = "/api/v1/wallet/ledger", operation_id = "getWalletLedger", tag = "marketplace",
    security(("bearer" = ["marketplace:read"])), params(LimitOffsetQuery), responses(
    (status = 200, body = Data<Vec<LedgerEntryView>>, example = json!({"data": [{"id": "019ad3f0-c1a2-7c3e-8d6f-4b2a1c0e9f87",
        "kind": "deposit", "amount_usdc": 100, "contract_id": null, "reference": "wire-2026-11-30", "created_at": "2026-11-30T08:00:00Z"}]})),
    (status = 400, body = ErrorEnvelope),
    (status = 401, body = ErrorEnvelope),
    (status = 403, body = ErrorEnvelope),
))]
pub async fn ledger(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<LimitOffsetQuery>,
) -> Result<Json<Data<Vec<LedgerEntryView>>>, ApiError> {
    let caller = principal.with_scope(Scope::MarketplaceRead)?;
    let (limit, offset) = query.resolve();
    let entries = state.marketplace.wallets.entries(caller.account.id, limit, offset).await?;
    Ok(ok(entries.into_iter().map(Into::into).collect()))
}

/// Credit the caller's own wallet: sandbox mode only (`TALON_MARKETPLACE_SANDBOX=true`).
#[utoipa::path(post, path = "/api/v1/wallet/deposits", operation_id = "createSandboxDeposit", tag = "marketplace",
    security(("bearer" = ["marketplace:write"])), request_body = DepositRequest, responses(
    (status = 201, body = Data<DepositView>),
    (status = 400, body = ErrorEnvelope),
    (status = 401, body = ErrorEnvelope),
    (status = 403, body = ErrorEnvelope, description = "Sandbox deposits are off, or the scope is missing"),
    (status = 409, body = ErrorEnvelope, description = "The reference was already credited"),
))]
pub async fn sandbox_deposit(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<DepositRequest>,
) -> Result<(StatusCode, Json<Data<DepositView>>), ApiError> {
    let caller = principal.with_scope(Scope::MarketplaceWrite)?;
    let (amount, reference) = (amount(body.amount_usdc)?, reference(&body.reference, "reference")?);
    let user = caller.account.id;
    let stored = state.marketplace.wallets.sandbox_deposit(user, amount, &reference).await?;
    Ok(created(deposit_view(&state, user, stored, amount, reference).await?))
}

/// Ask for a withdrawal: the amount leaves the wallet now and waits for an operator to pay it out.
#[utoipa::path(post, path = "/api/v1/wallet/withdrawals", operation_id = "createWithdrawal", tag = "marketplace",
    security(("bearer" = ["marketplace:write"])), request_body = WithdrawalRequest, responses(
    (status = 201, body = Data<WithdrawalView>),
    (status = 400, body = ErrorEnvelope),
    (status = 401, body = ErrorEnvelope),
    (status = 403, body = ErrorEnvelope),
    (status = 409, body = ErrorEnvelope, description = "Insufficient balance"),
))]
pub async fn request_withdrawal(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<WithdrawalRequest>,
) -> Result<(StatusCode, Json<Data<WithdrawalView>>), ApiError> {
    let caller = principal.with_scope(Scope::MarketplaceWrite)?;
    let amount = amount(body.amount_usdc)?;
    let address = body.wallet_address.map(|a| reference(&a, "wallet_address")).transpose()?;
    let withdrawal = state.marketplace.wallets.request_withdrawal(caller.account.id, amount, address).await?;
    Ok(created(withdrawal.into()))
}

/// An operator credits an account's wallet.
#[utoipa::path(post, path = "/api/v1/admin/deposits", operation_id = "createOperatorDeposit", tag = "marketplace",
    security(("bearer" = ["marketplace:write"])), request_body = AdminDepositRequest, responses(
    (status = 201, body = Data<DepositView>),
    (status = 400, body = ErrorEnvelope),
    (status = 401, body = ErrorEnvelope),
    (status = 403, body = ErrorEnvelope, description = "Not an operator"),
    (status = 404, body = ErrorEnvelope, description = "No account has that address"),
    (status = 409, body = ErrorEnvelope, description = "The reference was already credited"),
))]
pub async fn admin_deposit(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<AdminDepositRequest>,
) -> Result<(StatusCode, Json<Data<DepositView>>), ApiError> {
    let caller = principal.with_scope(Scope::MarketplaceWrite)?;
    let (amount, reference) = (amount(body.amount_usdc)?, reference(&body.reference, "reference")?);
    let wallets = &state.marketplace.wallets;
    let (user, stored) = wallets.operator_deposit(caller.account.id, &body.email, amount, &reference).await?;
    Ok(created(deposit_view(&state, user, stored, amount, reference).await?))
}

/// An operator confirms that a pending withdrawal was paid out.
#[utoipa::path(post, path = "/api/v1/admin/withdrawals/{id}/confirm", operation_id = "confirmWithdrawal",
    tag = "marketplace", security(("bearer" = ["marketplace:write"])),
    params(("id" = String, Path, description = "The withdrawal's id")), responses(
    (status = 200, body = Data<WithdrawalView>, example = json!({"data": {"id": "wd_019ad3f0c1a27c3e8d6f4b2a1c0e9f89", "amount_usdc": 40, "status": "confirmed", "wallet_address": null, "tx_signature": null, "created_at": "2026-11-30T08:00:00Z", "updated_at": "2026-11-30T08:05:00Z"}})),
    (status = 401, body = ErrorEnvelope),
    (status = 403, body = ErrorEnvelope, description = "Not an operator"),
    (status = 404, body = ErrorEnvelope),
    (status = 409, body = ErrorEnvelope, description = "The withdrawal is not pending"),
))]
pub async fn confirm_withdrawal(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Data<WithdrawalView>>, ApiError> {
    let caller = principal.with_scope(Scope::MarketplaceWrite)?;
    let wallets = &state.marketplace.wallets;
    wallets.require_operator(caller.account.id).await?;
    let id = WithdrawalId::parse(&id).map_err(|_| ApiError::not_found("withdrawal"))?;
    Ok(ok(wallets.confirm_withdrawal(caller.account.id, id).await?.into()))
}

/// The agent's wallet (the wallet of the account holding it).
#[utoipa::path(get, path = "/api/v1/agents/me/balance", operation_id = "getAgentBalance", tag = "marketplace",
    security(("bearer" = ["marketplace:read"])), responses(
    (status = 200, body = Data<AgentBalanceView>, example = json!({"data": {"balance_usdc": 120.5, "pending_escrow_usdc": 0}})),
    (status = 401, body = ErrorEnvelope),
    (status = 403, body = ErrorEnvelope),
))]
pub async fn agent_balance(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Data<AgentBalanceView>>, ApiError> {
    let key = AgentKey::from_principal(&principal, Scope::MarketplaceRead)?;
    let b = state.marketplace.wallets.balance(key.caller.account.id).await?;
    Ok(ok(AgentBalanceView {
        balance_usdc: b.balance.to_usdc_f64(),
        pending_escrow_usdc: b.pending_escrow.to_usdc_f64(),
    }))
}

/// An autonomous agent's key, refused (403) for an agent held by an operator's account.
async fn autonomous(state: &AppState, principal: &Principal, scope: Scope) -> Result<AgentKey, ApiError> {
    let key = AgentKey::from_principal(principal, scope)?;
    let profile = state.marketplace.agents.profile(key.agent).await?;
    if !profile.is_autonomous {
        return Err(ApiError::forbidden(
            "Only autonomous agents hold their own wallet; this agent's account holder does",
        ));
    }
    Ok(key)
}

/// Credit an on-chain transfer the autonomous agent made (each signature once).
#[utoipa::path(post, path = "/api/v1/agents/me/deposit", operation_id = "createAgentDeposit", tag = "marketplace",
    security(("bearer" = ["marketplace:write"])), request_body = AgentDepositRequest, responses(
    (status = 200, body = Data<AgentDepositView>),
    (status = 400, body = ErrorEnvelope),
    (status = 401, body = ErrorEnvelope),
    (status = 403, body = ErrorEnvelope, description = "Not an autonomous agent"),
    (status = 409, body = ErrorEnvelope, description = "This transaction was already credited"),
))]
pub async fn agent_deposit(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<AgentDepositRequest>,
) -> Result<Json<Data<AgentDepositView>>, ApiError> {
    let key = autonomous(&state, &principal, Scope::MarketplaceWrite).await?;
    let (amount, signature) = (amount(body.amount_usdc)?, reference(&body.tx_signature, "tx_signature")?);
    let user = key.caller.account.id;
    state.marketplace.wallets.deposit(user, amount, &signature).await?;
    let balance = state.marketplace.wallets.balance(user).await?;
    Ok(ok(AgentDepositView {
        success: true,
        amount_usdc: amount.to_usdc_f64(),
        tx_signature: signature,
        balance_usdc: balance.balance.to_usdc_f64(),
    }))
}

/// Withdraw from the autonomous agent's wallet: pending until an operator pays it out.
#[utoipa::path(post, path = "/api/v1/agents/me/withdraw", operation_id = "createAgentWithdrawal", tag = "marketplace",
    security(("bearer" = ["marketplace:write"])), request_body = AgentWithdrawRequest, responses(
    (status = 200, body = Data<AgentWithdrawView>),
    (status = 400, body = ErrorEnvelope),
    (status = 401, body = ErrorEnvelope),
    (status = 403, body = ErrorEnvelope, description = "Not an autonomous agent"),
    (status = 409, body = ErrorEnvelope, description = "Insufficient balance"),
))]
pub async fn agent_withdraw(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<AgentWithdrawRequest>,
) -> Result<Json<Data<AgentWithdrawView>>, ApiError> {
    let key = autonomous(&state, &principal, Scope::MarketplaceWrite).await?;
    let amount = amount(body.amount_usdc)?;
    let user = key.caller.account.id;
    let address = state.marketplace.agents.profile(key.agent).await?.wallet_address;
    let withdrawal = state.marketplace.wallets.request_withdrawal(user, amount, address).await?;
    let balance = state.marketplace.wallets.balance(user).await?;
    Ok(ok(AgentWithdrawView {
        success: true,
        amount_usdc: withdrawal.amount.to_usdc_f64(),
        tx_signature: None,
        status: "pending",
        remaining_balance_usdc: balance.balance.to_usdc_f64(),
    }))
}
