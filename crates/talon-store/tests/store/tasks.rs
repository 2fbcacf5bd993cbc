//! Tasks: claims, leases, runtime claims and dedupe keys.

use chrono::Duration;
use talon_store::Backend;

use crate::common::agent_fixtures::agent;
use crate::common::{account, db, now, queued_task};

on_both_databases!(
    claims_and_lease_expiry,
    runtime_claims_take_every_accounts_runtime_tasks_once,
    dedupe_insert_survives_its_holder_finishing,
);

async fn claims_and_lease_expiry(backend: Backend) {
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

async fn runtime_claims_take_every_accounts_runtime_tasks_once(backend: Backend) {
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

/// Inserts racing a writer that keeps cancelling the key's holder: the holder may finish between an
/// insert's conflict and its read of the holder, and the insert then takes the freed key instead of failing.
async fn dedupe_insert_survives_its_holder_finishing(backend: Backend) {
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
