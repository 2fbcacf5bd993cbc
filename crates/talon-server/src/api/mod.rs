//! Everything HTTP: the router, extractors, the error type and its rendering, middleware, and the
//! handlers (`rest` for `/api`, `chat` for the chat surfaces, `ops` for health and metrics).

pub mod chat;
pub mod error;
pub mod extract;
pub mod marketplace;
pub mod middleware;
mod openapi;
pub mod ops;
pub mod rest;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{Any, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use crate::state::AppState;
use chat::{chat_api as bot_chat, openai};
use error::{ApiError, ErrorCode, ErrorSurface};
use middleware::{access_log, authenticate, enforce_rate_limits, idempotency, metrics, render_errors, request_id};
use rest::evaluations::{datasets, runs as evaluation_runs};
use rest::{agents, api_keys, audit, auth, deployed_agents, labels, merges, splits, tasks, usage, versions, webhooks};

/// The whole application. Every request passes the request log, the request id and metrics; each
/// surface's routes then sit in that surface's error rendering, panic catching and body limits, so that
/// whatever fails on a route (a handler, a rejection, an unknown path, a wrong method, a body over the
/// limit, a panic) answers in the route's shape. API routes add authentication, rate limits and
/// idempotency.
pub fn router(state: AppState) -> Router {
    let max_body = state.settings.max_body_bytes;
    let (api, openapi) = OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::me))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::revoke_all_sessions))
        .routes(routes!(api_keys::create, api_keys::list))
        .routes(routes!(api_keys::revoke))
        .routes(routes!(audit::list))
        .routes(routes!(agents::list, agents::create))
        .routes(routes!(agents::get, agents::update, agents::delete))
        .routes(routes!(agents::fork))
        .routes(routes!(agents::lineage))
        .routes(routes!(agents::deploy))
        .routes(routes!(agents::stop))
        .routes(routes!(splits::promote))
        .routes(routes!(splits::abort))
        .routes(routes!(labels::list_labels))
        .routes(routes!(labels::move_label, labels::delete_label))
        .routes(routes!(usage::usage))
        .routes(routes!(usage::compare))
        .routes(routes!(versions::list, versions::create))
        .routes(routes!(versions::compare))
        .routes(routes!(versions::get))
        .routes(routes!(versions::rollback))
        .routes(routes!(merges::merge))
        .routes(routes!(merges::preview))
        .routes(routes!(datasets::list, datasets::create))
        .routes(routes!(datasets::get, datasets::put, datasets::delete))
        .routes(routes!(evaluation_runs::list, evaluation_runs::start))
        .routes(routes!(evaluation_runs::get))
        .routes(routes!(evaluation_runs::cancel))
        .routes(routes!(deployed_agents::list))
        .routes(routes!(tasks::list, tasks::create))
        .routes(routes!(tasks::claim))
        .routes(routes!(tasks::batch::create_batch))
        .routes(routes!(tasks::batch::complete_batch))
        .routes(routes!(tasks::batch::fail_batch))
        .routes(routes!(tasks::get, tasks::update))
        .routes(routes!(tasks::cancel))
        .routes(routes!(webhooks::list, webhooks::create))
        .routes(routes!(webhooks::get, webhooks::update, webhooks::delete))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(webhooks::redeliver))
        .routes(routes!(webhooks::test))
        .merge(marketplace::limited_routes(&state))
        .split_for_parts();
    let api = with_api_middleware(api, &state, ErrorSurface::Rest);
    // Uploads: the REST surface under a body limit of their own, the largest file plus its framing.
    let (upload_routes, upload_doc) = OpenApiRouter::new().merge(marketplace::upload_routes()).split_for_parts();
    let upload_limit = state.marketplace.settings.max_upload_bytes.saturating_add(marketplace::MULTIPART_OVERHEAD);
    let upload_routes = on_surface(
        with_api_middleware(upload_routes, &state, ErrorSurface::Rest),
        ErrorSurface::Rest,
        upload_limit.max(max_body),
    );
    // The OpenAI surface: every error in OpenAI's shape, 405s and unknown `/v1` paths included.
    let (openai_routes, openai_doc) = OpenApiRouter::new()
        .routes(routes!(openai::chat_completions))
        .routes(routes!(openai::models))
        .routes(routes!(openai::model))
        .split_for_parts();
    let openai_routes = with_api_middleware(openai_routes, &state, ErrorSurface::OpenAi)
        .method_not_allowed_fallback(openai::method_not_allowed);
    let openai_routes = on_surface(openai_routes, ErrorSurface::OpenAi, max_body);
    let openai_unknown = on_surface(Router::new().fallback(openai::unknown_url), ErrorSurface::OpenAi, max_body);
    // The chat API: its own codes, a 100 KB body limit checked before reading, CORS for browsers.
    let (chat_routes, chat_doc) = OpenApiRouter::new()
        .routes(routes!(bot_chat::bot_chat))
        .routes(routes!(bot_chat::agent_chat))
        .split_for_parts();
    let chat_routes = with_api_middleware(chat_routes, &state, ErrorSurface::ChatApi);
    let chat_routes = on_surface(chat_routes, ErrorSurface::ChatApi, max_body.min(bot_chat::MAX_CHAT_BODY))
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::POST, Method::OPTIONS])
                .allow_headers([AUTHORIZATION, CONTENT_TYPE]),
        )
        .with_state(state.clone());
    let (ops_routes, ops_doc) = OpenApiRouter::new()
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        .split_for_parts();
    let mut openapi = openapi;
    openapi.merge(upload_doc);
    openapi.merge(openai_doc);
    openapi.merge(chat_doc);
    openapi.merge(ops_doc);
    let openapi = openapi::finish(openapi, &openapi::ServerFacts { providers: state.registry.providers() });

    let rest = Router::new()
        .merge(api)
        .merge(ops_routes)
        .merge(SwaggerUi::new("/docs").external_url_unchecked("/openapi.json", openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    on_surface(rest, ErrorSurface::Rest, max_body)
        .merge(upload_routes)
        .merge(openai_routes)
        .merge(crate::web::router(&state))
        .route_service("/v1/{*rest}", openai_unknown)
        // Mounted as services, so CORS answers a preflight before any method routing.
        .route_service("/api/v1/bot/{bot_id}/chat", chat_routes.clone())
        .route_service("/api/v1/chat", chat_routes)
        .layer(
            ServiceBuilder::new()
                .layer(from_fn(access_log::log_request))
                .layer(from_fn(request_id::request_id))
                .layer(from_fn(metrics::observe)),
        )
        .with_state(state)
}

/// Authentication, rate limits and idempotency in front of every handler of `routes`. The handler's
/// errors are put in the surface's shape before idempotency records them, so that a replay answers in
/// the same shape.
fn with_api_middleware(routes: Router<AppState>, state: &AppState, surface: ErrorSurface) -> Router<AppState> {
    routes.route_layer(
        ServiceBuilder::new()
            .layer(from_fn_with_state(state.clone(), authenticate))
            .layer(from_fn_with_state(state.clone(), enforce_rate_limits))
            .layer(from_fn_with_state(state.clone(), idempotency::idempotency))
            .layer(from_fn_with_state(surface, render_errors)),
    )
}

/// What a surface's routes (and fallbacks) sit in, outermost first: its error rendering, panic catching
/// and the body limit, checked by Content-Length before reading and again while reading.
fn on_surface<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    surface: ErrorSurface,
    max_body: usize,
) -> Router<S> {
    router.layer(
        ServiceBuilder::new()
            .layer(from_fn_with_state(surface, render_errors))
            .layer(CatchPanicLayer::custom(panic_response))
            .layer(DefaultBodyLimit::max(max_body))
            .layer(RequestBodyLimitLayer::new(max_body)),
    )
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "No such resource")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed, "Method not allowed on this path")
}

fn panic_response(_: Box<dyn std::any::Any + Send>) -> Response {
    ApiError::internal("a handler panicked").into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use http_body_util::BodyExt;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;

    async fn boom() -> &'static str {
        panic!("boom")
    }

    /// What a surface answers for `path` on a router whose `/boom` panics and whose `/plain` answers
    /// a bare 400 as the framework's rejections do.
    async fn answer(surface: ErrorSurface, path: &str) -> (StatusCode, Value) {
        let routes: Router = Router::new()
            .route("/boom", get(boom))
            .route("/plain", get(|| async { (StatusCode::BAD_REQUEST, "Failed to deserialize the path") }))
            .route("/fine", get(|| async { "fine" }));
        let response =
            on_surface(routes, surface, 1024).oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn panics_and_bare_rejections_come_in_the_surface_shape() {
        let cases = [
            ("/boom", 500, "INTERNAL_ERROR", "api_error", "internal_error"),
            ("/plain", 400, "BAD_REQUEST", "invalid_request_error", "invalid_request"),
        ];
        for (path, status, rest_code, openai_type, chat_code) in cases {
            let (got, rest) = answer(ErrorSurface::Rest, path).await;
            assert_eq!((got.as_u16(), &rest["error"]["code"]), (status, &Value::from(rest_code)), "{rest}");
            assert!(rest["error"]["requestId"].is_string() && rest["error"]["details"].is_array(), "{rest}");
            let (got, openai) = answer(ErrorSurface::OpenAi, path).await;
            assert_eq!((got.as_u16(), &openai["error"]["type"]), (status, &Value::from(openai_type)), "{openai}");
            assert!(openai["error"].get("requestId").is_none(), "{openai}");
            let (got, chat) = answer(ErrorSurface::ChatApi, path).await;
            assert_eq!((got.as_u16(), &chat["error"]["code"]), (status, &Value::from(chat_code)), "{chat}");
        }
        let (status, body) = answer(ErrorSurface::OpenAi, "/fine").await;
        assert_eq!((status, body), (StatusCode::OK, Value::Null), "a success passes untouched");
    }
}
