//! The marketplace ledger: appended transactions, balances summed from postings, per-account history.

use talon_domain::marketplace::{Balances, FeeRate, LedgerAccount, Micros, Transaction, TransactionKind};
use talon_domain::{ContractId, UserId};
use talon_store::{Backend, Store};

use crate::common::db;

on_both_databases!(
    deposit_fund_and_release_keep_every_balance_and_the_books_at_zero,
    history_lists_an_accounts_transactions_in_order_with_paging,
    covered_appends_racing_for_one_balance_never_overdraw_it,
    a_deposit_reference_is_credited_once,
);

fn usdc(text: &str) -> Micros {
    Micros::parse_usdc(text).unwrap()
}

/// Checks the transaction against the balances so far, appends it, and answers the new balances.
async fn append(store: &dyn Store, balances: &mut Balances, tx: Transaction) -> Balances {
    balances.apply(&tx).unwrap();
    let stored = store.append_transaction(&tx).await.unwrap();
    assert_eq!(stored.transaction, tx);
    balances.clone()
}

fn minus(amount: Micros) -> Micros {
    amount.checked_neg().unwrap()
}

async fn balances_of(store: &dyn Store, accounts: &[LedgerAccount]) -> Vec<Micros> {
    let mut out = Vec::new();
    for account in accounts {
        out.push(store.balance(account).await.unwrap());
    }
    out
}

async fn deposit_fund_and_release_keep_every_balance_and_the_books_at_zero(backend: Backend) {
    let db = db(backend).await;
    let (client, agent, contract) = (UserId::new(), UserId::new(), ContractId::new());
    let accounts = [
        LedgerAccount::ExternalDeposits,
        LedgerAccount::Wallet(client),
        LedgerAccount::Escrow(contract),
        LedgerAccount::Wallet(agent),
        LedgerAccount::PlatformRevenue,
    ];
    let mut balances = Balances::default();

    let after_deposit = append(&*db.store, &mut balances, Transaction::deposit(client, usdc("100")).unwrap()).await;
    assert_eq!(
        balances_of(&*db.store, &accounts).await,
        [minus(usdc("100")), usdc("100"), Micros::ZERO, Micros::ZERO, Micros::ZERO]
    );

    let after_fund = append(
        &*db.store,
        &mut balances,
        Transaction::fund_escrow(&after_deposit, client, contract, usdc("85.5")).unwrap(),
    )
    .await;
    assert_eq!(
        balances_of(&*db.store, &accounts).await,
        [minus(usdc("100")), usdc("14.5"), usdc("85.5"), Micros::ZERO, Micros::ZERO]
    );

    let after_release = append(
        &*db.store,
        &mut balances,
        Transaction::release(&after_fund, contract, agent, FeeRate::default()).unwrap(),
    )
    .await;
    let stored = balances_of(&*db.store, &accounts).await;
    // 85.5 less the 10 % fee of 8.55.
    assert_eq!(stored, [minus(usdc("100")), usdc("14.5"), Micros::ZERO, usdc("76.95"), usdc("8.55")]);
    let folded: Vec<Micros> = accounts.iter().map(|a| after_release.balance(*a)).collect();
    assert_eq!(stored, folded, "the stored sums equal the domain's fold");
    let total: i64 = stored.iter().map(|m| m.as_micros()).sum();
    assert_eq!(total, 0, "money is neither created nor lost");

    assert_eq!(db.store.balance(&LedgerAccount::Wallet(UserId::new())).await.unwrap(), Micros::ZERO);
    assert_eq!(db.store.balance(&LedgerAccount::ExternalWithdrawals).await.unwrap(), Micros::ZERO);
}

async fn history_lists_an_accounts_transactions_in_order_with_paging(backend: Backend) {
    let db = db(backend).await;
    let (client, agent, stranger) = (UserId::new(), UserId::new(), UserId::new());
    let contract = ContractId::new();
    let mut balances = Balances::default();
    let mut appended = Vec::new();
    let first = Transaction::deposit(client, usdc("50")).unwrap();
    balances.apply(&first).unwrap();
    appended.push(db.store.append_transaction(&first).await.unwrap());
    let other = Transaction::deposit(stranger, usdc("7")).unwrap();
    balances.apply(&other).unwrap();
    db.store.append_transaction(&other).await.unwrap();
    let fund = Transaction::fund_escrow(&balances, client, contract, usdc("20")).unwrap();
    balances.apply(&fund).unwrap();
    appended.push(db.store.append_transaction(&fund).await.unwrap());
    let refund = Transaction::refund(&balances, contract).unwrap();
    balances.apply(&refund).unwrap();
    appended.push(db.store.append_transaction(&refund).await.unwrap());

    let history = db.store.transactions_of(&LedgerAccount::Wallet(client), 10, 0).await.unwrap();
    assert_eq!(history, appended, "oldest first, every posting, and nothing of other wallets");
    let kinds: Vec<TransactionKind> = history.iter().map(|s| s.transaction.kind()).collect();
    assert_eq!(
        kinds,
        [TransactionKind::Deposit, TransactionKind::FundEscrow(contract), TransactionKind::Refund(contract)]
    );

    let page = db.store.transactions_of(&LedgerAccount::Wallet(client), 2, 1).await.unwrap();
    assert_eq!(page, appended[1..3]);
    assert!(db.store.transactions_of(&LedgerAccount::Wallet(client), 10, 3).await.unwrap().is_empty());
    assert!(db.store.transactions_of(&LedgerAccount::Wallet(agent), 10, 0).await.unwrap().is_empty());

    let escrow = db.store.transactions_of(&LedgerAccount::Escrow(contract), 10, 0).await.unwrap();
    assert_eq!(escrow, appended[1..3]);
    let deposits = db.store.transactions_of(&LedgerAccount::ExternalDeposits, 10, 0).await.unwrap();
    assert_eq!(deposits.len(), 2, "accounts without an id have a history too");
    assert_eq!(deposits[1].transaction, other);
}

async fn covered_appends_racing_for_one_balance_never_overdraw_it(backend: Backend) {
    let db = db(backend).await;
    let user = UserId::new();
    db.store.append_covered(&Transaction::deposit(user, usdc("100")).unwrap(), None).await.unwrap();
    // Each withdrawal is built against the balance before any of them (100), as racing requests would.
    let before = Balances::fold([&Transaction::deposit(user, usdc("100")).unwrap()]).unwrap();
    let attempts = (0..12).map(|_| {
        let store = db.store.clone();
        let tx = Transaction::withdrawal(&before, user, usdc("10")).unwrap();
        tokio::spawn(async move { store.append_covered(&tx, None).await })
    });
    let mut passed = 0;
    for attempt in attempts.collect::<Vec<_>>() {
        match attempt.await.unwrap() {
            Ok(_) => passed += 1,
            Err(talon_store::StoreError::Overdrawn { account, .. }) => assert_eq!(account, LedgerAccount::Wallet(user)),
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(passed, 10, "exactly the balance was withdrawn");
    assert_eq!(db.store.balance(&LedgerAccount::Wallet(user)).await.unwrap(), Micros::ZERO);
}

async fn a_deposit_reference_is_credited_once(backend: Backend) {
    let db = db(backend).await;
    let user = UserId::new();
    let deposit = Transaction::deposit(user, usdc("5")).unwrap();
    db.store.append_covered(&deposit, Some("wire-42")).await.unwrap();
    let again = db.store.append_covered(&deposit, Some("wire-42")).await;
    assert!(matches!(again, Err(talon_store::StoreError::Conflict("reference"))), "{again:?}");
    db.store.append_covered(&deposit, Some("wire-43")).await.unwrap();
    assert_eq!(db.store.balance(&LedgerAccount::Wallet(user)).await.unwrap(), usdc("10"));
}
