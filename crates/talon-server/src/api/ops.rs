use axum::Json;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct Health {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    database: Option<&'static str>,
    /// With `REDIS_URL` set: `ok`, or `degraded` while Redis does not answer (limits are then counted
    /// per replica; the server stays ready).
    #[serde(skip_serializing_if = "Option::is_none")]
    redis: Option<&'static str>,
    /// Present (true) when the marketplace runs in sandbox mode: anyone may credit their own wallet.
    #[serde(rename = "marketplaceSandbox", skip_serializing_if = "Option::is_none")]
    marketplace_sandbox: Option<bool>,
}

/// Liveness: the process is up and serving.
#[utoipa::path(get, path = "/healthz", operation_id = "getHealth",
    tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok", database: None, redis: None, marketplace_sandbox: None })
}

/// Readiness: the database answers. Redis is reported but does not decide it: while Redis is down
/// every replica keeps serving with in-process limits, which beats a fleet taken out of rotation.
#[utoipa::path(get, path = "/readyz", operation_id = "getReadiness", tag = "operations", responses(
    (status = 200, body = Health),
    (status = 503, body = ErrorEnvelope, description = "The database does not answer"),
))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.store.ping().await.map_err(ApiError::unavailable)?;
    let redis = match &state.redis {
        Some(link) if link.ping(state.settings.redis_timeout).await => Some("ok"),
        Some(_) => Some("degraded"),
        None => None,
    };
    let marketplace_sandbox = state.marketplace.settings.sandbox.then_some(true);
    Ok(Json(Health { status: "ready", database: Some(state.store.backend().as_str()), redis, marketplace_sandbox }))
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", operation_id = "getMetrics",
    tag = "operations", responses((status = 200, content_type = "text/plain",
        example = "# TYPE talon_http_requests_total counter\ntalon_http_requests_total{method=\"GET\",route=\"/api/agents\",status=\"200\"} 42\n")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}
