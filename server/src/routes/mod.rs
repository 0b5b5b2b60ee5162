//! The HTTP surface: every route, its layers (head and body limits, time limit, request logs, the
//! one shape of error answers), and the one list of routes that the OpenAPI document is checked
//! against.

pub(crate) mod api;
mod errors;

use crate::app::App;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Every route as (method, path template): `openapi.json` must list exactly these (a test
/// checks it), and a test calls each one on the real router.
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/decide"),
    ("get", "/v1/cases"),
    ("get", "/v1/cases/{id}"),
    ("get", "/v1/cases/{id}/wait"),
    ("get", "/v1/cases/{id}/events"),
    ("post", "/v1/cases/{id}/approve"),
    ("post", "/v1/cases/{id}/deny"),
    ("post", "/v1/cases/{id}/evidence"),
    ("post", "/v1/cases/{id}/cancel"),
    ("post", "/v1/cases/{id}/confirm"),
    ("post", "/v1/cases/{id}/revalidate"),
    ("get", "/v1/cases/{id}/deliveries"),
    ("get", "/v1/receipts"),
    ("get", "/v1/inbox"),
    ("get", "/v1/inbox/events"),
    ("get", "/v1/me"),
    ("post", "/v1/admin/reload"),
    ("get", "/metrics"),
    ("get", "/healthz"),
    ("get", "/openapi.json"),
    ("get", "/inbox"),
    ("get", "/inbox/app.js"),
    ("get", "/inbox/style.css"),
    ("get", "/inbox/favicon.svg"),
    ("post", "/v1/decisions/{id}/override"),
    ("get", "/v1/reviews"),
    ("get", "/v1/reviews/{id}"),
    ("post", "/v1/reviews/{id}"),
];
pub use crate::listen::MAX_HEADERS;

/// The `--metrics-listen` address: `GET /metrics` without credentials, nothing else.
pub fn metrics_router(app: Arc<App>) -> Router {
    let limits = app.options.limits.clone();
    Router::new()
        .route("/metrics", get(api::metrics_public))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, limits.request_timeout))
        .layer(axum::middleware::from_fn_with_state(app.clone(), errors::api_errors))
        .with_state(app)
}

/// The main address's router: every route of [`ROUTES`] but the metrics-only one, with its layers.
pub fn router(app: Arc<App>) -> Router {
    let limits = app.options.limits.clone();
    // Calls that answer at once get a time limit; the long-polls have their own bound.
    let timed = Router::new()
        .route("/v1/decide", post(api::decide))
        .route("/v1/cases", get(api::list))
        .route("/v1/cases/{id}", get(api::case))
        .route("/v1/cases/{id}/approve", post(api::approve))
        .route("/v1/cases/{id}/deny", post(api::deny))
        .route("/v1/cases/{id}/evidence", post(api::evidence))
        .route("/v1/cases/{id}/cancel", post(api::cancel))
        .route("/v1/cases/{id}/confirm", post(api::confirm))
        .route("/v1/cases/{id}/revalidate", post(api::revalidate))
        .route("/v1/cases/{id}/deliveries", get(api::deliveries))
        .route("/v1/receipts", get(api::receipts))
        .route("/v1/inbox", get(api::inbox))
        .route("/v1/me", get(api::me))
        .route("/v1/admin/reload", post(api::reload))
        .route("/metrics", get(api::metrics))
        .route("/healthz", get(api::health))
        .route("/openapi.json", get(api::openapi))
        .route("/v1/decisions/{id}/override", post(api::override_decision))
        .route("/v1/reviews", get(api::reviews))
        .route("/v1/reviews/{id}", get(api::review_one).post(api::review))
        .route("/inbox", get(crate::inbox::page))
        .route("/inbox/app.js", get(crate::inbox::script))
        .route("/inbox/style.css", get(crate::inbox::style))
        .route("/inbox/favicon.svg", get(crate::inbox::icon))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, limits.request_timeout));
    let waits =
        Router::new().route("/v1/cases/{id}/wait", get(api::wait)).route("/v1/cases/{id}/events", get(api::events));
    let waits = waits.route("/v1/inbox/events", get(crate::inbox::events));
    timed
        .merge(waits)
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        // One limit, ours: axum's own default (2 MiB) would otherwise cap a larger setting.
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(limits.max_body_bytes))
        .layer(TraceLayer::new_for_http())
        // Outermost: it sees every answer, the layers' and the extractors' included.
        .layer(axum::middleware::from_fn_with_state(app.clone(), errors::api_errors))
        .with_state(app)
}
