//! A gig the account posted, with the proposals on it (accepting one makes the contract, as
//! `POST /api/v1/gigs/{id}/accept-proposal` does), and a contract the account pays for.

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use talon_domain::marketplace::{Gig, GigStatus, ProposalStatus};
use talon_domain::{ContractId, GigId, ProposalId};
use talon_store::{ContractRecord, ProposalRecord};

use super::{escrow, usdc};
use crate::services::marketplace::contracts::Role;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::form::CsrfForm;
use crate::web::layout::{self, Section, badge, csrf_field, when};
use crate::web::pages::redirect::see_other;
use crate::web::session::SignedIn;

#[derive(Deserialize)]
pub struct AcceptForm {
    proposal: String,
}

fn gig_id(raw: &str) -> Result<GigId, WebError> {
    GigId::parse(raw).map_err(|_| WebError::not_found("Gig"))
}

/// `/marketplace/gigs/{id}`: only the account that posted the gig sees its proposals; anyone else is
/// told there is no such gig, as the API tells them.
pub async fn gig(State(state): State<AppState>, session: SignedIn, Path(id): Path<String>) -> Result<Markup, WebError> {
    let caller = session.caller();
    let id = gig_id(&id)?;
    let market = &state.marketplace;
    let (proposals, gig) =
        tokio::try_join!(market.contracts.gig_proposals(&caller, id), market.gigs.get_for(&caller, id))?;
    Ok(gig_page(&session, &gig, &proposals))
}

pub async fn accept(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(session, form): CsrfForm<AcceptForm>,
) -> Result<Response, WebError> {
    let proposal = ProposalId::parse(&form.proposal).map_err(|_| WebError::not_found("Proposal"))?;
    let contract = state.marketplace.contracts.accept(&session.caller(), None, gig_id(&id)?, proposal).await?;
    Ok(see_other(
        &format!("/marketplace/contracts/{}", contract.id),
        "Proposal accepted: the contract starts once its escrow is funded",
    ))
}

/// `/marketplace/contracts/{id}`: for either party of the contract (the client's account here).
pub async fn contract(
    State(state): State<AppState>,
    session: SignedIn,
    Path(id): Path<String>,
) -> Result<Markup, WebError> {
    let id = ContractId::parse(&id).map_err(|_| WebError::not_found("Contract"))?;
    let (contract, role) = state.marketplace.contracts.get(&session.caller(), id).await?;
    Ok(contract_page(&session, &contract, role))
}

fn gig_page(session: &SignedIn, gig: &Gig, proposals: &[ProposalRecord]) -> Markup {
    let open = gig.status == GigStatus::Open;
    let content = html! {
        p { a href="/marketplace" { "← Marketplace" } }
        h1 { (gig.title) }
        dl.facts {
            dt { "Status" } dd { (badge(gig.status.as_str())) }
            dt { "Budget" } dd { (usdc(gig.budget)) " (" (gig.budget_type.as_str()) ")" }
            dt { "Category" } dd { (gig.category.as_str()) }
            dt { "Skills" } dd { (gig.skills_required.join(", ")) }
            dt { "Proposals" } dd { (gig.proposal_count) " of at most " (gig.max_proposals) }
            dt { "Revisions allowed" } dd { (gig.max_revisions) }
            dt { "Deadline" } dd { @if let Some(at) = gig.deadline { (when(at)) } @else { "none" } }
            dt { "Moderation" } dd { (gig.moderation_status.as_str()) }
            dt { "Posted" } dd { (when(gig.created_at)) }
        }
        h2 { "Description" }
        p.prose { (gig.description) }
        @if let Some(deliverables) = &gig.deliverables {
            h2 { "Deliverables" }
            p.prose { (deliverables) }
        }
        h2 { "Proposals" }
        @if proposals.is_empty() {
            p { "No proposals yet." }
        } @else {
            table #proposals {
                thead { tr {
                    th scope="col" { "Agent" } th.num scope="col" { "Amount" } th.num scope="col" { "Hours" }
                    th scope="col" { "Cover letter" } th scope="col" { "Status" } th scope="col" { "Sent" }
                    th scope="col" { "Action" }
                } }
                tbody {
                    @for proposal in proposals {
                        tr {
                            td { code { (proposal.agent_id) } }
                            td.num { (usdc(proposal.amount)) }
                            td.num { @if let Some(hours) = proposal.estimated_hours { (hours) } @else { "—" } }
                            td.prose { @if let Some(letter) = &proposal.cover_letter { (letter) } }
                            td { (badge(proposal.status.as_str())) }
                            td { (when(proposal.created_at)) }
                            td {
                                @if open && proposal.status == ProposalStatus::Pending {
                                    form method="post" action={ "/marketplace/gigs/" (gig.id) "/accept" }
                                        data-confirm={ "Accept this proposal for " (usdc(proposal.amount)) "? The gig's other proposals are declined." } {
                                        (csrf_field(session))
                                        input type="hidden" name="proposal" value=(proposal.id);
                                        button type="submit" { "Accept" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if open {
                p.hint { "Accepting makes an unfunded contract; fund its escrow with "
                    code { "POST /api/v1/contracts/{id}/fund-escrow" } " for the agent to start." }
            }
        }
    };
    layout::page(session, Section::Marketplace, &gig.title, content)
}

fn contract_page(session: &SignedIn, contract: &ContractRecord, role: Role) -> Markup {
    let content = html! {
        p { a href="/marketplace" { "← Marketplace" } }
        h1 { "Contract " code { (contract.id) } }
        dl.facts {
            dt { "Status" } dd { (badge(contract.status.as_str())) }
            dt { "Amount" } dd { (usdc(contract.amount)) }
            dt { "Escrow" } dd { (escrow(contract)) }
            dt { "Gig" }
            dd {
                @if role == Role::Client { a href={ "/marketplace/gigs/" (contract.gig_id) } { code { (contract.gig_id) } } }
                @else { code { (contract.gig_id) } }
            }
            dt { "Agent" } dd { code { (contract.agent_id) } }
            @if let Some(agent) = contract.hiring_agent_id { dt { "Hired by agent" } dd { code { (agent) } } }
            dt { "Revisions" } dd { (contract.revisions_used) " of " (contract.max_revisions) " used" }
            dt { "Started" } dd { (when(contract.created_at)) }
            @if let Some(at) = contract.delivered_at { dt { "Delivered" } dd { (when(at)) } }
            @if let Some(at) = contract.auto_approve_at { dt { "Approved on its own" } dd { (when(at)) " unless disputed" } }
            @if let Some(at) = contract.completed_at { dt { "Completed" } dd { (when(at)) } }
            @if let Some(resolution) = &contract.resolution { dt { "Resolution" } dd { (resolution) } }
        }
        @if let Some(notes) = &contract.delivery_notes {
            h2 { "Delivery notes" }
            p.prose { (notes) }
        }
        @if let Some(url) = &contract.deliverables_url {
            h2 { "Deliverables" }
            p { code { (url) } }
        }
        @if let Some(reason) = &contract.dispute_reason {
            h2 { "Dispute" }
            p.prose { (reason) }
        }
        p.hint {
            "Funding, approving, asking for a revision and disputing are done with the API ("
            code { "/api/v1/contracts/" (contract.id) "/…" } ") or the CLI; this page shows the contract as it stands."
        }
    };
    layout::page(session, Section::Marketplace, "Contract", content)
}
