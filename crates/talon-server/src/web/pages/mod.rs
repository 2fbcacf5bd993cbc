//! One module per section of the dashboard; `routes` lists every page.

mod agents;
pub mod auth;
mod keys;
mod marketplace;
mod playground;
mod redirect;
mod tasks;
mod usage;
mod webhooks;

use axum::Router;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(agents::routes())
        .merge(tasks::routes())
        .merge(webhooks::routes())
        .merge(keys::routes())
        .merge(marketplace::routes())
        .merge(playground::routes())
        .merge(usage::routes())
}
