//! One shape for every error answer: `{ "reason": CODE, "message": TEXT }`. The handlers answer
//! with [`ApiError`] already; this layer gives the same shape to what answers before or around
//! them — a request head over `[server] max_header_bytes` (431), the body limit (413), the time
//! limit (408), a query or path that does not parse (400), an extractor's refusal — so that a
//! client reads every refusal the same way.

use crate::app::App;
use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The most of a layer's own error text kept in the message.
const MAX_MESSAGE_BYTES: usize = 1024;

pub async fn api_errors(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    if let Some(refused) = head_too_large(&request, app.options.config.server.max_header_bytes) {
        return refused.into_response();
    }
    let max_body = app.options.limits.max_body_bytes;
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_MESSAGE_BYTES)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .unwrap_or_default();
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => format!("the body is larger than the limit of {max_body} bytes"),
        StatusCode::REQUEST_TIMEOUT => "the call took longer than the request time limit".to_string(),
        _ if !text.trim().is_empty() => text.trim().to_string(),
        _ => status.canonical_reason().unwrap_or("error").to_string(),
    };
    let mut shaped = ApiError::Http { status, message }.into_response();
    // A 405's `Allow` says which methods the route takes.
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        shaped.headers_mut().insert(header::ALLOW, allow.clone());
    }
    shaped
}

/// 431 when the request line and headers are larger than `max_bytes`, or have more than
/// [`super::MAX_HEADERS`] lines.
fn head_too_large(request: &Request, max_bytes: usize) -> Option<ApiError> {
    let headers = request.headers();
    // As on the wire: `NAME: VALUE\r\n` per line, plus the request line.
    let bytes = headers
        .iter()
        .map(|(name, value)| name.as_str().len().saturating_add(value.len()).saturating_add(4))
        .fold(request.uri().to_string().len().saturating_add(16), usize::saturating_add);
    let message = if headers.len() > super::MAX_HEADERS {
        format!("the request has {} header lines, more than the limit of {}", headers.len(), super::MAX_HEADERS)
    } else if bytes > max_bytes {
        format!("the request head is about {bytes} bytes, more than the limit of {max_bytes} (max_header_bytes)")
    } else {
        return None;
    };
    Some(ApiError::Http { status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, message })
}
