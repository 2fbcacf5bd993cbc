//! Datasets, evaluations and their results, the leases that let one replica drive a run, and the gate
//! a label keeps.

use chrono::Duration;
use serde_json::json;
use talon_domain::agent::Agent;
use talon_domain::evaluation::{
    Case, CaseResult, CaseStatus, Check, CheckOutcome, Dataset, Evaluation, EvaluationStatus, Gate, VersionSummary,
};
use talon_domain::event::{self, Event};
use talon_domain::{Account, DatasetId, EvaluationId, TaskId, VersionId};
use talon_store::{Backend, GateWrite, LabelMove, Store, Window};

use crate::common::agent_fixtures::{agent, event};
use crate::common::{account, db, now};

on_both_databases!(
    datasets_are_named_per_agent_revised_listed_and_deleted,
    an_evaluation_and_its_results_round_trip,
    a_lease_is_held_until_it_lapses_or_is_released,
    an_evaluation_completes_or_is_cancelled_once,
    the_latest_evaluation_of_a_version_is_its_newest_completed_one,
    evaluations_are_listed_newest_first_a_window_at_a_time,
    a_label_keeps_sets_and_clears_its_gate,
);

fn case(name: &str, checks: Vec<Check>) -> Case {
    Case { name: name.into(), input: json!({"messages": [{"role": "user", "content": name}]}), checks }
}

fn cases() -> Vec<Case> {
    vec![
        case("greets", vec![Check::Contains { value: "hello".into(), ignore_case: true }]),
        case(
            "is polite",
            vec![
                Check::Regex { pattern: "^[A-Z]".into() },
                Check::Judge { agent: "judge@production".into(), criteria: "Polite and brief".into() },
            ],
        ),
    ]
}

fn dataset(owner: &Account, agent: &Agent, name: &str) -> Dataset {
    let at = now();
    Dataset {
        id: DatasetId::new(),
        owner: owner.id,
        agent_id: agent.id,
        name: name.into(),
        description: "The basics".into(),
        cases: cases(),
        revision: 1,
        created_at: at,
        updated_at: at,
    }
}

fn running(dataset: &Dataset, versions: &[VersionId]) -> Evaluation {
    Evaluation {
        id: EvaluationId::new(),
        owner: dataset.owner,
        agent_id: dataset.agent_id,
        dataset_id: dataset.id,
        dataset_name: dataset.name.clone(),
        dataset_revision: dataset.revision,
        cases: dataset.cases.clone(),
        versions: versions.to_vec(),
        concurrency: 4,
        status: EvaluationStatus::Running,
        summaries: Vec::new(),
        created_at: now(),
        completed_at: None,
    }
}

fn summary(version: VersionId) -> VersionSummary {
    VersionSummary {
        version_id: version,
        total: 2,
        passed: 1,
        failed: 1,
        errored: 0,
        pass_rate: 0.5,
        average_latency_ms: Some(12.5),
        total_tokens: 42,
    }
}

fn completed(evaluation: &Evaluation) -> Evaluation {
    Evaluation {
        status: EvaluationStatus::Completed,
        summaries: evaluation.versions.iter().copied().map(summary).collect(),
        completed_at: Some(now()),
        ..evaluation.clone()
    }
}

/// A fresh database with an account and one of its agents.
async fn setup(backend: Backend) -> (talon_store::testing::TestDatabase, Account, Agent) {
    let db = db(backend).await;
    let alice = account("alice@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    let (a, v1) = agent(&alice, "one", None);
    db.store.insert_agent(&a, &v1, &[]).await.unwrap();
    (db, alice, a)
}

/// Inserts a running evaluation of `dataset` over `versions`, with its pending results.
async fn start(store: &dyn Store, dataset: &Dataset, versions: &[VersionId]) -> Evaluation {
    let evaluation = running(dataset, versions);
    let started = Event::new(dataset.owner, event::EVALUATION_STARTED, json!({}));
    store.insert_evaluation(&evaluation, &evaluation.pending_results(), &started).await.unwrap();
    evaluation
}

async fn kinds(store: &dyn Store, owner: &Account) -> Vec<String> {
    store.events_for(owner.id).await.unwrap().into_iter().map(|e| e.kind).collect()
}

async fn datasets_are_named_per_agent_revised_listed_and_deleted(backend: Backend) {
    let (db, alice, a) = setup(backend).await;
    let store = &*db.store;
    let created = |name: &str| Event::new(alice.id, event::DATASET_CREATED, json!({"name": name}));
    let basics = dataset(&alice, &a, "basics");
    assert!(store.insert_dataset(&basics, &created("basics")).await.unwrap());
    let taken = Dataset { id: DatasetId::new(), ..basics.clone() };
    assert!(!store.insert_dataset(&taken, &created("basics")).await.unwrap(), "the name is taken");
    assert_eq!(kinds(store, &alice).await, [event::DATASET_CREATED], "no event for a refused insert");
    assert_eq!(store.dataset(a.id, "basics").await.unwrap(), Some(basics.clone()));

    let later = now() + Duration::seconds(1);
    let edit = Dataset {
        id: DatasetId::new(),
        description: "Fewer".into(),
        cases: vec![case("only", vec![Check::Exact { value: "yes".into(), ignore_case: false }])],
        created_at: later,
        updated_at: later,
        ..basics.clone()
    };
    let updated = Event::new(alice.id, event::DATASET_UPDATED, json!({}));
    let stored = store.replace_dataset(&edit, &updated).await.unwrap().unwrap();
    let expected = Dataset { id: basics.id, created_at: basics.created_at, revision: 2, ..edit.clone() };
    assert_eq!(stored, expected, "its id and creation stay, its revision rises");
    assert_eq!(store.dataset(a.id, "basics").await.unwrap(), Some(expected));
    let unknown = Dataset { name: "nope".into(), ..edit.clone() };
    assert_eq!(store.replace_dataset(&unknown, &updated).await.unwrap(), None);
    assert_eq!(kinds(store, &alice).await.len(), 2, "no event for a dataset that is not there");

    store.insert_dataset(&dataset(&alice, &a, "advanced"), &created("advanced")).await.unwrap();
    let listed = store.datasets(a.id).await.unwrap();
    let names: Vec<_> = listed.iter().map(|d| (d.name.as_str(), d.case_count, d.revision)).collect();
    assert_eq!(names, [("advanced", 2, 1), ("basics", 1, 2)], "by name, cases counted");
    assert_eq!((listed[1].id, listed[1].description.as_str()), (basics.id, "Fewer"));

    let deleted = Event::new(alice.id, event::DATASET_DELETED, json!({}));
    assert!(store.delete_dataset(a.id, "basics", &deleted).await.unwrap());
    assert_eq!(kinds(store, &alice).await.last().map(String::as_str), Some(event::DATASET_DELETED));
    assert!(!store.delete_dataset(a.id, "basics", &deleted).await.unwrap());
    assert_eq!(kinds(store, &alice).await.len(), 4, "no event the second time");
    assert_eq!(store.dataset(a.id, "basics").await.unwrap(), None);

    let advanced = store.dataset(a.id, "advanced").await.unwrap().unwrap();
    start(store, &advanced, &[a.current_version_id]).await;
    store.delete_agent(a.id, true, &event(&alice)).await.unwrap();
    assert!(store.datasets(a.id).await.unwrap().is_empty(), "datasets go with their agent");
    let page = store.list_evaluations(a.id, Window::Offset { offset: 0, limit: 10 }).await.unwrap();
    assert_eq!(page.total, 0, "and so do evaluations");
}

async fn an_evaluation_and_its_results_round_trip(backend: Backend) {
    let (db, alice, a) = setup(backend).await;
    let store = &*db.store;
    let data = dataset(&alice, &a, "basics");
    let (first, second) = (VersionId::new(), VersionId::new());
    let evaluation = start(store, &data, &[second, first]).await;
    assert_eq!(store.evaluation(evaluation.id).await.unwrap(), Some(evaluation.clone()));
    assert_eq!(store.evaluation(EvaluationId::new()).await.unwrap(), None);
    assert_eq!(kinds(store, &alice).await, [event::EVALUATION_STARTED]);

    let results = store.case_results(evaluation.id).await.unwrap();
    let keys: Vec<_> = results.iter().map(|r| (r.case_index, r.version_id, r.status)).collect();
    assert_eq!(
        keys,
        [
            (0, second, CaseStatus::Pending),
            (0, first, CaseStatus::Pending),
            (1, second, CaseStatus::Pending),
            (1, first, CaseStatus::Pending)
        ],
        "by case, then in the order of the versions"
    );

    let (task, judge) = (TaskId::new(), TaskId::new());
    let judging = CaseResult {
        status: CaseStatus::Judging,
        task_id: Some(task),
        judge_task_ids: vec![judge],
        answer: Some("Hello there — \"quoted\"".into()),
        checks: vec![
            CheckOutcome { kind: "regex".into(), passed: true, detail: String::new() },
            CheckOutcome { kind: "judge".into(), passed: false, detail: "Waiting for the judge".into() },
        ],
        latency_ms: Some(1234),
        tokens: Some(56),
        ..results[2].clone()
    };
    let errored = CaseResult {
        status: CaseStatus::Errored,
        task_id: Some(TaskId::new()),
        error: Some("The task was failed".into()),
        ..results[1].clone()
    };
    store.save_case_results(&[judging.clone(), errored.clone()]).await.unwrap();
    // Saving again (as a judge answers) neither fails on the tasks already linked nor duplicates them.
    let passed = CaseResult { status: CaseStatus::Passed, ..judging.clone() };
    store.save_case_results(std::slice::from_ref(&passed)).await.unwrap();
    let stored = store.case_results(evaluation.id).await.unwrap();
    assert_eq!(stored, [results[0].clone(), errored.clone(), passed, results[3].clone()]);

    assert_eq!(store.evaluation_of_task(task).await.unwrap(), Some(evaluation.id), "a case's task");
    assert_eq!(store.evaluation_of_task(judge).await.unwrap(), Some(evaluation.id), "a judge's task");
    assert_eq!(store.evaluation_of_task(errored.task_id.unwrap()).await.unwrap(), Some(evaluation.id));
    assert_eq!(store.evaluation_of_task(TaskId::new()).await.unwrap(), None);
}

async fn a_lease_is_held_until_it_lapses_or_is_released(backend: Backend) {
    let (db, alice, a) = setup(backend).await;
    let store = &*db.store;
    let data = dataset(&alice, &a, "basics");
    let one = start(store, &data, &[a.current_version_id]).await;
    let two = start(store, &data, &[a.current_version_id]).await;
    let done = start(store, &data, &[a.current_version_id]).await;
    assert!(store.complete_evaluation(&completed(&done), &[]).await.unwrap());

    let at = now();
    let until = at + Duration::seconds(30);
    let ids = |leased: Vec<Evaluation>| leased.into_iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(ids(store.lease_evaluations(at, until, 1).await.unwrap()), [one.id], "at most the limit");
    let leased = store.lease_evaluations(at, until, 10).await.unwrap();
    assert_eq!(leased, std::slice::from_ref(&two), "running ones only, read whole");
    assert!(store.lease_evaluations(at, until, 10).await.unwrap().is_empty(), "held by the first");
    assert!(
        store.lease_evaluations(until, until + Duration::seconds(30), 10).await.unwrap().is_empty(),
        "held at until"
    );

    let lapsed = until + Duration::seconds(1);
    assert_eq!(
        ids(store.lease_evaluations(lapsed, lapsed + Duration::seconds(30), 10).await.unwrap()),
        [one.id, two.id]
    );
    store.release_evaluation(two.id).await.unwrap();
    assert_eq!(ids(store.lease_evaluations(lapsed, lapsed + Duration::seconds(30), 10).await.unwrap()), [two.id]);

    // Completing frees the lease, and a completed run is never leased again.
    assert!(store.complete_evaluation(&completed(&one), &[]).await.unwrap());
    let far = lapsed + Duration::hours(1);
    assert_eq!(ids(store.lease_evaluations(far, far + Duration::seconds(30), 10).await.unwrap()), [two.id]);
}

async fn an_evaluation_completes_or_is_cancelled_once(backend: Backend) {
    let (db, alice, a) = setup(backend).await;
    let store = &*db.store;
    let data = dataset(&alice, &a, "basics");
    let evaluation = start(store, &data, &[a.current_version_id, VersionId::new()]).await;
    let done = completed(&evaluation);
    let events = [
        Event::new(alice.id, event::EVALUATION_COMPLETED, json!({})),
        Event::new(alice.id, event::AGENT_UPDATED, json!({})),
    ];
    assert!(store.complete_evaluation(&done, &events).await.unwrap());
    assert_eq!(store.evaluation(evaluation.id).await.unwrap(), Some(done.clone()), "summaries round trip");
    assert_eq!(
        kinds(store, &alice).await,
        [event::EVALUATION_STARTED, event::EVALUATION_COMPLETED, event::AGENT_UPDATED]
    );
    assert!(!store.complete_evaluation(&done, &events).await.unwrap(), "no longer running");
    let at = now();
    let cancelled = Event::new(alice.id, "evaluation.cancelled", json!({}));
    assert!(!store.cancel_evaluation(evaluation.id, at, &cancelled).await.unwrap(), "a completed one stays so");
    assert_eq!(kinds(store, &alice).await.len(), 3, "nothing written the second time");

    let other = start(store, &data, &[a.current_version_id]).await;
    assert!(store.cancel_evaluation(other.id, at, &cancelled).await.unwrap());
    let stored = store.evaluation(other.id).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.completed_at), (EvaluationStatus::Cancelled, Some(at)));
    assert!(!store.cancel_evaluation(other.id, at, &cancelled).await.unwrap());
    assert!(!store.complete_evaluation(&completed(&other), &[]).await.unwrap(), "a cancelled one never completes");
    assert_eq!(kinds(store, &alice).await.len(), 5);
}

async fn the_latest_evaluation_of_a_version_is_its_newest_completed_one(backend: Backend) {
    let (db, alice, a) = setup(backend).await;
    let store = &*db.store;
    let basics = dataset(&alice, &a, "basics");
    let other_data = dataset(&alice, &a, "other");
    let (v1, v2, v3) = (VersionId::new(), VersionId::new(), VersionId::new());
    let latest = |version| store.latest_evaluation_of(a.id, "basics", version);
    assert_eq!(latest(v1).await.unwrap(), None);

    let older = start(store, &basics, &[v1]).await;
    store.complete_evaluation(&completed(&older), &[]).await.unwrap();
    let newer = completed(&start(store, &basics, &[v2, v1]).await);
    store.complete_evaluation(&newer, &[]).await.unwrap();
    start(store, &basics, &[v1]).await;
    let elsewhere = start(store, &other_data, &[v1, v3]).await;
    store.complete_evaluation(&completed(&elsewhere), &[]).await.unwrap();

    assert_eq!(latest(v1).await.unwrap(), Some(newer.clone()), "the newest completed, not the running one");
    assert_eq!(latest(v2).await.unwrap().map(|e| e.id), Some(newer.id));
    assert_eq!(latest(v3).await.unwrap(), None, "v3 ran on another dataset only");
    assert_eq!(latest(VersionId::new()).await.unwrap(), None, "another version");
    let other_agent = talon_domain::AgentId::new();
    assert_eq!(store.latest_evaluation_of(other_agent, "basics", v1).await.unwrap(), None);
}

async fn evaluations_are_listed_newest_first_a_window_at_a_time(backend: Backend) {
    let (db, alice, a) = setup(backend).await;
    let store = &*db.store;
    let data = dataset(&alice, &a, "basics");
    let mut started = Vec::new();
    for _ in 0..5 {
        started.push(start(store, &data, &[a.current_version_id]).await.id);
    }
    let (b, bv) = agent(&alice, "two", None);
    store.insert_agent(&b, &bv, &[]).await.unwrap();
    start(store, &dataset(&alice, &b, "basics"), &[bv.id]).await;
    let newest_first: Vec<EvaluationId> = started.iter().rev().copied().collect();
    let ids = |page: &talon_store::Page<Evaluation>| page.items.iter().map(|e| e.id).collect::<Vec<_>>();

    let first = store.list_evaluations(a.id, Window::Offset { offset: 0, limit: 2 }).await.unwrap();
    assert_eq!((ids(&first), first.total, first.has_more), (newest_first[..2].to_vec(), 5, true));
    let last = store.list_evaluations(a.id, Window::Offset { offset: 4, limit: 2 }).await.unwrap();
    assert_eq!((ids(&last), last.has_more), (newest_first[4..].to_vec(), false));

    let after = Window::After { id: *newest_first[1].as_uuid(), limit: 2 };
    let next = store.list_evaluations(a.id, after).await.unwrap();
    assert_eq!((ids(&next), next.total, next.has_more), (newest_first[2..4].to_vec(), 5, true));
    let before = Window::Before { id: *newest_first[4].as_uuid(), limit: 2 };
    let back = store.list_evaluations(a.id, before).await.unwrap();
    assert_eq!((ids(&back), back.has_more), (newest_first[2..4].to_vec(), true), "in list order");
}

/// The gate of the agent's label `name`: `None` when there is no such label.
async fn required(store: &dyn Store, agent: &Agent, name: &str) -> Option<Option<Gate>> {
    store.label(agent.id, name).await.unwrap().map(|l| l.required_evaluation)
}

async fn a_label_keeps_sets_and_clears_its_gate(backend: Backend) {
    let (db, alice, a) = setup(backend).await;
    let store = &*db.store;
    let moved = |_: Option<VersionId>| Event::new(alice.id, event::AGENT_LABEL_MOVED, json!({}));
    let gate = Gate { dataset: "basics".into(), min_pass_rate: 0.75 };
    let to = |gate| LabelMove {
        agent: a.id,
        name: "production",
        version: a.current_version_id,
        moved_by: alice.id,
        at: now(),
        gate,
    };

    store.move_label(to(GateWrite::Keep), &moved).await.unwrap().unwrap();
    assert_eq!(required(store, &a, "production").await, Some(None), "a new label kept with no gate has none");
    store.move_label(to(GateWrite::Set(&gate)), &moved).await.unwrap().unwrap();
    assert_eq!(required(store, &a, "production").await, Some(Some(gate.clone())));
    store.move_label(to(GateWrite::Keep), &moved).await.unwrap().unwrap();
    assert_eq!(required(store, &a, "production").await, Some(Some(gate.clone())), "kept by a move that keeps it");
    let listed = store.labels(a.id).await.unwrap();
    assert_eq!(listed[0].required_evaluation, Some(gate.clone()), "the list reads it too");
    let label = store.label(a.id, "production").await.unwrap().unwrap();
    assert_eq!((label.version_id, label.version_number, label.moved_by), (a.current_version_id, 1, alice.id));
    store.move_label(to(GateWrite::Clear), &moved).await.unwrap().unwrap();
    assert_eq!(required(store, &a, "production").await, Some(None));
    assert_eq!(required(store, &a, "staging").await, None, "no such label");

    let staging = LabelMove { name: "staging", ..to(GateWrite::Set(&gate)) };
    store.move_label(staging, &moved).await.unwrap().unwrap();
    assert_eq!(required(store, &a, "staging").await, Some(Some(gate)), "a new label may start with a gate");
}
