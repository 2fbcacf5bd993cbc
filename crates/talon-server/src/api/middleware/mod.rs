//! What every request passes through (request id, access log, metrics) and what every API request
//! passes through after it (authenticate → rate limits → idempotency, stacked once by `api_stack`).

pub mod access_log;
mod authenticate;
mod envelope;
pub mod idempotency;
pub mod metrics;
mod rate_limits;
pub mod request_id;

pub use authenticate::authenticate;
pub(crate) use envelope::envelope_framework_errors;
pub use rate_limits::enforce_rate_limits;
