//! Gig, proposal, contract, message and review rows, and their conversion into the public records.

use chrono::{DateTime, Utc};
use talon_domain::marketplace::Micros;
use talon_domain::{AgentId, ContractId, GigId, MessageId, ProposalId, TaskId, UserId};
use uuid::Uuid;

use super::{ContractRecord, MarketGig, MessageRecord, ProposalRecord};
use crate::StoreError;
use crate::db::Bind;
use crate::error::corrupt;

#[derive(sqlx::FromRow)]
pub(crate) struct GigRow {
    pub id: Uuid,
    pub client_id: Uuid,
    pub created_by_agent_id: Option<Uuid>,
    pub title: String,
    pub description: String,
    pub category: String,
    pub deliverables: Option<String>,
    pub budget_micros: i64,
    pub status: String,
    pub moderation_status: String,
    pub max_proposals: i32,
    pub max_revisions: i32,
    pub proposal_count: i32,
    pub created_at: DateTime<Utc>,
}

pub(crate) const GIG_COLUMNS: &str = "id, client_id, created_by_agent_id, title, description, category, \
     deliverables, budget_micros, status, moderation_status, max_proposals, max_revisions, proposal_count, created_at";

impl TryFrom<GigRow> for MarketGig {
    type Error = StoreError;
    fn try_from(row: GigRow) -> Result<Self, StoreError> {
        Ok(MarketGig {
            id: GigId::from_uuid(row.id),
            client_id: UserId::from_uuid(row.client_id),
            created_by_agent_id: row.created_by_agent_id.map(AgentId::from_uuid),
            title: row.title,
            description: row.description,
            category: row.category,
            deliverables: row.deliverables,
            budget: Micros::from_micros(row.budget_micros),
            status: row
                .status
                .parse()
                .map_err(|e: talon_domain::marketplace::UnknownStatus| corrupt("gig status")(e.to_string()))?,
            moderation_status: row.moderation_status,
            max_proposals: row.max_proposals,
            max_revisions: row.max_revisions,
            proposal_count: row.proposal_count,
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ProposalRow {
    pub id: Uuid,
    pub gig_id: Uuid,
    pub agent_id: Uuid,
    pub cover_letter: Option<String>,
    pub proposed_amount_micros: i64,
    pub estimated_hours: Option<f64>,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) const PROPOSAL_COLUMNS: &str =
    "id, gig_id, agent_id, cover_letter, proposed_amount_micros, estimated_hours, status, created_at, updated_at";

impl TryFrom<ProposalRow> for ProposalRecord {
    type Error = StoreError;
    fn try_from(row: ProposalRow) -> Result<Self, StoreError> {
        Ok(ProposalRecord {
            id: ProposalId::from_uuid(row.id),
            gig_id: GigId::from_uuid(row.gig_id),
            agent_id: AgentId::from_uuid(row.agent_id),
            cover_letter: row.cover_letter,
            amount: Micros::from_micros(row.proposed_amount_micros),
            estimated_hours: row.estimated_hours,
            status: row
                .status
                .parse()
                .map_err(|e: talon_domain::marketplace::UnknownStatus| corrupt("proposal status")(e.to_string()))?,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

pub(crate) fn bind_proposal<'q, Q: Bind<'q>>(query: Q, p: &ProposalRecord) -> Q {
    query
        .bind(*p.id.as_uuid())
        .bind(*p.gig_id.as_uuid())
        .bind(*p.agent_id.as_uuid())
        .bind(p.cover_letter.clone())
        .bind(p.amount.as_micros())
        .bind(p.estimated_hours)
        .bind(p.status.as_str())
        .bind(p.created_at)
        .bind(p.updated_at)
}

#[derive(sqlx::FromRow)]
pub(crate) struct ContractRow {
    pub id: Uuid,
    pub gig_id: Uuid,
    pub client_id: Uuid,
    pub agent_id: Uuid,
    pub agent_user_id: Uuid,
    pub proposal_id: Option<Uuid>,
    pub hiring_agent_id: Option<Uuid>,
    pub amount_micros: i64,
    pub status: String,
    pub funded: bool,
    pub escrow_tx_signature: Option<String>,
    pub revisions_used: i32,
    pub max_revisions: i32,
    pub delivery_notes: Option<String>,
    pub deliverables_url: Option<String>,
    pub attachments: String,
    pub delivered_at: Option<DateTime<Utc>>,
    pub auto_approve_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub dispute_reason: Option<String>,
    pub resolution: Option<String>,
    pub task_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) const CONTRACT_COLUMNS: &str = "id, gig_id, client_id, agent_id, agent_user_id, proposal_id, \
     hiring_agent_id, amount_micros, status, funded, escrow_tx_signature, revisions_used, max_revisions, \
     delivery_notes, deliverables_url, attachments, delivered_at, auto_approve_at, completed_at, dispute_reason, \
     resolution, task_id, created_at, updated_at";

impl TryFrom<ContractRow> for ContractRecord {
    type Error = StoreError;
    fn try_from(row: ContractRow) -> Result<Self, StoreError> {
        Ok(ContractRecord {
            id: ContractId::from_uuid(row.id),
            gig_id: GigId::from_uuid(row.gig_id),
            client_id: UserId::from_uuid(row.client_id),
            agent_id: AgentId::from_uuid(row.agent_id),
            agent_user_id: UserId::from_uuid(row.agent_user_id),
            proposal_id: row.proposal_id.map(ProposalId::from_uuid),
            hiring_agent_id: row.hiring_agent_id.map(AgentId::from_uuid),
            amount: Micros::from_micros(row.amount_micros),
            status: row
                .status
                .parse()
                .map_err(|e: talon_domain::marketplace::UnknownStatus| corrupt("contract status")(e.to_string()))?,
            funded: row.funded,
            escrow_tx_signature: row.escrow_tx_signature,
            revisions_used: row.revisions_used,
            max_revisions: row.max_revisions,
            delivery_notes: row.delivery_notes,
            deliverables_url: row.deliverables_url,
            attachments: serde_json::from_str(&row.attachments)
                .map_err(|e| corrupt("contract attachments")(e.to_string()))?,
            delivered_at: row.delivered_at,
            auto_approve_at: row.auto_approve_at,
            completed_at: row.completed_at,
            dispute_reason: row.dispute_reason,
            resolution: row.resolution,
            task_id: row.task_id.map(TaskId::from_uuid),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

pub(crate) fn encode_attachments(c: &ContractRecord) -> String {
    serde_json::to_string(&c.attachments).unwrap_or_else(|_| "[]".to_owned())
}

#[derive(sqlx::FromRow)]
pub(crate) struct MessageRow {
    pub id: Uuid,
    pub contract_id: Uuid,
    pub sender_id: Option<Uuid>,
    pub sender_agent_id: Option<Uuid>,
    pub content: String,
    pub attachment_url: Option<String>,
    pub attachment_name: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub(crate) const MESSAGE_COLUMNS: &str =
    "m.id, m.contract_id, m.sender_id, m.sender_agent_id, m.content, m.attachment_url, m.attachment_name, m.created_at";

impl From<MessageRow> for MessageRecord {
    fn from(row: MessageRow) -> Self {
        MessageRecord {
            id: MessageId::from_uuid(row.id),
            contract_id: ContractId::from_uuid(row.contract_id),
            sender_id: row.sender_id.map(UserId::from_uuid),
            sender_agent_id: row.sender_agent_id.map(AgentId::from_uuid),
            content: row.content,
            attachment_url: row.attachment_url,
            attachment_name: row.attachment_name,
            created_at: row.created_at,
        }
    }
}

pub(crate) fn bind_message<'q, Q: Bind<'q>>(query: Q, m: &MessageRecord) -> Q {
    query
        .bind(*m.id.as_uuid())
        .bind(*m.contract_id.as_uuid())
        .bind(m.sender_id.map(|u| *u.as_uuid()))
        .bind(m.sender_agent_id.map(|a| *a.as_uuid()))
        .bind(m.content.clone())
        .bind(m.attachment_url.clone())
        .bind(m.attachment_name.clone())
        .bind(m.created_at)
}
