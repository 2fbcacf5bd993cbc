//! Chat accounting: one record per answer an agent gave (or failed to give), and the period a usage
//! summary covers.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};

use crate::id::{AgentId, ApiKeyId, UserId, VersionId};
use crate::validation::ValidationErrors;

mod rollup;

pub use rollup::{OutcomeKey, Period, ReadPlan, RollupKey, RollupSums, Span, UsageRollup, roll_up};

/// A summary without `from` covers this many days before `to`.
pub const DEFAULT_RANGE_DAYS: i64 = 30;

/// How an answer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The whole answer reached the caller.
    Ok,
    /// Every model failed before answering, or the answering one failed part-way.
    UpstreamError,
    /// The answer took longer than the chat timeout.
    Timeout,
    /// The caller went away before the answer ended.
    ClientClosed,
}

impl Outcome {
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::UpstreamError => "upstream_error",
            Outcome::Timeout => "timeout",
            Outcome::ClientClosed => "client_closed",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Outcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ok" => Ok(Outcome::Ok),
            "upstream_error" => Ok(Outcome::UpstreamError),
            "timeout" => Ok(Outcome::Timeout),
            "client_closed" => Ok(Outcome::ClientClosed),
            other => Err(format!("unknown outcome `{other}`")),
        }
    }
}

/// Who asked: a caller of the chat APIs, or a task the runtime worked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Chat,
    Task,
}

impl Source {
    pub const fn as_str(self) -> &'static str {
        match self {
            Source::Chat => "chat",
            Source::Task => "task",
        }
    }
}

impl FromStr for Source {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "chat" => Ok(Source::Chat),
            "task" => Ok(Source::Task),
            other => Err(format!("unknown source `{other}`")),
        }
    }
}

/// One answer, as accounted.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRecord {
    pub id: uuid::Uuid,
    pub owner: UserId,
    pub agent_id: AgentId,
    pub version_id: VersionId,
    /// The API key that asked; `None` for a session or a task.
    pub key_id: Option<ApiKeyId>,
    pub source: Source,
    /// The `provider/model` that answered (or the last one tried, when none did).
    pub model: String,
    pub fell_back: bool,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// From the request's arrival to the answer's end.
    pub latency_us: u64,
    /// From the request's arrival to the first chunk from upstream; `None` when none came.
    pub first_token_us: Option<u64>,
    pub outcome: Outcome,
    pub created_at: DateTime<Utc>,
}

/// What one version served over a period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VersionUsage {
    pub version_id: Option<VersionId>,
    pub version: i64,
    pub requests: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub client_closed: u64,
    pub fallbacks: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub avg_latency_ms: f64,
    pub max_latency_ms: f64,
    /// How many answers produced a first token, and their average time to it.
    pub first_tokens: u64,
    pub avg_first_token_ms: Option<f64>,
}

impl VersionUsage {
    /// Adds up per-version rows into one total (averages weighted by their counts).
    pub fn total(rows: &[VersionUsage]) -> VersionUsage {
        let mut total = VersionUsage::default();
        let (mut latency_sum, mut first_token_sum, mut first_token_count) = (0.0, 0.0, 0u64);
        for row in rows {
            total.requests += row.requests;
            total.succeeded += row.succeeded;
            total.failed += row.failed;
            total.client_closed += row.client_closed;
            total.fallbacks += row.fallbacks;
            total.prompt_tokens += row.prompt_tokens;
            total.completion_tokens += row.completion_tokens;
            total.max_latency_ms = total.max_latency_ms.max(row.max_latency_ms);
            latency_sum += row.avg_latency_ms * row.requests as f64;
            if let Some(avg) = row.avg_first_token_ms {
                first_token_sum += avg * row.first_tokens as f64;
                first_token_count += row.first_tokens;
            }
        }
        if total.requests > 0 {
            total.avg_latency_ms = latency_sum / total.requests as f64;
        }
        total.first_tokens = first_token_count;
        if first_token_count > 0 {
            total.avg_first_token_ms = Some(first_token_sum / first_token_count as f64);
        }
        total
    }
}

/// The half-open period `[from, to)` a usage summary covers. Any length is fine (a summary has one row per
/// version, however long the period), and a `from` at or after `to` is an empty period that covers nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageRange {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl UsageRange {
    /// `from` and `to` as RFC 3339 timestamps; `to` defaults to `now`, `from` to 30 days before `to`.
    pub fn parse(from: Option<&str>, to: Option<&str>, now: DateTime<Utc>) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let mut timestamp = |field: &str, value: Option<&str>| {
            value.and_then(|v| match DateTime::parse_from_rfc3339(v) {
                Ok(at) => Some(at.with_timezone(&Utc)),
                Err(_) => {
                    errors.add(field, "Must be an RFC 3339 timestamp, e.g. 2026-11-01T00:00:00Z");
                    None
                }
            })
        };
        let parsed_from = timestamp("from", from);
        let parsed_to = timestamp("to", to);
        let to = parsed_to.unwrap_or(now);
        let from = parsed_from.unwrap_or(to - Duration::days(DEFAULT_RANGE_DAYS));
        errors.finish(UsageRange { from, to })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn range_defaults_to_the_last_30_days() {
        let now = at("2026-11-24T12:00:00Z");
        let range = UsageRange::parse(None, None, now).unwrap();
        assert_eq!((range.from, range.to), (at("2026-10-25T12:00:00Z"), now));
        let range = UsageRange::parse(Some("2026-11-01T00:00:00Z"), None, now).unwrap();
        assert_eq!(range.from, at("2026-11-01T00:00:00Z"));
    }

    #[test]
    fn range_errors_name_the_field() {
        let now = at("2026-11-24T12:00:00Z");
        let fields = |from, to| {
            UsageRange::parse(from, to, now).unwrap_err().fields().iter().map(|f| f.field.clone()).collect::<Vec<_>>()
        };
        assert_eq!(fields(Some("yesterday"), Some("soon")), ["from", "to"]);
        assert_eq!(fields(Some("2026-11-24"), None), ["from"]);
    }

    #[test]
    fn any_period_is_accepted() {
        let now = at("2026-11-24T12:00:00Z");
        let long = UsageRange::parse(Some("1193-07-26T00:00:00Z"), None, now).unwrap();
        assert_eq!((long.from, long.to), (at("1193-07-26T00:00:00Z"), now));
        let inverted = UsageRange::parse(Some("2030-01-01T00:00:00Z"), Some("2026-01-01T00:00:00Z"), now).unwrap();
        assert!(inverted.from > inverted.to);
    }

    #[test]
    fn outcomes_round_trip() {
        for outcome in [Outcome::Ok, Outcome::UpstreamError, Outcome::Timeout, Outcome::ClientClosed] {
            assert_eq!(outcome.as_str().parse::<Outcome>(), Ok(outcome));
        }
        assert!("fine".parse::<Outcome>().is_err());
    }

    #[test]
    fn totals_weigh_averages_by_count() {
        let rows = [
            VersionUsage {
                requests: 1,
                succeeded: 1,
                avg_latency_ms: 10.0,
                max_latency_ms: 10.0,
                first_tokens: 1,
                avg_first_token_ms: Some(2.0),
                prompt_tokens: 5,
                ..Default::default()
            },
            VersionUsage {
                requests: 3,
                succeeded: 2,
                failed: 1,
                avg_latency_ms: 2.0,
                max_latency_ms: 4.0,
                first_tokens: 3,
                avg_first_token_ms: Some(1.0),
                completion_tokens: 7,
                ..Default::default()
            },
        ];
        let total = VersionUsage::total(&rows);
        assert_eq!((total.requests, total.succeeded, total.failed), (4, 3, 1));
        assert_eq!((total.prompt_tokens, total.completion_tokens, total.first_tokens), (5, 7, 4));
        assert_eq!(total.avg_latency_ms, 4.0);
        assert_eq!(total.max_latency_ms, 10.0);
        assert_eq!(total.avg_first_token_ms, Some(1.25));
        assert_eq!(VersionUsage::total(&[]).avg_first_token_ms, None);
    }
}
