//! Accounts and sessions.

use chrono::Duration;
use talon_domain::UserId;
use talon_store::{Backend, StoreError};

use crate::common::{account, db, now};

on_both_databases!(
    accounts_round_trip,
    duplicate_email_is_a_conflict,
    plan_can_change,
    sessions_are_revoked_one_by_one_or_all_at_once,
);

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
