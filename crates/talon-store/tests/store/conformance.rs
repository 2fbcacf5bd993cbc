//! One suite, every store implementation: each test below runs against SQLite and PostgreSQL.

use chrono::{Duration, DurationRound, Utc};
use talon_domain::{Account, ApiKey, ApiKeyId, ApiKeySecret, Scope, UserId};
use talon_store::testing::TestDatabase;
use talon_store::{Backend, Reservation, StoreError, StoredResponse};

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test] async fn $name() { super::$name(talon_store::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test] async fn $name() { super::$name(talon_store::Backend::Postgres).await } )*
        }
    };
}

conformance!(
    accounts_round_trip,
    duplicate_email_is_a_conflict,
    plan_can_change,
    sessions_are_revoked_one_by_one_or_all_at_once,
    api_keys_round_trip_and_revoke,
    api_key_lookup_joins_the_account,
    idempotency_reserve_complete_replay,
    idempotency_takes_over_expired_and_stale_records,
    idempotency_release_and_purge,
    idempotency_reservation_is_exclusive_under_concurrency,
    agents_insert_read_and_list,
    taken_slugs_are_the_numbered_variants_of_one_owner,
    append_version_is_compare_and_swap,
    an_agent_is_read_with_the_version_it_serves,
    forks_count_lineage_and_delete,
    claims_and_lease_expiry,
    usage_summarised_per_version,
    runtime_claims_take_every_accounts_runtime_tasks_once,
    dedupe_insert_survives_its_holder_finishing,
);

async fn db(backend: Backend) -> TestDatabase {
    TestDatabase::new(backend).await.expect("test database (is PostgreSQL running?)")
}

/// Databases keep microseconds; compare timestamps at that precision.
fn now() -> chrono::DateTime<Utc> {
    Utc::now().duration_trunc(Duration::microseconds(1)).unwrap()
}

fn account(email: &str) -> Account {
    Account { id: UserId::new(), email: email.into(), plan: "default".into(), created_at: now() }
}

fn key_for(user: UserId, name: &str) -> (ApiKey, ApiKeySecret) {
    let secret = ApiKeySecret::generate();
    let key = ApiKey {
        id: ApiKeyId::new(),
        user_id: user,
        name: name.into(),
        key_prefix: secret.display_prefix(),
        scopes: vec![Scope::AgentsRead, Scope::TasksWrite],
        agent_id: None,
        expires_at: Some(now() + Duration::days(30)),
        last_used_at: None,
        created_at: now(),
        revoked_at: None,
    };
    (key, secret)
}

async fn accounts_round_trip(backend: Backend) {
    let db = db(backend).await;
    let alice = account("alice@example.com");
    db.store.create_account(&alice, "hash-a").await.unwrap();

    let (found, hash) = db.store.account_by_email("alice@example.com").await.unwrap().unwrap();
    assert_eq!(found, alice);
    assert_eq!(hash, "hash-a");
    assert_eq!(db.store.account_by_id(alice.id).await.unwrap(), Some(alice));
    assert!(db.store.account_by_email("bob@example.com").await.unwrap().is_none());
    assert!(db.store.account_by_id(UserId::new()).await.unwrap().is_none());
}

async fn duplicate_email_is_a_conflict(backend: Backend) {
    let db = db(backend).await;
    db.store.create_account(&account("a@example.com"), "h").await.unwrap();
    let err = db.store.create_account(&account("a@example.com"), "h").await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("email")), "{err:?}");
}

async fn plan_can_change(backend: Backend) {
    let db = db(backend).await;
    let alice = account("alice@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    assert!(db.store.set_account_plan("alice@example.com", "enterprise").await.unwrap());
    assert!(!db.store.set_account_plan("nobody@example.com", "enterprise").await.unwrap());
    assert_eq!(db.store.account_by_id(alice.id).await.unwrap().unwrap().plan, "enterprise");
}

async fn sessions_are_revoked_one_by_one_or_all_at_once(backend: Backend) {
    let db = db(backend).await;
    let alice = account("alice@example.com");
    let bob = account("bob@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    db.store.create_account(&bob, "h").await.unwrap();
    let (laptop, phone) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());

    let fresh = db.store.session_account(alice.id, laptop).await.unwrap().unwrap();
    assert_eq!((fresh.account, fresh.session_generation, fresh.revoked), (alice.clone(), 0, false));
    assert_eq!(db.store.session_generation(alice.id).await.unwrap(), Some(0));
    assert!(db.store.session_account(UserId::new(), laptop).await.unwrap().is_none());

    let expires = now() + Duration::days(7);
    db.store.revoke_session(alice.id, laptop, expires).await.unwrap();
    db.store.revoke_session(alice.id, laptop, expires).await.unwrap();
    assert!(db.store.session_account(alice.id, laptop).await.unwrap().unwrap().revoked);
    assert!(!db.store.session_account(alice.id, phone).await.unwrap().unwrap().revoked);

    db.store.revoke_all_sessions(alice.id).await.unwrap();
    assert_eq!(db.store.session_account(alice.id, phone).await.unwrap().unwrap().session_generation, 1);
    assert_eq!(db.store.session_generation(alice.id).await.unwrap(), Some(1));
    assert_eq!(db.store.session_generation(bob.id).await.unwrap(), Some(0), "another account is untouched");

    assert_eq!(db.store.purge_revoked_sessions(now()).await.unwrap(), 0, "not expired yet");
    assert_eq!(db.store.purge_revoked_sessions(expires + Duration::seconds(1)).await.unwrap(), 1);
    assert!(!db.store.session_account(alice.id, laptop).await.unwrap().unwrap().revoked);
}

async fn api_keys_round_trip_and_revoke(backend: Backend) {
    let db = db(backend).await;
    let alice = account("alice@example.com");
    let bob = account("bob@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    db.store.create_account(&bob, "h").await.unwrap();
    let (first, first_secret) = key_for(alice.id, "first");
    let (second, second_secret) = key_for(alice.id, "second");
    db.store.insert_api_key(&first, &first_secret.hash()).await.unwrap();
    db.store.insert_api_key(&second, &second_secret.hash()).await.unwrap();

    let listed = db.store.list_api_keys(alice.id).await.unwrap();
    assert_eq!(listed, vec![second.clone(), first.clone()], "newest first");
    assert!(db.store.list_api_keys(bob.id).await.unwrap().is_empty());

    // Bob cannot revoke Alice's key.
    assert!(!db.store.revoke_api_key(bob.id, first.id, now()).await.unwrap());
    let at = now();
    assert!(db.store.revoke_api_key(alice.id, first.id, at).await.unwrap());
    assert!(!db.store.revoke_api_key(alice.id, first.id, at).await.unwrap(), "already revoked");
    assert_eq!(db.store.list_api_keys(alice.id).await.unwrap(), vec![second]);

    let revoked = db.store.api_key_by_hash(&first_secret.hash()).await.unwrap().unwrap();
    assert_eq!(revoked.key.revoked_at, Some(at));
}

async fn api_key_lookup_joins_the_account(backend: Backend) {
    let db = db(backend).await;
    let alice = account("alice@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    let (key, secret) = key_for(alice.id, "k");
    db.store.insert_api_key(&key, &secret.hash()).await.unwrap();

    let found = db.store.api_key_by_hash(&secret.hash()).await.unwrap().unwrap();
    assert_eq!(found.key, key);
    assert_eq!(found.account, alice);
    assert!(db.store.api_key_by_hash(&ApiKeySecret::generate().hash()).await.unwrap().is_none());

    let used = now();
    db.store.touch_api_key(key.id, used).await.unwrap();
    let found = db.store.api_key_by_hash(&secret.hash()).await.unwrap().unwrap();
    assert_eq!(found.key.last_used_at, Some(used));
}

fn response(status: u16, body: &str) -> StoredResponse {
    StoredResponse { status, content_type: Some("application/json".into()), body: body.as_bytes().to_vec() }
}

async fn idempotency_reserve_complete_replay(backend: Backend) {
    let db = db(backend).await;
    let t = now();
    let (expired, stale) = (t - Duration::hours(24), t - Duration::minutes(5));
    let s = &db.store;
    assert_eq!(s.reserve_idempotency_key("acct", "k1", b"fp", t, expired, stale).await.unwrap(), Reservation::Reserved);
    assert_eq!(
        s.reserve_idempotency_key("acct", "k1", b"fp", t, expired, stale).await.unwrap(),
        Reservation::InFlight { fingerprint: b"fp".to_vec() }
    );
    // The same key in another scope is independent.
    assert_eq!(
        s.reserve_idempotency_key("other", "k1", b"fp", t, expired, stale).await.unwrap(),
        Reservation::Reserved
    );

    s.complete_idempotency_key("acct", "k1", &response(201, "{\"id\":1}")).await.unwrap();
    assert_eq!(
        s.reserve_idempotency_key("acct", "k1", b"different", t, expired, stale).await.unwrap(),
        Reservation::Completed { fingerprint: b"fp".to_vec(), response: response(201, "{\"id\":1}") }
    );
}

async fn idempotency_takes_over_expired_and_stale_records(backend: Backend) {
    let db = db(backend).await;
    let s = &db.store;
    let long_ago = now() - Duration::hours(25);
    let t = now();
    let (expired, stale) = (t - Duration::hours(24), t - Duration::minutes(5));
    s.reserve_idempotency_key("a", "done", b"old", long_ago, long_ago, long_ago).await.unwrap();
    s.complete_idempotency_key("a", "done", &response(200, "old")).await.unwrap();
    assert_eq!(s.reserve_idempotency_key("a", "done", b"new", t, expired, stale).await.unwrap(), Reservation::Reserved);

    let ten_minutes_ago = t - Duration::minutes(10);
    s.reserve_idempotency_key("a", "dead", b"fp", ten_minutes_ago, ten_minutes_ago, ten_minutes_ago).await.unwrap();
    assert_eq!(s.reserve_idempotency_key("a", "dead", b"fp", t, expired, stale).await.unwrap(), Reservation::Reserved);
}

async fn idempotency_release_and_purge(backend: Backend) {
    let db = db(backend).await;
    let s = &db.store;
    let t = now();
    let (expired, stale) = (t - Duration::hours(24), t - Duration::minutes(5));
    s.reserve_idempotency_key("a", "k", b"fp", t, expired, stale).await.unwrap();
    s.release_idempotency_key("a", "k").await.unwrap();
    assert_eq!(s.reserve_idempotency_key("a", "k", b"fp", t, expired, stale).await.unwrap(), Reservation::Reserved);
    s.complete_idempotency_key("a", "k", &response(200, "x")).await.unwrap();
    s.release_idempotency_key("a", "k").await.unwrap();
    assert!(
        matches!(
            s.reserve_idempotency_key("a", "k", b"fp", t, expired, stale).await.unwrap(),
            Reservation::Completed { .. }
        ),
        "a completed record is never released"
    );

    assert_eq!(s.purge_idempotency_keys(t).await.unwrap(), 0);
    assert_eq!(s.purge_idempotency_keys(t + Duration::seconds(1)).await.unwrap(), 1);
}

async fn idempotency_reservation_is_exclusive_under_concurrency(backend: Backend) {
    let db = db(backend).await;
    let t = now();
    let (expired, stale) = (t - Duration::hours(24), t - Duration::minutes(5));
    let attempts = (0..32).map(|_| {
        let store = db.store.clone();
        tokio::spawn(async move { store.reserve_idempotency_key("a", "race", b"fp", t, expired, stale).await })
    });
    let results = futures_results(attempts).await;
    let reserved = results.iter().filter(|r| **r == Reservation::Reserved).count();
    assert_eq!(reserved, 1, "{results:?}");
}

async fn futures_results(
    handles: impl Iterator<Item = tokio::task::JoinHandle<Result<Reservation, StoreError>>>,
) -> Vec<Reservation> {
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap().unwrap());
    }
    out
}

mod agent_fixtures {
    use serde_json::json;
    use talon_domain::agent::{Agent, AgentMetadata, AgentStatus, Author, Definition, ForkOrigin, ForkType, Version};
    use talon_domain::event::Event;
    use talon_domain::{Account, AgentId, VersionId};

    pub fn definition(prompt: &str) -> Definition {
        serde_json::from_value(
            json!({"prompt": prompt, "tools": [], "config": {}, "model": {"primary": "test/echo", "fallback": null}}),
        )
        .unwrap()
    }

    pub fn agent(owner: &Account, slug: &str, origin: Option<ForkOrigin>) -> (Agent, Version) {
        let id = AgentId::new();
        let version_id = VersionId::new();
        let now = super::now();
        let def = definition(slug);
        let version = Version {
            id: version_id,
            agent_id: id,
            number: 1,
            parent_version_id: origin.as_ref().and_then(|o| o.parent_version_id),
            content_hash: def.content_hash(),
            definition: def,
            commit_message: "Initial version".into(),
            fork_type: origin.as_ref().map(|o| o.fork_type),
            created_by: Author { id: owner.id, email: owner.email.clone() },
            created_at: now,
        };
        let agent = Agent {
            id,
            owner: owner.id,
            slug: slug.into(),
            metadata: AgentMetadata { name: slug.into(), description: String::new(), capabilities: vec!["x".into()] },
            public: false,
            api_access: false,
            status: AgentStatus::Idle,
            current_version_id: version_id,
            deployed_version_id: None,
            deployed_at: None,
            fork_count: 0,
            depth: origin.as_ref().map_or(0, |_| 1),
            fork_origin: origin,
            created_at: now,
            updated_at: now,
        };
        (agent, version)
    }

    pub fn event(owner: &Account) -> Event {
        Event::new(owner.id, talon_domain::event::AGENT_CREATED, json!({"x": 1}))
    }

    pub fn fork_of(parent: &Agent) -> Option<ForkOrigin> {
        Some(ForkOrigin {
            parent_agent_id: Some(parent.id),
            parent_version_id: Some(parent.current_version_id),
            fork_type: ForkType::ExactClone,
        })
    }
}

async fn agents_insert_read_and_list(backend: Backend) {
    use agent_fixtures::*;
    let db = db(backend).await;
    let alice = account("alice@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    let (a, v) = agent(&alice, "one", None);
    db.store.insert_agent(&a, &v, &[event(&alice)]).await.unwrap();
    assert_eq!(db.store.agent(a.id).await.unwrap().unwrap(), a);
    assert_eq!(db.store.agent_by_slug(alice.id, "one").await.unwrap().unwrap().id, a.id);
    assert_eq!(db.store.version(v.id).await.unwrap().unwrap(), v);
    assert_eq!(db.store.version_by_number(a.id, 1).await.unwrap().unwrap().id, v.id);

    let (dup, dup_v) = agent(&alice, "one", None);
    let err = db.store.insert_agent(&dup, &dup_v, &[]).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("slug")), "{err:?}");
    assert!(db.store.agent(dup.id).await.unwrap().is_none(), "nothing of a failed insert remains");

    let (b, bv) = agent(&alice, "two", None);
    db.store.insert_agent(&b, &bv, &[]).await.unwrap();
    let page = db.store.list_agents(alice.id, Default::default(), 0, 10).await.unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(page.items.iter().map(|a| a.slug.as_str()).collect::<Vec<_>>(), ["one", "two"]);
    let deployed = talon_store::AgentFilter { deployed_only: true, only: None };
    assert_eq!(db.store.list_agents(alice.id, deployed, 0, 10).await.unwrap().total, 0);
    let only_b = talon_store::AgentFilter { deployed_only: false, only: Some(b.id) };
    assert_eq!(db.store.list_agents(alice.id, only_b, 0, 10).await.unwrap().items[0].id, b.id);

    let events = db.store.events_for(alice.id).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, "agent.created");
}

async fn taken_slugs_are_the_numbered_variants_of_one_owner(backend: Backend) {
    use agent_fixtures::*;
    let db = db(backend).await;
    let (alice, bob) = (account("alice@example.com"), account("bob@example.com"));
    db.store.create_account(&alice, "h").await.unwrap();
    db.store.create_account(&bob, "h").await.unwrap();
    let long = "a".repeat(64);
    let long_2 = talon_domain::agent::numbered_slug(&long, 2);
    for slug in ["bot", "bot-2", "bot-10", "bots", "robot", "bot-x", long.as_str(), long_2.as_str()] {
        let (a, v) = agent(&alice, slug, None);
        db.store.insert_agent(&a, &v, &[]).await.unwrap();
    }
    let (b, bv) = agent(&bob, "bot-3", None);
    db.store.insert_agent(&b, &bv, &[]).await.unwrap();

    let mut taken = db.store.taken_slugs(alice.id, "bot").await.unwrap();
    taken.sort();
    // `bot-x` matches the pattern but is no numbered variant: harmless, it is simply never chosen.
    assert_eq!(taken, ["bot", "bot-10", "bot-2", "bot-x"]);
    assert!(db.store.taken_slugs(alice.id, "nothing").await.unwrap().is_empty());
    let mut taken = db.store.taken_slugs(alice.id, &long).await.unwrap();
    taken.sort();
    assert_eq!(taken, [long_2, long.clone()]);
}

async fn append_version_is_compare_and_swap(backend: Backend) {
    use agent_fixtures::*;
    let db = db(backend).await;
    let alice = account("alice@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    let (a, v1) = agent(&alice, "one", None);
    db.store.insert_agent(&a, &v1, &[]).await.unwrap();
    let next = |parent: &talon_domain::agent::Version, number: i64| {
        let mut v = parent.clone();
        v.id = talon_domain::VersionId::new();
        v.number = number;
        v.parent_version_id = Some(parent.id);
        v
    };
    let v2 = next(&v1, 2);
    assert_eq!(db.store.append_version(&v2, &[event(&alice)]).await.unwrap(), talon_store::AppendOutcome::Appended);
    let stale = next(&v1, 2);
    assert_eq!(db.store.append_version(&stale, &[event(&alice)]).await.unwrap(), talon_store::AppendOutcome::Stale);
    assert_eq!(db.store.agent(a.id).await.unwrap().unwrap().current_version_id, v2.id);
    let page = db.store.list_versions(a.id, 0, 10).await.unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(page.items.iter().map(|v| v.number).collect::<Vec<_>>(), [2, 1], "newest first");
    assert_eq!(db.store.events_for(alice.id).await.unwrap().len(), 1, "a stale append records nothing");
}

async fn forks_count_lineage_and_delete(backend: Backend) {
    use agent_fixtures::*;
    let db = db(backend).await;
    let alice = account("alice@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    let (root, rv) = agent(&alice, "root", None);
    db.store.insert_agent(&root, &rv, &[]).await.unwrap();
    let (child, cv) = agent(&alice, "child", fork_of(&root));
    db.store.insert_agent(&child, &cv, &[]).await.unwrap();
    let (grandchild, gv) = agent(&alice, "grandchild", fork_of(&child));
    db.store.insert_agent(&grandchild, &gv, &[]).await.unwrap();
    assert_eq!(db.store.agent(root.id).await.unwrap().unwrap().fork_count, 1);

    for from in [root.id, child.id, grandchild.id] {
        let mut entries = db.store.lineage(from).await.unwrap();
        entries.sort_by_key(|e| e.id);
        assert_eq!(entries.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["root", "child", "grandchild"]);
        assert_eq!(entries[2].parent, Some(child.id));
        assert_eq!(entries[1].forked_from_version_id, Some(rv.id));
    }

    let e = event(&alice);
    assert_eq!(db.store.delete_agent(child.id, false, &e).await.unwrap(), talon_store::DeleteOutcome::HasForks(1));
    assert_eq!(db.store.delete_agent(child.id, true, &e).await.unwrap(), talon_store::DeleteOutcome::Deleted);
    assert_eq!(db.store.agent(root.id).await.unwrap().unwrap().fork_count, 0);
    let orphan = db.store.agent(grandchild.id).await.unwrap().unwrap();
    let origin = orphan.fork_origin.unwrap();
    assert_eq!((origin.parent_agent_id, origin.parent_version_id), (None, None), "the fork now stands alone");
    assert!(db.store.version(cv.id).await.unwrap().is_none());
    assert_eq!(db.store.lineage(grandchild.id).await.unwrap().len(), 1);
    assert_eq!(db.store.delete_agent(child.id, true, &e).await.unwrap(), talon_store::DeleteOutcome::NotFound);
}

async fn claims_and_lease_expiry(backend: Backend) {
    use agent_fixtures::*;
    use talon_domain::task::{Executor, Lease, Priority, Task, TaskStatus};
    let db = db(backend).await;
    let alice = account("alice@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    let (a, v) = agent(&alice, "one", None);
    db.store.insert_agent(&a, &v, &[]).await.unwrap();
    let t0 = now();
    let task = Task { max_attempts: 2, ..queued_task(&a, &v, Executor::External, Priority::Normal, t0) };
    assert_eq!(db.store.insert_task(&task, &[]).await.unwrap(), talon_store::InsertOutcome::Created);
    let lease = Lease { token: "lease_1".into(), expires_at: t0 + Duration::seconds(1) };
    let claimed = db.store.claim_tasks(alice.id, None, Executor::External, 10, &lease, t0).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!((claimed[0].status, claimed[0].attempts), (TaskStatus::Running, 1));
    assert_eq!(claimed[0].lease, Some(lease.clone()));
    assert!(db.store.claim_tasks(alice.id, None, Executor::External, 10, &lease, t0).await.unwrap().is_empty());

    assert!(db.store.expire_leases(t0, 100).await.unwrap().is_empty(), "not yet lapsed");
    let lapsed = db.store.expire_leases(t0 + Duration::seconds(2), 100).await.unwrap();
    assert_eq!(lapsed.len(), 1);
    assert_eq!((lapsed[0].status, lapsed[0].lease.clone()), (TaskStatus::Queued, None));

    let lease2 = Lease { token: "lease_2".into(), expires_at: t0 + Duration::seconds(3) };
    let again =
        db.store.claim_tasks(alice.id, None, Executor::External, 10, &lease2, t0 + Duration::seconds(2)).await.unwrap();
    assert_eq!(again[0].attempts, 2);
    let failed = db.store.expire_leases(t0 + Duration::seconds(4), 100).await.unwrap();
    assert_eq!(failed[0].status, TaskStatus::Failed);
    assert_eq!(failed[0].error.as_deref(), Some("Lease expired on attempt 2 of 2"));
    let events = db.store.events_for(alice.id).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.kind == "task.failed").count(), 1);
}

async fn usage_summarised_per_version(backend: Backend) {
    use agent_fixtures::*;
    use talon_domain::usage::{Outcome, Source, UsageRecord};
    let db = db(backend).await;
    let alice = account("alice@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    let (a, v1) = agent(&alice, "one", None);
    db.store.insert_agent(&a, &v1, &[]).await.unwrap();
    let at = now();
    let record = |outcome, latency_us, first_token_us, fell_back| UsageRecord {
        id: uuid::Uuid::now_v7(),
        owner: alice.id,
        agent_id: a.id,
        version_id: v1.id,
        key_id: None,
        source: Source::Chat,
        model: "test/echo".into(),
        fell_back,
        prompt_tokens: 10,
        completion_tokens: 4,
        latency_us,
        first_token_us,
        outcome,
        created_at: at,
    };
    let mut old = record(Outcome::Ok, 1, Some(1), false);
    old.created_at = at - Duration::days(2);
    let other_agent = UsageRecord { agent_id: talon_domain::AgentId::new(), ..record(Outcome::Ok, 1, Some(1), false) };
    db.store
        .insert_usage(&[
            record(Outcome::Ok, 2_000, Some(500), false),
            record(Outcome::Ok, 4_000, Some(1_500), true),
            record(Outcome::UpstreamError, 6_000, None, true),
            record(Outcome::ClientClosed, 12_000, Some(1_000), false),
            old,
            other_agent,
        ])
        .await
        .unwrap();
    let rows = db.store.usage_by_version(a.id, at - Duration::hours(1), at + Duration::seconds(1)).await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!((row.version_id, row.version), (Some(v1.id), 1));
    assert_eq!((row.requests, row.succeeded, row.failed, row.client_closed, row.fallbacks), (4, 2, 1, 1, 2));
    assert_eq!((row.prompt_tokens, row.completion_tokens), (40, 16));
    assert_eq!((row.avg_latency_ms, row.max_latency_ms), (6.0, 12.0));
    assert_eq!((row.first_tokens, row.avg_first_token_ms), (3, Some(1.0)));
    let before = db.store.usage_by_version(a.id, at - Duration::days(3), at - Duration::days(1)).await.unwrap();
    assert_eq!(before[0].requests, 1, "the period bounds the rows");
    assert!(
        db.store.usage_by_version(a.id, at + Duration::seconds(1), at + Duration::hours(1)).await.unwrap().is_empty()
    );
}

fn queued_task(
    agent: &talon_domain::agent::Agent,
    version: &talon_domain::agent::Version,
    executor: talon_domain::task::Executor,
    priority: talon_domain::task::Priority,
    run_at: chrono::DateTime<Utc>,
) -> talon_domain::task::Task {
    let t0 = now();
    talon_domain::task::Task {
        id: talon_domain::TaskId::new(),
        owner: agent.owner,
        agent_id: agent.id,
        version_id: version.id,
        title: "t".into(),
        description: String::new(),
        priority,
        status: talon_domain::task::TaskStatus::Queued,
        executor,
        input: serde_json::json!({}),
        output: None,
        error: None,
        attempts: 0,
        max_attempts: 3,
        run_at,
        dedupe_key: None,
        lease: None,
        created_at: t0,
        updated_at: t0,
        started_at: None,
        completed_at: None,
    }
}

async fn runtime_claims_take_every_accounts_runtime_tasks_once(backend: Backend) {
    use agent_fixtures::*;
    use talon_domain::task::{Executor, Lease, Priority, TaskStatus};
    let db = db(backend).await;
    let (alice, bob) = (account("alice@example.com"), account("bob@example.com"));
    let mut agents = Vec::new();
    for owner in [&alice, &bob] {
        db.store.create_account(owner, "h").await.unwrap();
        let (a, v) = agent(owner, "one", None);
        db.store.insert_agent(&a, &v, &[]).await.unwrap();
        agents.push((a, v));
    }
    let t0 = now();
    let [(a, av), (b, bv)] = &agents[..] else { unreachable!() };
    let alice_normal = queued_task(a, av, Executor::Runtime, Priority::Normal, t0);
    let bob_urgent = queued_task(b, bv, Executor::Runtime, Priority::Urgent, t0);
    let alice_external = queued_task(a, av, Executor::External, Priority::Urgent, t0);
    let alice_later = queued_task(a, av, Executor::Runtime, Priority::Urgent, t0 + Duration::seconds(60));
    for task in [&alice_normal, &bob_urgent, &alice_external, &alice_later] {
        db.store.insert_task(task, &[]).await.unwrap();
    }

    let lease = Lease { token: "lease_rt".into(), expires_at: t0 + Duration::minutes(5) };
    let claimed = db.store.claim_runtime_tasks(10, &lease, t0).await.unwrap();
    let ids: Vec<_> = claimed.iter().map(|t| t.id).collect();
    assert_eq!(ids, [bob_urgent.id, alice_normal.id], "priority first, across accounts, runnable only");
    for task in &claimed {
        assert_eq!((task.status, task.attempts, task.lease.clone()), (TaskStatus::Running, 1, Some(lease.clone())));
        assert_eq!(task.started_at, Some(t0));
    }
    assert!(db.store.claim_runtime_tasks(10, &lease, t0).await.unwrap().is_empty());
    let external = db.store.claim_tasks(alice.id, None, Executor::External, 10, &lease, t0).await.unwrap();
    assert_eq!(external.iter().map(|t| t.id).collect::<Vec<_>>(), [alice_external.id], "never a runtime task");
    for (owner, started) in [(&alice, 2), (&bob, 1)] {
        let events = db.store.events_for(owner.id).await.unwrap();
        assert_eq!(events.iter().filter(|e| e.kind == "task.started").count(), started);
    }

    // A retry writes `run_at`: the task is not claimable again until then.
    let retry = claimed[1].retry_later(t0, "upstream 500", None).unwrap();
    assert!(db.store.update_task(&retry, TaskStatus::Running, Some("lease_rt"), &[]).await.unwrap());
    assert!(db.store.claim_runtime_tasks(10, &lease, t0).await.unwrap().is_empty());
    let at = t0 + Duration::seconds(61);
    let again = db.store.claim_runtime_tasks(10, &lease, at).await.unwrap();
    assert_eq!(again.iter().map(|t| t.id).collect::<Vec<_>>(), [alice_later.id, alice_normal.id]);
    assert_eq!((again[1].attempts, again[1].error.as_deref()), (2, Some("upstream 500")));

    // Concurrent claimers take each task exactly once.
    let many: Vec<_> = (0..30).map(|_| queued_task(a, av, Executor::Runtime, Priority::Normal, t0)).collect();
    for task in &many {
        db.store.insert_task(task, &[]).await.unwrap();
    }
    let claimers: Vec<_> = (0..6)
        .map(|_| {
            let store = db.store.clone();
            let lease = lease.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(task) = store.claim_runtime_tasks(1, &lease, at).await.unwrap().pop() {
                    mine.push(task.id);
                }
                mine
            })
        })
        .collect();
    let mut taken = Vec::new();
    for claimer in claimers {
        taken.extend(claimer.await.unwrap());
    }
    taken.sort();
    let mut expected: Vec<_> = many.iter().map(|t| t.id).collect();
    expected.sort();
    assert_eq!(taken, expected);
}

async fn an_agent_is_read_with_the_version_it_serves(backend: Backend) {
    use agent_fixtures::*;
    use talon_store::{AgentLookup, Deployment};
    let db = db(backend).await;
    let alice = account("alice@example.com");
    let bob = account("bob@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    db.store.create_account(&bob, "h").await.unwrap();
    let (a, v1) = agent(&alice, "one", None);
    db.store.insert_agent(&a, &v1, &[]).await.unwrap();
    let mut v2 = v1.clone();
    v2.id = talon_domain::VersionId::new();
    v2.number = 2;
    v2.parent_version_id = Some(v1.id);
    assert_eq!(db.store.append_version(&v2, &[]).await.unwrap(), talon_store::AppendOutcome::Appended);
    let by_slug = AgentLookup::Slug { owner: alice.id, slug: "one" };
    let (agent, served) = db.store.agent_serving(by_slug).await.unwrap().unwrap();
    assert_eq!((agent.id, served.id), (a.id, v2.id), "undeployed: the current version");
    assert_eq!(served.created_by.email, "alice@example.com");
    let pinned = Deployment {
        status: talon_domain::agent::AgentStatus::Deployed,
        deployed_version_id: Some(v1.id),
        deployed_at: Some(now()),
    };
    db.store.set_deployment(a.id, pinned, now(), &event(&alice)).await.unwrap();
    let (agent, served) = db.store.agent_serving(AgentLookup::Id(a.id)).await.unwrap().unwrap();
    assert_eq!((agent.deployed_version_id, served.id), (Some(v1.id), v1.id), "deployed: the deployed version");
    assert!(db.store.agent_serving(AgentLookup::Slug { owner: bob.id, slug: "one" }).await.unwrap().is_none());
    assert!(db.store.agent_serving(AgentLookup::Id(talon_domain::AgentId::new())).await.unwrap().is_none());
}

/// Inserts racing a writer that keeps cancelling the key's holder: the holder may finish between an
/// insert's conflict and its read of the holder, and the insert then takes the freed key instead of failing.
async fn dedupe_insert_survives_its_holder_finishing(backend: Backend) {
    use agent_fixtures::*;
    use talon_domain::task::{Executor, Priority, Task, TaskStatus};
    use talon_store::InsertOutcome;
    let db = db(backend).await;
    let alice = account("alice@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    let (a, v) = agent(&alice, "one", None);
    db.store.insert_agent(&a, &v, &[]).await.unwrap();
    let keyed = move || Task {
        dedupe_key: Some("nightly".into()),
        ..queued_task(&a, &v, Executor::External, Priority::Normal, now())
    };
    let inserters: Vec<_> = (0..8)
        .map(|_| {
            let (store, keyed) = (db.store.clone(), keyed.clone());
            tokio::spawn(async move {
                let mut created = 0;
                for _ in 0..60 {
                    match store.insert_task(&keyed(), &[]).await.unwrap() {
                        InsertOutcome::Created => created += 1,
                        InsertOutcome::Existing(held) => {
                            assert!(matches!(held.status, TaskStatus::Queued | TaskStatus::Running));
                            assert_eq!(held.dedupe_key.as_deref(), Some("nightly"));
                        }
                    }
                }
                created
            })
        })
        .collect();
    let canceller = {
        let store = db.store.clone();
        tokio::spawn(async move {
            for _ in 0..300 {
                let new = keyed();
                let task = match store.insert_task(&new, &[]).await.unwrap() {
                    InsertOutcome::Created => new,
                    InsertOutcome::Existing(held) => *held,
                };
                let at = now();
                let cancelled = Task { status: TaskStatus::Cancelled, completed_at: Some(at), updated_at: at, ..task };
                store.update_task(&cancelled, TaskStatus::Queued, None, &[]).await.unwrap();
            }
        })
    };
    let mut created = 0;
    for inserter in inserters {
        created += inserter.await.unwrap();
    }
    canceller.await.unwrap();
    assert!(created > 0, "the key was free again after cancels");
}
