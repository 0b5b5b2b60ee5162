//! The handlers: authenticate (the [`Caller`] extractor runs before the body is read), call
//! [`crate::cases`], answer JSON.

use crate::app::App;
use crate::auth::Principal;
use crate::cases::{self, Action, StateFilter};
use crate::error::ApiError;
use crate::replay::Key;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::header::{self, AUTHORIZATION};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// The authenticated caller. An unknown or missing credential is a 401 before anything else.
pub struct Caller(pub Principal);

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Caller, ApiError> {
        let header = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
        match app.access.auth.authenticate(header) {
            Ok(p) => Ok(Caller(p)),
            Err(e) => {
                tracing::warn!(path = %parts.uri.path(), error = %e, "unauthenticated call refused");
                Err(ApiError::Unauthenticated(e))
            }
        }
    }
}

/// An authenticated call on one `{id}` (a case, a denial, a review): what the handlers of
/// `/…/{id}` routes all take. The credential is checked before the path is read.
pub struct IdCall {
    app: Arc<App>,
    p: Principal,
    id: String,
}

impl FromRequestParts<Arc<App>> for IdCall {
    // Each part keeps its own refusal (the path's is axum's, shaped by `errors::api_errors`).
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<IdCall, Response> {
        let Caller(p) = Caller::from_request_parts(parts, app).await.map_err(IntoResponse::into_response)?;
        let Path(id) = Path::<String>::from_request_parts(parts, app).await.map_err(IntoResponse::into_response)?;
        Ok(IdCall { app: app.clone(), p, id })
    }
}

impl IdCall {
    /// The case `id`, if the caller may see it.
    async fn case(&self) -> Result<aarm_cases::lifecycle::case::Case, ApiError> {
        cases::get(&self.app.records, &self.app.access, &self.p, &self.id).await
    }

    /// `case` as the caller may see it.
    fn view(&self, case: &aarm_cases::lifecycle::case::Case) -> Value {
        view(&self.app, &self.p, case)
    }

    /// A receiver that changes whenever case `id` does.
    fn subscribe(&self) -> Result<tokio::sync::watch::Receiver<u64>, ApiError> {
        self.app
            .records
            .waiters
            .subscribe(&self.id)
            .ok_or_else(|| ApiError::Unavailable("the waiters lock is poisoned".into()))
    }
}

/// A POST on one `{id}`: the [`IdCall`], its headers and its raw body (read last, once the
/// caller is known).
pub struct IdPost {
    call: IdCall,
    headers: HeaderMap,
    body: Bytes,
}

impl FromRequest<Arc<App>> for IdPost {
    type Rejection = Response;

    async fn from_request(request: Request, app: &Arc<App>) -> Result<IdPost, Response> {
        let (mut parts, body) = request.into_parts();
        let call = IdCall::from_request_parts(&mut parts, app).await?;
        let headers = parts.headers.clone();
        let body =
            Bytes::from_request(Request::from_parts(parts, body), app).await.map_err(IntoResponse::into_response)?;
        Ok(IdPost { call, headers, body })
    }
}

impl IdPost {
    /// The body as a JSON object whose `by` (where an approver acts) is the caller.
    fn fields(&self) -> Result<serde_json::Map<String, Value>, ApiError> {
        let fields = parse_object(&self.body)?;
        check_by(&self.call.p, &fields)?;
        Ok(fields)
    }

    /// The idempotency key of this call to `endpoint`: its event id (from the header, or
    /// `fields`), bound to the caller, the endpoint, the id and the body.
    fn key(&self, endpoint: &str, fields: &serde_json::Map<String, Value>) -> Result<Option<Key>, ApiError> {
        let IdCall { p, id, .. } = &self.call;
        Ok(event_id(&self.headers, fields)?.map(|k| Key::new(k, p, endpoint, id, &self.body)))
    }

    /// Applies `action` to the case and answers the case as the caller may see it.
    async fn act(&self, action: Action, key: Option<Key>) -> Result<Json<Value>, ApiError> {
        let IdCall { app, p, id } = &self.call;
        cases::act(&app.access, &app.records, &app.committed, p, id, action, key)
            .await
            .map(|c| Json(self.call.view(&c)))
    }

    /// What approve, deny, confirm, revalidate and cancel share: the [`IdPost::fields`], the
    /// [`IdPost::key`], the `action` they make, applied.
    async fn event(
        &self,
        endpoint: &str,
        action: impl FnOnce(serde_json::Map<String, Value>) -> Result<Action, ApiError>,
    ) -> Result<Json<Value>, ApiError> {
        let fields = self.fields()?;
        let key = self.key(endpoint, &fields)?;
        self.act(action(fields)?, key).await
    }
}

/// An event's body: empty, or a JSON object read strictly (a repeated key, or a number an f64
/// would round, is `input.invalid`: the case keeps and decides on the tree).
fn parse_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match aarm_runtime::convert::read_exact(body)? {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::BadRequest("the body must be a JSON object".into())),
    }
}

/// `Idempotency-Key` header, or `event_id` in the body: a retried event with it is a no-op.
fn event_id(headers: &HeaderMap, body: &serde_json::Map<String, Value>) -> Result<Option<String>, ApiError> {
    let from_header = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string);
    let from_body = match body.get("event_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ApiError::BadRequest("`event_id` must be a string".into())),
    };
    let id = from_header.or(from_body);
    if id.as_ref().is_some_and(|s| s.is_empty() || s.len() > 200) {
        return Err(ApiError::BadRequest("an event id is 1 to 200 characters".into()));
    }
    Ok(id)
}

/// An approver acts only as themself: a `by` naming anyone else is refused.
fn check_by(p: &Principal, body: &serde_json::Map<String, Value>) -> Result<(), ApiError> {
    match body.get("by") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if aarm_cases::lifecycle::identity::same_identity(s, &p.id) => Ok(()),
        Some(other) => Err(ApiError::forbidden(
            "not_yourself",
            format!("the credential is `{}`'s; it cannot act as {other}", p.id),
        )),
    }
}

pub async fn decide(
    State(app): State<Arc<App>>,
    Caller(p): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let key = event_id(&headers, &serde_json::Map::new())?.map(|id| Key::new(id, &p, "decide", "", &body));
    let parts =
        cases::Deciding { bundle: &app.bundle, access: &app.access, records: &app.records, committed: &app.committed };
    // The answer is JSON text already (what `Json` would have written from a tree).
    let answer = cases::decide_once(parts, &p, &body, key).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], answer).into_response())
}

pub async fn case(call: IdCall) -> Result<Json<Value>, ApiError> {
    call.case().await.map(|c| Json(call.view(&c)))
}

#[derive(Debug, Deserialize)]
pub struct WaitQuery {
    pub timeout_s: Option<f64>,
}

/// The case as `p` may see it ([`cases::view`], under the service's redaction key).
fn view(app: &App, p: &Principal, case: &aarm_cases::lifecycle::case::Case) -> Value {
    cases::view(app.notices.redaction.as_ref(), p, case)
}

/// How long a long-poll may hold the connection: what the caller asked (`default` when it asked
/// nothing), at most the server's `--max-wait-s`. A negative or non-finite `timeout_s` is a 400,
/// not a silent default: a caller that asked for something else should hear so.
fn wait_bound(app: &App, asked: Option<f64>, default: Duration) -> Result<Duration, ApiError> {
    let max = app.options.limits.max_wait;
    match asked {
        None => Ok(default.min(max)),
        Some(s) if s.is_finite() && s >= 0.0 => Ok(Duration::from_secs_f64(s.min(max.as_secs_f64()))),
        Some(s) => Err(ApiError::BadRequest(format!("timeout_s is a number of seconds, 0 or more (got {s})"))),
    }
}

/// Blocks until the case is resolved or the time is up (or the server shuts down), then
/// answers the case.
pub async fn wait(call: IdCall, Query(q): Query<WaitQuery>) -> Result<Json<Value>, ApiError> {
    let deadline = tokio::time::Instant::now() + wait_bound(&call.app, q.timeout_s, Duration::from_secs(30))?;
    // Subscribe before reading, so that a change between the read and the wait is not missed.
    let mut rx = call.subscribe()?;
    loop {
        let case = call.case().await?;
        if case.state.is_resolved() {
            return Ok(Json(call.view(&case)));
        }
        tokio::select! {
            changed = rx.changed() => {
                if changed.is_err() {
                    tokio::time::sleep_until(deadline).await;
                }
            }
            _ = tokio::time::sleep_until(deadline) => return Ok(Json(call.view(&case))),
            _ = call.app.shutdown.cancelled() => return Ok(Json(call.view(&case))),
        }
        if tokio::time::Instant::now() >= deadline {
            let case = call.case().await?;
            return Ok(Json(call.view(&case)));
        }
    }
}

struct Stream {
    call: IdCall,
    rx: tokio::sync::watch::Receiver<u64>,
    deadline: tokio::time::Instant,
    first: bool,
    done: bool,
}

/// Server-sent events: the case now, then again at every change, until it is resolved (or the
/// wait bound passes; the client reconnects).
pub async fn events(call: IdCall, Query(q): Query<WaitQuery>) -> Result<impl IntoResponse, ApiError> {
    call.case().await?;
    let rx = call.subscribe()?;
    let deadline = tokio::time::Instant::now() + wait_bound(&call.app, q.timeout_s, Duration::MAX)?;
    let start = Stream { call, rx, deadline, first: true, done: false };
    let stream = futures_util::stream::unfold(start, |mut s| async move {
        if s.done {
            return None;
        }
        if !s.first {
            tokio::select! {
                changed = s.rx.changed() => if changed.is_err() { return None },
                _ = tokio::time::sleep_until(s.deadline) => return None,
                _ = s.call.app.shutdown.cancelled() => return None,
            }
        }
        s.first = false;
        let event = match s.call.case().await {
            Ok(case) => {
                s.done = case.state.is_resolved();
                SseEvent::default().event("case").json_data(s.call.view(&case)).unwrap_or_default()
            }
            Err(e) => {
                s.done = true;
                SseEvent::default().event("error").data(e.to_string())
            }
        };
        Some((Ok::<_, Infallible>(event), s))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

pub async fn approve(post: IdPost) -> Result<Json<Value>, ApiError> {
    post.event("approve", |body| Ok(Action::Approve { until: approve_until(&body)?, max: approve_max(&body)? })).await
}

/// An approval's optional `until`: an RFC 3339 time.
fn approve_until(body: &serde_json::Map<String, Value>) -> Result<Option<i64>, ApiError> {
    match body.get("until") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => match aarm_runtime::value::parse_time(s) {
            Some(until) => Ok(Some(until)),
            None => Err(ApiError::BadRequest(format!("`until` {s:?} is not an RFC 3339 time"))),
        },
        Some(_) => Err(ApiError::BadRequest("`until` must be an RFC 3339 time (a string)".into())),
    }
}

/// An approval's optional caps, `{"max": {"amount": 5000}}`, read as the bindings read them
/// ([`aarm_cases::lifecycle::limits::caps_of_json`]). Whether the step-up lets approvers cap
/// that parameter, and whether the action is within the cap, is the lifecycle's to say (409).
fn approve_max(body: &serde_json::Map<String, Value>) -> Result<aarm_cases::lifecycle::limits::Caps, ApiError> {
    aarm_cases::lifecycle::limits::caps_of_json(body.get("max").unwrap_or(&Value::Null))
        .map_err(|e| ApiError::BadRequest(e.to_string()))
}

pub async fn deny(post: IdPost) -> Result<Json<Value>, ApiError> {
    post.event("deny", |body| match body.get("why") {
        None | Some(Value::Null) => Ok(Action::Deny { why: None }),
        Some(Value::String(s)) => Ok(Action::Deny { why: Some(s.clone()) }),
        Some(_) => Err(ApiError::BadRequest("`why` must be a string".into())),
    })
    .await
}

/// The body is the facts (`{"NAME": value}`); the event id comes from the header only.
pub async fn evidence(post: IdPost) -> Result<Json<Value>, ApiError> {
    let facts = parse_object(&post.body)?;
    if facts.is_empty() {
        return Err(ApiError::BadRequest("give at least one fact: { \"NAME\": value }".into()));
    }
    let key = post.key("evidence", &serde_json::Map::new())?;
    post.act(Action::Provide(facts), key).await
}

/// The requesting human answers a `confirm` source's question: `{"answer": "confirm"}` or
/// `{"answer": "decline"}`.
pub async fn confirm(post: IdPost) -> Result<Json<Value>, ApiError> {
    post.event("confirm", |body| match body.get("answer").and_then(Value::as_str) {
        Some("confirm") => Ok(Action::Confirm(true)),
        Some("decline") => Ok(Action::Confirm(false)),
        _ => {
            Err(ApiError::BadRequest("give the answer: {\"answer\": \"confirm\"} or {\"answer\": \"decline\"}".into()))
        }
    })
    .await
}

/// The agent presents its current credential: a release refused as `identity_invalid` (the
/// credential it decided with expired) may happen again.
pub async fn revalidate(post: IdPost) -> Result<Json<Value>, ApiError> {
    post.event("revalidate", |_| Ok(Action::Revalidate)).await
}

pub async fn cancel(post: IdPost) -> Result<Json<Value>, ApiError> {
    post.event("cancel", |_| Ok(Action::Cancel)).await
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub state: Option<String>,
}

pub async fn list(
    State(app): State<Arc<App>>,
    Caller(p): Caller,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let filter = StateFilter::parse(q.state.as_deref())?;
    let cases = cases::list(&app.records, &app.access, &p, filter).await?;
    Ok(Json(Value::Array(cases.iter().map(|c| view(&app, &p, c)).collect())))
}

pub async fn deliveries(call: IdCall) -> Result<Json<Value>, ApiError> {
    call.case().await?;
    let list = call.app.notices.outbox.list(&call.id).map_err(ApiError::Unavailable)?;
    Ok(Json(serde_json::to_value(list).unwrap_or(Value::Null)))
}

#[derive(Debug, Deserialize)]
pub struct ReceiptsQuery {
    pub case: Option<String>,
}

pub async fn receipts(
    State(app): State<Arc<App>>,
    Caller(p): Caller,
    Query(q): Query<ReceiptsQuery>,
) -> Result<Json<Value>, ApiError> {
    cases::receipts(&app.records, &app.access, &p, q.case).await.map(Json)
}

pub async fn inbox(State(app): State<Arc<App>>, Caller(p): Caller) -> Result<Json<Value>, ApiError> {
    Ok(Json(cases::inbox(&app.records, &app.access, &app.committed, &p).await?))
}

pub async fn me(Caller(p): Caller) -> Json<Value> {
    Json(json!({ "id": p.id, "kind": p.kind.as_str(), "roles": p.roles, "method": p.method }))
}

pub async fn reload(State(app): State<Arc<App>>, Caller(p): Caller) -> Result<Json<Value>, ApiError> {
    if p.kind != crate::config::Kind::Admin {
        return Err(ApiError::forbidden("not_allowed", "reloading is for operators"));
    }
    let r = crate::reload::reload(&app.bundle, &app.records.cases, &app.sources, &app.telemetry.metrics).await?;
    Ok(Json(serde_json::to_value(r).unwrap_or(Value::Null)))
}

/// `GET /metrics` on the main address: for operators (a scraper gets an admin token, or reads
/// the `--metrics-listen` address instead).
pub async fn metrics(State(app): State<Arc<App>>, Caller(p): Caller) -> Result<axum::response::Response, ApiError> {
    if p.kind != crate::config::Kind::Admin {
        return Err(ApiError::forbidden(
            "not_allowed",
            "metrics are for operators: use an admin token, or scrape the --metrics-listen address",
        ));
    }
    metrics_public(State(app)).await
}

/// `GET /metrics` on the `--metrics-listen` address: no credentials. Open cases are counted
/// from the store now.
pub async fn metrics_public(State(app): State<Arc<App>>) -> Result<axum::response::Response, ApiError> {
    let pending = app.records.cases.run(|lc| Ok(aarm_cases::store::CaseStore::list(lc.store(), true)?)).await?;
    let text = app.telemetry.metrics.render(&pending).map_err(|e| ApiError::Unavailable(format!("metrics: {e}")))?;
    Ok(([(axum::http::header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response())
}

/// Unauthenticated: whether the service can decide, and with which bundle (health.rs).
pub async fn health(State(app): State<Arc<App>>) -> Result<Json<Value>, ApiError> {
    let now = app.clock.now();
    let records = &app.records;
    crate::health::check(app.engine()?, &records.cases, records.probe.clone(), &app.connections, now).await.map(Json)
}

pub async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

pub async fn not_found() -> ApiError {
    ApiError::NoRoute
}

pub async fn method_not_allowed(method: axum::http::Method) -> ApiError {
    ApiError::Http {
        status: axum::http::StatusCode::METHOD_NOT_ALLOWED,
        message: format!("this route does not take {method}: see /openapi.json"),
    }
}

/// `POST /v1/decisions/{id}/override`: the caller (an approver holding the policy's `override`
/// authority) overrides a denial; the body states what the policy requires (`reason`, `ticket`).
pub async fn override_decision(post: IdPost) -> Result<Json<Value>, ApiError> {
    let fields = post.fields()?;
    let key = post.key("override", &fields)?;
    let IdCall { app, p, id } = post.call;
    let call = crate::overrides::OverrideCall { denied: id, body: fields, key };
    crate::overrides::grant(&app.bundle, &app.access, &app.records, &app.notices, &p, call).await.map(Json)
}

/// `GET /v1/reviews`: the overrides waiting for a verdict.
pub async fn reviews(State(app): State<Arc<App>>, Caller(p): Caller) -> Result<Json<Value>, ApiError> {
    crate::overrides::pending(&app.records, &p).await.map(Json)
}

/// `GET /v1/reviews/{id}`: one override and its verdict, if it has one.
pub async fn review_one(call: IdCall) -> Result<Json<Value>, ApiError> {
    crate::overrides::one(&call.app.records, &call.p, &call.id).await.map(Json)
}

/// `POST /v1/reviews/{id}`: `{"verdict": "accept" | "flag", "note": "..."}` on an override.
pub async fn review(post: IdPost) -> Result<Json<Value>, ApiError> {
    let fields = post.fields()?;
    let IdCall { app, p, id } = post.call;
    crate::overrides::review(&app.records, &app.notices, &p, &id, fields).await.map(Json)
}
