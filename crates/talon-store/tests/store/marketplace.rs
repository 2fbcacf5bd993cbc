//! Marketplace agents and wallets: registration in one transaction, claiming, profiles, and the
//! wallet views over the ledger (entries, the escrow an account has put up).

use talon_domain::agent::{Agent, Version};
use talon_domain::marketplace::{Balances, FeeRate, Micros, Transaction};
use talon_domain::{AgentId, ApiKey, ApiKeyId, ContractId, PortfolioItemId, Scope, UserId};
use talon_store::{Backend, MarketProfile, PortfolioItem, Registration, StoreError};

use crate::common::{account, agent_fixtures, db, now};

on_both_databases!(
    registration_writes_everything_or_nothing_and_claiming_moves_it,
    portfolio_items_are_capped_per_agent,
    pending_escrow_counts_unresolved_escrows_of_the_clients_contracts,
);

fn profile(agent: AgentId, user: UserId, username: &str) -> MarketProfile {
    let at = now();
    MarketProfile {
        agent_id: agent,
        user_id: user,
        username: username.into(),
        name: "Bot".into(),
        description: Some("Does things".into()),
        bio: None,
        avatar_url: None,
        skills: vec!["rust".into()],
        categories: vec!["code".into()],
        specialties: vec![],
        languages: vec![],
        hourly_rate: Some(Micros::from_micros(25_000_000)),
        status: "active".into(),
        is_autonomous: false,
        wallet_address: None,
        is_claimed: false,
        contact_email: None,
        verified_at: None,
        auto_work: false,
        stats_completed_gigs: 0,
        stats_rating_sum: 0,
        stats_total_reviews: 0,
        stats_total_earned: Micros::ZERO,
        last_active_at: None,
        created_at: at,
        updated_at: at,
    }
}

fn key(user: UserId, agent: AgentId) -> ApiKey {
    ApiKey {
        id: ApiKeyId::new(),
        user_id: user,
        name: "agent".into(),
        key_prefix: "tln_test".into(),
        scopes: vec![Scope::MarketplaceRead, Scope::MarketplaceWrite],
        agent_id: Some(agent),
        expires_at: None,
        last_used_at: None,
        created_at: now(),
        revoked_at: None,
    }
}

async fn register(
    store: &dyn talon_store::Store,
    username: &str,
    token_hash: &[u8],
) -> Result<(Agent, Version, ApiKey), StoreError> {
    let owner = account(&format!("{username}@agents.invalid"));
    let (agent, version) = agent_fixtures::agent(&owner, username, None);
    let key = key(owner.id, agent.id);
    let profile = profile(agent.id, owner.id, username);
    let key_hash = format!("hash-{username}");
    let registration = Registration {
        account: &owner,
        password_hash: "!",
        agent: &agent,
        version: &version,
        events: &[agent_fixtures::event(&owner)],
        profile: &profile,
        claim_token_hash: Some(token_hash),
        key: &key,
        key_hash: key_hash.as_bytes(),
    };
    store.register_marketplace_agent(&registration).await?;
    Ok((agent, version, key))
}

async fn registration_writes_everything_or_nothing_and_claiming_moves_it(backend: Backend) {
    let db = db(backend).await;
    let store = db.store.as_ref();
    let (agent, _, key) = register(store, "first", b"token-1").await.unwrap();
    let stored = store.market_profile(agent.id).await.unwrap().unwrap();
    assert_eq!(stored.username, "first");
    assert_eq!(stored.hourly_rate, Some(Micros::from_micros(25_000_000)));
    assert_eq!(stored.skills, ["rust"]);

    // The same username again: nothing of the second registration remains (its account is free).
    let refused = register(store, "first", b"token-2").await;
    assert!(matches!(refused, Err(StoreError::Conflict("username"))), "{refused:?}");

    let hook = talon_domain::webhook::Webhook {
        id: talon_domain::WebhookId::new(),
        owner: agent.owner,
        agent: Some(agent.id),
        signing: talon_domain::webhook::Signing::ClawGig,
        url: "https://hooks.example.com/agent".into(),
        events: vec!["contract.funded".into()],
        description: String::new(),
        active: true,
        disabled_reason: None,
        sealed_secret: "sealed".into(),
        previous_secret: None,
        failing_since: None,
        created_at: now(),
        updated_at: now(),
    };
    store.insert_webhook(&hook, &[]).await.unwrap();

    let claimer = account("claimer@example.com");
    store.create_account(&claimer, "hash").await.unwrap();
    assert_eq!(store.claim_market_agent(b"unknown", claimer.id, now()).await.unwrap(), None);
    assert_eq!(store.claim_market_agent(b"token-1", claimer.id, now()).await.unwrap(), Some(agent.id));
    assert_eq!(store.claim_market_agent(b"token-1", claimer.id, now()).await.unwrap(), None, "used once");
    let claimed = store.market_profile(agent.id).await.unwrap().unwrap();
    assert!(claimed.is_claimed);
    assert_eq!(claimed.user_id, claimer.id);
    assert_eq!(store.agent(agent.id).await.unwrap().unwrap().owner, claimer.id);
    let keys = store.list_api_keys(claimer.id).await.unwrap();
    assert_eq!(keys.iter().map(|k| k.id).collect::<Vec<_>>(), [key.id], "the agent's key moved with it");
    let moved = store.agent_webhook(agent.id).await.unwrap().unwrap();
    assert_eq!(moved.owner, claimer.id, "the agent's webhook moved with it");

    // Another agent may not take the username on a profile save either.
    let (second, _, _) = register(store, "second", b"token-3").await.unwrap();
    let mut taken = store.market_profile(second.id).await.unwrap().unwrap();
    taken.username = "first".into();
    assert!(matches!(store.save_market_profile(&taken).await, Err(StoreError::Conflict("username"))));
}

async fn portfolio_items_are_capped_per_agent(backend: Backend) {
    let db = db(backend).await;
    let store = db.store.as_ref();
    let (agent, _, _) = register(store, "maker", b"t").await.unwrap();
    let item = |title: &str| PortfolioItem {
        id: PortfolioItemId::new(),
        agent_id: agent.id,
        title: title.into(),
        description: None,
        project_url: None,
        display_order: 0,
        created_at: now(),
        updated_at: now(),
    };
    assert!(store.insert_portfolio_item(&item("a"), 2).await.unwrap());
    assert!(store.insert_portfolio_item(&item("b"), 2).await.unwrap());
    assert!(!store.insert_portfolio_item(&item("c"), 2).await.unwrap(), "full");
    let items = store.portfolio_items(agent.id).await.unwrap();
    assert_eq!(items.iter().map(|i| (i.title.as_str(), i.display_order)).collect::<Vec<_>>(), [("a", 0), ("b", 1)]);
    assert!(store.delete_portfolio_item(agent.id, items[0].id).await.unwrap());
    assert!(!store.delete_portfolio_item(AgentId::new(), items[1].id).await.unwrap(), "another agent's item");
}

/// Inserts a gig of `client` and a contract on it with `agent`, straight into the tables (the
/// contracts store is another aggregate's).
async fn contract(url: &str, backend: Backend, client: UserId, agent: &Agent, amount: i64) -> ContractId {
    let (gig, contract) = (uuid::Uuid::now_v7(), ContractId::new());
    let at = now();
    let gig_sql = "INSERT INTO gigs (id, client_id, title, description, category, budget_micros, budget_type, status, \
         moderation_status, max_proposals, max_revisions, created_at, updated_at) \
         VALUES ($1, $2, 'Gig', 'Work', 'code', $3, 'fixed', 'in_progress', 'approved', 10, 2, $4, $4)";
    let contract_sql = "INSERT INTO contracts (id, gig_id, client_id, agent_id, agent_user_id, amount_micros, status, \
         max_revisions, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'active', 2, $7, $7)";
    macro_rules! insert {
        ($pool:expr) => {{
            let pool = $pool;
            sqlx::query(gig_sql).bind(gig).bind(*client.as_uuid()).bind(amount).bind(at).execute(&pool).await.unwrap();
            sqlx::query(contract_sql)
                .bind(*contract.as_uuid())
                .bind(gig)
                .bind(*client.as_uuid())
                .bind(*agent.id.as_uuid())
                .bind(*agent.owner.as_uuid())
                .bind(amount)
                .bind(at)
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }};
    }
    match backend {
        Backend::Sqlite => insert!(sqlx::SqlitePool::connect(url).await.unwrap()),
        Backend::Postgres => insert!(sqlx::PgPool::connect(url).await.unwrap()),
    }
    contract
}

async fn pending_escrow_counts_unresolved_escrows_of_the_clients_contracts(backend: Backend) {
    let db = db(backend).await;
    let store = db.store.as_ref();
    let client = account("client@example.com");
    store.create_account(&client, "hash").await.unwrap();
    let (agent, _, _) = register(store, "worker", b"t").await.unwrap();
    let first = contract(&db.url, backend, client.id, &agent, 30_000_000).await;
    let second = contract(&db.url, backend, client.id, &agent, 20_000_000).await;

    let mut balances = Balances::default();
    let append = async |tx: Transaction, balances: &mut Balances| {
        balances.apply(&tx).unwrap();
        store.append_transaction(&tx).await.unwrap();
    };
    append(Transaction::deposit(client.id, Micros::from_micros(100_000_000)).unwrap(), &mut balances).await;
    let fund = Transaction::fund_escrow(&balances, client.id, first, Micros::from_micros(30_000_000)).unwrap();
    append(fund, &mut balances).await;
    let fund = Transaction::fund_escrow(&balances, client.id, second, Micros::from_micros(20_000_000)).unwrap();
    append(fund, &mut balances).await;
    assert_eq!(store.pending_escrow(client.id).await.unwrap(), Micros::from_micros(50_000_000));
    assert_eq!(store.pending_escrow(agent.owner).await.unwrap(), Micros::ZERO, "the hired side put nothing up");

    let release = Transaction::release(&balances, first, agent.owner, FeeRate::default()).unwrap();
    append(release, &mut balances).await;
    assert_eq!(
        store.pending_escrow(client.id).await.unwrap(),
        Micros::from_micros(20_000_000),
        "resolved escrows drop out"
    );

    let entries = store.wallet_entries(client.id, 10, 0).await.unwrap();
    let seen: Vec<(&str, i64)> = entries.iter().map(|e| (e.kind.as_str(), e.amount.as_micros())).collect();
    assert_eq!(seen, [("fund_escrow", -20_000_000), ("fund_escrow", -30_000_000), ("deposit", 100_000_000)]);
    assert_eq!(entries[0].contract, Some(second.to_string()));
    let earned = store.wallet_entries(agent.owner, 10, 0).await.unwrap();
    assert_eq!(earned.len(), 1);
    assert_eq!((earned[0].kind.as_str(), earned[0].amount), ("release", Micros::from_micros(27_000_000)));
    assert_eq!(store.wallet_entries(client.id, 1, 2).await.unwrap()[0].kind, "deposit");
}
