//! The contract's lifecycle and its money: fund, deliver, request a revision, approve (by hand or
//! automatically), dispute, resolve, cancel. Each step asks the domain whether it may happen, builds the
//! ledger movement from the contract's own figures, and stores both as one compare-and-set.

use chrono::{DateTime, Utc};
use serde_json::json;
use talon_domain::event::{self, Event};
use talon_domain::marketplace::{
    Balances, ContractEvent, ContractState, ContractStatus, GigStatus, LedgerAccount, LedgerError, Micros, Payout,
    SharePercent, Transaction, contract_transition,
};
use talon_domain::{ContractId, MessageId, UserId, ValidationErrors};
use talon_store::{ChangeOutcome, ContractChange, ContractRecord, MessageRecord, StoreError, StoredTransaction};

use super::{Contracts, MarketResult};
use crate::services::Caller;
use crate::services::ServiceError;

pub const NOTES_MAX: usize = 10_000;
pub const MAX_ATTACHMENTS: usize = 10;
pub const URL_MAX: usize = 2_000;
pub const REVISION_REASON_MIN: usize = 10;
pub const DISPUTE_REASON_MIN: usize = 20;
pub const REASON_MAX: usize = 5_000;

pub struct Delivery {
    pub notes: String,
    pub deliverables_url: Option<String>,
    pub attachments: Vec<String>,
}

/// How an operator settles a dispute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Release,
    Refund,
    Split(SharePercent),
}

impl Resolution {
    fn label(self) -> String {
        match self {
            Resolution::Release => "release".into(),
            Resolution::Refund => "refund".into(),
            Resolution::Split(share) => format!("split:{}", share.get()),
        }
    }
}

pub struct Funding {
    pub contract: ContractRecord,
    pub ledger: StoredTransaction,
}

pub struct Approval {
    pub contract: ContractRecord,
    pub payout: Payout,
}

/// Everything stored with one contract change besides the contract itself.
#[derive(Default)]
struct Effects {
    money: Option<Transaction>,
    escrow_signature: bool,
    gig_status: Option<GigStatus>,
    earned: Option<Micros>,
    message: Option<MessageRecord>,
    events: Vec<Event>,
}

fn state_of(c: &ContractRecord) -> ContractState {
    ContractState {
        status: c.status,
        escrow_funded: c.funded,
        revisions_used: u32::try_from(c.revisions_used).unwrap_or(0),
        max_revisions: u32::try_from(c.max_revisions).unwrap_or(0),
    }
}

/// The state after `event`, with the refusals worded for API clients.
fn next_state(c: &ContractRecord, event: ContractEvent) -> MarketResult<ContractState> {
    if event == ContractEvent::Deliver && c.status == ContractStatus::Active && !c.funded {
        return Err(ServiceError::conflict("Escrow is not funded yet"));
    }
    if event == ContractEvent::FundEscrow && c.funded {
        return Err(ServiceError::conflict("The escrow is already funded"));
    }
    Ok(contract_transition(state_of(c), event)?)
}

fn reason(errors: &mut ValidationErrors, text: &str, min: usize) {
    let chars = text.trim().chars().count();
    if !(min..=REASON_MAX).contains(&chars) {
        errors.add("reason", format!("Must be {min} to {REASON_MAX} characters"));
    }
}

fn insufficient(balance: Micros, needed: Micros) -> ServiceError {
    ServiceError::conflict(format!(
        "Insufficient balance: the wallet holds {balance} USDC, this needs {needed} USDC; deposit more and retry"
    ))
}

fn ledger_refusal(e: LedgerError) -> ServiceError {
    match e {
        LedgerError::InsufficientFunds { available, required } => insufficient(available, required),
        other => ServiceError::conflict(format!("The escrow cannot move: {other}")),
    }
}

impl Contracts {
    /// Stores `next` if the contract is still as `old`; a lost race answers with the reason the event
    /// is refused now (or a plain conflict).
    async fn commit(
        &self,
        old: &ContractRecord,
        next: &ContractRecord,
        event: ContractEvent,
        effects: Effects,
    ) -> MarketResult<Option<StoredTransaction>> {
        let change = ContractChange {
            expected: old,
            next,
            money: effects.money.as_ref(),
            money_is_escrow_signature: effects.escrow_signature,
            gig_status: effects.gig_status,
            earned: effects.earned,
            message: effects.message.as_ref(),
            events: &effects.events,
        };
        match self.deps.store.change_contract(&change).await {
            Ok(ChangeOutcome::Applied { ledger }) => {
                self.deps.outbox.ring();
                Ok(ledger)
            }
            Ok(ChangeOutcome::Stale) => {
                let now = self.deps.store.contract(old.id).await?.ok_or_else(|| ServiceError::NotFound("Contract"))?;
                next_state(&now, event)?;
                Err(ServiceError::conflict("The contract changed meanwhile; reload it and retry"))
            }
            Err(StoreError::Overdrawn { account: LedgerAccount::Wallet(_), balance, needed }) => {
                Err(insufficient(balance, needed))
            }
            // Only a contract whose row and ledger disagree gets here; refuse rather than fail.
            Err(StoreError::Overdrawn { account, .. }) => {
                Err(ServiceError::conflict(format!("The escrow cannot move: {account:?} holds too little")))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn fund(&self, caller: &Caller, id: ContractId) -> MarketResult<Funding> {
        let old = self.as_client(caller, id).await?;
        next_state(&old, ContractEvent::FundEscrow)?;
        let wallet = LedgerAccount::Wallet(old.client_id);
        let balances = Balances::default().with_balance(wallet, self.deps.store.balance(&wallet).await?);
        let money = Transaction::fund_escrow(&balances, old.client_id, old.id, old.amount).map_err(ledger_refusal)?;
        let now = talon_domain::time::now();
        let next = ContractRecord { funded: true, updated_at: now, ..old.clone() };
        let gig = self.gig_of(&old).await?;
        let data = json!({
            "contract_id": old.id.to_string(),
            "gig_title": gig.title,
            "amount": old.amount.to_usdc_f64(),
            "message": "Escrow funded: you can start working.",
            "deliver_url": self.url(&format!("/api/v1/contracts/{}/deliver", old.id)),
        });
        let effects = Effects {
            money: Some(money),
            escrow_signature: true,
            events: vec![Self::to_agent(&old, event::CONTRACT_FUNDED, data)],
            ..Effects::default()
        };
        let ledger = self
            .commit(&old, &next, ContractEvent::FundEscrow, effects)
            .await?
            .ok_or_else(|| ServiceError::conflict("The escrow did not move"))?;
        let contract = ContractRecord { escrow_tx_signature: Some(ledger.id.to_string()), ..next };
        Ok(Funding { contract, ledger })
    }

    pub async fn deliver(&self, caller: &Caller, id: ContractId, delivery: Delivery) -> MarketResult<ContractRecord> {
        let mut errors = ValidationErrors::new();
        let notes = delivery.notes.trim();
        if notes.is_empty() || notes.chars().count() > NOTES_MAX {
            errors.add("delivery_notes", format!("Must be 1 to {NOTES_MAX} characters"));
        }
        if delivery.deliverables_url.as_ref().is_some_and(|u| u.is_empty() || u.chars().count() > URL_MAX) {
            errors.add("deliverables_url", format!("Must be 1 to {URL_MAX} characters"));
        }
        if delivery.attachments.len() > MAX_ATTACHMENTS {
            errors.add("attachments", format!("At most {MAX_ATTACHMENTS} attachments"));
        }
        if delivery.attachments.iter().any(|a| a.is_empty() || a.chars().count() > URL_MAX) {
            errors.add("attachments", format!("Each attachment must be 1 to {URL_MAX} characters"));
        }
        errors.finish(())?;
        let old = self.as_agent(caller, id).await?;
        let state = next_state(&old, ContractEvent::Deliver)?;
        let now = talon_domain::time::now();
        let wait = chrono::Duration::from_std(self.deps.settings.auto_approve_after).unwrap_or(chrono::Duration::MAX);
        let next = ContractRecord {
            status: state.status,
            delivery_notes: Some(notes.to_owned()),
            deliverables_url: delivery.deliverables_url,
            attachments: delivery.attachments,
            delivered_at: Some(now),
            auto_approve_at: now.checked_add_signed(wait),
            updated_at: now,
            ..old.clone()
        };
        let gig = self.gig_of(&old).await?;
        let data = json!({
            "contract_id": old.id.to_string(),
            "gig_title": gig.title,
            "message": "The agent delivered the work: approve it, request a revision or open a dispute.",
        });
        let effects =
            Effects { events: vec![Self::to_client(&old, event::CONTRACT_DELIVERED, data)], ..Effects::default() };
        self.commit(&old, &next, ContractEvent::Deliver, effects).await?;
        Ok(next)
    }

    pub async fn approve(&self, caller: &Caller, id: ContractId) -> MarketResult<Approval> {
        let old = self.as_client(caller, id).await?;
        self.approve_contract(old).await
    }

    /// Releases the escrow to the agent less the fee: the client's approval and auto-approval alike.
    async fn approve_contract(&self, old: ContractRecord) -> MarketResult<Approval> {
        let state = next_state(&old, ContractEvent::Approve)?;
        let fee = self.deps.settings.fee;
        let balances = Balances::default().with_open_escrow(old.id, old.client_id, old.amount);
        let money = Transaction::release(&balances, old.id, old.agent_user_id, fee).map_err(ledger_refusal)?;
        let payout = fee.payout(old.amount);
        let now = talon_domain::time::now();
        let next = ContractRecord { status: state.status, completed_at: Some(now), updated_at: now, ..old.clone() };
        let gig = self.gig_of(&old).await?;
        let data = json!({
            "contract_id": old.id.to_string(),
            "gig_title": gig.title,
            "amount_earned": payout.to_agent.to_usdc_f64(),
            "platform_fee": payout.fee.to_usdc_f64(),
            "message": format!("The delivery was approved: {} USDC released to your wallet.", payout.to_agent),
        });
        let effects = Effects {
            money: Some(money),
            gig_status: Some(GigStatus::Completed),
            earned: Some(payout.to_agent),
            events: vec![Self::to_agent(&old, event::CONTRACT_APPROVED, data)],
            ..Effects::default()
        };
        self.commit(&old, &next, ContractEvent::Approve, effects).await?;
        Ok(Approval { contract: next, payout })
    }

    /// Approves every delivered contract whose wait is over; returns how many it approved.
    pub async fn auto_approve_due(&self, now: DateTime<Utc>) -> MarketResult<usize> {
        let mut approved = 0;
        for id in self.deps.store.contracts_due_for_approval(now, 100).await? {
            let Some(contract) = self.deps.store.contract(id).await? else { continue };
            match self.approve_contract(contract).await {
                Ok(_) => approved += 1,
                // Approved or disputed by hand meanwhile: nothing left to do.
                Err(ServiceError::Conflict(_)) => {}
                Err(e) => tracing::warn!(contract = %id, error = %e, "could not auto-approve a contract"),
            }
        }
        Ok(approved)
    }

    /// Sends the delivery back; the reason reaches the agent as a message from the client.
    pub async fn request_revision(&self, caller: &Caller, id: ContractId, text: &str) -> MarketResult<ContractRecord> {
        let mut errors = ValidationErrors::new();
        reason(&mut errors, text, REVISION_REASON_MIN);
        errors.finish(())?;
        let old = self.as_client(caller, id).await?;
        let state = next_state(&old, ContractEvent::RequestRevision)?;
        let now = talon_domain::time::now();
        let next = ContractRecord {
            status: state.status,
            revisions_used: old.revisions_used + 1,
            auto_approve_at: None,
            updated_at: now,
            ..old.clone()
        };
        let content = format!("Revision requested: {}", text.trim());
        let message = MessageRecord {
            id: MessageId::new(),
            contract_id: old.id,
            sender_id: Some(old.client_id),
            sender_agent_id: None,
            content: content.clone(),
            attachment_url: None,
            attachment_name: None,
            created_at: now,
        };
        let event = self.message_event(&old, &message, self.client_name(old.hiring_agent_id).await?).await?;
        let effects = Effects { message: Some(message), events: vec![event], ..Effects::default() };
        self.commit(&old, &next, ContractEvent::RequestRevision, effects).await?;
        Ok(next)
    }

    pub async fn dispute(&self, caller: &Caller, id: ContractId, text: &str) -> MarketResult<ContractRecord> {
        let mut errors = ValidationErrors::new();
        reason(&mut errors, text, DISPUTE_REASON_MIN);
        errors.finish(())?;
        let (old, role) = self.get(caller, id).await?;
        let state = next_state(&old, ContractEvent::Dispute)?;
        let now = talon_domain::time::now();
        let next = ContractRecord {
            status: state.status,
            dispute_reason: Some(text.trim().to_owned()),
            auto_approve_at: None,
            updated_at: now,
            ..old.clone()
        };
        let gig = self.gig_of(&old).await?;
        let data = json!({
            "contract_id": old.id.to_string(),
            "gig_title": gig.title,
            "dispute_reason": text.trim(),
            "message": "A dispute was opened on this contract; the platform will resolve it.",
        });
        // The agent always hears of it (the SDK's contract.disputed); the client too when the agent opened it.
        let mut events = vec![Self::to_agent(&old, event::CONTRACT_DISPUTED, data.clone())];
        if role == super::Role::Agent {
            events.push(Self::to_client(&old, event::CONTRACT_DISPUTED, data));
        }
        let effects = Effects { gig_status: Some(GigStatus::Disputed), events, ..Effects::default() };
        self.commit(&old, &next, ContractEvent::Dispute, effects).await?;
        Ok(next)
    }

    /// An operator settles a dispute. A contract never funded resolves without money.
    pub async fn resolve(
        &self,
        operator: UserId,
        id: ContractId,
        resolution: Resolution,
    ) -> MarketResult<ContractRecord> {
        let role = self.deps.store.account_role(operator).await?;
        if role.as_deref() != Some("operator") {
            return Err(ServiceError::Forbidden("Only an operator can resolve disputes".into()));
        }
        let old = self.deps.store.contract(id).await?.ok_or_else(|| ServiceError::NotFound("Contract"))?;
        let state = next_state(&old, ContractEvent::Resolve)?;
        let fee = self.deps.settings.fee;
        let money = if old.funded {
            let balances = Balances::default().with_open_escrow(old.id, old.client_id, old.amount);
            let tx = match resolution {
                Resolution::Release => Transaction::release(&balances, old.id, old.agent_user_id, fee),
                Resolution::Refund => Transaction::refund(&balances, old.id),
                Resolution::Split(share) => Transaction::split(&balances, old.id, old.agent_user_id, share, fee),
            };
            Some(tx.map_err(ledger_refusal)?)
        } else {
            None
        };
        let earned = money.as_ref().and_then(|tx| {
            tx.postings()
                .iter()
                .find(|p| p.account == LedgerAccount::Wallet(old.agent_user_id) && p.amount.is_positive())
                .map(|p| p.amount)
        });
        let now = talon_domain::time::now();
        let next = ContractRecord {
            status: state.status,
            resolution: Some(resolution.label()),
            completed_at: Some(now),
            updated_at: now,
            ..old.clone()
        };
        let gig = self.gig_of(&old).await?;
        let data = json!({
            "contract_id": old.id.to_string(),
            "gig_title": gig.title,
            "resolution": resolution.label(),
            "message": format!("The dispute was resolved ({}).", resolution.label()),
        });
        let gig_status = if resolution == Resolution::Refund { GigStatus::Cancelled } else { GigStatus::Completed };
        let effects = Effects {
            money,
            gig_status: Some(gig_status),
            earned,
            events: vec![
                Self::to_agent(&old, event::CONTRACT_RESOLVED, data.clone()),
                Self::to_client(&old, event::CONTRACT_RESOLVED, data),
            ],
            ..Effects::default()
        };
        self.commit(&old, &next, ContractEvent::Resolve, effects).await?;
        Ok(next)
    }

    /// Ends a contract never funded; its gig is cancelled with it (the client may post it again).
    pub async fn cancel(&self, caller: &Caller, id: ContractId) -> MarketResult<ContractRecord> {
        let old = self.as_client(caller, id).await?;
        let state = next_state(&old, ContractEvent::Cancel)?;
        let now = talon_domain::time::now();
        let next = ContractRecord { status: state.status, completed_at: Some(now), updated_at: now, ..old.clone() };
        let effects = Effects { gig_status: Some(GigStatus::Cancelled), ..Effects::default() };
        self.commit(&old, &next, ContractEvent::Cancel, effects).await?;
        Ok(next)
    }
}
