//! The audit log: entries written with the outbox's events in the same transaction, with the actor the
//! events carry, and kept when retention purges what has been delivered.

use serde_json::json;
use talon_domain::audit::{Actor, ActorFilter, AuditEntry};
use talon_domain::event::{self, Event};
use talon_domain::webhook::{Signing, Webhook};
use talon_domain::{ApiKeyId, TaskId, UserId, WebhookId};
use talon_store::{AuditFilter, Backend, Window};

use crate::common::agent_fixtures::agent;
use crate::common::{account, db, now};

const ALL: Window = Window::Offset { offset: 0, limit: 100 };

on_both_databases!(events_write_their_audit_entries_in_their_transaction, retention_keeps_the_audit_log);

async fn events_write_their_audit_entries_in_their_transaction(backend: Backend) {
    let db = db(backend).await;
    let alice = account("alice@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    let key = Actor::ApiKey { account: alice.id, key: ApiKeyId::new() };
    let (a, v) = agent(&alice, "one", None);
    let created = Event::new(alice.id, event::AGENT_CREATED, json!({"id": a.id.to_string()})).by(&key);
    let task = Event::new(alice.id, event::TASK_CREATED, json!({"id": TaskId::new().to_string()}));
    db.store.insert_agent(&a, &v, &[created, task]).await.unwrap();

    let entries = db.store.list_audit(alice.id, AuditFilter::default(), ALL).await.unwrap();
    assert_eq!(entries.total, 1, "tasks are not audited");
    let entry = &entries.items[0];
    assert_eq!((entry.action.as_str(), entry.agent, entry.actor), ("agent.created", Some(a.id), key));

    // A write that fails leaves no entry, as it leaves no event.
    let (dup, dup_v) = agent(&alice, "one", None);
    let again = Event::new(alice.id, event::AGENT_CREATED, json!({"id": dup.id.to_string()})).by(&key);
    db.store.insert_agent(&dup, &dup_v, &[again]).await.unwrap_err();
    assert_eq!(db.store.list_audit(alice.id, AuditFilter::default(), ALL).await.unwrap().total, 1);

    // Entries written with a change that records no event (a webhook's), filtered by actor and agent;
    // another account reads none of them.
    let hook = webhook(alice.id);
    db.store.insert_webhook(&hook, &[]).await.unwrap();
    let system = AuditEntry::new(
        alice.id,
        Actor::System,
        "webhook.deleted",
        ("webhook", hook.id.to_string()),
        None,
        json!({}),
        now(),
    );
    assert!(db.store.delete_webhook(alice.id, hook.id, std::slice::from_ref(&system)).await.unwrap());
    // A refused delete (the webhook is gone) records nothing.
    assert!(!db.store.delete_webhook(alice.id, hook.id, &[system]).await.unwrap());
    let by_key = AuditFilter {
        actor: Some(ActorFilter::ApiKey(ApiKeyId::from_uuid(key.uuid().unwrap()))),
        ..Default::default()
    };
    assert_eq!(db.store.list_audit(alice.id, by_key, ALL).await.unwrap().items[0].id, entry.id);
    let of_agent = AuditFilter { agent: Some(a.id), ..Default::default() };
    assert_eq!(db.store.list_audit(alice.id, of_agent, ALL).await.unwrap().total, 1);
    let all = db.store.list_audit(alice.id, AuditFilter::default(), ALL).await.unwrap();
    assert_eq!(all.items.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["webhook.deleted", "agent.created"]);
    let bob = account("bob@example.com");
    assert_eq!(db.store.list_audit(bob.id, AuditFilter::default(), ALL).await.unwrap().total, 0);
}

fn webhook(owner: UserId) -> Webhook {
    Webhook {
        id: WebhookId::new(),
        owner,
        agent: None,
        signing: Signing::Talon,
        url: "https://hooks.example.com/a".into(),
        events: vec!["*".into()],
        description: String::new(),
        active: true,
        disabled_reason: None,
        sealed_secret: "sealed".into(),
        previous_secret: None,
        failing_since: None,
        created_at: now(),
        updated_at: now(),
    }
}

async fn retention_keeps_the_audit_log(backend: Backend) {
    let db = db(backend).await;
    let alice = account("alice@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    let (a, v) = agent(&alice, "one", None);
    db.store
        .insert_agent(&a, &v, &[Event::new(alice.id, event::AGENT_CREATED, json!({"id": a.id.to_string()}))])
        .await
        .unwrap();
    db.store.fan_out_events(100, now()).await.unwrap();
    let far = now() + chrono::Duration::days(3650);
    db.store.purge_dispatched_events(far, 1000).await.unwrap();
    assert!(db.store.events_for(alice.id).await.unwrap().is_empty(), "the delivered event is purged");
    let kept = db.store.list_audit(alice.id, AuditFilter::default(), ALL).await.unwrap();
    assert_eq!(
        kept.items.iter().map(|e| (e.action.as_str(), e.actor)).collect::<Vec<_>>(),
        [("agent.created", Actor::System)]
    );
}
