//! The approver inbox: one static page, a script and a style sheet, served by `aarm serve`.
//! The page holds no data of its own: the approver signs in with their token (kept in the
//! tab's session storage only), and the script calls the same API as every other client
//! (`/v1/me`, `/v1/inbox`, `/v1/inbox/events`, `/v1/cases/{id}`, `/v1/cases/{id}/approve|deny`,
//! and `/v1/cases/{id}/confirm` for the questions the requesting human answers).
//! It renders every value as text, never as markup, and the page forbids scripts from anywhere
//! but itself (CSP).

use crate::app::App;
use crate::error::ApiError;
use crate::routes::api::Caller;
use axum::extract::State;
use axum::http::header;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::IntoResponse;
use std::convert::Infallible;
use std::sync::Arc;

const PAGE: &str = include_str!("inbox/index.html");
const SCRIPT: &str = include_str!("inbox/app.js");
const STYLE: &str = include_str!("inbox/style.css");
const ICON: &str = include_str!("inbox/favicon.svg");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; \
                   form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

pub async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PAGE,
    )
}

pub async fn script() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], SCRIPT)
}

pub async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], STYLE)
}

/// The page's icon (without one, browsers ask for `/favicon.ico` on every load and get a 404).
pub async fn icon() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "max-age=86400")], ICON)
}

/// `GET /v1/inbox/events`: server-sent events, each an `inbox` event whose data is what
/// `GET /v1/inbox` answers: once at once, then after every change to any case (approvals,
/// denials, timeouts, escalations, new cases), until the server's wait bound passes or it shuts
/// down (the client reconnects). A failed read sends an `error` event and ends the stream, so
/// the page shows it is stale rather than keeping an old list that looks current.
pub async fn events(State(app): State<Arc<App>>, Caller(p): Caller) -> Result<impl IntoResponse, ApiError> {
    // Refused at once (not an approver, store down) rather than as an event.
    let first = crate::cases::inbox(&app.records, &app.access, &app.committed, &p).await?;
    let rx = app.records.waiters.subscribe_all();
    let deadline = tokio::time::Instant::now() + app.options.limits.max_wait;
    let start = (app, p, rx, Some(first), false);
    let stream = futures_util::stream::unfold(start, move |(app, p, mut rx, first, done)| async move {
        if done {
            return None;
        }
        let inbox = match first {
            Some(inbox) => Ok(inbox),
            None => {
                tokio::select! {
                    changed = rx.changed() => if changed.is_err() { return None },
                    _ = tokio::time::sleep_until(deadline) => return None,
                    _ = app.shutdown.cancelled() => return None,
                }
                crate::cases::inbox(&app.records, &app.access, &app.committed, &p).await
            }
        };
        let (event, done) = match inbox {
            Ok(body) => (SseEvent::default().event("inbox").json_data(body).unwrap_or_default(), false),
            Err(e) => (SseEvent::default().event("error").data(e.to_string()), true),
        };
        Some((Ok::<_, Infallible>(event), (app, p, rx, None, done)))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
