-- The marketplace ledger: append-only, double-entry. A transaction's postings sum to zero and no row is
-- ever updated or deleted; a balance is always the SUM of an account's postings, never a stored number.
CREATE TABLE ledger_transactions (
    id         BLOB PRIMARY KEY NOT NULL,
    -- deposit, withdrawal, fund_escrow, release, refund, split
    kind       TEXT NOT NULL,
    -- The contract an escrow transaction concerns (its typed id, e.g. ctr_…); null for deposits and withdrawals.
    reference  TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE ledger_postings (
    transaction_id BLOB NOT NULL REFERENCES ledger_transactions (id),
    -- Order of the posting within its transaction.
    position       INTEGER NOT NULL,
    -- wallet, escrow, platform_revenue, external_deposits, external_withdrawals
    account_kind   TEXT NOT NULL,
    -- The user of a wallet, the contract of an escrow; null for the platform and external accounts.
    account_id     BLOB,
    -- Micro-USDC: positive credits, negative debits.
    amount         INTEGER NOT NULL,
    PRIMARY KEY (transaction_id, position),
    CHECK ((account_kind IN ('wallet', 'escrow')) = (account_id IS NOT NULL))
);
-- Balances and histories are read per account; the amount is included so a balance is summed from the index.
CREATE INDEX ledger_postings_by_account ON ledger_postings (account_kind, account_id, transaction_id, amount);
