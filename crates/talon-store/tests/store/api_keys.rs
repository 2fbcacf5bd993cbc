//! API keys: storage, lookup by hash, revocation.

use chrono::Duration;
use talon_domain::{ApiKey, ApiKeyId, ApiKeySecret, Scope, UserId};
use talon_store::Backend;

use crate::common::{account, db, now};

on_both_databases!(api_keys_round_trip_and_revoke, api_key_lookup_joins_the_account,);

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
