//! Bids: an agent proposes on an open gig, edits or withdraws while pending; the gig's client lists
//! them and accepts one, which creates the contract.

use serde_json::json;
use talon_domain::event::{self, Event};
use talon_domain::marketplace::{ContractStatus, GigStatus, Micros, ProposalStatus};
use talon_domain::{AgentId, ContractId, GigId, ProposalId, UserId, ValidationErrors};
use talon_store::{Acceptance, ContractRecord, MarketGig, ProposalRecord, ProposalRefusal};

use super::{Contracts, MarketResult};
use crate::services::Caller;
use crate::services::ServiceError;

pub const COVER_LETTER_MIN: usize = 20;
pub const COVER_LETTER_MAX: usize = 2_000;
pub const MAX_ESTIMATED_HOURS: f64 = 10_000.0;

pub struct NewProposal {
    pub amount: Micros,
    pub cover_letter: String,
    pub estimated_hours: Option<f64>,
}

#[derive(Default)]
pub struct ProposalEdit {
    pub amount: Option<Micros>,
    pub cover_letter: Option<String>,
    pub estimated_hours: Option<f64>,
}

fn check_amount(errors: &mut ValidationErrors, amount: Micros) {
    if !amount.is_positive() {
        errors.add("proposed_amount_usdc", "Must be greater than 0");
    }
}

fn check_cover_letter(errors: &mut ValidationErrors, text: &str) {
    let chars = text.trim().chars().count();
    if !(COVER_LETTER_MIN..=COVER_LETTER_MAX).contains(&chars) {
        errors.add("cover_letter", format!("Must be {COVER_LETTER_MIN} to {COVER_LETTER_MAX} characters"));
    }
}

fn check_hours(errors: &mut ValidationErrors, hours: f64) {
    if !(hours.is_finite() && hours > 0.0 && hours <= MAX_ESTIMATED_HOURS) {
        errors.add("estimated_hours", "Must be greater than 0 and at most 10000");
    }
}

impl Contracts {
    /// Whether the agent may bid at all. Today: it exists. The profile readiness check (403 listing what
    /// is missing) belongs here once profiles exist.
    /// A listed, active agent with a complete profile (403 naming what is missing otherwise).
    async fn check_can_bid(&self, agent: AgentId) -> MarketResult<()> {
        self.profiles.require_ready(agent).await
    }

    /// A gig agents can see: unknown, or not approved by moderation, is "not found".
    async fn listed_gig(&self, id: GigId) -> MarketResult<MarketGig> {
        match self.deps.store.market_gig(id).await? {
            Some(gig) if gig.moderation_status == "approved" => Ok(gig),
            _ => Err(ServiceError::NotFound("Gig")),
        }
    }

    pub async fn submit_proposal(
        &self,
        caller: &Caller,
        agent: AgentId,
        gig: GigId,
        input: NewProposal,
    ) -> MarketResult<ProposalRecord> {
        let mut errors = ValidationErrors::new();
        check_amount(&mut errors, input.amount);
        check_cover_letter(&mut errors, &input.cover_letter);
        if let Some(hours) = input.estimated_hours {
            check_hours(&mut errors, hours);
        }
        errors.finish(())?;
        self.check_can_bid(agent).await?;
        let gig = self.listed_gig(gig).await?;
        if gig.client_id == caller.account.id {
            return Err(ServiceError::Forbidden("An agent cannot bid on a gig posted by its own account".into()));
        }
        if gig.status != GigStatus::Open {
            return Err(ServiceError::conflict(format!("The gig is {}, not open for proposals", gig.status)));
        }
        let now = talon_domain::time::now();
        let proposal = ProposalRecord {
            id: ProposalId::new(),
            gig_id: gig.id,
            agent_id: agent,
            cover_letter: Some(input.cover_letter.trim().to_owned()),
            amount: input.amount,
            estimated_hours: input.estimated_hours,
            status: ProposalStatus::Pending,
            created_at: now,
            updated_at: now,
        };
        match self.deps.store.insert_proposal(&proposal).await? {
            Ok(()) => Ok(proposal),
            Err(ProposalRefusal::Duplicate) => {
                Err(ServiceError::conflict("You already have a live proposal on this gig"))
            }
            Err(ProposalRefusal::Closed) => {
                Err(ServiceError::conflict("The gig is no longer open or has reached its maximum number of proposals"))
            }
        }
    }

    /// The agent's own proposal.
    pub async fn agent_proposal(&self, agent: AgentId, id: ProposalId) -> MarketResult<ProposalRecord> {
        match self.deps.store.proposal(id).await? {
            Some(p) if p.agent_id == agent => Ok(p),
            _ => Err(ServiceError::NotFound("Proposal")),
        }
    }

    pub async fn agent_proposals(&self, agent: AgentId) -> MarketResult<Vec<ProposalRecord>> {
        Ok(self.deps.store.proposals_of_agent(agent).await?)
    }

    pub async fn edit_proposal(
        &self,
        agent: AgentId,
        id: ProposalId,
        edit: ProposalEdit,
    ) -> MarketResult<ProposalRecord> {
        let mut errors = ValidationErrors::new();
        if let Some(amount) = edit.amount {
            check_amount(&mut errors, amount);
        }
        if let Some(text) = &edit.cover_letter {
            check_cover_letter(&mut errors, text);
        }
        if let Some(hours) = edit.estimated_hours {
            check_hours(&mut errors, hours);
        }
        errors.finish(())?;
        let mut proposal = self.agent_proposal(agent, id).await?;
        if proposal.status != ProposalStatus::Pending {
            return Err(ServiceError::conflict(format!(
                "Only a pending proposal can be edited; this one is {}",
                proposal.status
            )));
        }
        proposal.amount = edit.amount.unwrap_or(proposal.amount);
        proposal.cover_letter = edit.cover_letter.map(|t| t.trim().to_owned()).or(proposal.cover_letter);
        proposal.estimated_hours = edit.estimated_hours.or(proposal.estimated_hours);
        proposal.updated_at = talon_domain::time::now();
        if !self.deps.store.update_pending_proposal(&proposal).await? {
            return Err(ServiceError::conflict("Only a pending proposal can be edited"));
        }
        Ok(proposal)
    }

    /// Withdraws the agent's pending proposal on `gig`.
    pub async fn withdraw_proposal(&self, agent: AgentId, gig: GigId, id: ProposalId) -> MarketResult<()> {
        let proposal = self.agent_proposal(agent, id).await?;
        if proposal.gig_id != gig {
            return Err(ServiceError::NotFound("Proposal"));
        }
        if !self.deps.store.withdraw_proposal(id, talon_domain::time::now()).await? {
            return Err(ServiceError::conflict(format!(
                "Only a pending proposal can be withdrawn; this one is {}",
                proposal.status
            )));
        }
        Ok(())
    }

    /// The gig, if the caller's account posted it.
    async fn own_gig(&self, client: UserId, id: GigId) -> MarketResult<MarketGig> {
        match self.deps.store.market_gig(id).await? {
            Some(gig) if gig.client_id == client => Ok(gig),
            _ => Err(ServiceError::NotFound("Gig")),
        }
    }

    pub async fn gig_proposals(&self, caller: &Caller, gig: GigId) -> MarketResult<Vec<ProposalRecord>> {
        self.own_gig(caller.account.id, gig).await?;
        Ok(self.deps.store.proposals_of_gig(gig).await?)
    }

    /// Accepts a pending proposal on the caller's open gig; `hiring_agent` is set when an autonomous
    /// agent hires through its key.
    pub async fn accept(
        &self,
        caller: &Caller,
        hiring_agent: Option<AgentId>,
        gig: GigId,
        proposal: ProposalId,
    ) -> MarketResult<ContractRecord> {
        let gig = self.own_gig(caller.account.id, gig).await?;
        let proposal = match self.deps.store.proposal(proposal).await? {
            Some(p) if p.gig_id == gig.id => p,
            _ => return Err(ServiceError::NotFound("Proposal")),
        };
        if proposal.status != ProposalStatus::Pending {
            return Err(ServiceError::conflict(format!("The proposal is {}, not pending", proposal.status)));
        }
        if gig.status != GigStatus::Open {
            return Err(ServiceError::conflict(format!("The gig is {}, not open", gig.status)));
        }
        let holder = self.deps.store.agent(proposal.agent_id).await?.ok_or_else(|| ServiceError::NotFound("Agent"))?;
        let now = talon_domain::time::now();
        let contract = ContractRecord {
            id: ContractId::new(),
            gig_id: gig.id,
            client_id: gig.client_id,
            agent_id: proposal.agent_id,
            agent_user_id: holder.owner,
            proposal_id: Some(proposal.id),
            hiring_agent_id: hiring_agent,
            amount: proposal.amount,
            status: ContractStatus::Active,
            funded: false,
            escrow_tx_signature: None,
            revisions_used: 0,
            max_revisions: gig.max_revisions,
            delivery_notes: None,
            deliverables_url: None,
            attachments: Vec::new(),
            delivered_at: None,
            auto_approve_at: None,
            completed_at: None,
            dispute_reason: None,
            resolution: None,
            task_id: None,
            created_at: now,
            updated_at: now,
        };
        let data = json!({
            "contract_id": contract.id.to_string(),
            "gig_id": gig.id.to_string(),
            "gig_title": gig.title,
            "amount": contract.amount.to_usdc_f64(),
            "client_name": self.client_name(hiring_agent).await?,
            "deliver_url": self.url(&format!("/api/v1/contracts/{}/deliver", contract.id)),
        });
        let events = [Event::for_agent(contract.agent_user_id, contract.agent_id, event::PROPOSAL_ACCEPTED, data)];
        let acceptance = Acceptance { proposal_id: proposal.id, contract: &contract, events: &events };
        if !self.deps.store.accept_proposal(&acceptance).await? {
            return Err(ServiceError::conflict(
                "The proposal or the gig changed meanwhile; it can no longer be accepted",
            ));
        }
        self.deps.outbox.ring();
        Ok(contract)
    }
}
