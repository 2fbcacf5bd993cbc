//! The marketplace's money as an append-only, double-entry ledger.
//!
//! Every movement is a [`Transaction`] whose postings sum to zero, so money is never created or lost
//! inside the platform: it enters through [`LedgerAccount::ExternalDeposits`] and leaves through
//! [`LedgerAccount::ExternalWithdrawals`]. Balances are never stored on their own; [`Balances`] is the fold of
//! the transactions, so a stored ledger can always be re-checked from scratch.
//!
//! Each constructor takes the current balances and refuses a movement that would overdraw a wallet,
//! fund an escrow twice or resolve one twice; [`Balances::apply`] checks the same rules again, so a
//! transaction built against stale balances cannot be appended.

use std::collections::{BTreeMap, BTreeSet};

use crate::id::{ContractId, UserId};

use super::money::{FeeRate, Micros};

/// Where money sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LedgerAccount {
    /// A user's spendable balance.
    Wallet(UserId),
    /// Money a client has put up for one contract, held until the contract is resolved.
    Escrow(ContractId),
    /// Fees the platform has earned.
    PlatformRevenue,
    /// The outside world money came in from; its balance is minus everything ever deposited.
    ExternalDeposits,
    /// The outside world money went out to; its balance is everything ever withdrawn.
    ExternalWithdrawals,
}

impl LedgerAccount {
    /// Accounts that hold real money and so may never go below zero (the external ones mirror it).
    pub const fn is_internal(self) -> bool {
        !matches!(self, LedgerAccount::ExternalDeposits | LedgerAccount::ExternalWithdrawals)
    }
}

/// One side of a transaction: a credit (positive) or a debit (negative) to one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posting {
    pub account: LedgerAccount,
    pub amount: Micros,
}

/// What a transaction does; escrow kinds name their contract so the ledger can tell that an escrow is
/// funded once and resolved once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionKind {
    Deposit,
    Withdrawal,
    FundEscrow(ContractId),
    /// The whole escrow to the agent, less the fee.
    Release(ContractId),
    /// The whole escrow back to the client who funded it.
    Refund(ContractId),
    /// The escrow divided between agent and client.
    Split(ContractId),
}

impl TransactionKind {
    /// The contract whose escrow this transaction empties, if it resolves one.
    pub const fn resolves(self) -> Option<ContractId> {
        match self {
            TransactionKind::Release(c) | TransactionKind::Refund(c) | TransactionKind::Split(c) => Some(c),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("an amount to move must be greater than zero")]
    NotPositive,
    #[error("insufficient balance: {available} available, {required} required")]
    InsufficientFunds { available: Micros, required: Micros },
    #[error("the escrow of contract {0} is already funded")]
    EscrowAlreadyFunded(ContractId),
    #[error("the escrow of contract {0} holds nothing to resolve")]
    EscrowEmpty(ContractId),
    #[error("the escrow of contract {0} is funded: refund it instead of cancelling")]
    EscrowFunded(ContractId),
    #[error("an agent share is 0 to 100 percent, not {0}")]
    InvalidSharePercent(u8),
    #[error("the postings do not sum to zero")]
    Unbalanced,
    #[error("the balance of {0:?} would go below zero")]
    NegativeBalance(LedgerAccount),
    #[error("amount overflow")]
    Overflow,
}

/// A balanced set of postings. Fields are private: every value went through [`Transaction::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    kind: TransactionKind,
    postings: Vec<Posting>,
}

impl Transaction {
    /// Checks that the postings sum to zero; zero postings (a fee of nothing) are dropped.
    pub(super) fn new(kind: TransactionKind, postings: Vec<Posting>) -> Result<Self, LedgerError> {
        let postings: Vec<Posting> = postings.into_iter().filter(|p| !p.amount.is_zero()).collect();
        let sum =
            postings.iter().try_fold(Micros::ZERO, |sum, p| sum.checked_add(p.amount)).ok_or(LedgerError::Overflow)?;
        if !sum.is_zero() {
            return Err(LedgerError::Unbalanced);
        }
        Ok(Self { kind, postings })
    }

    /// Rebuilds a transaction read back from storage, checking again that its postings sum to zero, so
    /// a corrupted row cannot come back as a valid transaction. The rules that depend on balances
    /// (no overdraft, one funding per escrow) are checked by [`Balances::apply`].
    pub fn from_parts(kind: TransactionKind, postings: Vec<Posting>) -> Result<Self, LedgerError> {
        Self::new(kind, postings)
    }

    pub fn kind(&self) -> TransactionKind {
        self.kind
    }

    pub fn postings(&self) -> &[Posting] {
        &self.postings
    }

    /// Money arriving from outside into a user's wallet.
    pub fn deposit(user: UserId, amount: Micros) -> Result<Self, LedgerError> {
        let amount = positive(amount)?;
        Self::new(
            TransactionKind::Deposit,
            transfer(LedgerAccount::ExternalDeposits, LedgerAccount::Wallet(user), amount)?,
        )
    }

    /// Money leaving a wallet for the outside. Whether the payout later confirms or fails is tracked
    /// elsewhere; a failed payout is a new deposit back, never an edit of this entry.
    pub fn withdrawal(balances: &Balances, user: UserId, amount: Micros) -> Result<Self, LedgerError> {
        let amount = positive(amount)?;
        balances.require(LedgerAccount::Wallet(user), amount)?;
        Self::new(
            TransactionKind::Withdrawal,
            transfer(LedgerAccount::Wallet(user), LedgerAccount::ExternalWithdrawals, amount)?,
        )
    }

    /// The client puts the contract amount into the contract's escrow, once.
    pub fn fund_escrow(
        balances: &Balances,
        client: UserId,
        contract: ContractId,
        amount: Micros,
    ) -> Result<Self, LedgerError> {
        let amount = positive(amount)?;
        if balances.escrow_funder(contract).is_some() {
            return Err(LedgerError::EscrowAlreadyFunded(contract));
        }
        balances.require(LedgerAccount::Wallet(client), amount)?;
        Self::new(
            TransactionKind::FundEscrow(contract),
            transfer(LedgerAccount::Wallet(client), LedgerAccount::Escrow(contract), amount)?,
        )
    }

    /// Approval: the whole escrow goes to the agent's wallet less the fee, which goes to the platform.
    pub fn release(
        balances: &Balances,
        contract: ContractId,
        agent: UserId,
        fee: FeeRate,
    ) -> Result<Self, LedgerError> {
        Self::settle(balances, contract, TransactionKind::Release(contract), Some((agent, SharePercent::ALL, fee)))
    }

    /// The whole escrow goes back to the client who funded it; no fee is taken on money returned.
    pub fn refund(balances: &Balances, contract: ContractId) -> Result<Self, LedgerError> {
        Self::settle(balances, contract, TransactionKind::Refund(contract), None)
    }

    /// A dispute settled in part. Rule: the agent's part is `floor(escrow × percent / 100)` (rounding
    /// favours the client, who paid), the client gets the rest back, and the fee applies to the agent's
    /// part only: the platform earns on work paid for, not on money returned. 100 % is a release and
    /// 0 % a refund in all but name.
    pub fn split(
        balances: &Balances,
        contract: ContractId,
        agent: UserId,
        share: SharePercent,
        fee: FeeRate,
    ) -> Result<Self, LedgerError> {
        Self::settle(balances, contract, TransactionKind::Split(contract), Some((agent, share, fee)))
    }

    /// Empties an escrow: the agent's share (less the fee) to the agent, the rest to the funder.
    fn settle(
        balances: &Balances,
        contract: ContractId,
        kind: TransactionKind,
        agent: Option<(UserId, SharePercent, FeeRate)>,
    ) -> Result<Self, LedgerError> {
        let escrow = balances.open_escrow(contract)?;
        let client = balances.escrow_funder(contract).ok_or(LedgerError::EscrowEmpty(contract))?;
        let mut postings = vec![Posting {
            account: LedgerAccount::Escrow(contract),
            amount: escrow.checked_neg().ok_or(LedgerError::Overflow)?,
        }];
        let mut client_part = escrow;
        if let Some((agent, share, fee)) = agent {
            // i128: escrow × 100 may exceed i64; the quotient is at most the escrow, so it fits.
            let agent_part = Micros::from_micros((i128::from(escrow.as_micros()) * i128::from(share.0) / 100) as i64);
            let payout = fee.payout(agent_part);
            postings.push(Posting { account: LedgerAccount::Wallet(agent), amount: payout.to_agent });
            postings.push(Posting { account: LedgerAccount::PlatformRevenue, amount: payout.fee });
            client_part = escrow.checked_sub(agent_part).ok_or(LedgerError::Overflow)?;
        }
        postings.push(Posting { account: LedgerAccount::Wallet(client), amount: client_part });
        Self::new(kind, postings)
    }

    /// Cancelling a contract moves no money, and is only possible while its escrow was never funded
    /// (a funded escrow is refunded instead, so the client's money is never stranded).
    pub fn check_cancel_unfunded(balances: &Balances, contract: ContractId) -> Result<(), LedgerError> {
        match balances.escrow_funder(contract) {
            Some(_) => Err(LedgerError::EscrowFunded(contract)),
            None => Ok(()),
        }
    }
}

/// The agent's share of a split escrow, in whole percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharePercent(u8);

impl SharePercent {
    pub const NONE: SharePercent = SharePercent(0);
    pub const ALL: SharePercent = SharePercent(100);

    pub fn new(percent: u8) -> Result<Self, LedgerError> {
        if percent > 100 {
            return Err(LedgerError::InvalidSharePercent(percent));
        }
        Ok(Self(percent))
    }

    pub const fn get(self) -> u8 {
        self.0
    }
}

fn positive(amount: Micros) -> Result<Micros, LedgerError> {
    if amount.is_positive() { Ok(amount) } else { Err(LedgerError::NotPositive) }
}

fn transfer(from: LedgerAccount, to: LedgerAccount, amount: Micros) -> Result<Vec<Posting>, LedgerError> {
    let debit = amount.checked_neg().ok_or(LedgerError::Overflow)?;
    Ok(vec![Posting { account: from, amount: debit }, Posting { account: to, amount }])
}

/// Every account's balance and every escrow's history, derived by folding transactions in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Balances {
    amounts: BTreeMap<LedgerAccount, Micros>,
    /// Who funded each escrow: a refund goes back to them, and an escrow is funded at most once.
    funders: BTreeMap<ContractId, UserId>,
    resolved: BTreeSet<ContractId>,
}

impl Balances {
    /// Replays transactions from nothing, refusing the first one that breaks a rule.
    pub fn fold<'a>(transactions: impl IntoIterator<Item = &'a Transaction>) -> Result<Self, LedgerError> {
        let mut balances = Self::default();
        for tx in transactions {
            balances.apply(tx)?;
        }
        Ok(balances)
    }

    /// Adds one transaction, or changes nothing: no internal account may go below zero, an escrow is
    /// funded at most once and resolved at most once, and resolving must empty it.
    pub fn apply(&mut self, tx: &Transaction) -> Result<(), LedgerError> {
        let mut next = BTreeMap::new();
        for posting in &tx.postings {
            let current = next.get(&posting.account).copied().unwrap_or_else(|| self.balance(posting.account));
            let updated = current.checked_add(posting.amount).ok_or(LedgerError::Overflow)?;
            next.insert(posting.account, updated);
        }
        if let Some((account, _)) = next.iter().find(|(a, b)| a.is_internal() && b.is_negative()) {
            return Err(LedgerError::NegativeBalance(*account));
        }
        match tx.kind {
            TransactionKind::FundEscrow(contract) if self.funders.contains_key(&contract) => {
                return Err(LedgerError::EscrowAlreadyFunded(contract));
            }
            TransactionKind::FundEscrow(contract) => {
                let funder = tx.postings.iter().find_map(|p| match p.account {
                    LedgerAccount::Wallet(user) if p.amount.is_negative() => Some(user),
                    _ => None,
                });
                self.funders.insert(contract, funder.ok_or(LedgerError::Unbalanced)?);
            }
            kind => {
                if let Some(contract) = kind.resolves() {
                    let emptied = next.get(&LedgerAccount::Escrow(contract)).is_some_and(|b| b.is_zero());
                    if self.resolved.contains(&contract) || !emptied {
                        return Err(LedgerError::EscrowEmpty(contract));
                    }
                    self.resolved.insert(contract);
                }
            }
        }
        self.amounts.extend(next);
        Ok(())
    }

    /// Balances of just the accounts one movement touches, as a store reports them: `amount` in
    /// `account`. Stores keep no fold in memory; they build these for the transaction at hand and
    /// re-check coverage when appending, so a stale figure can only make a movement fail, never pass.
    pub fn with_balance(mut self, account: LedgerAccount, amount: Micros) -> Self {
        self.amounts.insert(account, amount);
        self
    }

    /// An escrow that `funder` filled with `held` and that is not resolved yet (see `with_balance`).
    pub fn with_open_escrow(mut self, contract: ContractId, funder: UserId, held: Micros) -> Self {
        self.amounts.insert(LedgerAccount::Escrow(contract), held);
        self.funders.insert(contract, funder);
        self
    }

    pub fn balance(&self, account: LedgerAccount) -> Micros {
        self.amounts.get(&account).copied().unwrap_or(Micros::ZERO)
    }

    pub fn wallet(&self, user: UserId) -> Micros {
        self.balance(LedgerAccount::Wallet(user))
    }

    pub fn escrow(&self, contract: ContractId) -> Micros {
        self.balance(LedgerAccount::Escrow(contract))
    }

    pub fn platform_revenue(&self) -> Micros {
        self.balance(LedgerAccount::PlatformRevenue)
    }

    /// Everything ever deposited (the external deposits account mirrors it as a negative balance).
    pub fn total_deposited(&self) -> Micros {
        Micros::from_micros(-self.balance(LedgerAccount::ExternalDeposits).as_micros())
    }

    pub fn total_withdrawn(&self) -> Micros {
        self.balance(LedgerAccount::ExternalWithdrawals)
    }

    /// The user who funded a contract's escrow, if it was ever funded.
    pub fn escrow_funder(&self, contract: ContractId) -> Option<UserId> {
        self.funders.get(&contract).copied()
    }

    pub fn is_escrow_resolved(&self, contract: ContractId) -> bool {
        self.resolved.contains(&contract)
    }

    /// Every account with a recorded balance, in a stable order.
    pub fn iter(&self) -> impl Iterator<Item = (LedgerAccount, Micros)> + '_ {
        self.amounts.iter().map(|(a, b)| (*a, *b))
    }

    fn require(&self, account: LedgerAccount, required: Micros) -> Result<(), LedgerError> {
        let available = self.balance(account);
        if available < required {
            return Err(LedgerError::InsufficientFunds { available, required });
        }
        Ok(())
    }

    /// The amount an escrow holds, refused when there is nothing to resolve (never funded, or
    /// already resolved).
    fn open_escrow(&self, contract: ContractId) -> Result<Micros, LedgerError> {
        let held = self.escrow(contract);
        if held.is_zero() || self.resolved.contains(&contract) {
            return Err(LedgerError::EscrowEmpty(contract));
        }
        Ok(held)
    }
}

/// The transactions in order, with their balances kept equal to their fold. Only [`Ledger::append`]
/// changes either, so the two cannot drift apart.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    transactions: Vec<Transaction>,
    balances: Balances,
}

impl Ledger {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a transaction if it keeps every rule; otherwise the ledger is unchanged.
    pub fn append(&mut self, tx: Transaction) -> Result<(), LedgerError> {
        self.balances.apply(&tx)?;
        self.transactions.push(tx);
        Ok(())
    }

    pub fn transactions(&self) -> &[Transaction] {
        &self.transactions
    }

    pub fn balances(&self) -> &Balances {
        &self.balances
    }
}
