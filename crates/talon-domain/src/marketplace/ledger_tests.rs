//! Unit tests of each ledger movement.

use super::ledger::*;
use super::money::{FeeRate, Micros};
use crate::id::{ContractId, UserId};

fn usdc(text: &str) -> Micros {
    Micros::parse_usdc(text).unwrap()
}

fn sum(tx: &Transaction) -> i64 {
    tx.postings().iter().map(|p| p.amount.as_micros()).sum()
}

/// A ledger where `client` deposited `deposit` and funded `contract` with `escrow`.
fn funded(deposit: &str, escrow: &str) -> (Ledger, UserId, ContractId) {
    let (client, contract) = (UserId::new(), ContractId::new());
    let mut ledger = Ledger::new();
    ledger.append(Transaction::deposit(client, usdc(deposit)).unwrap()).unwrap();
    let fund = Transaction::fund_escrow(ledger.balances(), client, contract, usdc(escrow)).unwrap();
    ledger.append(fund).unwrap();
    (ledger, client, contract)
}

#[test]
fn deposit_credits_the_wallet_from_outside() {
    let user = UserId::new();
    let tx = Transaction::deposit(user, usdc("25.5")).unwrap();
    assert_eq!(tx.kind(), TransactionKind::Deposit);
    assert_eq!(
        tx.postings(),
        &[
            Posting { account: LedgerAccount::ExternalDeposits, amount: Micros::from_micros(-25_500_000) },
            Posting { account: LedgerAccount::Wallet(user), amount: usdc("25.5") },
        ]
    );
    let balances = Balances::fold([&tx]).unwrap();
    assert_eq!((balances.wallet(user), balances.total_deposited()), (usdc("25.5"), usdc("25.5")));
    assert_eq!(Transaction::deposit(user, Micros::ZERO), Err(LedgerError::NotPositive));
    assert_eq!(Transaction::deposit(user, Micros::from_micros(-1)), Err(LedgerError::NotPositive));
}

#[test]
fn withdrawal_debits_the_wallet_and_refuses_overdrafts() {
    let user = UserId::new();
    let mut ledger = Ledger::new();
    ledger.append(Transaction::deposit(user, usdc("10")).unwrap()).unwrap();
    let err = Transaction::withdrawal(ledger.balances(), user, usdc("10.000001")).unwrap_err();
    assert_eq!(err, LedgerError::InsufficientFunds { available: usdc("10"), required: usdc("10.000001") });
    let tx = Transaction::withdrawal(ledger.balances(), user, usdc("4")).unwrap();
    assert_eq!(sum(&tx), 0);
    ledger.append(tx).unwrap();
    assert_eq!(ledger.balances().wallet(user), usdc("6"));
    assert_eq!(ledger.balances().total_withdrawn(), usdc("4"));
}

#[test]
fn fund_escrow_moves_the_wallet_into_the_contract_once() {
    let (ledger, client, contract) = funded("100", "60");
    let balances = ledger.balances();
    assert_eq!((balances.wallet(client), balances.escrow(contract)), (usdc("40"), usdc("60")));
    assert_eq!(balances.escrow_funder(contract), Some(client));
    assert_eq!(
        Transaction::fund_escrow(balances, client, contract, usdc("1")),
        Err(LedgerError::EscrowAlreadyFunded(contract))
    );
    let other = ContractId::new();
    assert!(matches!(
        Transaction::fund_escrow(balances, client, other, usdc("41")),
        Err(LedgerError::InsufficientFunds { .. })
    ));
    assert_eq!(Transaction::fund_escrow(balances, client, other, Micros::ZERO), Err(LedgerError::NotPositive));
}

#[test]
fn release_pays_the_agent_less_the_floored_fee() {
    let (mut ledger, client, contract) = funded("100", "85.5");
    let agent = UserId::new();
    let tx = Transaction::release(ledger.balances(), contract, agent, FeeRate::default()).unwrap();
    assert_eq!(tx.kind(), TransactionKind::Release(contract));
    assert_eq!(sum(&tx), 0);
    ledger.append(tx).unwrap();
    let balances = ledger.balances();
    assert_eq!(balances.wallet(agent), usdc("76.95"));
    assert_eq!(balances.platform_revenue(), usdc("8.55"));
    assert_eq!((balances.escrow(contract), balances.wallet(client)), (Micros::ZERO, usdc("14.5")));
    assert!(balances.is_escrow_resolved(contract));
}

#[test]
fn an_escrow_resolves_at_most_once() {
    let (mut ledger, _, contract) = funded("10", "10");
    let agent = UserId::new();
    let release = Transaction::release(ledger.balances(), contract, agent, FeeRate::default()).unwrap();
    let stale_refund = Transaction::refund(ledger.balances(), contract).unwrap();
    ledger.append(release).unwrap();
    let empty = Err(LedgerError::EscrowEmpty(contract));
    assert_eq!(Transaction::release(ledger.balances(), contract, agent, FeeRate::default()), empty);
    assert_eq!(Transaction::refund(ledger.balances(), contract), empty);
    assert_eq!(
        Transaction::split(ledger.balances(), contract, agent, SharePercent::new(50).unwrap(), FeeRate::default()),
        empty
    );
    // A transaction built against stale balances is refused on append too, leaving the ledger as it was.
    let before = ledger.balances().clone();
    assert!(ledger.append(stale_refund).is_err());
    assert_eq!((ledger.balances(), ledger.transactions().len()), (&before, 3));
    // Never funded: nothing to resolve.
    let never = ContractId::new();
    assert_eq!(Transaction::refund(ledger.balances(), never), Err(LedgerError::EscrowEmpty(never)));
}

#[test]
fn refund_returns_the_whole_escrow_to_its_funder_without_fee() {
    let (mut ledger, client, contract) = funded("50", "50");
    ledger.append(Transaction::refund(ledger.balances(), contract).unwrap()).unwrap();
    let balances = ledger.balances();
    assert_eq!(
        (balances.wallet(client), balances.escrow(contract), balances.platform_revenue()),
        (usdc("50"), Micros::ZERO, Micros::ZERO)
    );
    assert!(balances.is_escrow_resolved(contract));
    assert_eq!(
        Transaction::fund_escrow(balances, client, contract, usdc("1")),
        Err(LedgerError::EscrowAlreadyFunded(contract))
    );
}

#[test]
fn split_charges_the_fee_on_the_agent_part_only() {
    let (mut ledger, client, contract) = funded("100", "100");
    let agent = UserId::new();
    let tx = Transaction::split(ledger.balances(), contract, agent, SharePercent::new(30).unwrap(), FeeRate::default())
        .unwrap();
    assert_eq!(tx.kind(), TransactionKind::Split(contract));
    ledger.append(tx).unwrap();
    let balances = ledger.balances();
    assert_eq!(balances.wallet(agent), usdc("27"));
    assert_eq!(balances.platform_revenue(), usdc("3"));
    assert_eq!(balances.wallet(client), usdc("70"));
    assert_eq!(SharePercent::new(101), Err(LedgerError::InvalidSharePercent(101)));
}

#[test]
fn split_rounds_the_agent_part_down() {
    // 1 micro at 50 %: the agent's part floors to 0, so the client gets the micro back and no zero
    // postings are recorded.
    let (mut ledger, client, contract) = funded("0.000001", "0.000001");
    let agent = UserId::new();
    let tx = Transaction::split(ledger.balances(), contract, agent, SharePercent::new(50).unwrap(), FeeRate::default())
        .unwrap();
    assert_eq!(tx.postings().len(), 2);
    ledger.append(tx).unwrap();
    assert_eq!(
        (ledger.balances().wallet(client), ledger.balances().wallet(agent)),
        (Micros::from_micros(1), Micros::ZERO)
    );
}

#[test]
fn split_extremes_match_release_and_refund_amounts() {
    let agent = UserId::new();
    let (ledger, client, contract) = funded("33.333333", "33.333333");
    let all = Transaction::split(ledger.balances(), contract, agent, SharePercent::ALL, FeeRate::default()).unwrap();
    let release = Transaction::release(ledger.balances(), contract, agent, FeeRate::default()).unwrap();
    assert_eq!(all.postings(), release.postings());
    let none = Transaction::split(ledger.balances(), contract, agent, SharePercent::NONE, FeeRate::default()).unwrap();
    let refund = Transaction::refund(ledger.balances(), contract).unwrap();
    assert_eq!(none.postings(), refund.postings());
    assert_eq!(refund.postings()[1], Posting { account: LedgerAccount::Wallet(client), amount: usdc("33.333333") });
}

#[test]
fn cancel_is_only_for_unfunded_contracts() {
    let (ledger, _, contract) = funded("5", "5");
    assert_eq!(Transaction::check_cancel_unfunded(ledger.balances(), ContractId::new()), Ok(()));
    assert_eq!(
        Transaction::check_cancel_unfunded(ledger.balances(), contract),
        Err(LedgerError::EscrowFunded(contract))
    );
}

#[test]
fn unbalanced_postings_are_refused() {
    let user = UserId::new();
    let one = Posting { account: LedgerAccount::Wallet(user), amount: usdc("1") };
    assert_eq!(Transaction::new(TransactionKind::Deposit, vec![one]), Err(LedgerError::Unbalanced));
    let max = Posting { account: LedgerAccount::Wallet(user), amount: Micros::from_micros(i64::MAX) };
    assert_eq!(Transaction::new(TransactionKind::Deposit, vec![max, max]), Err(LedgerError::Overflow));
}

#[test]
fn apply_refuses_a_stale_overdraft_without_changing_anything() {
    let user = UserId::new();
    let mut ledger = Ledger::new();
    ledger.append(Transaction::deposit(user, usdc("10")).unwrap()).unwrap();
    let first = Transaction::withdrawal(ledger.balances(), user, usdc("8")).unwrap();
    let second = Transaction::withdrawal(ledger.balances(), user, usdc("8")).unwrap();
    ledger.append(first).unwrap();
    assert_eq!(ledger.append(second), Err(LedgerError::NegativeBalance(LedgerAccount::Wallet(user))));
    assert_eq!(ledger.balances().wallet(user), usdc("2"));
    assert_eq!(Balances::fold(ledger.transactions()).unwrap(), *ledger.balances());
}

#[test]
fn from_parts_rebuilds_a_stored_transaction_and_refuses_an_unbalanced_one() {
    let user = UserId::new();
    let stored = Transaction::deposit(user, usdc("3")).unwrap();
    let rebuilt = Transaction::from_parts(stored.kind(), stored.postings().to_vec()).unwrap();
    assert_eq!(rebuilt, stored);
    let mut tampered = stored.postings().to_vec();
    tampered[1].amount = usdc("4");
    assert_eq!(Transaction::from_parts(TransactionKind::Deposit, tampered), Err(LedgerError::Unbalanced));
}

#[test]
fn partial_balances_build_the_same_movements_as_a_full_fold() {
    let (ledger, client, contract) = funded("100", "40");
    let agent = UserId::new();
    let partial = Balances::default().with_open_escrow(contract, client, usdc("40"));
    assert_eq!(
        Transaction::release(&partial, contract, agent, FeeRate::default()).unwrap(),
        Transaction::release(ledger.balances(), contract, agent, FeeRate::default()).unwrap()
    );
    let wallet = Balances::default().with_balance(LedgerAccount::Wallet(client), usdc("60"));
    let other = ContractId::new();
    assert!(Transaction::fund_escrow(&wallet, client, other, usdc("60")).is_ok());
    assert!(matches!(
        Transaction::fund_escrow(&wallet, client, other, usdc("61")),
        Err(LedgerError::InsufficientFunds { .. })
    ));
}
