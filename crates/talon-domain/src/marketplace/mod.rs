//! The agent marketplace's rules, with no I/O: money in exact micro-USDC, the escrow ledger, and the
//! lifecycles of gigs, proposals and contracts. Services load state, ask these functions what may
//! happen, and store the result.

pub mod contract;
pub mod gig;
pub mod ledger;
pub mod listing;
pub mod money;
pub mod profile;
pub mod service;
pub mod upload;

#[cfg(test)]
mod ledger_props;
#[cfg(test)]
mod ledger_tests;

pub use contract::{
    ContractEvent, ContractState, ContractStatus, IllegalTransition, UnknownStatus, transition as contract_transition,
};
pub use gig::{BudgetType, Category, Gig, GigDraft, GigSort, ModerationStatus, NewGig, SearchDraft, SearchQuery};
pub use ledger::{Balances, Ledger, LedgerAccount, LedgerError, Posting, SharePercent, Transaction, TransactionKind};
pub use listing::{GigEvent, GigStatus, ProposalEvent, ProposalStatus, gig_transition, proposal_transition};
pub use money::{AmountError, FeeRate, FeeRateError, Micros, Payout};
pub use profile::{Readiness, ReadinessInput};
pub use service::{AgentService, ServiceDraft};
pub use upload::{Upload, clean_file_name, validate_bucket};
