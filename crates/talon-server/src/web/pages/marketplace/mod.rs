//! The marketplace as the signed-in account stands in it, as a client: its wallet (balance, escrow and
//! the latest ledger entries), the gigs it posted, and the contracts it pays for. `deals.rs` has a gig's
//! page (its proposals, which the account may accept) and a contract's page.
//!
//! Only what a session may do through `/api/v1` is offered: reading, and accepting a proposal on its
//! own gig. Bidding and delivering need a marketplace agent's own key; funding, approving and
//! disputing go through the API or the CLI. The pages say so.

mod deals;

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;
use talon_domain::marketplace::{BudgetType, ContractStatus, Gig, Micros};
use talon_store::{ContractParty, ContractRecord, Page, WalletEntry};

use crate::services::marketplace::wallets::WalletBalance;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::layout::{self, Section, badge, when};
use crate::web::session::SignedIn;

/// Gigs, and contracts, a page of the overview shows.
const PER_PAGE: i64 = 20;
/// Ledger entries the overview shows.
const LEDGER_ENTRIES: i64 = 10;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/marketplace", get(overview))
        .route("/marketplace/gigs/{id}", get(deals::gig))
        .route("/marketplace/gigs/{id}/accept", post(deals::accept))
        .route("/marketplace/contracts/{id}", get(deals::contract))
}

/// Money as people read it: the domain's exact decimal form, in USDC.
pub(crate) fn usdc(amount: Micros) -> String {
    format!("{} USDC", amount.to_usdc_string())
}

/// What happened to a contract's escrow, from its status and whether it was funded.
pub(crate) fn escrow(contract: &ContractRecord) -> &'static str {
    match (contract.funded, contract.status) {
        (false, _) => "not funded",
        (true, ContractStatus::Active | ContractStatus::Delivered | ContractStatus::Disputed) => "held in escrow",
        (true, ContractStatus::Approved) => "released to the agent",
        (true, ContractStatus::Resolved) => "settled by the dispute's resolution",
        (true, ContractStatus::Cancelled) => "refunded",
    }
}

/// `?gigs=N&contracts=M`: which page of each list.
#[derive(Debug, Default, Deserialize)]
struct OverviewQuery {
    gigs: Option<String>,
    contracts: Option<String>,
}

fn page_number(raw: Option<&str>, what: &str) -> Result<i64, WebError> {
    match raw.filter(|p| !p.is_empty()) {
        None => Ok(1),
        Some(raw) => raw.parse::<i64>().ok().filter(|p| (1..=1_000_000).contains(p)).ok_or_else(|| {
            WebError::bad_request(format!("The page of {what} must be a whole number from 1 to 1000000"))
        }),
    }
}

struct Overview {
    balance: WalletBalance,
    entries: Vec<WalletEntry>,
    gigs: Page<Gig>,
    gigs_page: i64,
    contracts: Page<ContractRecord>,
    contracts_page: i64,
}

async fn overview(
    State(state): State<AppState>,
    session: SignedIn,
    Query(query): Query<OverviewQuery>,
) -> Result<Markup, WebError> {
    let gigs_page = page_number(query.gigs.as_deref(), "gigs")?;
    let contracts_page = page_number(query.contracts.as_deref(), "contracts")?;
    let caller = session.caller();
    let account = caller.account.id;
    let market = &state.marketplace;
    let (balance, entries, gigs, contracts) = tokio::try_join!(
        market.wallets.balance(account),
        market.wallets.entries(account, LEDGER_ENTRIES, 0),
        market.gigs.client_gigs(&caller, None, PER_PAGE, (gigs_page - 1) * PER_PAGE),
        market.contracts.list(ContractParty::Client(account), None, PER_PAGE, (contracts_page - 1) * PER_PAGE),
    )?;
    let overview = Overview { balance, entries, gigs, gigs_page, contracts, contracts_page };
    Ok(overview_page(&session, &overview))
}

fn overview_page(session: &SignedIn, o: &Overview) -> Markup {
    let content = html! {
        h1 { "Marketplace" }
        p.muted {
            "This account on the marketplace as a client. Posting gigs, funding escrow, approving and disputing are done with "
            code { "/api/v1" } " (the ClawGig-compatible API) or the CLI; bidding and delivering need a marketplace agent's own key."
        }
        section aria-labelledby="wallet-heading" {
            h2 #wallet-heading { "Wallet" }
            dl.facts {
                dt { "Balance" } dd #wallet-balance { (usdc(o.balance.balance)) }
                dt { "In escrow" } dd { (usdc(o.balance.pending_escrow)) }
            }
            h3 { "Latest ledger entries" }
            @if o.entries.is_empty() {
                p { "No money has moved yet." }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { "When" } th scope="col" { "Kind" } th.num scope="col" { "Amount" }
                        th scope="col" { "Contract" } th scope="col" { "Reference" }
                    } }
                    tbody {
                        @for entry in &o.entries {
                            tr {
                                td { (when(entry.created_at)) }
                                td { (entry.kind.replace('_', " ")) }
                                td.num { @if entry.amount.is_positive() { "+" } (usdc(entry.amount)) }
                                td {
                                    @if let Some(contract) = &entry.contract {
                                        a href={ "/marketplace/contracts/" (contract) } { code { (contract) } }
                                    }
                                }
                                td { @if let Some(reference) = &entry.external_reference { (reference) } }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="gigs-heading" {
            h2 #gigs-heading { "Gigs posted" }
            (gig_table(o))
        }
        section aria-labelledby="contracts-heading" {
            h2 #contracts-heading { "Contracts" }
            (contract_table(o))
        }
    };
    layout::page(session, Section::Marketplace, "Marketplace", content)
}

fn gig_table(o: &Overview) -> Markup {
    html! {
        @if o.gigs.items.is_empty() {
            p { "No gigs posted" @if o.gigs_page > 1 { " on this page" } "." }
        } @else {
            table #gigs {
                thead { tr {
                    th scope="col" { "Gig" } th scope="col" { "Status" } th.num scope="col" { "Budget" }
                    th.num scope="col" { "Proposals" } th scope="col" { "Posted" }
                } }
                tbody {
                    @for gig in &o.gigs.items {
                        tr {
                            td { a href={ "/marketplace/gigs/" (gig.id) } { (gig.title) } }
                            td { (badge(gig.status.as_str())) }
                            td.num { (usdc(gig.budget)) @if gig.budget_type == BudgetType::Hourly { " an hour" } }
                            td.num { (gig.proposal_count) }
                            td { (when(gig.created_at)) }
                        }
                    }
                }
            }
        }
        (pages("gigs", o.gigs_page, o.gigs.total, ("contracts", o.contracts_page)))
    }
}

fn contract_table(o: &Overview) -> Markup {
    html! {
        @if o.contracts.items.is_empty() {
            p { "No contracts" @if o.contracts_page > 1 { " on this page" } "." }
        } @else {
            table #contracts {
                thead { tr {
                    th scope="col" { "Contract" } th scope="col" { "Gig" } th scope="col" { "Status" }
                    th.num scope="col" { "Amount" } th scope="col" { "Escrow" } th scope="col" { "Started" }
                } }
                tbody {
                    @for contract in &o.contracts.items {
                        tr {
                            td { a href={ "/marketplace/contracts/" (contract.id) } { code { (contract.id) } } }
                            td {
                                a href={ "/marketplace/gigs/" (contract.gig_id) } {
                                    @if let Some(gig) = o.gigs.items.iter().find(|g| g.id == contract.gig_id) { (gig.title) }
                                    @else { "The gig" }
                                }
                            }
                            td { (badge(contract.status.as_str())) }
                            td.num { (usdc(contract.amount)) }
                            td { (escrow(contract)) }
                            td { (when(contract.created_at)) }
                        }
                    }
                }
            }
        }
        (pages("contracts", o.contracts_page, o.contracts.total, ("gigs", o.gigs_page)))
    }
}

/// Links to the pages of one list, keeping the other list's page.
fn pages(list: &str, page: i64, total: i64, other: (&str, i64)) -> Markup {
    let count = (total + PER_PAGE - 1) / PER_PAGE;
    let href = |to: i64| format!("/marketplace?{list}={to}&{}={}", other.0, other.1);
    html! {
        @if count > 1 {
            nav.toolbar aria-label={ "Pages of " (list) } {
                @if page > 1 { a href=(href(page - 1)) { "Newer " (list) } }
                span.muted { "Page " (page) " of " (count) }
                @if page < count { a href=(href(page + 1)) { "Older " (list) } }
            }
        }
    }
}
