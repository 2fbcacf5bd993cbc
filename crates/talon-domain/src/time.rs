//! The clock, at the precision the databases keep (microseconds), so that what a create returns is
//! exactly what a later read returns.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    now.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(now)
}
