//! Proposals, contracts and what happens on them: acceptance, escrow, delivery, revisions, disputes,
//! messages and reviews. Each change is decided by `talon_domain::marketplace` on the contract as read,
//! then stored as a compare-and-set on that state with its money and events in one transaction: a
//! change that lost a race writes nothing and answers 409.

mod conversation;
mod escrow;
mod proposals;
mod work;

use std::sync::Arc;

use serde_json::Value;
use talon_domain::event::Event;
use talon_domain::marketplace::ContractStatus;
use talon_domain::{AgentId, ContractId};
use talon_store::{ContractParty, ContractRecord, MarketGig, Page};

pub use conversation::{NewMessage, NewReview};
pub use escrow::{Approval, Delivery, Funding, Resolution};
pub use proposals::{NewProposal, ProposalEdit};

use super::MarketplaceDeps;
use super::agents::AgentProfiles;
use crate::services::{Caller, ServiceError};
pub use work::WorkStep;

/// Every contracts operation answers with the services' one error type.
pub type MarketResult<T> = Result<T, ServiceError>;

/// How the caller stands to a contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The paying side: the client's account (session or unrestricted key), or its hiring agent's key.
    Client,
    /// The hired agent, through its own key.
    Agent,
}

/// The caller's role on the contract, if any: someone with none is told the contract does not exist.
pub fn role_of(caller: &Caller, contract: &ContractRecord) -> Option<Role> {
    match caller.only_agent {
        Some(agent) if contract.agent_id == agent => Some(Role::Agent),
        Some(agent) if contract.hiring_agent_id == Some(agent) && contract.client_id == caller.account.id => {
            Some(Role::Client)
        }
        Some(_) => None,
        None if contract.client_id == caller.account.id => Some(Role::Client),
        None => None,
    }
}

pub struct Contracts {
    deps: MarketplaceDeps,
    /// Whether an agent may bid is the profile's rule (readiness).
    profiles: Arc<AgentProfiles>,
}

impl Contracts {
    pub fn new(deps: MarketplaceDeps, profiles: Arc<AgentProfiles>) -> Self {
        Self { deps, profiles }
    }

    /// The contract, if the caller is one of its parties.
    pub async fn get(&self, caller: &Caller, id: ContractId) -> MarketResult<(ContractRecord, Role)> {
        let contract = self.deps.store.contract(id).await?.ok_or_else(|| ServiceError::NotFound("Contract"))?;
        let role = role_of(caller, &contract).ok_or_else(|| ServiceError::NotFound("Contract"))?;
        Ok((contract, role))
    }

    /// The contract, if the caller is its client.
    async fn as_client(&self, caller: &Caller, id: ContractId) -> MarketResult<ContractRecord> {
        match self.get(caller, id).await? {
            (contract, Role::Client) => Ok(contract),
            _ => Err(ServiceError::NotFound("Contract")),
        }
    }

    /// The contract, if the caller is its hired agent.
    async fn as_agent(&self, caller: &Caller, id: ContractId) -> MarketResult<ContractRecord> {
        match self.get(caller, id).await? {
            (contract, Role::Agent) => Ok(contract),
            _ => Err(ServiceError::NotFound("Contract")),
        }
    }

    /// Hiring through `/api/v1/agents/me/…` is for autonomous agents, which pay from their own wallet;
    /// an agent held by an operator's account leaves hiring to that account (403).
    pub async fn check_can_hire(&self, agent: AgentId) -> MarketResult<()> {
        match self.deps.store.agent_is_autonomous(agent).await? {
            Some(true) => Ok(()),
            _ => Err(ServiceError::Forbidden(
                "Hiring through /api/v1/agents/me is for autonomous agents; this agent's account hires for it".into(),
            )),
        }
    }

    /// One page of contracts where the caller is the given party.
    pub async fn list(
        &self,
        party: ContractParty,
        status: Option<ContractStatus>,
        limit: i64,
        offset: i64,
    ) -> MarketResult<Page<ContractRecord>> {
        Ok(self.deps.store.list_contracts(party, status, limit, offset).await?)
    }

    async fn gig_of(&self, contract: &ContractRecord) -> MarketResult<MarketGig> {
        self.deps
            .store
            .market_gig(contract.gig_id)
            .await?
            .ok_or_else(|| ServiceError::Internal(format!("gig of contract {}", contract.id)))
    }

    /// How the client is named to agents: its hiring agent's name, or `ACCOUNT_CLIENT_NAME` for an account, whose
    /// email is never shown to the other party.
    async fn client_name(&self, hiring_agent: Option<AgentId>) -> MarketResult<String> {
        match hiring_agent {
            Some(agent) => self.agent_name(agent).await,
            None => Ok(super::ACCOUNT_CLIENT_NAME.to_owned()),
        }
    }

    async fn agent_name(&self, agent: AgentId) -> MarketResult<String> {
        let agent = self.deps.store.agent(agent).await?;
        Ok(agent.map(|a| a.metadata.name).unwrap_or_else(|| "agent".into()))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.deps.settings.public_url.trim_end_matches('/'))
    }

    /// An event for the hired agent (its webhook and its holder's).
    fn to_agent(contract: &ContractRecord, kind: &'static str, data: Value) -> Event {
        Event::for_agent(contract.agent_user_id, contract.agent_id, kind, data)
    }

    /// An event for the client: its account, and its hiring agent's webhook when an agent hired.
    fn to_client(contract: &ContractRecord, kind: &'static str, data: Value) -> Event {
        match contract.hiring_agent_id {
            Some(agent) => Event::for_agent(contract.client_id, agent, kind, data),
            None => Event::new(contract.client_id, kind, data),
        }
    }
}
