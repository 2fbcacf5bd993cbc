//! API keys: storage, lookup by hash, revocation, and their audit entries written in the same
//! transaction.

use chrono::Duration;
use serde_json::json;
use talon_domain::audit::{self, Actor, AuditEntry};
use talon_domain::{ApiKey, ApiKeyId, ApiKeySecret, Scope, UserId};
use talon_store::{AuditFilter, Backend, Window};

use crate::common::{account, db, now};

on_both_databases!(
    api_keys_round_trip_and_revoke,
    api_key_lookup_joins_the_account,
    a_key_write_and_its_audit_entry_commit_together,
);

const ALL: Window = Window::Offset { offset: 0, limit: 100 };

fn entry(key: &ApiKey, action: &str) -> AuditEntry {
    let resource = ("api_key", key.id.to_string());
    AuditEntry::new(key.user_id, Actor::System, action, resource, None, json!({}), now())
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

async fn api_keys_round_trip_and_revoke(backend: Backend) {
    let db = db(backend).await;
    let alice = account("alice@example.com");
    let bob = account("bob@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    db.store.create_account(&bob, "h").await.unwrap();
    let (first, first_secret) = key_for(alice.id, "first");
    let (second, second_secret) = key_for(alice.id, "second");
    db.store.insert_api_key(&first, &first_secret.hash(), &[]).await.unwrap();
    db.store.insert_api_key(&second, &second_secret.hash(), &[]).await.unwrap();

    let listed = db.store.list_api_keys(alice.id).await.unwrap();
    assert_eq!(listed, vec![second.clone(), first.clone()], "newest first");
    assert!(db.store.list_api_keys(bob.id).await.unwrap().is_empty());

    // Bob cannot revoke Alice's key.
    assert!(!db.store.revoke_api_key(bob.id, first.id, now(), &[]).await.unwrap());
    let at = now();
    assert!(db.store.revoke_api_key(alice.id, first.id, at, &[]).await.unwrap());
    assert!(!db.store.revoke_api_key(alice.id, first.id, at, &[]).await.unwrap(), "already revoked");
    assert_eq!(db.store.list_api_keys(alice.id).await.unwrap(), vec![second]);

    let revoked = db.store.api_key_by_hash(&first_secret.hash()).await.unwrap().unwrap();
    assert_eq!(revoked.key.revoked_at, Some(at));
}

async fn api_key_lookup_joins_the_account(backend: Backend) {
    let db = db(backend).await;
    let alice = account("alice@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    let (key, secret) = key_for(alice.id, "k");
    db.store.insert_api_key(&key, &secret.hash(), &[]).await.unwrap();

    let found = db.store.api_key_by_hash(&secret.hash()).await.unwrap().unwrap();
    assert_eq!(found.key, key);
    assert_eq!(found.account, alice);
    assert!(db.store.api_key_by_hash(&ApiKeySecret::generate().hash()).await.unwrap().is_none());

    let used = now();
    db.store.touch_api_key(key.id, used).await.unwrap();
    let found = db.store.api_key_by_hash(&secret.hash()).await.unwrap().unwrap();
    assert_eq!(found.key.last_used_at, Some(used));
}

async fn a_key_write_and_its_audit_entry_commit_together(backend: Backend) {
    let db = db(backend).await;
    let alice = account("alice@example.com");
    let bob = account("bob@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    db.store.create_account(&bob, "h").await.unwrap();
    let actions = async || {
        let page = db.store.list_audit(alice.id, AuditFilter::default(), ALL).await.unwrap();
        page.items.into_iter().map(|e| e.action).collect::<Vec<_>>()
    };

    let (key, secret) = key_for(alice.id, "k");
    db.store.insert_api_key(&key, &secret.hash(), &[entry(&key, audit::API_KEY_CREATED)]).await.unwrap();
    assert_eq!(actions().await, [audit::API_KEY_CREATED]);

    // Inserts that fail (the same id again, or the same hash under a new id) leave no entry.
    let (_, other_secret) = key_for(alice.id, "again");
    let same_id = entry(&key, audit::API_KEY_CREATED);
    db.store.insert_api_key(&key, &other_secret.hash(), &[same_id]).await.unwrap_err();
    let (twin, _) = key_for(alice.id, "twin");
    db.store.insert_api_key(&twin, &secret.hash(), &[entry(&twin, audit::API_KEY_CREATED)]).await.unwrap_err();
    assert_eq!(actions().await, [audit::API_KEY_CREATED]);
    assert!(db.store.api_key_by_hash(&other_secret.hash()).await.unwrap().is_none());

    // A refused revocation (another account's key, or one revoked already) records nothing.
    let by_bob = AuditEntry::new(
        bob.id,
        Actor::System,
        audit::API_KEY_REVOKED,
        ("api_key", key.id.to_string()),
        None,
        json!({}),
        now(),
    );
    assert!(!db.store.revoke_api_key(bob.id, key.id, now(), &[by_bob]).await.unwrap());
    assert_eq!(db.store.list_audit(bob.id, AuditFilter::default(), ALL).await.unwrap().total, 0);
    assert!(db.store.revoke_api_key(alice.id, key.id, now(), &[entry(&key, audit::API_KEY_REVOKED)]).await.unwrap());
    assert!(!db.store.revoke_api_key(alice.id, key.id, now(), &[entry(&key, audit::API_KEY_REVOKED)]).await.unwrap());
    assert_eq!(actions().await, [audit::API_KEY_REVOKED, audit::API_KEY_CREATED]);
}
