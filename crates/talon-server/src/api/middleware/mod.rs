//! What every request passes through (request id, access log, metrics), what puts a route's errors in
//! its surface's shape (`render_errors`), and what every API request passes through after it
//! (authenticate → rate limits → idempotency).

pub mod access_log;
mod authenticate;
mod error_surface;
pub mod idempotency;
pub mod metrics;
mod rate_limits;
pub mod request_id;

pub use authenticate::authenticate;
pub use error_surface::render_errors;
pub use rate_limits::enforce_rate_limits;
