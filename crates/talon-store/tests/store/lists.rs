//! Lists: totals from counters that follow every change (never drifting, whatever runs at once) and
//! keyset windows that neither skip nor repeat a row while rows are added.

use std::collections::HashSet;

use chrono::Duration;
use talon_domain::agent::{Agent, AgentStatus, Version};
use talon_domain::task::{Executor, Lease, Priority, Task, TaskStatus};
use talon_domain::{Account, TaskId, UserId};
use talon_store::{AgentFilter, Backend, Deployment, Store, TaskChange, TaskFilter, TaskInsert, Window};

use crate::common::agent_fixtures::{agent, event};
use crate::common::{account, db, now, queued_task};

on_both_databases!(
    task_totals_follow_inserts_claims_updates_lapses_and_deletes,
    counters_do_not_drift_under_concurrent_writers,
    agent_totals_follow_creation_deployment_and_deletion,
    task_cursors_neither_skip_nor_repeat_while_tasks_are_added,
    agent_cursors_walk_both_ways,
    task_retention_removes_only_tasks_finished_before_its_cutoff,
);

const STATUSES: [TaskStatus; 5] =
    [TaskStatus::Queued, TaskStatus::Running, TaskStatus::Completed, TaskStatus::Failed, TaskStatus::Cancelled];
const PRIORITIES: [Priority; 3] = [Priority::Low, Priority::Normal, Priority::High];

/// Every task of the account, read by cursor a window at a time.
async fn every_task(store: &dyn Store, owner: UserId) -> Vec<Task> {
    let mut all = Vec::new();
    let mut window = Window::Offset { offset: 0, limit: 7 };
    loop {
        let page = store.list_tasks(owner, TaskFilter::default(), window).await.unwrap();
        let last = page.items.last().map(|t| *t.task.id.as_uuid());
        all.extend(page.items.into_iter().map(|t| t.task));
        match last {
            Some(id) if page.has_more => window = Window::After { id, limit: 7 },
            _ => return all,
        }
    }
}

/// Checks the total of every filter combination the task list offers against the rows themselves.
async fn assert_totals_match_rows(store: &dyn Store, owner: UserId, agents: &[&Agent]) {
    let rows = every_task(store, owner).await;
    let agent_choices: Vec<Option<&Agent>> = std::iter::once(None).chain(agents.iter().copied().map(Some)).collect();
    for agent in &agent_choices {
        for status in std::iter::once(None).chain(STATUSES.map(Some)) {
            for priority in std::iter::once(None).chain(PRIORITIES.map(Some)) {
                let filter = TaskFilter { status, agent: agent.map(|a| a.id), priority };
                let expected = rows
                    .iter()
                    .filter(|t| agent.is_none_or(|a| t.agent_id == a.id))
                    .filter(|t| status.is_none_or(|s| t.status == s))
                    .filter(|t| priority.is_none_or(|p| t.priority == p))
                    .count() as i64;
                let first = store.list_tasks(owner, filter, Window::Offset { offset: 0, limit: 1 }).await.unwrap();
                assert_eq!(first.total, expected, "total of {filter:?}");
                assert_eq!(first.has_more, expected > 1, "has_more of {filter:?}");
            }
        }
    }
}

async fn owner_with_agents(store: &dyn Store, email: &str, n: usize) -> (Account, Vec<(Agent, Version)>) {
    let owner = account(email);
    store.create_account(&owner, "h").await.unwrap();
    let mut agents = Vec::new();
    for i in 0..n {
        let (a, v) = agent(&owner, &format!("agent-{i}"), None);
        store.insert_agent(&a, &v, &[]).await.unwrap();
        agents.push((a, v));
    }
    (owner, agents)
}

fn task_of(agent: &Agent, version: &Version, priority: Priority) -> Task {
    queued_task(agent, version, Executor::External, priority, now() - Duration::seconds(1))
}

async fn task_totals_follow_inserts_claims_updates_lapses_and_deletes(backend: Backend) {
    let db = db(backend).await;
    let store = db.store.as_ref();
    let (alice, agents) = owner_with_agents(store, "alice@example.com", 2).await;
    let (bob, bob_agents) = owner_with_agents(store, "bob@example.com", 1).await;
    let [(a, av), (b, bv)] = &agents[..] else { unreachable!() };
    let refs = [a, b];
    assert_totals_match_rows(store, alice.id, &refs).await;

    // One at a time and in a batch, of every priority, on both agents; and one of Bob's.
    for priority in PRIORITIES {
        store.insert_task(&task_of(a, av, priority), &[]).await.unwrap();
    }
    let batch: Vec<Task> = (0..9).map(|i| task_of(b, bv, PRIORITIES[i % 3])).collect();
    let inserts: Vec<TaskInsert> = batch.iter().map(|task| TaskInsert { task, events: &[] }).collect();
    store.insert_tasks(&inserts).await.unwrap();
    store.insert_task(&task_of(&bob_agents[0].0, &bob_agents[0].1, Priority::High), &[]).await.unwrap();
    assert_totals_match_rows(store, alice.id, &refs).await;

    // Claimed, then some completed (compare-and-swap), one cancelled while queued.
    let t0 = now();
    let lease = Lease { token: "lease".into(), expires_at: t0 + Duration::seconds(1) };
    let claimed = store.claim_tasks(alice.id, None, Executor::External, 5, &lease, t0).await.unwrap();
    assert_eq!(claimed.len(), 5);
    assert_totals_match_rows(store, alice.id, &refs).await;
    let done: Vec<Task> = claimed[..3]
        .iter()
        .map(|t| Task { status: TaskStatus::Completed, lease: None, completed_at: Some(t0), ..t.clone() })
        .collect();
    let changes: Vec<TaskChange> = done
        .iter()
        .map(|task| TaskChange { task, expected: TaskStatus::Running, expected_lease: Some("lease"), events: &[] })
        .collect();
    assert_eq!(store.update_tasks(&changes).await.unwrap(), vec![true; 3]);
    // A stale compare-and-swap changes nothing, and so counts nothing.
    assert_eq!(store.update_tasks(&changes).await.unwrap(), vec![false; 3]);
    let queued = every_task(store, alice.id).await.into_iter().find(|t| t.status == TaskStatus::Queued).unwrap();
    let cancelled = Task { status: TaskStatus::Cancelled, completed_at: Some(t0), ..queued.clone() };
    assert!(store.update_task(&cancelled, TaskStatus::Queued, None, &[]).await.unwrap());
    assert_totals_match_rows(store, alice.id, &refs).await;

    // The two still running lapse back to the queue.
    assert_eq!(store.expire_leases(t0 + Duration::seconds(2), 100).await.unwrap().len(), 2);
    assert_totals_match_rows(store, alice.id, &refs).await;

    // Deleting an agent takes its tasks, and their counts, with it; Bob's count never moved.
    assert_eq!(store.delete_agent(b.id, true, &event(&alice)).await.unwrap(), talon_store::DeleteOutcome::Deleted);
    assert_totals_match_rows(store, alice.id, &[a]).await;
    let bob_total = store.list_tasks(bob.id, TaskFilter::default(), Window::Offset { offset: 0, limit: 1 });
    assert_eq!(bob_total.await.unwrap().total, 1);
}

async fn counters_do_not_drift_under_concurrent_writers(backend: Backend) {
    let db = db(backend).await;
    let (alice, agents) = owner_with_agents(db.store.as_ref(), "alice@example.com", 3).await;
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let store = db.store.clone();
            let (agent, version) = agents[w % agents.len()].clone();
            let owner = alice.id;
            tokio::spawn(async move {
                for round in 0..10 {
                    let tasks: Vec<Task> =
                        (0..3).map(|i| task_of(&agent, &version, PRIORITIES[(w + round + i) % 3])).collect();
                    let inserts: Vec<TaskInsert> = tasks.iter().map(|task| TaskInsert { task, events: &[] }).collect();
                    store.insert_tasks(&inserts).await.unwrap();
                    let lease =
                        Lease { token: format!("lease-{w}-{round}"), expires_at: now() + Duration::seconds(60) };
                    let claimed =
                        store.claim_tasks(owner, Some(agent.id), Executor::External, 2, &lease, now()).await.unwrap();
                    if let Some(first) = claimed.first() {
                        let done = Task { status: TaskStatus::Completed, lease: None, ..first.clone() };
                        let change = TaskChange {
                            task: &done,
                            expected: TaskStatus::Running,
                            expected_lease: Some(&lease.token),
                            events: &[],
                        };
                        store.update_tasks(&[change]).await.unwrap();
                    }
                }
            })
        })
        .collect();
    // Meanwhile an agent with tasks of its own comes and goes.
    let (doomed, doomed_version) = agent(&alice, "doomed", None);
    db.store.insert_agent(&doomed, &doomed_version, &[]).await.unwrap();
    let tasks: Vec<Task> = (0..20).map(|i| task_of(&doomed, &doomed_version, PRIORITIES[i % 3])).collect();
    let inserts: Vec<TaskInsert> = tasks.iter().map(|task| TaskInsert { task, events: &[] }).collect();
    db.store.insert_tasks(&inserts).await.unwrap();
    db.store.delete_agent(doomed.id, true, &event(&alice)).await.unwrap();
    for writer in writers {
        writer.await.unwrap();
    }
    let refs: Vec<&Agent> = agents.iter().map(|(a, _)| a).collect();
    assert_totals_match_rows(db.store.as_ref(), alice.id, &refs).await;
    assert_eq!(every_task(db.store.as_ref(), alice.id).await.len(), 8 * 10 * 3);
}

async fn agent_totals_follow_creation_deployment_and_deletion(backend: Backend) {
    let db = db(backend).await;
    let store = db.store.as_ref();
    let (alice, agents) = owner_with_agents(store, "alice@example.com", 4).await;
    let (bob, _) = owner_with_agents(store, "bob@example.com", 2).await;
    let totals = |deployed_only| async move {
        let filter = AgentFilter { deployed_only, ..AgentFilter::default() };
        store.list_agents(alice.id, filter, Window::Offset { offset: 0, limit: 2 }).await.unwrap()
    };
    assert_eq!((totals(false).await.total, totals(true).await.total), (4, 0));
    let (a, av) = &agents[0];
    let deployment =
        Deployment { status: AgentStatus::Deployed, deployed_version_id: Some(av.id), deployed_at: Some(now()) };
    store.set_deployment(a.id, deployment, now(), &event(&alice)).await.unwrap();
    let stopped = Deployment {
        status: AgentStatus::Stopped,
        deployed_version_id: Some(agents[1].1.id),
        deployed_at: Some(now()),
    };
    store.set_deployment(agents[1].0.id, stopped, now(), &event(&alice)).await.unwrap();
    let (all, deployed) = (totals(false).await, totals(true).await);
    assert_eq!((all.total, all.has_more, deployed.total, deployed.has_more), (4, true, 2, false));
    assert_eq!(deployed.items.iter().map(|a| a.id).collect::<Vec<_>>(), vec![a.id, agents[1].0.id]);
    store.delete_agent(a.id, true, &event(&alice)).await.unwrap();
    assert_eq!((totals(false).await.total, totals(true).await.total), (3, 1));
    let restricted = AgentFilter { only: Some(agents[2].0.id), ..AgentFilter::default() };
    let only = store.list_agents(alice.id, restricted, Window::Offset { offset: 0, limit: 2 }).await.unwrap();
    assert_eq!((only.total, only.items.len()), (1, 1));
    let bobs = store.list_agents(bob.id, AgentFilter::default(), Window::Offset { offset: 0, limit: 5 });
    assert_eq!(bobs.await.unwrap().total, 2);
}

async fn task_cursors_neither_skip_nor_repeat_while_tasks_are_added(backend: Backend) {
    let db = db(backend).await;
    let (alice, agents) = owner_with_agents(db.store.as_ref(), "alice@example.com", 1).await;
    let (a, av) = agents[0].clone();
    let before: Vec<Task> = (0..95).map(|i| task_of(&a, &av, PRIORITIES[i % 3])).collect();
    let inserts: Vec<TaskInsert> = before.iter().map(|task| TaskInsert { task, events: &[] }).collect();
    db.store.insert_tasks(&inserts).await.unwrap();
    let adder = {
        let store = db.store.clone();
        let (a, av) = (a.clone(), av.clone());
        tokio::spawn(async move {
            for _ in 0..40 {
                store.insert_task(&task_of(&a, &av, Priority::Normal), &[]).await.unwrap();
                tokio::task::yield_now().await;
            }
        })
    };
    // Newest first: tasks added during the walk come before its start and never reach it.
    let mut seen: Vec<TaskId> = Vec::new();
    let first = db.store.list_tasks(alice.id, TaskFilter::default(), Window::Offset { offset: 0, limit: 10 });
    let mut page = first.await.unwrap();
    let start: HashSet<TaskId> = page.items.iter().map(|t| t.task.id).collect();
    loop {
        seen.extend(page.items.iter().map(|t| t.task.id));
        let Some(last) = page.items.last().filter(|_| page.has_more) else { break };
        let window = Window::After { id: *last.task.id.as_uuid(), limit: 10 };
        page = db.store.list_tasks(alice.id, TaskFilter::default(), window).await.unwrap();
    }
    adder.await.unwrap();
    let unique: HashSet<TaskId> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no task twice");
    let older_than_start: HashSet<TaskId> =
        before.iter().map(|t| t.id).filter(|id| !start.contains(id) && id < start.iter().min().unwrap()).collect();
    assert!(older_than_start.is_subset(&unique), "every task older than the first page was reached");
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first throughout");

    // Filtered walks read the same way, and a window before a row reads back the one after it.
    let filter = TaskFilter { priority: Some(Priority::High), ..TaskFilter::default() };
    let p1 = db.store.list_tasks(alice.id, filter, Window::Offset { offset: 0, limit: 5 }).await.unwrap();
    let after = Window::After { id: *p1.items.last().unwrap().task.id.as_uuid(), limit: 5 };
    let p2 = db.store.list_tasks(alice.id, filter, after).await.unwrap();
    assert!(p2.items.iter().all(|t| t.task.priority == Priority::High && t.task.id < p1.items[4].task.id));
    let back = Window::Before { id: *p2.items[0].task.id.as_uuid(), limit: 5 };
    let again = db.store.list_tasks(alice.id, filter, back).await.unwrap();
    assert_eq!(
        again.items.iter().map(|t| t.task.id).collect::<Vec<_>>(),
        p1.items.iter().map(|t| t.task.id).collect::<Vec<_>>()
    );
    assert!(!again.has_more, "nothing newer than the first page");
}

async fn agent_cursors_walk_both_ways(backend: Backend) {
    let db = db(backend).await;
    let (alice, agents) = owner_with_agents(db.store.as_ref(), "alice@example.com", 12).await;
    let ids: Vec<_> = agents.iter().map(|(a, _)| a.id).collect();
    let all = AgentFilter::default();
    let mut walked = Vec::new();
    let mut window = Window::Offset { offset: 0, limit: 5 };
    loop {
        let page = db.store.list_agents(alice.id, all, window).await.unwrap();
        assert_eq!(page.total, 12);
        walked.extend(page.items.iter().map(|a| a.id));
        match page.items.last() {
            Some(last) if page.has_more => window = Window::After { id: *last.id.as_uuid(), limit: 5 },
            _ => break,
        }
    }
    assert_eq!(walked, ids, "oldest first, each once");
    let back = db.store.list_agents(alice.id, all, Window::Before { id: *ids[7].as_uuid(), limit: 5 });
    let back = back.await.unwrap();
    assert_eq!(back.items.iter().map(|a| a.id).collect::<Vec<_>>(), ids[2..7]);
    assert!(back.has_more, "two more before them");
}

async fn task_retention_removes_only_tasks_finished_before_its_cutoff(backend: Backend) {
    let db = db(backend).await;
    let store = db.store.as_ref();
    let (alice, agents) = owner_with_agents(store, "alice@example.com", 1).await;
    let (a, av) = &agents[0];
    let t0 = now();
    let long_ago = t0 - Duration::days(10);
    // A task's id tells when it was made: the first four were made ten days ago.
    let made_at = |at: chrono::DateTime<chrono::Utc>| {
        let stamp = uuid::Timestamp::from_unix(uuid::NoContext, at.timestamp() as u64, at.timestamp_subsec_nanos());
        TaskId::from_uuid(uuid::Uuid::new_v7(stamp))
    };
    let tasks: Vec<Task> = (0..6)
        .map(|i| Task { id: made_at(if i < 4 { long_ago } else { t0 }), ..task_of(a, av, PRIORITIES[i % 3]) })
        .collect();
    let inserts: Vec<TaskInsert> = tasks.iter().map(|task| TaskInsert { task, events: &[] }).collect();
    store.insert_tasks(&inserts).await.unwrap();
    // Two finished long ago, one finished just now, one cancelled long ago; two still queued.
    let finish = |task: &Task, status, at| Task { status, completed_at: Some(at), updated_at: at, ..task.clone() };
    let changes = [
        finish(&tasks[0], TaskStatus::Completed, long_ago),
        finish(&tasks[1], TaskStatus::Failed, long_ago),
        finish(&tasks[2], TaskStatus::Completed, t0),
        finish(&tasks[3], TaskStatus::Cancelled, long_ago),
    ];
    for task in &changes {
        assert!(store.update_task(task, TaskStatus::Queued, None, &[]).await.unwrap());
    }
    let cutoff = t0 - Duration::days(1);
    assert_eq!(store.purge_finished_tasks(cutoff, 2).await.unwrap(), 2, "a batch at a time");
    assert_eq!(store.purge_finished_tasks(cutoff, 2).await.unwrap(), 1);
    assert_eq!(store.purge_finished_tasks(cutoff, 2).await.unwrap(), 0);
    let left: HashSet<TaskId> = every_task(store, alice.id).await.iter().map(|t| t.id).collect();
    assert_eq!(left, HashSet::from([tasks[2].id, tasks[4].id, tasks[5].id]));
    assert_totals_match_rows(store, alice.id, &[a]).await;
}
