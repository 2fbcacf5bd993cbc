//! `ContractStore` for every store, in SQL both databases run. Each state change is a conditional
//! UPDATE on the state it was decided from; zero rows means someone else changed it first, and the
//! transaction is dropped (rolled back) with nothing written.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::event::Event;
use talon_domain::marketplace::{ContractStatus, Micros};
use talon_domain::{AgentId, ContractId, GigId, ProposalId};

use super::rows::{
    CONTRACT_COLUMNS, ContractRow, GIG_COLUMNS, GigRow, MESSAGE_COLUMNS, MessageRow, PROPOSAL_COLUMNS, ProposalRow,
    bind_message, bind_proposal, encode_attachments,
};
use super::{
    Acceptance, ChangeOutcome, ContractChange, ContractParty, ContractRecord, MarketGig, MessageRecord, ProposalRecord,
    ProposalRefusal, ReviewRecord,
};
use crate::db::{Portable, Tx, outbox, run};
use crate::ledger::sql::append_covered_in;
use crate::{ContractStore, Page, StoreError};

const INSERT_GIG: &str = "INSERT INTO gigs (id, client_id, created_by_agent_id, title, description, category, \
     skills_required, budget_micros, budget_type, status, moderation_status, deadline, deliverables, max_proposals, \
     max_revisions, proposal_count, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, '[]', $7, 'fixed', $8, $9, NULL, $10, $11, $12, $13, $14, $14)";

const COUNT_PROPOSAL: &str = "UPDATE gigs SET proposal_count = proposal_count + 1, updated_at = $2 \
     WHERE id = $1 AND status = 'open' AND proposal_count < max_proposals";

const INSERT_PROPOSAL: &str = "INSERT INTO proposals (id, gig_id, agent_id, cover_letter, proposed_amount_micros, \
     estimated_hours, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

const UPDATE_PENDING_PROPOSAL: &str = "UPDATE proposals SET cover_letter = $1, proposed_amount_micros = $2, \
     estimated_hours = $3, updated_at = $4 WHERE id = $5 AND status = 'pending'";

const WITHDRAW_PROPOSAL: &str =
    "UPDATE proposals SET status = 'withdrawn', updated_at = $2 WHERE id = $1 AND status = 'pending'";

const UNCOUNT_PROPOSAL: &str = "UPDATE gigs SET proposal_count = proposal_count - 1 \
     WHERE id = (SELECT gig_id FROM proposals WHERE id = $1) AND proposal_count > 0";

const ACCEPT_PROPOSAL: &str =
    "UPDATE proposals SET status = 'accepted', updated_at = $2 WHERE id = $1 AND status = 'pending'";

const START_GIG: &str = "UPDATE gigs SET status = 'in_progress', updated_at = $2 WHERE id = $1 AND status = 'open'";

const REJECT_OTHERS: &str =
    "UPDATE proposals SET status = 'rejected', updated_at = $2 WHERE gig_id = $1 AND status = 'pending'";

const INSERT_CONTRACT: &str = "INSERT INTO contracts (id, gig_id, client_id, agent_id, agent_user_id, proposal_id, \
     hiring_agent_id, amount_micros, status, funded, escrow_tx_signature, revisions_used, max_revisions, \
     delivery_notes, deliverables_url, attachments, delivered_at, auto_approve_at, completed_at, dispute_reason, \
     resolution, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)";

const CHANGE_CONTRACT: &str = "UPDATE contracts SET status = $1, funded = $2, escrow_tx_signature = $3, \
     revisions_used = $4, delivery_notes = $5, deliverables_url = $6, attachments = $7, delivered_at = $8, \
     auto_approve_at = $9, completed_at = $10, dispute_reason = $11, resolution = $12, updated_at = $13 \
     WHERE id = $14 AND status = $15 AND funded = $16 AND revisions_used = $17";

const SET_ESCROW_SIGNATURE: &str = "UPDATE contracts SET escrow_tx_signature = $1 WHERE id = $2";

const SET_GIG_STATUS: &str = "UPDATE gigs SET status = $1, updated_at = $2 WHERE id = $3";

const COUNT_EARNINGS: &str = "UPDATE marketplace_profiles SET stats_completed_gigs = stats_completed_gigs + 1, \
     stats_total_earned_micros = stats_total_earned_micros + $1, updated_at = $2 WHERE agent_id = $3";

const INSERT_MESSAGE: &str = "INSERT INTO contract_messages (id, contract_id, sender_id, sender_agent_id, content, \
     attachment_url, attachment_name, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

const INSERT_REVIEW: &str = "INSERT INTO reviews (id, contract_id, reviewer_id, agent_id, rating, comment, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";

const COUNT_REVIEW: &str = "UPDATE marketplace_profiles SET stats_rating_sum = stats_rating_sum + $1, \
     stats_total_reviews = stats_total_reviews + 1, updated_at = $2 WHERE agent_id = $3";

const PROFILE_STATS: &str = "SELECT stats_completed_gigs, stats_rating_sum, stats_total_reviews, \
     stats_total_earned_micros FROM marketplace_profiles WHERE agent_id = $1";

const DUE_FOR_APPROVAL: &str = "SELECT id FROM contracts WHERE status = 'delivered' AND auto_approve_at <= $1 \
     ORDER BY auto_approve_at, id LIMIT $2";

/// Runs one statement in `tx` and returns how many rows it changed.
macro_rules! affected {
    ($tx:expr, $query:expr) => {
        run!($tx.conn(), |c| $query.execute(c).await.map(|done| done.rows_affected()))
    };
}

#[async_trait]
impl<S: Portable> ContractStore for S {
    async fn market_gig(&self, id: GigId) -> Result<Option<MarketGig>, StoreError> {
        let statement = format!("SELECT {GIG_COLUMNS} FROM gigs WHERE id = $1");
        let row: Option<GigRow> =
            run!(self.db().reader(), |e| sqlx::query_as(&statement).bind(id.as_uuid()).fetch_optional(e).await)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn insert_market_gig(&self, gig: &MarketGig) -> Result<(), StoreError> {
        run!(self.db().writer(), |e| {
            sqlx::query(INSERT_GIG)
                .bind(*gig.id.as_uuid())
                .bind(*gig.client_id.as_uuid())
                .bind(gig.created_by_agent_id.map(|a| *a.as_uuid()))
                .bind(&gig.title)
                .bind(&gig.description)
                .bind(&gig.category)
                .bind(gig.budget.as_micros())
                .bind(gig.status.as_str())
                .bind(&gig.moderation_status)
                .bind(gig.deliverables.as_deref())
                .bind(gig.max_proposals)
                .bind(gig.max_revisions)
                .bind(gig.proposal_count)
                .bind(gig.created_at)
                .execute(e)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    async fn insert_proposal(&self, proposal: &ProposalRecord) -> Result<Result<(), ProposalRefusal>, StoreError> {
        let mut tx = self.db().begin().await?;
        let counted =
            affected!(tx, sqlx::query(COUNT_PROPOSAL).bind(*proposal.gig_id.as_uuid()).bind(proposal.created_at))?;
        if counted != 1 {
            return Ok(Err(ProposalRefusal::Closed));
        }
        let inserted =
            run!(tx.conn(), |c| { bind_proposal(sqlx::query(INSERT_PROPOSAL), proposal).execute(c).await.map(|_| ()) });
        match inserted.map_err(|e| StoreError::unique(e, "proposal")) {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Ok(Err(ProposalRefusal::Duplicate)),
            Err(e) => return Err(e),
        }
        tx.commit().await?;
        Ok(Ok(()))
    }

    async fn proposal(&self, id: ProposalId) -> Result<Option<ProposalRecord>, StoreError> {
        let statement = format!("SELECT {PROPOSAL_COLUMNS} FROM proposals WHERE id = $1");
        let row: Option<ProposalRow> =
            run!(self.db().reader(), |e| sqlx::query_as(&statement).bind(id.as_uuid()).fetch_optional(e).await)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn proposals_of_agent(&self, agent: AgentId) -> Result<Vec<ProposalRecord>, StoreError> {
        let statement = format!("SELECT {PROPOSAL_COLUMNS} FROM proposals WHERE agent_id = $1 ORDER BY id DESC");
        let rows: Vec<ProposalRow> =
            run!(self.db().reader(), |e| sqlx::query_as(&statement).bind(agent.as_uuid()).fetch_all(e).await)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn proposals_of_gig(&self, gig: GigId) -> Result<Vec<ProposalRecord>, StoreError> {
        let statement = format!("SELECT {PROPOSAL_COLUMNS} FROM proposals WHERE gig_id = $1 ORDER BY id DESC");
        let rows: Vec<ProposalRow> =
            run!(self.db().reader(), |e| sqlx::query_as(&statement).bind(gig.as_uuid()).fetch_all(e).await)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn update_pending_proposal(&self, p: &ProposalRecord) -> Result<bool, StoreError> {
        let changed = run!(self.db().writer(), |e| {
            sqlx::query(UPDATE_PENDING_PROPOSAL)
                .bind(p.cover_letter.as_deref())
                .bind(p.amount.as_micros())
                .bind(p.estimated_hours)
                .bind(p.updated_at)
                .bind(p.id.as_uuid())
                .execute(e)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(changed == 1)
    }

    async fn withdraw_proposal(&self, id: ProposalId, at: DateTime<Utc>) -> Result<bool, StoreError> {
        // The gig's row first, as every writer of its proposals does; undone with the rest if the
        // proposal was not pending.
        let mut tx = self.db().begin().await?;
        affected!(tx, sqlx::query(UNCOUNT_PROPOSAL).bind(*id.as_uuid()))?;
        if affected!(tx, sqlx::query(WITHDRAW_PROPOSAL).bind(*id.as_uuid()).bind(at))? != 1 {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn accept_proposal(&self, acceptance: &Acceptance<'_>) -> Result<bool, StoreError> {
        let contract = acceptance.contract;
        let at = contract.created_at;
        let gig = *contract.gig_id.as_uuid();
        // Every writer of a gig's proposals locks the gig's row first, so none of them can deadlock.
        let mut tx = self.db().begin().await?;
        if affected!(tx, sqlx::query(START_GIG).bind(gig).bind(at))? != 1 {
            return Ok(false);
        }
        if affected!(tx, sqlx::query(ACCEPT_PROPOSAL).bind(*acceptance.proposal_id.as_uuid()).bind(at))? != 1 {
            return Ok(false);
        }
        affected!(tx, sqlx::query(REJECT_OTHERS).bind(gig).bind(at))?;
        insert_contract(&mut tx, contract).await?;
        outbox::record(&mut tx, acceptance.events).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn contract(&self, id: ContractId) -> Result<Option<ContractRecord>, StoreError> {
        let statement = format!("SELECT {CONTRACT_COLUMNS} FROM contracts WHERE id = $1");
        let row: Option<ContractRow> =
            run!(self.db().reader(), |e| sqlx::query_as(&statement).bind(id.as_uuid()).fetch_optional(e).await)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn list_contracts(
        &self,
        party: ContractParty,
        status: Option<ContractStatus>,
        limit: i64,
        offset: i64,
    ) -> Result<Page<ContractRecord>, StoreError> {
        let (column, id) = match party {
            ContractParty::Client(user) => ("client_id", *user.as_uuid()),
            ContractParty::HiringAgent(agent) => ("hiring_agent_id", *agent.as_uuid()),
            ContractParty::Agent(agent) => ("agent_id", *agent.as_uuid()),
        };
        let status = status.map(ContractStatus::as_str);
        let condition = format!("{column} = $1 AND ($2 IS NULL OR status = $2)");
        let count = format!("SELECT COUNT(*) FROM contracts WHERE {condition}");
        let (total,): (i64,) =
            run!(self.db().reader(), |e| sqlx::query_as(&count).bind(id).bind(status).fetch_one(e).await)?;
        let select =
            format!("SELECT {CONTRACT_COLUMNS} FROM contracts WHERE {condition} ORDER BY id DESC LIMIT $3 OFFSET $4");
        let rows: Vec<ContractRow> = run!(self.db().reader(), |e| {
            sqlx::query_as(&select).bind(id).bind(status).bind(limit).bind(offset).fetch_all(e).await
        })?;
        let items = rows.into_iter().map(TryInto::try_into).collect::<Result<_, _>>()?;
        Ok(Page::positioned(items, total, offset))
    }

    async fn change_contract(&self, change: &ContractChange<'_>) -> Result<ChangeOutcome, StoreError> {
        let (old, new) = (change.expected, change.next);
        let mut tx = self.db().begin().await?;
        let changed = affected!(
            tx,
            sqlx::query(CHANGE_CONTRACT)
                .bind(new.status.as_str())
                .bind(new.funded)
                .bind(new.escrow_tx_signature.as_deref())
                .bind(new.revisions_used)
                .bind(new.delivery_notes.as_deref())
                .bind(new.deliverables_url.as_deref())
                .bind(encode_attachments(new))
                .bind(new.delivered_at)
                .bind(new.auto_approve_at)
                .bind(new.completed_at)
                .bind(new.dispute_reason.as_deref())
                .bind(new.resolution.as_deref())
                .bind(new.updated_at)
                .bind(*old.id.as_uuid())
                .bind(old.status.as_str())
                .bind(old.funded)
                .bind(old.revisions_used)
        )?;
        if changed != 1 {
            return Ok(ChangeOutcome::Stale);
        }
        let mut ledger = None;
        if let Some(money) = change.money {
            let stored = append_covered_in(&mut tx, money, None).await?;
            if change.money_is_escrow_signature {
                let signature = stored.id.to_string();
                affected!(tx, sqlx::query(SET_ESCROW_SIGNATURE).bind(signature).bind(*new.id.as_uuid()))?;
            }
            ledger = Some(stored);
        }
        if let Some(status) = change.gig_status {
            affected!(
                tx,
                sqlx::query(SET_GIG_STATUS).bind(status.as_str()).bind(new.updated_at).bind(*new.gig_id.as_uuid())
            )?;
        }
        if let Some(earned) = change.earned {
            affected!(
                tx,
                sqlx::query(COUNT_EARNINGS).bind(earned.as_micros()).bind(new.updated_at).bind(*new.agent_id.as_uuid())
            )?;
        }
        if let Some(message) = change.message {
            run!(tx.conn(), |c| bind_message(sqlx::query(INSERT_MESSAGE), message).execute(c).await.map(|_| ()))?;
        }
        outbox::record(&mut tx, change.events).await?;
        tx.commit().await?;
        Ok(ChangeOutcome::Applied { ledger })
    }

    async fn contracts_due_for_approval(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<ContractId>, StoreError> {
        let ids: Vec<(uuid::Uuid,)> =
            run!(self.db().reader(), |e| sqlx::query_as(DUE_FOR_APPROVAL).bind(now).bind(limit).fetch_all(e).await)?;
        Ok(ids.into_iter().map(|(id,)| ContractId::from_uuid(id)).collect())
    }

    async fn insert_message(&self, message: &MessageRecord, events: &[Event]) -> Result<(), StoreError> {
        let mut tx = self.db().begin().await?;
        run!(tx.conn(), |c| bind_message(sqlx::query(INSERT_MESSAGE), message).execute(c).await.map(|_| ()))?;
        outbox::record(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn contract_messages(&self, contract: ContractId) -> Result<Vec<MessageRecord>, StoreError> {
        let statement =
            format!("SELECT {MESSAGE_COLUMNS} FROM contract_messages m WHERE m.contract_id = $1 ORDER BY m.id");
        let rows: Vec<MessageRow> =
            run!(self.db().reader(), |e| sqlx::query_as(&statement).bind(contract.as_uuid()).fetch_all(e).await)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn agent_inbox(
        &self,
        agent: AgentId,
        contract: Option<ContractId>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        let statement = format!(
            "SELECT {MESSAGE_COLUMNS} FROM contract_messages m JOIN contracts c ON c.id = m.contract_id \
             WHERE c.agent_id = $1 AND ($2 IS NULL OR m.contract_id = $2) ORDER BY m.id DESC LIMIT $3 OFFSET $4"
        );
        let contract = contract.map(|c| *c.as_uuid());
        let rows: Vec<MessageRow> = run!(self.db().reader(), |e| {
            sqlx::query_as(&statement).bind(agent.as_uuid()).bind(contract).bind(limit).bind(offset).fetch_all(e).await
        })?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn insert_review(&self, review: &ReviewRecord, events: &[Event]) -> Result<(), StoreError> {
        let mut tx = self.db().begin().await?;
        run!(tx.conn(), |c| {
            sqlx::query(INSERT_REVIEW)
                .bind(*review.id.as_uuid())
                .bind(*review.contract_id.as_uuid())
                .bind(*review.reviewer_id.as_uuid())
                .bind(*review.agent_id.as_uuid())
                .bind(review.rating)
                .bind(review.comment.as_deref())
                .bind(review.created_at)
                .execute(c)
                .await
                .map(|_| ())
        })
        .map_err(|e| StoreError::unique(e, "review"))?;
        affected!(
            tx,
            sqlx::query(COUNT_REVIEW).bind(review.rating).bind(review.created_at).bind(*review.agent_id.as_uuid())
        )?;
        outbox::record(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn agent_is_autonomous(&self, agent: AgentId) -> Result<Option<bool>, StoreError> {
        let row: Option<(bool,)> = run!(self.db().reader(), |e| {
            sqlx::query_as("SELECT is_autonomous FROM marketplace_profiles WHERE agent_id = $1")
                .bind(agent.as_uuid())
                .fetch_optional(e)
                .await
        })?;
        Ok(row.map(|(autonomous,)| autonomous))
    }

    async fn profile_stats(&self, agent: AgentId) -> Result<Option<(i32, i32, i32, Micros)>, StoreError> {
        let row: Option<(i32, i32, i32, i64)> =
            run!(self.db().reader(), |e| sqlx::query_as(PROFILE_STATS).bind(agent.as_uuid()).fetch_optional(e).await)?;
        Ok(row.map(|(gigs, sum, reviews, earned)| (gigs, sum, reviews, Micros::from_micros(earned))))
    }
}

async fn insert_contract(tx: &mut Tx, c: &ContractRecord) -> Result<(), StoreError> {
    run!(tx.conn(), |conn| {
        sqlx::query(INSERT_CONTRACT)
            .bind(*c.id.as_uuid())
            .bind(*c.gig_id.as_uuid())
            .bind(*c.client_id.as_uuid())
            .bind(*c.agent_id.as_uuid())
            .bind(*c.agent_user_id.as_uuid())
            .bind(c.proposal_id.map(|p| *p.as_uuid()))
            .bind(c.hiring_agent_id.map(|a| *a.as_uuid()))
            .bind(c.amount.as_micros())
            .bind(c.status.as_str())
            .bind(c.funded)
            .bind(c.escrow_tx_signature.as_deref())
            .bind(c.revisions_used)
            .bind(c.max_revisions)
            .bind(c.delivery_notes.as_deref())
            .bind(c.deliverables_url.as_deref())
            .bind(encode_attachments(c))
            .bind(c.delivered_at)
            .bind(c.auto_approve_at)
            .bind(c.completed_at)
            .bind(c.dispute_reason.as_deref())
            .bind(c.resolution.as_deref())
            .bind(c.created_at)
            .bind(c.updated_at)
            .execute(conn)
            .await
            .map(|_| ())
    })?;
    Ok(())
}
