//! Usage summarised as it is written: one row per agent version, API key and outcome for every minute,
//! hour and day, so that a summary over a year reads a few hundred rows instead of every answer.
//! A range is read from the coarsest rows that fit inside it, and from the records themselves only at
//! its edges, where it cuts a minute.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound, Utc};

use super::{Outcome, UsageRange, UsageRecord};
use crate::id::{AgentId, ApiKeyId, UserId, VersionId};

/// The length of a rollup row's period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Minute,
    Hour,
    Day,
}

impl Period {
    pub const ALL: [Period; 3] = [Period::Minute, Period::Hour, Period::Day];

    fn length(self) -> Duration {
        match self {
            Period::Minute => Duration::minutes(1),
            Period::Hour => Duration::hours(1),
            Period::Day => Duration::days(1),
        }
    }

    /// The start of the period `at` falls in (UTC).
    pub fn start_of(self, at: DateTime<Utc>) -> DateTime<Utc> {
        // Truncation fails only for instants outside chrono's range, which timestamps never reach.
        at.duration_trunc(self.length()).unwrap_or(at)
    }

    /// The first period start at or after `at`.
    fn ceil(self, at: DateTime<Utc>) -> DateTime<Utc> {
        let start = self.start_of(at);
        if start == at { start } else { start + self.length() }
    }
}

/// What one rollup row adds up: the answers of one version, key and outcome in one period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RollupKey {
    pub agent_id: AgentId,
    pub period_start: DateTime<Utc>,
    pub version_id: VersionId,
    pub key_id: Option<ApiKeyId>,
    pub outcome: OutcomeKey,
}

/// `Outcome`, ordered, so that rollup rows sort (and lock) in one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct OutcomeKey(u8);

impl OutcomeKey {
    pub fn outcome(self) -> Outcome {
        match self.0 {
            0 => Outcome::Ok,
            1 => Outcome::UpstreamError,
            2 => Outcome::Timeout,
            _ => Outcome::ClientClosed,
        }
    }
}

impl From<Outcome> for OutcomeKey {
    fn from(outcome: Outcome) -> Self {
        OutcomeKey(match outcome {
            Outcome::Ok => 0,
            Outcome::UpstreamError => 1,
            Outcome::Timeout => 2,
            Outcome::ClientClosed => 3,
        })
    }
}

/// The sums of one rollup row; adding a row's sums to a stored row's is the whole write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RollupSums {
    pub requests: u64,
    pub fallbacks: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub latency_sum_us: u64,
    pub latency_max_us: u64,
    pub first_tokens: u64,
    pub first_token_sum_us: u64,
}

impl RollupSums {
    fn add(&mut self, record: &UsageRecord) {
        self.requests += 1;
        self.fallbacks += u64::from(record.fell_back);
        self.prompt_tokens = self.prompt_tokens.saturating_add(record.prompt_tokens);
        self.completion_tokens = self.completion_tokens.saturating_add(record.completion_tokens);
        self.latency_sum_us = self.latency_sum_us.saturating_add(record.latency_us);
        self.latency_max_us = self.latency_max_us.max(record.latency_us);
        if let Some(first) = record.first_token_us {
            self.first_tokens += 1;
            self.first_token_sum_us = self.first_token_sum_us.saturating_add(first);
        }
    }
}

/// One rollup row to add to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRollup {
    pub owner: UserId,
    pub key: RollupKey,
    pub sums: RollupSums,
}

/// The records summed per version, key and outcome for each `period`, in key order (the order writers
/// lock rows in, so that two never wait on each other in opposite orders).
pub fn roll_up(records: &[UsageRecord], period: Period) -> Vec<UsageRollup> {
    let mut rows: BTreeMap<RollupKey, (UserId, RollupSums)> = BTreeMap::new();
    for record in records {
        let key = RollupKey {
            agent_id: record.agent_id,
            period_start: period.start_of(record.created_at),
            version_id: record.version_id,
            key_id: record.key_id,
            outcome: record.outcome.into(),
        };
        rows.entry(key).or_insert_with(|| (record.owner, RollupSums::default())).1.add(record);
    }
    rows.into_iter().map(|(key, (owner, sums))| UsageRollup { owner, key, sums }).collect()
}

/// A half-open span of time `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// Where a range's usage is read from: daily rows for the whole days, hourly rows for whole hours
/// outside them, minute rows for whole minutes outside those, and the records only at edges that cut a
/// minute. Each list holds at most two spans (one per edge), days at most one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadPlan {
    pub records: Vec<Span>,
    pub minutes: Vec<Span>,
    pub hours: Vec<Span>,
    pub days: Vec<Span>,
}

impl ReadPlan {
    fn spans_of(&mut self, period: Period) -> &mut Vec<Span> {
        match period {
            Period::Minute => &mut self.minutes,
            Period::Hour => &mut self.hours,
            Period::Day => &mut self.days,
        }
    }

    /// Covers `[from, to)` with whole periods of `coarsest` and finer: the whole periods inside, then
    /// each edge left over by the next finer period (the records after the minutes).
    fn cover(&mut self, from: DateTime<Utc>, to: DateTime<Utc>, coarsest: Option<Period>) {
        if from >= to {
            return;
        }
        let Some(period) = coarsest else {
            self.records.push(Span { from, to });
            return;
        };
        let finer = match period {
            Period::Day => Some(Period::Hour),
            Period::Hour => Some(Period::Minute),
            Period::Minute => None,
        };
        let (first, last) = (period.ceil(from), period.start_of(to));
        if first >= last {
            return self.cover(from, to, finer);
        }
        self.spans_of(period).push(Span { from: first, to: last });
        self.cover(from, first, finer);
        self.cover(last, to, finer);
    }
}

impl UsageRange {
    /// The plan that reads exactly this range from records, minutes, hours and days.
    pub fn read_plan(&self) -> ReadPlan {
        let mut plan = ReadPlan::default();
        plan.cover(self.from, self.to, Some(Period::Day));
        for spans in [&mut plan.records, &mut plan.minutes, &mut plan.hours] {
            spans.sort_by_key(|span| span.from);
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::usage::Source;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn span(from: &str, to: &str) -> Span {
        Span { from: at(from), to: at(to) }
    }

    fn record(agent: AgentId, version: VersionId, outcome: Outcome, created_at: &str, latency_us: u64) -> UsageRecord {
        UsageRecord {
            id: uuid::Uuid::now_v7(),
            owner: UserId::from_uuid(uuid::Uuid::nil()),
            agent_id: agent,
            version_id: version,
            key_id: None,
            source: Source::Chat,
            model: "m".into(),
            fell_back: latency_us > 100,
            prompt_tokens: 3,
            completion_tokens: 5,
            latency_us,
            first_token_us: (outcome == Outcome::Ok).then_some(latency_us / 2),
            outcome,
            created_at: at(created_at),
        }
    }

    #[test]
    fn a_year_reads_days_between_hours_between_minutes_between_records() {
        let range = UsageRange { from: at("2025-11-30T17:42:10Z"), to: at("2026-11-30T18:05:30Z") };
        assert_eq!(
            range.read_plan(),
            ReadPlan {
                records: vec![
                    span("2025-11-30T17:42:10Z", "2025-11-30T17:43:00Z"),
                    span("2026-11-30T18:05:00Z", "2026-11-30T18:05:30Z"),
                ],
                minutes: vec![
                    span("2025-11-30T17:43:00Z", "2025-11-30T18:00:00Z"),
                    span("2026-11-30T18:00:00Z", "2026-11-30T18:05:00Z"),
                ],
                hours: vec![
                    span("2025-11-30T18:00:00Z", "2025-12-01T00:00:00Z"),
                    span("2026-11-30T00:00:00Z", "2026-11-30T18:00:00Z"),
                ],
                days: vec![span("2025-12-01T00:00:00Z", "2026-11-30T00:00:00Z")],
            }
        );
    }

    #[test]
    fn aligned_and_short_ranges_read_only_what_they_need() {
        let aligned = UsageRange { from: at("2026-11-01T00:00:00Z"), to: at("2026-11-03T00:00:00Z") };
        assert_eq!(
            aligned.read_plan(),
            ReadPlan { days: vec![span("2026-11-01T00:00:00Z", "2026-11-03T00:00:00Z")], ..ReadPlan::default() }
        );
        let within_a_minute = UsageRange { from: at("2026-11-01T10:05:05Z"), to: at("2026-11-01T10:05:55Z") };
        assert_eq!(
            within_a_minute.read_plan(),
            ReadPlan { records: vec![span("2026-11-01T10:05:05Z", "2026-11-01T10:05:55Z")], ..ReadPlan::default() }
        );
        let hours = UsageRange { from: at("2026-11-01T10:00:00Z"), to: at("2026-11-01T13:30:00Z") };
        assert_eq!(
            hours.read_plan(),
            ReadPlan {
                minutes: vec![span("2026-11-01T13:00:00Z", "2026-11-01T13:30:00Z")],
                hours: vec![span("2026-11-01T10:00:00Z", "2026-11-01T13:00:00Z")],
                ..ReadPlan::default()
            }
        );
        let empty = UsageRange { from: at("2026-11-02T00:00:00Z"), to: at("2026-11-01T00:00:00Z") };
        assert_eq!(empty.read_plan(), ReadPlan::default());
    }

    #[test]
    fn every_instant_of_a_range_is_read_once() {
        for (from, to) in [
            ("2026-10-30T22:17:00Z", "2026-11-02T01:45:30Z"),
            ("2026-10-30T22:17:12.5Z", "2026-10-30T23:00:01Z"),
            ("2026-10-30T00:00:00Z", "2026-10-31T00:00:00.000001Z"),
            ("2026-10-30T23:59:59Z", "2026-10-31T00:00:01Z"),
        ] {
            let range = UsageRange { from: at(from), to: at(to) };
            let plan = range.read_plan();
            let mut spans: Vec<Span> =
                plan.records.iter().chain(&plan.minutes).chain(&plan.hours).chain(&plan.days).copied().collect();
            spans.sort_by_key(|s| s.from);
            assert_eq!(spans.first().unwrap().from, range.from);
            assert_eq!(spans.last().unwrap().to, range.to);
            assert!(spans.windows(2).all(|w| w[0].to == w[1].from), "no gap, no overlap: {spans:?}");
            assert!(
                plan.records.len() <= 2 && plan.minutes.len() <= 2 && plan.hours.len() <= 2 && plan.days.len() <= 1
            );
        }
    }

    #[test]
    fn records_roll_up_per_period_version_and_outcome() {
        let (agent, v1, v2) = (AgentId::new(), VersionId::new(), VersionId::new());
        let records = [
            record(agent, v1, Outcome::Ok, "2026-11-30T10:05:00Z", 100),
            record(agent, v1, Outcome::Ok, "2026-11-30T10:55:00Z", 300),
            record(agent, v1, Outcome::Timeout, "2026-11-30T10:56:00Z", 50),
            record(agent, v2, Outcome::Ok, "2026-11-30T11:01:00Z", 10),
        ];
        let hours = roll_up(&records, Period::Hour);
        assert_eq!(hours.len(), 3);
        let ok_v1 = hours
            .iter()
            .find(|r| r.key.version_id == v1 && r.key.outcome.outcome() == Outcome::Ok)
            .expect("v1's answers of 10:00");
        assert_eq!(ok_v1.key.period_start, Utc.with_ymd_and_hms(2026, 11, 30, 10, 0, 0).unwrap());
        assert_eq!(
            ok_v1.sums,
            RollupSums {
                requests: 2,
                fallbacks: 1,
                prompt_tokens: 6,
                completion_tokens: 10,
                latency_sum_us: 400,
                latency_max_us: 300,
                first_tokens: 2,
                first_token_sum_us: 200,
            }
        );
        let days = roll_up(&records, Period::Day);
        assert_eq!(days.iter().map(|r| r.sums.requests).sum::<u64>(), 4);
        assert_eq!(days.len(), 3, "one per version and outcome");
        assert!(hours.windows(2).all(|w| w[0].key < w[1].key), "in key order");
    }
}
