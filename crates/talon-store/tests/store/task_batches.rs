//! Task batches: inserts all or none with dedupe keys within and across batches, compare-and-swaps of
//! many tasks each on its own, the events claims write, and concurrent batch claims.

use std::collections::HashSet;

use chrono::Duration;
use serde_json::json;
use talon_domain::event::{self, Event};
use talon_domain::task::{Executor, Lease, Priority, Task, TaskStatus};
use talon_domain::{Account, AgentId, TaskId};
use talon_store::testing::TestDatabase;
use talon_store::{Backend, InsertOutcome, MAX_BATCH, StoreError, TaskChange, TaskInsert, Window};

use crate::common::agent_fixtures::agent;
use crate::common::{account, db, now, queued_task};

on_both_databases!(
    a_batch_dedupes_within_itself_and_against_live_tasks,
    a_failing_batch_leaves_nothing,
    batches_over_the_limit_are_refused,
    batch_changes_apply_each_that_still_holds,
    claims_and_expiry_record_the_tasks_event_data,
    concurrent_batch_claims_take_each_task_once,
);

/// An account with one agent, and a maker of its queued tasks.
async fn setup(db: &TestDatabase, email: &str) -> (Account, impl Fn() -> Task + Clone) {
    let owner = account(email);
    db.store.create_account(&owner, "h").await.unwrap();
    let (a, v) = agent(&owner, "one", None);
    db.store.insert_agent(&a, &v, &[]).await.unwrap();
    (owner, move || queued_task(&a, &v, Executor::External, Priority::Normal, now()))
}

fn keyed(task: Task, key: &str) -> Task {
    Task { dedupe_key: Some(key.into()), ..task }
}

fn created_event(task: &Task) -> [Event; 1] {
    [Event::new(task.owner, event::TASK_CREATED, task.event_data())]
}

async fn insert_all(db: &TestDatabase, tasks: &[Task]) -> Result<Vec<InsertOutcome>, StoreError> {
    let events: Vec<[Event; 1]> = tasks.iter().map(created_event).collect();
    let inserts: Vec<TaskInsert> =
        tasks.iter().zip(&events).map(|(task, events)| TaskInsert { task, events }).collect();
    db.store.insert_tasks(&inserts).await
}

async fn count_events(db: &TestDatabase, owner: &Account, kind: &str) -> usize {
    db.store.events_for(owner.id).await.unwrap().iter().filter(|e| e.kind == kind).count()
}

async fn a_batch_dedupes_within_itself_and_against_live_tasks(backend: Backend) {
    let db = db(backend).await;
    let (alice, task) = setup(&db, "alice@example.com").await;
    let first = [keyed(task(), "nightly"), task(), keyed(task(), "nightly"), keyed(task(), "weekly")];
    let outcomes = insert_all(&db, &first).await.unwrap();
    assert_eq!(outcomes[0], InsertOutcome::Created);
    assert_eq!(outcomes[1], InsertOutcome::Created);
    assert_eq!(outcomes[2], InsertOutcome::Existing(Box::new(first[0].clone())), "the batch's first holder");
    assert_eq!(outcomes[3], InsertOutcome::Created);
    assert!(db.store.task(first[2].id).await.unwrap().is_none(), "the duplicate was not inserted");
    assert_eq!(count_events(&db, &alice, "task.created").await, 3);

    // Across batches: a live holder answers; a key whose holder finished is free again.
    let done = Task { status: TaskStatus::Cancelled, completed_at: Some(now()), ..first[3].clone() };
    assert!(db.store.update_task(&done, TaskStatus::Queued, None, &[]).await.unwrap());
    let second = [keyed(task(), "weekly"), keyed(task(), "nightly"), task()];
    let outcomes = insert_all(&db, &second).await.unwrap();
    assert_eq!(outcomes[0], InsertOutcome::Created, "the weekly key was freed");
    match &outcomes[1] {
        InsertOutcome::Existing(held) => assert_eq!(held.id, first[0].id),
        other => panic!("expected the live holder, got {other:?}"),
    }
    assert_eq!(outcomes[2], InsertOutcome::Created);
    assert_eq!(count_events(&db, &alice, "task.created").await, 5);

    // Another account's key is its own.
    let (bob, bobs_task) = setup(&db, "bob@example.com").await;
    let outcomes = insert_all(&db, &[keyed(bobs_task(), "nightly")]).await.unwrap();
    assert_eq!(outcomes, [InsertOutcome::Created]);
    assert_eq!(count_events(&db, &bob, "task.created").await, 1);
}

/// A batch the database refuses part of (an item for an agent that does not exist) writes nothing:
/// neither its valid tasks nor any event.
async fn a_failing_batch_leaves_nothing(backend: Backend) {
    let db = db(backend).await;
    let (alice, task) = setup(&db, "alice@example.com").await;
    for keyed_batch in [false, true] {
        let mut batch: Vec<Task> = (0..5).map(|_| task()).collect();
        if keyed_batch {
            batch[0] = keyed(batch[0].clone(), "k");
        }
        batch[3].agent_id = AgentId::new();
        assert!(insert_all(&db, &batch).await.is_err());
        for t in &batch {
            assert!(db.store.task(t.id).await.unwrap().is_none(), "nothing of the batch was inserted");
        }
    }
    assert_eq!(count_events(&db, &alice, "task.created").await, 0);
    assert_eq!(
        db.store.list_tasks(alice.id, Default::default(), Window::Offset { offset: 0, limit: 10 }).await.unwrap().total,
        0
    );
}

async fn batches_over_the_limit_are_refused(backend: Backend) {
    let db = db(backend).await;
    let (alice, task) = setup(&db, "alice@example.com").await;
    let too_many: Vec<Task> = (0..=MAX_BATCH).map(|_| task()).collect();
    assert!(matches!(insert_all(&db, &too_many).await, Err(StoreError::BatchTooLarge { len: 1001, max: 1000 })));
    let changes: Vec<TaskChange> = too_many
        .iter()
        .map(|t| TaskChange { task: t, expected: TaskStatus::Queued, expected_lease: None, events: &[] })
        .collect();
    assert!(matches!(db.store.update_tasks(&changes).await, Err(StoreError::BatchTooLarge { .. })));
    assert_eq!(
        db.store.list_tasks(alice.id, Default::default(), Window::Offset { offset: 0, limit: 10 }).await.unwrap().total,
        0
    );

    // The limit itself is one batch.
    let full: Vec<Task> = too_many[..MAX_BATCH].to_vec();
    let outcomes = insert_all(&db, &full).await.unwrap();
    assert!(outcomes.iter().all(|o| *o == InsertOutcome::Created));
    let ids: Vec<TaskId> = full.iter().map(|t| t.id).collect();
    assert_eq!(db.store.tasks_by_id(&ids).await.unwrap().len(), MAX_BATCH);
}

async fn batch_changes_apply_each_that_still_holds(backend: Backend) {
    let db = db(backend).await;
    let (alice, task) = setup(&db, "alice@example.com").await;
    let batch: Vec<Task> = (0..3).map(|_| task()).collect();
    insert_all(&db, &batch).await.unwrap();
    let t0 = now();
    let lease = Lease { token: "lease_a".into(), expires_at: t0 + Duration::minutes(1) };
    let claimed = db.store.claim_tasks(alice.id, None, Executor::External, 10, &lease, t0).await.unwrap();
    assert_eq!(claimed.len(), 3);
    let at = now();
    let ends: Vec<Task> = claimed.iter().map(|t| t.complete(at, json!({"n": t.id.to_string()})).unwrap()).collect();
    let events: Vec<[Event; 1]> =
        ends.iter().map(|t| [Event::new(t.owner, event::TASK_COMPLETED, t.event_data())]).collect();
    let leases = [Some("lease_a"), Some("lease_stale"), Some("lease_a")];
    let expected = [TaskStatus::Running, TaskStatus::Running, TaskStatus::Queued];
    let changes: Vec<TaskChange> = (0..3)
        .map(|i| TaskChange { task: &ends[i], expected: expected[i], expected_lease: leases[i], events: &events[i] })
        .collect();
    assert_eq!(db.store.update_tasks(&changes).await.unwrap(), [true, false, false]);
    let stored = db.store.task(ends[0].id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.output.clone(), stored.lease),
        (TaskStatus::Completed, ends[0].output.clone(), None)
    );
    for untouched in &claimed[1..] {
        let stored = db.store.task(untouched.id).await.unwrap().unwrap();
        assert_eq!((stored.status, stored.lease.clone()), (TaskStatus::Running, Some(lease.clone())));
    }
    let completed: Vec<_> =
        db.store.events_for(alice.id).await.unwrap().into_iter().filter(|e| e.kind == "task.completed").collect();
    assert_eq!(completed.len(), 1, "only the applied change wrote its event");
    assert_eq!(completed[0].data, ends[0].event_data());

    assert!(matches!(db.store.update_tasks(&[changes[1], changes[1]]).await, Err(StoreError::Corrupt(_)),));
    assert!(db.store.update_tasks(&[]).await.unwrap().is_empty());
}

/// The `task.started` events of a claim and the `task.failed` events of lapsed leases hold what
/// `Task::event_data` says of the changed task (PostgreSQL builds them in SQL).
async fn claims_and_expiry_record_the_tasks_event_data(backend: Backend) {
    let db = db(backend).await;
    let (alice, task) = setup(&db, "alice@example.com").await;
    let batch = [
        Task { max_attempts: 1, output: Some(json!({"partial": [1, "two"]})), ..task() },
        Task { max_attempts: 1, priority: Priority::Urgent, ..task() },
    ];
    insert_all(&db, &batch).await.unwrap();
    let t0 = now();
    let lease = Lease { token: "lease_e".into(), expires_at: t0 + Duration::seconds(1) };
    let claimed = db.store.claim_tasks(alice.id, None, Executor::External, 10, &lease, t0).await.unwrap();
    assert_eq!(claimed.iter().map(|t| t.id).collect::<Vec<_>>(), [batch[1].id, batch[0].id], "urgent first");
    let started: Vec<_> =
        db.store.events_for(alice.id).await.unwrap().into_iter().filter(|e| e.kind == "task.started").collect();
    assert_eq!(
        started.iter().map(|e| e.data.clone()).collect::<Vec<_>>(),
        [claimed[0].event_data(), claimed[1].event_data()]
    );
    assert!(started.iter().all(|e| e.created_at == t0));

    let failed = db.store.expire_leases(t0 + Duration::seconds(2), 100).await.unwrap();
    assert_eq!(failed.len(), 2);
    let events: Vec<_> =
        db.store.events_for(alice.id).await.unwrap().into_iter().filter(|e| e.kind == "task.failed").collect();
    let mut expected: Vec<_> = failed.iter().map(Task::event_data).collect();
    let mut got: Vec<_> = events.into_iter().map(|e| e.data).collect();
    expected.sort_by_key(|d| d["id"].to_string());
    got.sort_by_key(|d| d["id"].to_string());
    assert_eq!(got, expected);
    assert_eq!(got[0]["error"], "Lease expired on attempt 1 of 1");
}

async fn concurrent_batch_claims_take_each_task_once(backend: Backend) {
    let db = db(backend).await;
    let (alice, task) = setup(&db, "alice@example.com").await;
    let mut expected = HashSet::new();
    for _ in 0..2 {
        let batch: Vec<Task> = (0..500).map(|_| task()).collect();
        expected.extend(batch.iter().map(|t| t.id));
        insert_all(&db, &batch).await.unwrap();
    }
    let t0 = now();
    let claimers: Vec<_> = (0..8)
        .map(|w| {
            let store = db.store.clone();
            let owner = alice.id;
            tokio::spawn(async move {
                let lease = Lease { token: format!("lease_{w}"), expires_at: t0 + Duration::minutes(5) };
                let mut mine = Vec::new();
                loop {
                    let batch = store.claim_tasks(owner, None, Executor::External, 37, &lease, t0).await.unwrap();
                    if batch.is_empty() {
                        return mine;
                    }
                    assert!(batch.iter().all(|t| t.lease.as_ref() == Some(&lease)));
                    mine.extend(batch.into_iter().map(|t| t.id));
                }
            })
        })
        .collect();
    let mut taken = Vec::new();
    for claimer in claimers {
        taken.extend(claimer.await.unwrap());
    }
    let unique: HashSet<TaskId> = taken.iter().copied().collect();
    assert_eq!(unique.len(), taken.len(), "a task was handed to two claimers");
    assert_eq!(unique, expected);
    assert_eq!(count_events(&db, &alice, "task.started").await, 1000);
}
