//! Contract messages between the client and the hired agent, the agent's inbox, and the client's review.

use serde_json::json;
use talon_domain::event::{self, Event};
use talon_domain::marketplace::ContractStatus;
use talon_domain::{AgentId, ContractId, MessageId, ReviewId, ValidationErrors};
use talon_store::{ContractRecord, MessageRecord, ReviewRecord, StoreError};

use super::{Contracts, MarketResult, Role};
use crate::services::Caller;
use crate::services::ServiceError;

pub const CONTENT_MAX: usize = 5_000;
pub const COMMENT_MAX: usize = 2_000;
pub const ATTACHMENT_FIELD_MAX: usize = 2_000;
pub const INBOX_MAX: i64 = 100;

pub struct NewMessage {
    pub content: String,
    pub attachment_url: Option<String>,
    pub attachment_name: Option<String>,
}

pub struct NewReview {
    pub rating: i64,
    pub comment: Option<String>,
}

impl Contracts {
    pub async fn messages(&self, caller: &Caller, id: ContractId) -> MarketResult<Vec<MessageRecord>> {
        self.get(caller, id).await?;
        Ok(self.deps.store.contract_messages(id).await?)
    }

    pub async fn post_message(
        &self,
        caller: &Caller,
        id: ContractId,
        input: NewMessage,
    ) -> MarketResult<MessageRecord> {
        let mut errors = ValidationErrors::new();
        let chars = input.content.trim().chars().count();
        if chars == 0 || chars > CONTENT_MAX {
            errors.add("content", format!("Must be 1 to {CONTENT_MAX} characters"));
        }
        for (field, value) in [("attachment_url", &input.attachment_url), ("attachment_name", &input.attachment_name)] {
            if value.as_ref().is_some_and(|v| v.is_empty() || v.chars().count() > ATTACHMENT_FIELD_MAX) {
                errors.add(field, format!("Must be 1 to {ATTACHMENT_FIELD_MAX} characters"));
            }
        }
        errors.finish(())?;
        let (contract, role) = self.get(caller, id).await?;
        let (sender_id, sender_agent_id, sender_name) = match role {
            Role::Client => (Some(contract.client_id), None, self.client_name(contract.hiring_agent_id).await?),
            Role::Agent => (None, Some(contract.agent_id), self.agent_name(contract.agent_id).await?),
        };
        let message = MessageRecord {
            id: MessageId::new(),
            contract_id: contract.id,
            sender_id,
            sender_agent_id,
            content: input.content.trim().to_owned(),
            attachment_url: input.attachment_url,
            attachment_name: input.attachment_name,
            created_at: talon_domain::time::now(),
        };
        let event = self.message_event(&contract, &message, sender_name).await?;
        self.deps.store.insert_message(&message, &[event]).await?;
        self.deps.outbox.ring();
        Ok(message)
    }

    /// `message.received` for the party that did not write the message.
    pub(super) async fn message_event(
        &self,
        contract: &ContractRecord,
        message: &MessageRecord,
        sender_name: String,
    ) -> MarketResult<Event> {
        let gig = self.gig_of(contract).await?;
        let from_client = message.sender_id.is_some();
        let data = json!({
            "contract_id": contract.id.to_string(),
            "gig_title": gig.title,
            "sender_name": sender_name,
            "sender_type": if from_client { "client" } else { "agent" },
            "message": message.content,
            "reply_url": self.url(&format!("/api/v1/contracts/{}/messages", contract.id)),
        });
        Ok(if from_client {
            Self::to_agent(contract, event::MESSAGE_RECEIVED, data)
        } else {
            Self::to_client(contract, event::MESSAGE_RECEIVED, data)
        })
    }

    pub async fn inbox(
        &self,
        agent: AgentId,
        contract: Option<ContractId>,
        limit: i64,
        offset: i64,
    ) -> MarketResult<Vec<MessageRecord>> {
        Ok(self.deps.store.agent_inbox(agent, contract, limit.clamp(1, INBOX_MAX), offset.max(0)).await?)
    }

    pub async fn review(&self, caller: &Caller, id: ContractId, input: NewReview) -> MarketResult<ReviewRecord> {
        let mut errors = ValidationErrors::new();
        if !(1..=5).contains(&input.rating) {
            errors.add("rating", "Must be an integer from 1 to 5");
        }
        if input.comment.as_ref().is_some_and(|c| c.chars().count() > COMMENT_MAX) {
            errors.add("comment", format!("Must be at most {COMMENT_MAX} characters"));
        }
        errors.finish(())?;
        let contract = self.as_client(caller, id).await?;
        if !matches!(contract.status, ContractStatus::Approved | ContractStatus::Resolved) {
            return Err(ServiceError::conflict(format!(
                "Only an approved or resolved contract can be reviewed; this one is {}",
                contract.status
            )));
        }
        let review = ReviewRecord {
            id: ReviewId::new(),
            contract_id: contract.id,
            reviewer_id: caller.account.id,
            agent_id: contract.agent_id,
            rating: i32::try_from(input.rating).unwrap_or(1),
            comment: input.comment.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()),
            created_at: talon_domain::time::now(),
        };
        let gig = self.gig_of(&contract).await?;
        let data = json!({
            "contract_id": contract.id.to_string(),
            "gig_title": gig.title,
            "rating": review.rating,
            "comment": review.comment,
            "message": format!("The client rated your work {} out of 5.", review.rating),
        });
        let events = [Self::to_agent(&contract, event::REVIEW_RECEIVED, data)];
        match self.deps.store.insert_review(&review, &events).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Err(ServiceError::conflict("This contract is already reviewed")),
            Err(e) => return Err(e.into()),
        }
        self.deps.outbox.ring();
        Ok(review)
    }
}
