//! When a failed delivery is tried again, and when a failing webhook is switched off.

use std::time::Duration;

/// Delays before each retry: about 8 more attempts over about 3 days.
pub const DEFAULT_RETRY_SCHEDULE: [Duration; 8] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(6 * 3600),
    Duration::from_secs(12 * 3600),
    Duration::from_secs(24 * 3600),
    Duration::from_secs(24 * 3600),
];
/// A `Retry-After` longer than this is capped.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// The delay before the next attempt after `attempts` failed ones: the receiver's `Retry-After` if it
/// gave one (capped at a day), else the schedule, with ±10% jitter. `None` when attempts are spent.
pub fn next_delay(
    schedule: &[Duration],
    attempts: u32,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Option<Duration> {
    let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
    let scheduled = *schedule.get(index)?;
    let base = retry_after.map_or(scheduled, |r| r.min(MAX_RETRY_AFTER));
    Some(base.mul_f64(1.0 + 0.1 * jitter.clamp(-1.0, 1.0)))
}

/// A webhook failing without a break for this long is turned off.
pub const DISABLE_AFTER_FAILING: chrono::Duration = chrono::Duration::days(5);

/// Whether a webhook that has failed continuously since `failing_since` should now be disabled.
pub fn failed_too_long(failing_since: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> bool {
    now - failing_since >= DISABLE_AFTER_FAILING
}

/// Parses `TALON_WEBHOOK_RETRY_SCHEDULE`: comma-separated seconds, fractions allowed (`5,300,1800`).
pub fn parse_schedule(raw: &str) -> Result<Vec<Duration>, String> {
    raw.split(',')
        .map(|part| {
            let seconds: f64 =
                part.trim().parse().map_err(|_| format!("`{}` is not a number of seconds", part.trim()))?;
            if seconds.is_finite() && seconds >= 0.0 {
                Ok(Duration::from_secs_f64(seconds))
            } else {
                Err(format!("`{}` is not a number of seconds", part.trim()))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_follow_the_schedule_or_retry_after() {
        let schedule = [Duration::from_secs(5), Duration::from_secs(300)];
        assert_eq!(next_delay(&schedule, 1, None, 0.0), Some(Duration::from_secs(5)));
        assert_eq!(next_delay(&schedule, 2, None, 1.0), Some(Duration::from_secs(330)));
        assert_eq!(next_delay(&schedule, 1, Some(Duration::from_secs(60)), 0.0), Some(Duration::from_secs(60)));
        assert_eq!(next_delay(&schedule, 3, None, 0.0), None, "attempts spent");
        let total: Duration = DEFAULT_RETRY_SCHEDULE.iter().sum();
        assert!((60..=80).contains(&(total.as_secs() / 3600)), "about three days of retries");
    }

    #[test]
    fn five_days_of_failures_disable() {
        let start = chrono::Utc::now();
        assert!(!failed_too_long(start, start + chrono::Duration::days(4)));
        assert!(failed_too_long(start, start + chrono::Duration::days(5)));
    }

    #[test]
    fn schedules_parse_from_seconds() {
        assert_eq!(
            parse_schedule("5,300,0.25").unwrap(),
            [Duration::from_secs(5), Duration::from_secs(300), Duration::from_millis(250)]
        );
        assert!(parse_schedule("5,soon").is_err());
        assert!(parse_schedule("-1").is_err());
    }
}
