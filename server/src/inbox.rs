//! The approver inbox: one static page, a script and a style sheet, served by `aarm serve`.
//! The page holds no data of its own: the approver signs in with their token (kept in the
//! tab's session storage only), and the script calls the same API as every other client
//! (`/v1/me`, `/v1/inbox`, `/v1/cases/{id}/approve|deny`). It renders every value as text,
//! never as markup, and the page forbids scripts from anywhere but itself (CSP).

use axum::http::header;
use axum::response::IntoResponse;

const PAGE: &str = include_str!("inbox/index.html");
const SCRIPT: &str = include_str!("inbox/app.js");
const STYLE: &str = include_str!("inbox/style.css");

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
