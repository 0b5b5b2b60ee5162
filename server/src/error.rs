//! Errors as the API answers them: a status and `{ "reason": CODE, "message": TEXT }`. Reasons
//! of refused lifecycle events are the stable codes of docs/lifecycle.md, "Refused events".

use crate::auth::AuthError;
use aarm_runtime::lifecycle::event::Rejection;
use aarm_runtime::lifecycle::service::LifecycleError;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No credential, or one that does not verify: 401, and nothing changes.
    #[error("{0}")]
    Unauthenticated(AuthError),
    /// Authenticated, but not allowed to do this: 403.
    #[error("{message}")]
    Forbidden { reason: &'static str, message: String },
    #[error("no case {0}")]
    UnknownCase(String),
    /// The lifecycle refused the event: 409 (403 for `not_an_approver`, 404 for `unknown_case`).
    #[error("rejected: {0}")]
    Rejected(Rejection),
    #[error("{0}")]
    BadRequest(String),
    #[error("no such route: see /openapi.json")]
    NoRoute,
    /// 409 with a reason of the service's own (not a lifecycle refusal).
    #[error("{1}")]
    Conflict(&'static str, String),
    /// The store or a bundle failed: 503, fail closed (nothing was allowed).
    #[error("{0}")]
    Unavailable(String),
}

impl ApiError {
    pub fn forbidden(reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::Forbidden { reason, message: message.into() }
    }

    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::Forbidden { reason, .. } => (StatusCode::FORBIDDEN, reason),
            ApiError::UnknownCase(_) => (StatusCode::NOT_FOUND, Rejection::UnknownCase.as_str()),
            ApiError::Rejected(Rejection::NotAnApprover) => (StatusCode::FORBIDDEN, Rejection::NotAnApprover.as_str()),
            ApiError::Rejected(Rejection::UnknownCase) => (StatusCode::NOT_FOUND, Rejection::UnknownCase.as_str()),
            ApiError::Rejected(r) => (StatusCode::CONFLICT, r.as_str()),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::NoRoute => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(reason, _) => (StatusCode::CONFLICT, reason),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "store.unavailable"),
        }
    }
}

impl From<LifecycleError> for ApiError {
    fn from(e: LifecycleError) -> ApiError {
        match e {
            LifecycleError::Rejected(r) => ApiError::Rejected(r),
            other => ApiError::Unavailable(other.to_string()),
        }
    }
}

impl From<aarm_runtime::store::StoreError> for ApiError {
    fn from(e: aarm_runtime::store::StoreError) -> ApiError {
        ApiError::Unavailable(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, reason) = self.parts();
        if status.is_server_error() {
            tracing::error!(reason, error = %self, "request failed");
        }
        let body = axum::Json(json!({ "reason": reason, "message": self.to_string() }));
        let mut response = (status, body).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response
    }
}
