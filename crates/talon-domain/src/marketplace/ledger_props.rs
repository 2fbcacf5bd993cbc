//! Random sequences of ledger movements over a few users and contracts, checking the ledger's
//! invariants after every step and that each movement is refused exactly when a rule says so.

use proptest::prelude::*;

use super::ledger::*;
use super::money::{FeeRate, Micros};
use crate::id::{ContractId, UserId};

const USERS: usize = 3;
const CONTRACTS: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    Deposit { user: usize, micros: i64 },
    Withdraw { user: usize, micros: i64 },
    Fund { user: usize, contract: usize, micros: i64 },
    Release { contract: usize, agent: usize, bps: u32 },
    Refund { contract: usize },
    Split { contract: usize, agent: usize, percent: u8, bps: u32 },
    Cancel { contract: usize },
}

fn op() -> impl Strategy<Value = Op> {
    let user = 0..USERS;
    let contract = 0..CONTRACTS;
    // Up to 100 USDC, zero included so that refusals of empty movements are exercised.
    let micros = 0..=100_000_000_i64;
    let bps = prop_oneof![Just(1_000_u32), 0..=10_000_u32];
    prop_oneof![
        3 => (user.clone(), micros.clone()).prop_map(|(user, micros)| Op::Deposit { user, micros }),
        1 => (user.clone(), micros.clone()).prop_map(|(user, micros)| Op::Withdraw { user, micros }),
        3 => (user.clone(), contract.clone(), micros).prop_map(|(user, contract, micros)| Op::Fund { user, contract, micros }),
        2 => (contract.clone(), user.clone(), bps.clone()).prop_map(|(contract, agent, bps)| Op::Release { contract, agent, bps }),
        1 => contract.clone().prop_map(|contract| Op::Refund { contract }),
        1 => (contract.clone(), user, 0..=100_u8, bps).prop_map(|(contract, agent, percent, bps)| Op::Split { contract, agent, percent, bps }),
        1 => contract.prop_map(|contract| Op::Cancel { contract }),
    ]
}

/// What the rules say about an escrow, tracked independently of the ledger.
#[derive(Debug, Clone, Copy, PartialEq)]
enum EscrowModel {
    Unfunded,
    Held,
    Resolved,
}

fn check_invariants(ledger: &Ledger, contracts: &[ContractId]) -> Result<(), TestCaseError> {
    for tx in ledger.transactions() {
        let sum: i64 = tx.postings().iter().map(|p| p.amount.as_micros()).sum();
        prop_assert_eq!(sum, 0, "unbalanced {:?}", tx);
    }
    let balances = ledger.balances();
    prop_assert_eq!(&Balances::fold(ledger.transactions()).unwrap(), balances);
    let mut inside = 0_i64;
    for (account, amount) in balances.iter() {
        if account.is_internal() {
            prop_assert!(!amount.is_negative(), "{:?} is {}", account, amount);
            inside += amount.as_micros();
        }
    }
    prop_assert_eq!(inside, balances.total_deposited().as_micros() - balances.total_withdrawn().as_micros());
    for contract in contracts {
        let resolutions = ledger.transactions().iter().filter(|tx| tx.kind().resolves() == Some(*contract)).count();
        prop_assert!(resolutions <= 1);
        if resolutions == 1 {
            prop_assert_eq!(balances.escrow(*contract), Micros::ZERO);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_movements_keep_the_books_balanced(ops in prop::collection::vec(op(), 1..60)) {
        let users: Vec<UserId> = (0..USERS).map(|_| UserId::new()).collect();
        let contracts: Vec<ContractId> = (0..CONTRACTS).map(|_| ContractId::new()).collect();
        let mut escrows = [EscrowModel::Unfunded; CONTRACTS];
        let mut ledger = Ledger::new();
        for op in ops {
            let before = ledger.transactions().len();
            let balances = ledger.balances().clone();
            let fee = |bps| FeeRate::from_basis_points(bps).unwrap();
            // Each arm: the transaction (or refusal) and whether the rules allow it.
            let (built, allowed) = match op {
                Op::Deposit { user, micros } => (Transaction::deposit(users[user], Micros::from_micros(micros)).map(Some), micros > 0),
                Op::Withdraw { user, micros } => (
                    Transaction::withdrawal(&balances, users[user], Micros::from_micros(micros)).map(Some),
                    micros > 0 && balances.wallet(users[user]).as_micros() >= micros,
                ),
                Op::Fund { user, contract, micros } => (
                    Transaction::fund_escrow(&balances, users[user], contracts[contract], Micros::from_micros(micros)).map(Some),
                    micros > 0 && balances.wallet(users[user]).as_micros() >= micros && escrows[contract] == EscrowModel::Unfunded,
                ),
                Op::Release { contract, agent, bps } => (
                    Transaction::release(&balances, contracts[contract], users[agent], fee(bps)).map(Some),
                    escrows[contract] == EscrowModel::Held,
                ),
                Op::Refund { contract } => (Transaction::refund(&balances, contracts[contract]).map(Some), escrows[contract] == EscrowModel::Held),
                Op::Split { contract, agent, percent, bps } => (
                    Transaction::split(&balances, contracts[contract], users[agent], SharePercent::new(percent).unwrap(), fee(bps)).map(Some),
                    escrows[contract] == EscrowModel::Held,
                ),
                Op::Cancel { contract } => (
                    Transaction::check_cancel_unfunded(&balances, contracts[contract]).map(|()| None),
                    escrows[contract] == EscrowModel::Unfunded,
                ),
            };
            prop_assert_eq!(built.is_ok(), allowed, "{:?} gave {:?}", op, built);
            if let Ok(Some(tx)) = built {
                ledger.append(tx).unwrap();
                match op {
                    Op::Fund { contract, .. } => escrows[contract] = EscrowModel::Held,
                    Op::Release { contract, .. } | Op::Refund { contract } | Op::Split { contract, .. } => {
                        escrows[contract] = EscrowModel::Resolved;
                    }
                    _ => {}
                }
            } else {
                prop_assert_eq!(ledger.transactions().len(), before);
                prop_assert_eq!(ledger.balances(), &balances);
            }
            check_invariants(&ledger, &contracts)?;
        }
    }
}
