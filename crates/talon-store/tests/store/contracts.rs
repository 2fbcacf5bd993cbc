//! Proposals and contracts: one live proposal per agent and gig, acceptance, and contract changes that
//! are compare-and-sets written with their money and events, all or nothing.

use talon_domain::event::{CONTRACT_FUNDED, Event};
use talon_domain::marketplace::{
    Balances, ContractStatus, GigStatus, LedgerAccount, Micros, ProposalStatus, Transaction,
};
use talon_domain::{ContractId, GigId, ProposalId};
use talon_store::{
    Acceptance, Backend, ChangeOutcome, ContractChange, ContractRecord, MarketGig, ProposalRecord, ProposalRefusal,
    StoreError,
};

use crate::common::agent_fixtures::agent;
use crate::common::{account, db, now};

on_both_databases!(one_live_proposal_and_acceptance_once, contract_changes_are_compare_and_sets_with_their_money);

fn usdc(text: &str) -> Micros {
    Micros::parse_usdc(text).unwrap()
}

struct Fixture {
    db: talon_store::testing::TestDatabase,
    client: talon_domain::Account,
    gig: MarketGig,
    proposal: ProposalRecord,
}

async fn fixture(backend: Backend) -> Fixture {
    let db = db(backend).await;
    let (client, holder) = (account("client@example.com"), account("holder@example.com"));
    db.store.create_account(&client, "h").await.unwrap();
    db.store.create_account(&holder, "h").await.unwrap();
    let (bidder, first) = agent(&holder, "bidder", None);
    db.store.insert_agent(&bidder, &first, &[]).await.unwrap();
    let gig = MarketGig {
        id: GigId::new(),
        client_id: client.id,
        created_by_agent_id: None,
        title: "A gig".into(),
        description: "Some work to do".into(),
        category: "code".into(),
        deliverables: None,
        budget: usdc("50"),
        status: GigStatus::Open,
        moderation_status: "approved".into(),
        max_proposals: 5,
        max_revisions: 2,
        proposal_count: 0,
        created_at: now(),
    };
    db.store.insert_market_gig(&gig).await.unwrap();
    let proposal = ProposalRecord {
        id: ProposalId::new(),
        gig_id: gig.id,
        agent_id: bidder.id,
        cover_letter: Some("I can do this well and fast.".into()),
        amount: usdc("40"),
        estimated_hours: Some(3.5),
        status: ProposalStatus::Pending,
        created_at: now(),
        updated_at: now(),
    };
    Fixture { db, client, gig, proposal }
}

fn contract_for(f: &Fixture, holder: talon_domain::UserId) -> ContractRecord {
    ContractRecord {
        id: ContractId::new(),
        gig_id: f.gig.id,
        client_id: f.client.id,
        agent_id: f.proposal.agent_id,
        agent_user_id: holder,
        proposal_id: Some(f.proposal.id),
        hiring_agent_id: None,
        amount: f.proposal.amount,
        status: ContractStatus::Active,
        funded: false,
        escrow_tx_signature: None,
        revisions_used: 0,
        max_revisions: 2,
        delivery_notes: None,
        deliverables_url: None,
        attachments: vec![],
        delivered_at: None,
        auto_approve_at: None,
        completed_at: None,
        dispute_reason: None,
        resolution: None,
        task_id: None,
        created_at: now(),
        updated_at: now(),
    }
}

async fn one_live_proposal_and_acceptance_once(backend: Backend) {
    let f = fixture(backend).await;
    let store = &f.db.store;
    assert_eq!(store.insert_proposal(&f.proposal).await.unwrap(), Ok(()));
    let again = ProposalRecord { id: ProposalId::new(), ..f.proposal.clone() };
    assert_eq!(store.insert_proposal(&again).await.unwrap(), Err(ProposalRefusal::Duplicate));
    assert_eq!(store.market_gig(f.gig.id).await.unwrap().unwrap().proposal_count, 1, "a refused bid is not counted");
    assert_eq!(store.proposal(f.proposal.id).await.unwrap().unwrap(), f.proposal);

    let holder = store.agent(f.proposal.agent_id).await.unwrap().unwrap().owner;
    let contract = contract_for(&f, holder);
    let acceptance = Acceptance { proposal_id: f.proposal.id, contract: &contract, events: &[] };
    assert!(store.accept_proposal(&acceptance).await.unwrap());
    let second = contract_for(&f, holder);
    let again = Acceptance { proposal_id: f.proposal.id, contract: &second, events: &[] };
    assert!(!store.accept_proposal(&again).await.unwrap(), "accepted once");
    assert!(store.contract(second.id).await.unwrap().is_none(), "nothing written");
    assert_eq!(store.contract(contract.id).await.unwrap().unwrap(), contract);
    assert_eq!(store.market_gig(f.gig.id).await.unwrap().unwrap().status, GigStatus::InProgress);
    let late = ProposalRecord { id: ProposalId::new(), ..f.proposal.clone() };
    assert_eq!(store.insert_proposal(&late).await.unwrap(), Err(ProposalRefusal::Closed));
}

async fn contract_changes_are_compare_and_sets_with_their_money(backend: Backend) {
    let f = fixture(backend).await;
    let store = &f.db.store;
    store.insert_proposal(&f.proposal).await.unwrap().unwrap();
    let holder = store.agent(f.proposal.agent_id).await.unwrap().unwrap().owner;
    let contract = contract_for(&f, holder);
    store.accept_proposal(&Acceptance { proposal_id: f.proposal.id, contract: &contract, events: &[] }).await.unwrap();

    // Built against a balance the wallet does not hold: the covered append refuses, and the status
    // change and the event are rolled back with it.
    let wallet = LedgerAccount::Wallet(f.client.id);
    let pretend = Balances::default().with_balance(wallet, usdc("100"));
    let fund = Transaction::fund_escrow(&pretend, f.client.id, contract.id, contract.amount).unwrap();
    let funded = ContractRecord { funded: true, ..contract.clone() };
    let events = [Event::new(f.client.id, CONTRACT_FUNDED, serde_json::json!({}))];
    let change = ContractChange {
        expected: &contract,
        next: &funded,
        money: Some(&fund),
        money_is_escrow_signature: true,
        gig_status: None,
        earned: None,
        message: None,
        events: &events,
    };
    assert!(matches!(store.change_contract(&change).await, Err(StoreError::Overdrawn { .. })));
    assert!(!store.contract(contract.id).await.unwrap().unwrap().funded);
    assert!(store.events_for(f.client.id).await.unwrap().iter().all(|e| e.kind != CONTRACT_FUNDED));

    store.append_covered(&Transaction::deposit(f.client.id, usdc("100")).unwrap(), None).await.unwrap();
    let ChangeOutcome::Applied { ledger: Some(stored) } = store.change_contract(&change).await.unwrap() else {
        panic!("applied with its money");
    };
    let read = store.contract(contract.id).await.unwrap().unwrap();
    assert_eq!((read.funded, read.escrow_tx_signature), (true, Some(stored.id.to_string())));
    assert_eq!(store.balance(&LedgerAccount::Escrow(contract.id)).await.unwrap(), usdc("40"));
    // The same change again starts from a state the contract has left.
    assert_eq!(store.change_contract(&change).await.unwrap(), ChangeOutcome::Stale);
    assert_eq!(store.balance(&wallet).await.unwrap(), usdc("60"), "funded once");
}
