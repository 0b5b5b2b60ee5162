//! Errors as the API answers them: a status and `{ "reason": CODE, "message": TEXT }`. Reasons
//! of refused lifecycle events are the stable codes of docs/lifecycle.md, "Refused events".

use crate::auth::AuthError;
use aarm_cases::lifecycle::event::Rejection;
use aarm_cases::lifecycle::service::LifecycleError;
use aarm_cases::overrides::OverrideError;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Every error an API call answers: each has a status and a stable reason code, and is
/// answered as `{ "reason": CODE, "message": TEXT }`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No credential, or one that does not verify: 401, and nothing changes.
    #[error("{0}")]
    Unauthenticated(AuthError),
    /// Authenticated, but not allowed to do this: 403.
    #[error("{message}")]
    Forbidden {
        /// The stable reason code.
        reason: &'static str,
        /// What was refused, and why.
        message: String,
    },
    /// No case with this id: 404.
    #[error("no case {0}")]
    UnknownCase(String),
    /// The lifecycle refused the event: 409 (403 for `not_an_approver`, 404 for `unknown_case`).
    #[error("rejected: {0}")]
    Rejected(Rejection),
    /// A request the service cannot read or act on as sent: 400.
    #[error("{0}")]
    BadRequest(String),
    /// A body that is not UTF-8, not JSON, or repeats a key: 400 `input.invalid` at its path.
    #[error("{0}")]
    InvalidInput(#[from] aarm_runtime::convert::InputError),
    /// An identity in the request that only a mistake or a spoof would send (white space at an
    /// end, an invisible character, full-width letters): 422 `input.invalid`, nothing recorded
    /// (see `aarm_cases::lifecycle::identity::check`).
    #[error("{path}: {source}; send the identity exactly as the identity provider spells it")]
    IdentityRefused {
        /// Where in the request (`identity.agent`, `identity.human`).
        path: &'static str,
        /// Why it is refused.
        source: aarm_cases::lifecycle::identity::IdentityRefused,
    },
    /// An idempotency key already used by another caller, endpoint, case or body: 422, and
    /// nothing changes (replay.rs).
    #[error("{0}")]
    KeyReused(String),
    /// No route has this path: 404.
    #[error("no such route: see /openapi.json")]
    NoRoute,
    /// 409 with a reason of the service's own (not a lifecycle refusal).
    #[error("{1}")]
    Conflict(&'static str, String),
    /// The store or a bundle failed: 503, fail closed (nothing was allowed).
    #[error("{0}")]
    Unavailable(String),
    /// An answer of the HTTP layers (a method a route does not take, a body or head too large, a
    /// time limit, a query or path that does not parse), in the API's shape.
    #[error("{message}")]
    Http {
        /// The layer's status.
        status: StatusCode,
        /// What it said, or what its status means.
        message: String,
    },
    /// 404 with a reason of the service's own (an unknown denial or review).
    #[error("{1}")]
    NotFound(&'static str, String),
    /// 422 with a reason of the service's own (a statement the policy requires is missing).
    #[error("{1}")]
    Unprocessable(&'static str, String),
}

/// The reason of an HTTP layer's answer, by status.
fn http_reason(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "headers_too_large",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    }
}

impl ApiError {
    /// A 403 with `reason`.
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
            ApiError::InvalidInput(_) => (StatusCode::BAD_REQUEST, aarm_runtime::decision::codes::INPUT_INVALID),
            ApiError::IdentityRefused { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, aarm_runtime::decision::codes::INPUT_INVALID)
            }
            ApiError::KeyReused(_) => (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused"),
            ApiError::NoRoute => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(reason, _) => (StatusCode::CONFLICT, reason),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "store.unavailable"),
            ApiError::Http { status, .. } => (*status, http_reason(*status)),
            ApiError::NotFound(reason, _) => (StatusCode::NOT_FOUND, reason),
            ApiError::Unprocessable(reason, _) => (StatusCode::UNPROCESSABLE_ENTITY, reason),
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

impl From<OverrideError> for ApiError {
    fn from(e: OverrideError) -> ApiError {
        let code = e.code();
        let message = e.to_string();
        match e {
            OverrideError::UnknownDenial(_) | OverrideError::UnknownReview(_) => ApiError::NotFound(code, message),
            OverrideError::NotDeclared(_) | OverrideError::NotAnOverrider(_) | OverrideError::SelfReview { .. } => {
                ApiError::forbidden(code, message)
            }
            OverrideError::StatementMissing(_) => ApiError::Unprocessable(code, message),
            OverrideError::Invalid(_) => ApiError::BadRequest(message),
            OverrideError::NothingToOverride(_)
            | OverrideError::Active { .. }
            | OverrideError::AlreadyReviewed { .. } => ApiError::Conflict(code, message),
            OverrideError::Unreadable(_) | OverrideError::Store(_) => ApiError::Unavailable(message),
            OverrideError::Lifecycle(e) => ApiError::from(e),
        }
    }
}

impl From<aarm_cases::store::StoreError> for ApiError {
    fn from(e: aarm_cases::store::StoreError) -> ApiError {
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
