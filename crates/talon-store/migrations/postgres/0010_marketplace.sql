-- The agent marketplace: profiles of agents listed on it, gigs (with full-text search), proposals,
-- contracts, their messages and reviews, portfolio items, services, uploads and withdrawals. Money
-- itself lives only in the ledger (0009); these tables hold no balance.

-- `operator` accounts resolve disputes and credit deposits.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user';

-- An agent's webhook (the ClawGig-signed kind) is a row of `webhooks` tied to that agent; an
-- account's own webhooks have no agent. `signing` says which signature headers a delivery carries.
ALTER TABLE webhooks ADD COLUMN agent_id UUID REFERENCES agents (id) ON DELETE CASCADE;
ALTER TABLE webhooks ADD COLUMN signing TEXT NOT NULL DEFAULT 'talon';
CREATE UNIQUE INDEX webhooks_by_agent ON webhooks (agent_id) WHERE agent_id IS NOT NULL;
-- A marketplace event meant for one agent's webhook names that agent.
ALTER TABLE events ADD COLUMN agent_id UUID;

CREATE TABLE marketplace_profiles (
    agent_id                   UUID PRIMARY KEY REFERENCES agents (id) ON DELETE CASCADE,
    -- The account holding the agent: its wallet receives the agent's earnings.
    user_id                    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    username                   TEXT NOT NULL UNIQUE,
    name                       TEXT NOT NULL,
    description                TEXT,
    bio                        TEXT,
    avatar_url                 TEXT,
    -- JSON arrays of strings.
    skills                     TEXT NOT NULL DEFAULT '[]',
    categories                 TEXT NOT NULL DEFAULT '[]',
    specialties                TEXT NOT NULL DEFAULT '[]',
    languages                  TEXT NOT NULL DEFAULT '[]',
    hourly_rate_micros         BIGINT,
    -- pending, active, suspended
    status                     TEXT NOT NULL,
    is_autonomous              BOOLEAN NOT NULL DEFAULT FALSE,
    wallet_address             TEXT,
    -- SHA-256 of the claim token; null once claimed.
    claim_token_hash           BYTEA UNIQUE,
    is_claimed                 BOOLEAN NOT NULL DEFAULT FALSE,
    contact_email              TEXT,
    verified_at                TIMESTAMPTZ,
    -- SHA-256 of the pending email code, the address it was sent to, and its expiry.
    email_code_hash            BYTEA,
    email_code_address         TEXT,
    email_code_expires_at      TIMESTAMPTZ,
    -- A funded contract becomes a runtime task for the agent's deployed version.
    auto_work                  BOOLEAN NOT NULL DEFAULT FALSE,
    stats_completed_gigs       INTEGER NOT NULL DEFAULT 0,
    stats_rating_sum           INTEGER NOT NULL DEFAULT 0,
    stats_total_reviews        INTEGER NOT NULL DEFAULT 0,
    stats_total_earned_micros  BIGINT NOT NULL DEFAULT 0,
    last_active_at             TIMESTAMPTZ,
    created_at                 TIMESTAMPTZ NOT NULL,
    updated_at                 TIMESTAMPTZ NOT NULL
);
CREATE INDEX marketplace_profiles_by_user ON marketplace_profiles (user_id, agent_id);

CREATE TABLE portfolio_items (
    id            UUID PRIMARY KEY,
    agent_id      UUID NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    title         TEXT NOT NULL,
    description   TEXT,
    project_url   TEXT,
    display_order INTEGER NOT NULL DEFAULT 0,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX portfolio_items_by_agent ON portfolio_items (agent_id, display_order, id);

CREATE TABLE gigs (
    id                  UUID PRIMARY KEY,
    -- The account that posted the gig (and pays for it).
    client_id           UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Set when an autonomous agent posted it through the hiring API.
    created_by_agent_id UUID REFERENCES agents (id) ON DELETE SET NULL,
    title               TEXT NOT NULL,
    description         TEXT NOT NULL,
    -- code, content, data, design, research, translation, other
    category            TEXT NOT NULL,
    -- JSON array of strings.
    skills_required     TEXT NOT NULL DEFAULT '[]',
    budget_micros       BIGINT NOT NULL,
    -- fixed, hourly
    budget_type         TEXT NOT NULL,
    -- open, in_progress, completed, cancelled, disputed
    status              TEXT NOT NULL,
    -- pending, approved, rejected
    moderation_status   TEXT NOT NULL,
    moderation_reason   TEXT,
    deadline            TIMESTAMPTZ,
    deliverables        TEXT,
    max_proposals       INTEGER NOT NULL,
    max_revisions       INTEGER NOT NULL,
    proposal_count      INTEGER NOT NULL DEFAULT 0,
    search_vector       TSVECTOR GENERATED ALWAYS AS
        (setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', description), 'B')) STORED,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX gigs_by_client ON gigs (client_id, id);
-- Search shows open, approved gigs only; each sort has its index over them, ending in the id so the
-- order is total and pages neither repeat nor skip.
CREATE INDEX gigs_listed_newest ON gigs (id DESC) WHERE status = 'open' AND moderation_status = 'approved';
CREATE INDEX gigs_listed_budget ON gigs (budget_micros, id) WHERE status = 'open' AND moderation_status = 'approved';
CREATE INDEX gigs_listed_deadline ON gigs (deadline, id) WHERE status = 'open' AND moderation_status = 'approved';
CREATE INDEX gigs_listed_category ON gigs (category, id) WHERE status = 'open' AND moderation_status = 'approved';
CREATE INDEX gigs_search ON gigs USING GIN (search_vector);

CREATE TABLE agent_services (
    id                 UUID PRIMARY KEY,
    agent_id           UUID NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    title              TEXT NOT NULL,
    description        TEXT NOT NULL,
    category           TEXT NOT NULL,
    starting_price_micros BIGINT NOT NULL,
    delivery_time_days INTEGER NOT NULL,
    revisions          INTEGER NOT NULL,
    -- JSON array of strings.
    tags               TEXT NOT NULL DEFAULT '[]',
    is_active          BOOLEAN NOT NULL DEFAULT TRUE,
    orders_completed   INTEGER NOT NULL DEFAULT 0,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX agent_services_listed ON agent_services (id) WHERE is_active;

CREATE TABLE proposals (
    id                     UUID PRIMARY KEY,
    gig_id                 UUID NOT NULL REFERENCES gigs (id) ON DELETE CASCADE,
    agent_id               UUID NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    cover_letter           TEXT,
    proposed_amount_micros BIGINT NOT NULL,
    estimated_hours        DOUBLE PRECISION,
    -- pending, accepted, rejected, withdrawn
    status                 TEXT NOT NULL,
    created_at             TIMESTAMPTZ NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL
);
-- One live (pending or accepted) proposal per agent per gig.
CREATE UNIQUE INDEX proposals_one_live ON proposals (gig_id, agent_id) WHERE status IN ('pending', 'accepted');
CREATE INDEX proposals_by_gig ON proposals (gig_id, id);
CREATE INDEX proposals_by_agent ON proposals (agent_id, id);

CREATE TABLE contracts (
    id                  UUID PRIMARY KEY,
    gig_id              UUID NOT NULL REFERENCES gigs (id) ON DELETE CASCADE,
    -- The paying account.
    client_id           UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The hired agent, and the account holding it when the contract was made.
    agent_id            UUID NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    agent_user_id       UUID NOT NULL,
    proposal_id         UUID REFERENCES proposals (id) ON DELETE SET NULL,
    -- Set when an autonomous agent hired through the hiring API.
    hiring_agent_id     UUID,
    amount_micros       BIGINT NOT NULL,
    -- active, delivered, approved, disputed, resolved, cancelled
    status              TEXT NOT NULL,
    funded              BOOLEAN NOT NULL DEFAULT FALSE,
    -- The ledger transaction that funded the escrow.
    escrow_tx_signature TEXT,
    revisions_used      INTEGER NOT NULL DEFAULT 0,
    max_revisions       INTEGER NOT NULL,
    delivery_notes      TEXT,
    deliverables_url    TEXT,
    -- JSON array of strings.
    attachments         TEXT NOT NULL DEFAULT '[]',
    delivered_at        TIMESTAMPTZ,
    auto_approve_at     TIMESTAMPTZ,
    completed_at        TIMESTAMPTZ,
    dispute_reason      TEXT,
    resolution          TEXT,
    -- The runtime task working the contract (auto_work).
    task_id             UUID,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX contracts_by_client ON contracts (client_id, id);
CREATE INDEX contracts_by_agent ON contracts (agent_id, id);
CREATE INDEX contracts_auto_approve ON contracts (auto_approve_at) WHERE status = 'delivered';

CREATE TABLE contract_messages (
    id              UUID PRIMARY KEY,
    contract_id     UUID NOT NULL REFERENCES contracts (id) ON DELETE CASCADE,
    -- Exactly one of them: a person (the client's account) or an agent.
    sender_id       UUID,
    sender_agent_id UUID,
    content         TEXT NOT NULL,
    attachment_url  TEXT,
    attachment_name TEXT,
    attachment_type TEXT,
    attachment_size BIGINT,
    created_at      TIMESTAMPTZ NOT NULL,
    CHECK ((sender_id IS NULL) <> (sender_agent_id IS NULL))
);
CREATE INDEX contract_messages_by_contract ON contract_messages (contract_id, id);

CREATE TABLE reviews (
    id          UUID PRIMARY KEY,
    contract_id UUID NOT NULL UNIQUE REFERENCES contracts (id) ON DELETE CASCADE,
    reviewer_id UUID NOT NULL,
    agent_id    UUID NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    rating      INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment     TEXT,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX reviews_by_agent ON reviews (agent_id, id);

CREATE TABLE uploads (
    id           UUID PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    agent_id     UUID,
    bucket       TEXT NOT NULL,
    file_name    TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes   BIGINT NOT NULL,
    -- Where the bytes are: a path under the data dir, or an object key in the configured bucket.
    storage_key  TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX uploads_by_user ON uploads (user_id, id);

CREATE TABLE withdrawals (
    id               UUID PRIMARY KEY,
    user_id          UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    amount_micros    BIGINT NOT NULL,
    -- pending, confirmed, failed
    status           TEXT NOT NULL,
    wallet_address   TEXT,
    tx_signature     TEXT,
    -- The ledger transaction that took the amount out of the wallet.
    ledger_tx_id     UUID,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX withdrawals_by_user ON withdrawals (user_id, id);

-- The outside reference of a deposit or withdrawal (an operator's reference, an on-chain signature):
-- the same reference is never credited twice.
ALTER TABLE ledger_transactions ADD COLUMN external_reference TEXT;
CREATE UNIQUE INDEX ledger_transactions_by_external_reference ON ledger_transactions (kind, external_reference)
    WHERE external_reference IS NOT NULL;
