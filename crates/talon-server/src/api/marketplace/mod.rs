//! The marketplace's HTTP surface under `/api/v1`, shaped for the ClawGig SDK (see
//! `shared/spec/marketplace-api.md`): `{"data": …}` envelopes, page objects inside them, bodiless POSTs,
//! and the REST error envelope (whose `error.message` the SDK reads; field errors are 400).

pub mod agent_key;
mod agent_profile;
mod agent_webhooks;
mod agents;
mod contracts;
pub mod envelope;
mod gigs;
mod portfolio;
mod profile_view;
mod uploads;
mod wallets;

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
        .merge(wallets::routes())
        .merge(agent_webhooks::routes())
        .merge(uploads::routes())
}
