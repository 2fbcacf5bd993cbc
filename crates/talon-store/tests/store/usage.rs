//! Chat usage summarised per version.

use chrono::Duration;
use talon_store::Backend;

use crate::common::agent_fixtures::agent;
use crate::common::{account, db, now};

on_both_databases!(
    usage_summarised_per_version,
    rollups_sum_to_the_records_they_summarise,
    usage_retention_keeps_the_rollups,
    usage_series_sums_each_period_and_version,
);

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

/// A version's figures in a comparable shape: version, requests, succeeded, failed, fallbacks, tokens,
/// max latency (µs), average latency (µs).
type Figures = (Option<talon_domain::VersionId>, u64, u64, u64, u64, u64, u64, f64);

/// Records over three days, written in several batches (so rollup rows are added to), of two versions,
/// two keys and every outcome.
async fn three_days_of_usage(
    store: &dyn talon_store::Store,
) -> (talon_domain::AgentId, chrono::DateTime<chrono::Utc>, Vec<talon_domain::usage::UsageRecord>) {
    use talon_domain::usage::{Outcome, Source, UsageRecord};
    let alice = account("alice@example.com");
    store.create_account(&alice, "h").await.unwrap();
    let (a, v1) = agent(&alice, "one", None);
    store.insert_agent(&a, &v1, &[]).await.unwrap();
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-20T21:13:07.250Z").unwrap().with_timezone(&chrono::Utc);
    let outcomes = [Outcome::Ok, Outcome::Ok, Outcome::UpstreamError, Outcome::Timeout, Outcome::ClientClosed];
    let keys = [None, Some(talon_domain::ApiKeyId::new())];
    let versions = [v1.id, talon_domain::VersionId::new()];
    let records: Vec<UsageRecord> = (0..600u64)
        .map(|i| UsageRecord {
            id: uuid::Uuid::now_v7(),
            owner: alice.id,
            agent_id: a.id,
            version_id: versions[(i % 7 % 2) as usize],
            key_id: keys[(i % 3 % 2) as usize],
            source: Source::Chat,
            model: "test/echo".into(),
            fell_back: i % 4 == 0,
            prompt_tokens: i % 11,
            completion_tokens: i % 13,
            latency_us: 1_000 + (i * 7_919) % 50_000,
            first_token_us: (i % 5 != 0).then_some(100 + i),
            outcome: outcomes[(i % 5) as usize],
            // Every 7 minutes 13 seconds: about 72 hours, cutting hours and days at odd places.
            created_at: start + Duration::seconds(433 * i as i64),
        })
        .collect();
    for batch in records.chunks(97) {
        store.insert_usage(batch).await.unwrap();
    }
    (a.id, start, records)
}

/// The summary of `records` in `[from, to)`, computed from the records themselves.
fn expected(
    records: &[talon_domain::usage::UsageRecord],
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> Vec<Figures> {
    use talon_domain::usage::Outcome;
    let mut by_version: std::collections::BTreeMap<talon_domain::VersionId, Vec<&talon_domain::usage::UsageRecord>> =
        Default::default();
    for r in records.iter().filter(|r| r.created_at >= from && r.created_at < to) {
        by_version.entry(r.version_id).or_default().push(r);
    }
    by_version
        .into_iter()
        .map(|(version, rs)| {
            let n = rs.len() as u64;
            let count =
                |f: &dyn Fn(&&talon_domain::usage::UsageRecord) -> bool| rs.iter().filter(|r| f(r)).count() as u64;
            (
                Some(version),
                n,
                count(&|r| r.outcome == Outcome::Ok),
                count(&|r| matches!(r.outcome, Outcome::UpstreamError | Outcome::Timeout)),
                count(&|r| r.fell_back),
                rs.iter().map(|r| r.prompt_tokens + r.completion_tokens).sum(),
                rs.iter().map(|r| r.latency_us).max().unwrap_or(0),
                rs.iter().map(|r| r.latency_us).sum::<u64>() as f64 / n as f64,
            )
        })
        .collect()
}

fn figures(rows: &[talon_domain::usage::VersionUsage]) -> Vec<Figures> {
    let mut out: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.version_id,
                r.requests,
                r.succeeded,
                r.failed,
                r.fallbacks,
                r.prompt_tokens + r.completion_tokens,
                (r.max_latency_ms * 1000.0).round() as u64,
                r.avg_latency_ms * 1000.0,
            )
        })
        .collect();
    out.sort_by_key(|f| f.0);
    out
}

fn assert_same(got: &[talon_domain::usage::VersionUsage], want: Vec<Figures>, what: &str) {
    let got = figures(got);
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!((g.0, g.1, g.2, g.3, g.4, g.5, g.6), (w.0, w.1, w.2, w.3, w.4, w.5, w.6), "{what}");
        assert!((g.7 - w.7).abs() < 1e-6, "{what}: average {} vs {}", g.7, w.7);
    }
}

/// Summaries read from the rollups (and the records at cut hours) equal the records, for ranges
/// aligned to days and hours and cutting both anywhere.
async fn rollups_sum_to_the_records_they_summarise(backend: Backend) {
    let db = db(backend).await;
    let (agent, start, records) = three_days_of_usage(db.store.as_ref()).await;
    let minutes = |m: i64| start + Duration::minutes(m);
    let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
    for (from, to) in [
        (start - Duration::days(1), start + Duration::days(5)),
        (day(21), day(23)),
        (day(21) + Duration::hours(5), day(22) + Duration::hours(7)),
        (minutes(3), minutes(4_000)),
        (minutes(61), minutes(119)),
        (minutes(1_000), minutes(1_000)),
        (day(22) + Duration::minutes(59), day(23) + Duration::seconds(1)),
        // Cutting minutes: the records at the edges, minute rows up to the hours.
        (start + Duration::seconds(200), start + Duration::seconds(7_350)),
        (start + Duration::milliseconds(433_500), start + Duration::milliseconds(866_900)),
        (minutes(7) + Duration::seconds(20), minutes(7) + Duration::seconds(40)),
    ] {
        let got = db.store.usage_by_version(agent, from, to).await.unwrap();
        assert_same(&got, expected(&records, from, to), &format!("[{from}, {to})"));
    }
}

/// Once the records and minute rows are past their retention, whole hours and days are still summarised
/// exactly.
async fn usage_retention_keeps_the_rollups(backend: Backend) {
    let db = db(backend).await;
    let (agent, start, records) = three_days_of_usage(db.store.as_ref()).await;
    let cutoff = start + Duration::days(2);
    let mut purged = 0;
    loop {
        let n = db.store.purge_usage_records(cutoff, 100).await.unwrap();
        purged += n;
        if n < 100 {
            break;
        }
    }
    assert_eq!(purged, records.iter().filter(|r| r.created_at < cutoff).count() as u64);
    // One minute row per version, key and outcome of each record, as records never share a minute.
    let mut minutes_purged = 0;
    loop {
        let n = db.store.purge_usage_minutes(cutoff, 100).await.unwrap();
        minutes_purged += n;
        if n < 100 {
            break;
        }
    }
    assert_eq!(minutes_purged, purged, "the minute rows before the cutoff");
    let edge = (cutoff - Duration::minutes(10), cutoff + Duration::hours(1));
    let got = db.store.usage_by_version(agent, edge.0, edge.1).await.unwrap();
    let kept = (cutoff, edge.1);
    assert_same(&got, expected(&records, kept.0, kept.1), "a range reaching before the cutoff counts from it");
    let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
    let whole = db.store.usage_by_version(agent, day(20), day(24)).await.unwrap();
    assert_same(&whole, expected(&records, day(20), day(24)), "whole days after retention");
    let hours = (day(21) + Duration::hours(3), day(22) + Duration::hours(22));
    let got = db.store.usage_by_version(agent, hours.0, hours.1).await.unwrap();
    assert_same(&got, expected(&records, hours.0, hours.1), "whole hours after retention");
}

/// A series per hour or day adds up each period's records per version, from that period's rollups;
/// periods are chosen by their start, and an empty span reads nothing.
async fn usage_series_sums_each_period_and_version(backend: Backend) {
    use talon_domain::usage::{Outcome, Period};
    let db = db(backend).await;
    let (agent, start, records) = three_days_of_usage(db.store.as_ref()).await;
    for period in [Period::Hour, Period::Day] {
        let from = period.start_of(start);
        let to = start + Duration::days(4);
        let got = db.store.usage_series(agent, period, from, to).await.unwrap();
        let mut want: std::collections::BTreeMap<_, (u64, u64, u64, u64, u64, u64)> = Default::default();
        for r in &records {
            let sums = want.entry((period.start_of(r.created_at), r.version_id)).or_default();
            sums.0 += 1;
            sums.1 += u64::from(matches!(r.outcome, Outcome::UpstreamError | Outcome::Timeout));
            sums.2 += r.prompt_tokens;
            sums.3 += r.completion_tokens;
            sums.4 += r.latency_us;
            sums.5 = sums.5.max(r.latency_us);
        }
        assert_eq!(got.len(), want.len(), "{period:?}");
        assert!(got.windows(2).all(|w| w[0].period_start <= w[1].period_start), "oldest first");
        for bucket in &got {
            let w = want[&(bucket.period_start, bucket.version_id)];
            let g = (
                bucket.requests,
                bucket.failed,
                bucket.prompt_tokens,
                bucket.completion_tokens,
                bucket.latency_sum_us,
                bucket.latency_max_us,
            );
            assert_eq!(g, w, "{period:?} at {}", bucket.period_start);
        }
        let first_version = got.iter().find(|b| b.version != 0).expect("the agent's own version");
        assert_eq!(first_version.version, 1);
    }
    // The span bounds the periods by their start.
    let hour = Period::Hour.start_of(start) + Duration::hours(5);
    let got = db.store.usage_series(agent, Period::Hour, hour, hour + Duration::hours(2)).await.unwrap();
    assert!(
        !got.is_empty() && got.iter().all(|b| b.period_start == hour || b.period_start == hour + Duration::hours(1))
    );
    assert!(db.store.usage_series(agent, Period::Hour, hour, hour).await.unwrap().is_empty());
    let other = talon_domain::AgentId::new();
    assert!(
        db.store
            .usage_series(other, Period::Day, start - Duration::days(1), start + Duration::days(5))
            .await
            .unwrap()
            .is_empty()
    );
}
