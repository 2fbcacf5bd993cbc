//! Wallets over the ledger: balances, history, deposits (operator or sandbox) and withdrawals.
//!
//! A withdrawal takes its amount out of the wallet when it is requested (the ledger's covered append
//! refuses an overdraft under its lock), so the money is reserved while an operator pays it out; the
//! operator's confirmation only changes the withdrawal's status.

use talon_domain::marketplace::{Balances, Micros, Transaction};
use talon_domain::time::now;
use talon_domain::{UserId, WithdrawalId};
use talon_store::{StoreError, StoredTransaction, WalletEntry, Withdrawal};

use super::MarketplaceDeps;
use crate::services::ServiceError;

pub struct Wallets {
    deps: MarketplaceDeps,
}

/// A wallet's balance and the money its account has put in escrows not yet resolved.
#[derive(Debug, Clone, Copy)]
pub struct WalletBalance {
    pub balance: Micros,
    pub pending_escrow: Micros,
}

fn ledger_error(e: talon_domain::marketplace::LedgerError) -> ServiceError {
    talon_domain::ValidationErrors::single("amount_usdc", e.to_string()).into()
}

fn overdrawn(balance: Micros, needed: Micros) -> ServiceError {
    ServiceError::Conflict(format!(
        "Insufficient balance: {} USDC available, {} USDC required",
        balance.to_usdc_string(),
        needed.to_usdc_string()
    ))
}

impl Wallets {
    pub fn new(deps: MarketplaceDeps) -> Self {
        Self { deps }
    }

    pub async fn balance(&self, user: UserId) -> Result<WalletBalance, ServiceError> {
        use talon_domain::marketplace::LedgerAccount;
        let balance = self.deps.store.balance(&LedgerAccount::Wallet(user)).await?;
        let pending_escrow = self.deps.store.pending_escrow(user).await?;
        Ok(WalletBalance { balance, pending_escrow })
    }

    pub async fn entries(&self, user: UserId, limit: i64, offset: i64) -> Result<Vec<WalletEntry>, ServiceError> {
        Ok(self.deps.store.wallet_entries(user, limit, offset).await?)
    }

    /// Whether the account is an operator (who credits deposits and confirms withdrawals).
    pub async fn require_operator(&self, user: UserId) -> Result<(), ServiceError> {
        match self.deps.store.account_role(user).await?.as_deref() {
            Some("operator") => Ok(()),
            _ => Err(ServiceError::Forbidden("Only an operator account may do this".into())),
        }
    }

    /// Credits `amount` to the wallet of `user`; a `reference` credited before is refused (409).
    pub async fn deposit(
        &self,
        user: UserId,
        amount: Micros,
        reference: &str,
    ) -> Result<StoredTransaction, ServiceError> {
        let transaction = Transaction::deposit(user, amount).map_err(ledger_error)?;
        match self.deps.store.append_covered(&transaction, Some(reference)).await {
            Ok(stored) => Ok(stored),
            Err(StoreError::Conflict(_)) => {
                Err(ServiceError::Conflict(format!("The reference `{reference}` has already been credited")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Anyone's own deposit, only in sandbox mode.
    pub async fn sandbox_deposit(
        &self,
        user: UserId,
        amount: Micros,
        reference: &str,
    ) -> Result<StoredTransaction, ServiceError> {
        if !self.deps.settings.sandbox {
            return Err(ServiceError::Forbidden(
                "Sandbox deposits are off: an operator credits deposits (talon credit, or POST /api/v1/admin/deposits)"
                    .into(),
            ));
        }
        self.deposit(user, amount, reference).await
    }

    /// An operator's credit to the account with this address.
    pub async fn operator_deposit(
        &self,
        operator: UserId,
        email: &str,
        amount: Micros,
        reference: &str,
    ) -> Result<(UserId, StoredTransaction), ServiceError> {
        self.require_operator(operator).await?;
        let email = email.trim().to_lowercase();
        let (account, _) = self.deps.store.account_by_email(&email).await?.ok_or(ServiceError::NotFound("account"))?;
        let stored = self.deposit(account.id, amount, reference).await?;
        Ok((account.id, stored))
    }

    /// Takes `amount` out of the wallet now and records a pending withdrawal for an operator to pay out.
    pub async fn request_withdrawal(
        &self,
        user: UserId,
        amount: Micros,
        wallet_address: Option<String>,
    ) -> Result<Withdrawal, ServiceError> {
        // These balances only let the ledger build the postings; the covered append checks the real
        // balance under the wallet's lock.
        let assumed = Transaction::deposit(user, amount).map_err(ledger_error)?;
        let balances = Balances::fold([&assumed]).map_err(ledger_error)?;
        let transaction = Transaction::withdrawal(&balances, user, amount).map_err(ledger_error)?;
        let at = now();
        let withdrawal = Withdrawal {
            id: WithdrawalId::new(),
            user_id: user,
            amount,
            status: "pending".into(),
            wallet_address,
            tx_signature: None,
            ledger_tx_id: None,
            created_at: at,
            updated_at: at,
        };
        match self.deps.store.request_withdrawal(&withdrawal, &transaction).await {
            Ok(stored) => Ok(Withdrawal { ledger_tx_id: Some(stored.id), ..withdrawal }),
            Err(StoreError::Overdrawn { balance, needed, .. }) => Err(overdrawn(balance, needed)),
            Err(e) => Err(e.into()),
        }
    }

    /// An operator marks a pending withdrawal paid out.
    pub async fn confirm_withdrawal(&self, operator: UserId, id: WithdrawalId) -> Result<Withdrawal, ServiceError> {
        self.require_operator(operator).await?;
        let found = self.deps.store.withdrawal(id).await?.ok_or(ServiceError::NotFound("withdrawal"))?;
        if !self.deps.store.confirm_withdrawal(id, now()).await? {
            return Err(ServiceError::Conflict(format!("The withdrawal is {}, not pending", found.status)));
        }
        self.deps.store.withdrawal(id).await?.ok_or(ServiceError::NotFound("withdrawal"))
    }
}
