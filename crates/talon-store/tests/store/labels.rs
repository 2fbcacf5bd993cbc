//! Labels of agents and the split a deployment carries.

use talon_domain::VersionId;
use talon_domain::agent::split::Split;
use talon_domain::event::Event;
use talon_store::{Backend, Deployment, GateWrite, LabelMove};

use crate::common::agent_fixtures::{agent, event};
use crate::common::{account, db, now};

on_both_databases!(labels_move_with_their_event_and_go_with_their_agent, a_split_is_stored_with_its_deployment);

async fn labels_move_with_their_event_and_go_with_their_agent(backend: Backend) {
    let db = db(backend).await;
    let alice = account("alice@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    let (a, v1) = agent(&alice, "one", None);
    db.store.insert_agent(&a, &v1, &[]).await.unwrap();
    let mut v2 = v1.clone();
    (v2.id, v2.number, v2.parent_version_id) = (VersionId::new(), 2, Some(v1.id));
    db.store.append_version(&v2, &[]).await.unwrap();

    let moved_event = |previous: Option<VersionId>| {
        Event::new(alice.id, "agent.label_moved", serde_json::json!({"previous": previous.map(|v| v.to_string())}))
    };
    let to = |version| LabelMove {
        agent: a.id,
        name: "production",
        version,
        moved_by: alice.id,
        at: now(),
        gate: GateWrite::Keep,
    };
    assert_eq!(db.store.move_label(to(v1.id), &moved_event).await.unwrap(), Some(None), "a new label");
    assert_eq!(db.store.move_label(to(v2.id), &moved_event).await.unwrap(), Some(Some(v1.id)));
    let labels = db.store.labels(a.id).await.unwrap();
    assert_eq!(labels.len(), 1);
    assert_eq!((labels[0].version_id, labels[0].version_number, labels[0].moved_by), (v2.id, 2, alice.id));
    assert_eq!(db.store.labeled_version(a.id, "production").await.unwrap().unwrap().id, v2.id);
    assert!(db.store.labeled_version(a.id, "staging").await.unwrap().is_none());
    let events = db.store.events_for(alice.id).await.unwrap();
    let previous: Vec<_> = events.iter().map(|e| e.data["previous"].clone()).collect();
    assert_eq!(previous, [serde_json::Value::Null, serde_json::json!(v1.id.to_string())], "each move's own event");

    // A move for an agent that is gone writes nothing.
    let gone = LabelMove { agent: talon_domain::AgentId::new(), ..to(v1.id) };
    assert_eq!(db.store.move_label(gone, &moved_event).await.unwrap(), None);
    assert!(!db.store.delete_label(a.id, "staging", &event(&alice)).await.unwrap());
    assert_eq!(db.store.events_for(alice.id).await.unwrap().len(), 2, "no event without a change");
    assert!(db.store.delete_label(a.id, "production", &event(&alice)).await.unwrap());
    assert!(db.store.labels(a.id).await.unwrap().is_empty());

    db.store.move_label(to(v1.id), &moved_event).await.unwrap();
    db.store.delete_agent(a.id, true, &event(&alice)).await.unwrap();
    assert!(db.store.labels(a.id).await.unwrap().is_empty(), "labels go with their agent");
}

async fn a_split_is_stored_with_its_deployment(backend: Backend) {
    let db = db(backend).await;
    let alice = account("alice@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    let (a, v1) = agent(&alice, "one", None);
    db.store.insert_agent(&a, &v1, &[]).await.unwrap();
    let other = VersionId::new();
    let split = Split::new(&[(v1.id, 90), (other, 10)], v1.id).unwrap();
    let deployment = Deployment {
        status: talon_domain::agent::AgentStatus::Deployed,
        deployed_version_id: Some(v1.id),
        deployed_at: Some(now()),
    };
    db.store.set_deployment_with_split(a.id, deployment, Some(&split), now(), &event(&alice)).await.unwrap();
    assert_eq!(db.store.agent(a.id).await.unwrap().unwrap().split, Some(split.clone()));
    let (served, _) = db.store.agent_serving(talon_store::AgentLookup::Id(a.id)).await.unwrap().unwrap();
    assert_eq!(served.split, Some(split), "the chat path reads it with the agent");
    // Stopping keeps it; a deploy without one clears it.
    let stopped = Deployment { status: talon_domain::agent::AgentStatus::Stopped, ..deployment };
    db.store.set_deployment(a.id, stopped, now(), &event(&alice)).await.unwrap();
    assert!(db.store.agent(a.id).await.unwrap().unwrap().split.is_some());
    db.store.set_deployment_with_split(a.id, deployment, None, now(), &event(&alice)).await.unwrap();
    assert_eq!(db.store.agent(a.id).await.unwrap().unwrap().split, None);
}
