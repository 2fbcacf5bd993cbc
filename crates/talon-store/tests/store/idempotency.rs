//! Idempotency keys: reservation, completion, takeover, release and purge.

use chrono::Duration;
use talon_store::{Backend, Reservation, StoreError, StoredResponse};

use crate::common::{db, now};

on_both_databases!(
    idempotency_reserve_complete_replay,
    idempotency_takes_over_expired_and_stale_records,
    idempotency_release_and_purge,
    idempotency_reservation_is_exclusive_under_concurrency,
);

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
