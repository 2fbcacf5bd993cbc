//! Chat usage summarised per version.

use chrono::Duration;
use talon_store::Backend;

use crate::common::agent_fixtures::agent;
use crate::common::{account, db, now};

on_both_databases!(usage_summarised_per_version,);

async fn usage_summarised_per_version(backend: Backend) {
    use talon_domain::usage::{Outcome, Source, UsageRecord};
    let db = db(backend).await;
    let alice = account("alice@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    let (a, v1) = agent(&alice, "one", None);
    db.store.insert_agent(&a, &v1, &[]).await.unwrap();
    let at = now();
    let record = |outcome, latency_us, first_token_us, fell_back| UsageRecord {
        id: uuid::Uuid::now_v7(),
        owner: alice.id,
        agent_id: a.id,
        version_id: v1.id,
        key_id: None,
        source: Source::Chat,
        model: "test/echo".into(),
        fell_back,
        prompt_tokens: 10,
        completion_tokens: 4,
        latency_us,
        first_token_us,
        outcome,
        created_at: at,
    };
    let mut old = record(Outcome::Ok, 1, Some(1), false);
    old.created_at = at - Duration::days(2);
    let other_agent = UsageRecord { agent_id: talon_domain::AgentId::new(), ..record(Outcome::Ok, 1, Some(1), false) };
    db.store
        .insert_usage(&[
            record(Outcome::Ok, 2_000, Some(500), false),
            record(Outcome::Ok, 4_000, Some(1_500), true),
            record(Outcome::UpstreamError, 6_000, None, true),
            record(Outcome::ClientClosed, 12_000, Some(1_000), false),
            old,
            other_agent,
        ])
        .await
        .unwrap();
    let rows = db.store.usage_by_version(a.id, at - Duration::hours(1), at + Duration::seconds(1)).await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!((row.version_id, row.version), (Some(v1.id), 1));
    assert_eq!((row.requests, row.succeeded, row.failed, row.client_closed, row.fallbacks), (4, 2, 1, 1, 2));
    assert_eq!((row.prompt_tokens, row.completion_tokens), (40, 16));
    assert_eq!((row.avg_latency_ms, row.max_latency_ms), (6.0, 12.0));
    assert_eq!((row.first_tokens, row.avg_first_token_ms), (3, Some(1.0)));
    let before = db.store.usage_by_version(a.id, at - Duration::days(3), at - Duration::days(1)).await.unwrap();
    assert_eq!(before[0].requests, 1, "the period bounds the rows");
    assert!(
        db.store.usage_by_version(a.id, at + Duration::seconds(1), at + Duration::hours(1)).await.unwrap().is_empty()
    );

    // A batch larger than one multi-row statement is written whole, each record with its own values.
    let (b, w1) = agent(&alice, "two", None);
    db.store.insert_agent(&b, &w1, &[]).await.unwrap();
    let many: Vec<UsageRecord> = (1..=600)
        .map(|n| UsageRecord {
            agent_id: b.id,
            version_id: w1.id,
            latency_us: n * 1_000,
            prompt_tokens: n,
            ..record(if n % 3 == 0 { Outcome::Timeout } else { Outcome::Ok }, 0, None, n % 2 == 0)
        })
        .collect();
    db.store.insert_usage(&many).await.unwrap();
    let rows = db.store.usage_by_version(b.id, at - Duration::hours(1), at + Duration::seconds(1)).await.unwrap();
    let row = &rows[0];
    assert_eq!((row.requests, row.succeeded, row.failed, row.fallbacks), (600, 400, 200, 300));
    assert_eq!((row.prompt_tokens, row.max_latency_ms, row.avg_latency_ms), (180_300, 600.0, 300.5));
}
