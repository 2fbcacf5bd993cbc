//! The shapes of proposals, contracts, messages and reviews as the ClawGig SDK reads them (spec §4, with
//! Talon's extras on contracts), the request bodies that change them, and how the contracts service's
//! refusals become HTTP errors.

use crate::api::extract::{Bounded, Integer};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use talon_domain::marketplace::Micros;
use talon_domain::{ContractId, GigId, ProposalId, Scope};
use talon_store::{ContractRecord, MessageRecord, ProposalRecord, ReviewRecord};
use utoipa::ToSchema;

use crate::api::error::ApiError;
use crate::auth::Principal;
use crate::services::Caller;

/// Ids from the path: a malformed one names nothing, so it is "not found" (never 400).
pub fn gig_id(raw: &str) -> Result<GigId, ApiError> {
    GigId::parse(raw).map_err(|_| ApiError::not_found("Gig"))
}

pub fn proposal_id(raw: &str) -> Result<ProposalId, ApiError> {
    ProposalId::parse(raw).map_err(|_| ApiError::not_found("Proposal"))
}

pub fn contract_id(raw: &str) -> Result<ContractId, ApiError> {
    ContractId::parse(raw).map_err(|_| ApiError::not_found("Contract"))
}

/// The client side of the marketplace: a session or a key for the whole account. A key restricted to
/// one agent acts as that agent, and hires through `/api/v1/agents/me/…` instead.
pub fn client_caller(principal: &Principal, scope: Scope) -> Result<Caller, ApiError> {
    let caller = principal.with_scope(scope)?;
    if caller.is_restricted() {
        return Err(ApiError::forbidden(
            "This API key acts as one agent; hire through /api/v1/agents/me/… or use a session or an account key",
        ));
    }
    Ok(caller)
}

fn usdc(amount: Micros) -> f64 {
    amount.to_usdc_f64()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProposalView {
    id: String,
    gig_id: String,
    agent_id: String,
    cover_letter: Option<String>,
    proposed_amount_usdc: f64,
    estimated_hours: Option<f64>,
    /// pending, accepted, rejected, withdrawn
    status: &'static str,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<ProposalRecord> for ProposalView {
    fn from(p: ProposalRecord) -> Self {
        ProposalView {
            id: p.id.to_string(),
            gig_id: p.gig_id.to_string(),
            agent_id: p.agent_id.to_string(),
            cover_letter: p.cover_letter,
            proposed_amount_usdc: usdc(p.amount),
            estimated_hours: p.estimated_hours,
            status: p.status.as_str(),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

pub const PROPOSAL_EXAMPLE: &str = r#"{"id": "prop_01a22b0bdca3761396aa517a86af8cea", "gig_id": "gig_01a22b0bdc6474ea95769740ef285ef0",
 "agent_id": "agent_01a22b0bdc94772c913c45ad7657ac3e", "cover_letter": "I have built a dozen scrapers like this one.",
 "proposed_amount_usdc": 85.5, "estimated_hours": 6.0, "status": "pending",
 "created_at": "2026-11-30T06:02:07.395746Z", "updated_at": "2026-11-30T06:02:07.395746Z"}"#;

/// A contract: spec §4 plus Talon's `funded`, revisions, `auto_approve_at`, delivery extras, dispute
/// and resolution. Absent optional members are left out.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContractView {
    id: String,
    gig_id: String,
    client_id: String,
    agent_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    proposal_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hiring_agent_id: Option<String>,
    amount_usdc: f64,
    /// active, delivered, approved, disputed, resolved, cancelled
    status: &'static str,
    funded: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    escrow_tx_signature: Option<String>,
    revisions_used: i32,
    max_revisions: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    delivery_notes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deliverables_url: Option<String>,
    attachments: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delivered_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auto_approve_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    completed_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dispute_reason: Option<String>,
    /// release, refund or split:<agent percent>
    #[serde(skip_serializing_if = "Option::is_none")]
    resolution: Option<String>,
    /// The runtime task working the contract's current round, when the agent works its own contracts
    /// (`auto_work`); the task's input names the contract back.
    #[serde(skip_serializing_if = "Option::is_none")]
    task_id: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<ContractRecord> for ContractView {
    fn from(c: ContractRecord) -> Self {
        ContractView {
            id: c.id.to_string(),
            gig_id: c.gig_id.to_string(),
            client_id: c.client_id.to_string(),
            agent_id: c.agent_id.to_string(),
            proposal_id: c.proposal_id.map(|p| p.to_string()),
            hiring_agent_id: c.hiring_agent_id.map(|a| a.to_string()),
            amount_usdc: usdc(c.amount),
            status: c.status.as_str(),
            funded: c.funded,
            escrow_tx_signature: c.escrow_tx_signature,
            revisions_used: c.revisions_used,
            max_revisions: c.max_revisions,
            delivery_notes: c.delivery_notes,
            deliverables_url: c.deliverables_url,
            attachments: c.attachments,
            delivered_at: c.delivered_at,
            auto_approve_at: c.auto_approve_at,
            completed_at: c.completed_at,
            dispute_reason: c.dispute_reason,
            resolution: c.resolution,
            task_id: c.task_id.map(|t| t.to_string()),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

pub const CONTRACT_EXAMPLE: &str = r#"{"id": "ctr_01a22b0bdd0a7b3c9e1f2a3b4c5d6e7f", "gig_id": "gig_01a22b0bdc6474ea95769740ef285ef0",
 "client_id": "user_01a22b0bdcb3711495b60b9ce692fa53", "agent_id": "agent_01a22b0bdc94772c913c45ad7657ac3e",
 "proposal_id": "prop_01a22b0bdca3761396aa517a86af8cea", "amount_usdc": 85.5, "status": "delivered", "funded": true,
 "escrow_tx_signature": "01a22b0b-dd0a-7b3c-9e1f-2a3b4c5d6e70", "revisions_used": 0, "max_revisions": 2,
 "delivery_notes": "Scraper and README attached.", "deliverables_url": "https://example.com/scraper.zip", "attachments": [],
 "delivered_at": "2026-11-30T08:02:07.395746Z", "auto_approve_at": "2026-12-03T08:02:07.395746Z",
 "created_at": "2026-11-30T06:02:07.395746Z", "updated_at": "2026-11-30T08:02:07.395746Z"}"#;

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    id: String,
    contract_id: String,
    /// The client's account, when the client wrote it.
    #[serde(skip_serializing_if = "Option::is_none")]
    sender_id: Option<String>,
    /// The agent, when the agent wrote it.
    #[serde(skip_serializing_if = "Option::is_none")]
    sender_agent_id: Option<String>,
    content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    attachment_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attachment_name: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<MessageRecord> for MessageView {
    fn from(m: MessageRecord) -> Self {
        MessageView {
            id: m.id.to_string(),
            contract_id: m.contract_id.to_string(),
            sender_id: m.sender_id.map(|u| u.to_string()),
            sender_agent_id: m.sender_agent_id.map(|a| a.to_string()),
            content: m.content,
            attachment_url: m.attachment_url,
            attachment_name: m.attachment_name,
            created_at: m.created_at,
        }
    }
}

pub const MESSAGE_EXAMPLE: &str = r#"{"id": "msg_01a22b0bdd0a7b3c9e1f2a3b4c5d6e70", "contract_id": "ctr_01a22b0bdd0a7b3c9e1f2a3b4c5d6e7f",
 "sender_agent_id": "agent_01a22b0bdc94772c913c45ad7657ac3e", "content": "First draft is up.",
 "created_at": "2026-11-30T07:02:07.395746Z"}"#;

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewView {
    id: String,
    contract_id: String,
    reviewer_id: String,
    agent_id: String,
    rating: i32,
    comment: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<ReviewRecord> for ReviewView {
    fn from(r: ReviewRecord) -> Self {
        ReviewView {
            id: r.id.to_string(),
            contract_id: r.contract_id.to_string(),
            reviewer_id: r.reviewer_id.to_string(),
            agent_id: r.agent_id.to_string(),
            rating: r.rating,
            comment: r.comment,
            created_at: r.created_at,
        }
    }
}

/// A decimal USDC amount from a body; the service checks it is above zero.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[schema(value_type = f64, example = 85.5)]
pub struct Usdc(pub Micros);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"proposed_amount_usdc": 85.5, "cover_letter": "I have built a dozen scrapers like this one.", "estimated_hours": 6}))]
pub struct SubmitProposalRequest {
    /// Greater than 0, at most 6 decimals.
    pub proposed_amount_usdc: Usdc,
    /// 20 to 2,000 characters.
    pub cover_letter: String,
    /// Greater than 0, at most 10,000.
    pub estimated_hours: Option<f64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"proposed_amount_usdc": 80}))]
pub struct EditProposalRequest {
    pub proposed_amount_usdc: Option<Usdc>,
    pub cover_letter: Option<String>,
    pub estimated_hours: Option<f64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"proposal_id": "prop_01a22b0bdca3761396aa517a86af8cea"}))]
pub struct AcceptProposalRequest {
    pub proposal_id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"delivery_notes": "Scraper and README attached.", "deliverables_url": "https://example.com/scraper.zip"}))]
pub struct DeliverRequest {
    /// 1 to 10,000 characters.
    pub delivery_notes: String,
    pub deliverables_url: Option<String>,
    /// At most 10 URLs.
    #[serde(default)]
    pub attachments: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "The CSV misses the price column."}))]
pub struct ReasonRequest {
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"rating": 5, "comment": "Fast and thorough."}))]
pub struct ReviewRequest {
    /// 1 to 5.
    #[schema(value_type = i64, minimum = 1, maximum = 5)]
    pub rating: Integer,
    /// At most 2,000 characters.
    pub comment: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"content": "First draft is up.", "attachment_url": "https://example.com/draft.pdf", "attachment_name": "draft.pdf"}))]
pub struct MessageRequest {
    /// 1 to 5,000 characters.
    pub content: String,
    pub attachment_url: Option<String>,
    pub attachment_name: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResolutionKind {
    Release,
    Refund,
    Split,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"resolution": "split", "agent_share_percent": 40}))]
pub struct ResolveRequest {
    pub resolution: ResolutionKind,
    /// The agent's share for a split, 0 to 100.
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 100)]
    pub agent_share_percent: Option<Bounded<0, 100>>,
}
