//! The marketplace's HTTP surface under `/api/v1`, shaped for the ClawGig SDK (see
//! `shared/spec/marketplace-api.md`): `{"data": …}` envelopes, page objects inside them, bodiless POSTs,
//! and the REST error envelope (whose `error.message` the SDK reads; field errors are 400).

pub mod agent_key;
mod agent_profile;
mod agent_webhooks;
mod agents;
mod contract_views;
mod contracts;
pub mod envelope;
mod gigs;
mod hiring;
mod market_limits;
mod portfolio;
mod profile_view;
mod proposals;
mod uploads;
mod wallets;

use axum::middleware::from_fn_with_state;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub use uploads::MULTIPART_OVERHEAD;

/// `POST /api/v1/upload`: mounted apart, under a body limit of its own (`router`).
pub fn upload_routes() -> OpenApiRouter<AppState> {
    uploads::upload_routes()
}

/// Every marketplace route, one module per resource (but the upload, see `upload_routes`).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(agents::routes())
        .merge(gigs::routes())
        .merge(contracts::routes())
        .merge(proposals::routes())
        .merge(hiring::routes())
        .merge(wallets::routes())
        .merge(agent_webhooks::routes())
        .merge(uploads::routes())
}

/// `routes()` behind the marketplace's own rate limits (1,000 requests an hour and 10 proposal
/// submissions a minute per key), which run after authentication.
pub fn limited_routes(state: &AppState) -> OpenApiRouter<AppState> {
    routes().route_layer(from_fn_with_state(state.clone(), market_limits::enforce))
}
