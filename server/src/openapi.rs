//! The OpenAPI 3.0 document served at `/openapi.json`, written out by hand: it is short, and a
//! test holds it to [`crate::routes::ROUTES`] (the same routes, the same methods, each served).

use serde_json::{json, Map, Value};

fn error_responses(codes: &[(&str, &str)]) -> Map<String, Value> {
    let mut m = Map::new();
    for (code, why) in codes {
        m.insert(
            (*code).to_string(),
            json!({ "description": why, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }),
        );
    }
    m
}

fn op(summary: &str, ok: Value, errors: &[(&str, &str)], extra: Value) -> Value {
    let mut responses = error_responses(errors);
    responses.insert("200".into(), ok);
    let mut o = json!({ "summary": summary, "responses": responses });
    if let (Some(obj), Some(more)) = (o.as_object_mut(), extra.as_object()) {
        for (k, v) in more {
            obj.insert(k.clone(), v.clone());
        }
    }
    o
}

fn json_ok(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema } } })
}

fn case_ref() -> Value {
    json!({ "$ref": "#/components/schemas/Case" })
}

fn id_param() -> Value {
    json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" }, "example": "case-000001" })
}

/// An idempotency key, as a header or a body's `event_id`: 1 to 200 characters (replay.rs).
fn key_schema() -> Value {
    json!({ "type": "string", "minLength": 1, "maxLength": 200 })
}

/// A server-sent event stream whose events are named `names`; each event's `data` is JSON text.
fn sse(description: &str, names: &[&str]) -> Value {
    json!({ "description": description, "content": { "text/event-stream": { "schema": {
        "type": "object", "required": ["data"], "properties": {
            "event": { "type": "string", "enum": names }, "data": { "type": "string" },
            "id": { "type": "string" }, "retry": { "type": "integer" } } } } } })
}

fn idempotency() -> Value {
    json!({ "name": "Idempotency-Key", "in": "header", "required": false, "schema": key_schema(),
            "description": "A retried event with the same key (same caller, endpoint, case and body) is applied once; the retry answers the case as stored. The key used for another call is refused (422)." })
}

const REUSED: (&str, &str) =
    ("422", "`idempotency_key_reused`: the key was used for another call (another body, caller, endpoint or case); nothing changed");

fn body(schema: Value, required: bool) -> Value {
    json!({ "required": required, "content": { "application/json": { "schema": schema } } })
}

const AUTH: (&str, &str) = ("401", "no credential, or one that does not verify; nothing changed");

pub fn document() -> Value {
    let event_errors: &[(&str, &str)] = &[
        AUTH,
        ("403", "not allowed (`not_an_approver`, `not_yourself`, `not_allowed`); nothing changed"),
        ("404", "`unknown_case`"),
        ("400", "`input.invalid`: the body is not UTF-8 or JSON, repeats a key, or holds a number with more digits than a 64-bit float keeps (send it as a string); `bad_request`: an Idempotency-Key or `event_id` that is not 1 to 200 characters, evidence with no fact, an `until` that is not an RFC 3339 time or a `max` cap that is not a number"),
        REUSED,
        ("409", "refused by the lifecycle: `self_approval`, `duplicate_approval`, `case_resolved`, `undeclared_evidence`, `evidence_type`, `identity_invalid`, `evidence_already_provided`, `clock_went_back`, `until_in_past`, `limit_not_allowed`, `limit_below_action`"),
        ("503", "the case store failed; nothing was allowed"),
    ];
    let read_errors: &[(&str, &str)] = &[AUTH, ("403", "not allowed to see this case"), ("404", "`unknown_case`")];
    let wait_errors: &[(&str, &str)] = &[
        AUTH,
        ("403", "not allowed to see this case"),
        ("404", "`unknown_case`"),
        ("400", "`bad_request`: timeout_s is not a number of seconds, 0 or more"),
    ];
    let approve_body = json!({ "type": "object", "properties": {
        "by": { "type": "string", "description": "optional; must be the caller's own identity" },
        "until": { "type": "string", "format": "date-time", "description": "optional (RFC 3339): the approval stops counting then, and the allow it releases expires then at the latest; only narrows, a time not in the future is 409 `until_in_past`" },
        "max": { "type": "object", "additionalProperties": { "type": ["number", "string"] }, "description": "optional caps, `{\"amount\": 5000}`, on parameters the step-up's `limits` lists (else 409 `limit_not_allowed`), each a number or a string holding one, at or above the action's own value (else 409 `limit_below_action`); the released allow carries the smallest cap per parameter as `limits`" },
        "event_id": { "type": "string", "minLength": 1, "maxLength": 200, "description": "as Idempotency-Key" } } });
    let deny_body = json!({ "type": "object", "properties": {
        "why": { "type": "string" }, "by": { "type": "string" }, "event_id": key_schema() } });
    let wait_param = json!({ "name": "timeout_s", "in": "query", "required": false,
        "schema": { "type": "number", "minimum": 0 }, "description": "default 30, at most the server's --max-wait-s" });
    let html = |d: &str, ty: &str| json!({ "description": d, "content": { ty: { "schema": { "type": "string" } } } });
    let public = json!({ "security": [] });

    let paths = json!({
        "/v1/decide": { "post": op("Decide a request; a step_up or defer opens a case (its id in `case`)",
            json_ok("the decision (invalid input is a deny with `input.invalid`; a store failure a deny with `store.unavailable`)",
                json!({ "$ref": "#/components/schemas/Decision" })),
            &[AUTH, ("403", "not an agent, or the request names another agent (`agent_mismatch`), a role its credential does not hold (`roles_not_held`), or a human or service it may not act for (`human_not_allowed`, `service_not_allowed`)"),
              ("400", "`bad_request`: an Idempotency-Key that is not 1 to 200 characters (an invalid request body is not an error but a `deny`)"),
              ("409", "`decide_in_progress`: a call with the same Idempotency-Key is still being decided"),
              ("422", "`input.invalid`: `identity.human` or `identity.agent` has white space at an end, an invisible character, other white space than a space, or letters Unicode normalization (NFKC) changes; or `idempotency_key_reused`: the key was used for another call")],
            json!({ "parameters": [{ "name": "Idempotency-Key", "in": "header", "required": false, "schema": key_schema(),
                        "description": "A retry with the same key (same agent, same body) gets the first answer (the same case) for 24 h; the key used for another call is refused (422)." }],
                    "requestBody": body(json!({ "$ref": "#/components/schemas/Request" }), true) })) },
        "/v1/cases": { "get": op("Cases the caller may see (an approver asking for pending ones: those they may act on)",
            json_ok("cases, in id order", json!({ "type": "array", "items": case_ref() })),
            &[AUTH, ("400", "unknown state")],
            json!({ "parameters": [{ "name": "state", "in": "query", "required": false, "schema": { "type": "string",
                "enum": ["all", "pending", "resolved", "pending_approval", "pending_evidence", "allowed", "modified", "denied", "cancelled"] } }] })) },
        "/v1/cases/{id}": { "get": op("One case", json_ok("the case (as `aarm case show`, plus `resolved`)", case_ref()), read_errors,
            json!({ "parameters": [id_param()] })) },
        "/v1/cases/{id}/wait": { "get": op("Long-poll: answers when the case is resolved or timeout_s passes",
            json_ok("the case", case_ref()), wait_errors, json!({ "parameters": [id_param(), wait_param.clone()] })) },
        "/v1/cases/{id}/events": { "get": op("Server-sent events: the case now and after every change, until resolved",
            sse("`event: case` with the case as data, per change", &["case"]), wait_errors,
            json!({ "parameters": [id_param(), wait_param] })) },
        "/v1/cases/{id}/approve": { "post": op("Approve, as the caller (an approver of the case)",
            json_ok("the case after the approval", case_ref()), event_errors,
            json!({ "parameters": [id_param(), idempotency()], "requestBody": body(approve_body, false) })) },
        "/v1/cases/{id}/deny": { "post": op("Deny, as the caller, with a reason",
            json_ok("the case after the denial", case_ref()), event_errors,
            json!({ "parameters": [id_param(), idempotency()], "requestBody": body(deny_body, false) })) },
        "/v1/cases/{id}/evidence": { "post": op("Provide evidence (the submitting agent); the deferral is re-evaluated against its own bundle",
            json_ok("the case after re-evaluation", case_ref()), event_errors,
            json!({ "parameters": [id_param(), idempotency()],
                    "requestBody": body(json!({ "type": "object", "minProperties": 1, "additionalProperties": true, "example": { "maintenance_window_active": true } }), true) })) },
        "/v1/cases/{id}/cancel": { "post": op("Withdraw a case (the submitting agent or an operator)",
            json_ok("the cancelled case", case_ref()), event_errors,
            json!({ "parameters": [id_param(), idempotency()] })) },
        "/v1/cases/{id}/confirm": { "post": op("The request's `identity.human` answers the question of a `kind = \"confirm\"` evidence source (403 `not_the_requester` for anyone else, 409 `no_question` when none is open)",
            json_ok("the case after re-evaluation", case_ref()), event_errors,
            json!({ "parameters": [id_param(), idempotency()],
                    "requestBody": body(json!({ "type": "object", "required": ["answer"], "properties": { "answer": { "type": "string", "enum": ["confirm", "decline"] } } }), true) })) },
        "/v1/cases/{id}/revalidate": { "post": op("The submitting agent presents its current credential: a release refused as `identity_invalid` (its credential expired) may happen again",
            json_ok("the case", case_ref()), event_errors,
            json!({ "parameters": [id_param(), idempotency()] })) },
        "/v1/cases/{id}/deliveries": { "get": op("Notifications recorded for a case",
            json_ok("deliveries", json!({ "type": "array", "items": { "$ref": "#/components/schemas/Delivery" } })), read_errors,
            json!({ "parameters": [id_param()] })) },
        "/v1/receipts": { "get": op("Receipts of a case (or, for operators, the whole chain)",
            json_ok("receipts in chain order", json!({ "type": "array", "items": { "type": "object" } })),
            &[AUTH, ("403", "not allowed"), ("404", "`unknown_case`")],
            json!({ "parameters": [{ "name": "case", "in": "query", "required": false, "schema": { "type": "string" } }] })) },
        "/v1/inbox": { "get": op("The approver's pending cases, highest risk first, each with its full context, and the questions only they answer (deferrals asking them as the requesting human)",
            json_ok("`{ approver, cases: [{ case, context }], questions: [{ case, context }] }`", json!({ "type": "object" })),
            &[AUTH, ("403", "not an approver")], json!({})) },
        "/v1/inbox/events": { "get": op("Server-sent events: the approver's inbox now and after every change to any case",
            sse("`event: inbox` with `{ approver, cases, questions }` (as `GET /v1/inbox`) as data, per change; `event: error` then the end when the store fails", &["inbox", "error"]),
            &[AUTH, ("403", "not an approver"), ("503", "the case store failed")], json!({})) },
        "/v1/me": { "get": op("Who the credential is", json_ok("`{ id, kind, roles, method }`", json!({ "type": "object" })), &[AUTH], json!({})) },
        "/v1/admin/reload": { "post": op("Reload the bundle file now (operators)",
            json_ok("`{ bundle_hash, previous, changed }`", json!({ "type": "object" })),
            &[AUTH, ("403", "not an operator"), ("400", "the new bundle does not verify; the old one stays")], json!({})) },
        "/metrics": { "get": op("Prometheus metrics, OpenMetrics text (operators; or without credentials on --metrics-listen)",
            html("OpenMetrics text", "application/openmetrics-text"),
            &[AUTH, ("403", "not an operator")], json!({})) },
        "/healthz": { "get": op("Whether the service can decide: the bundle, the store read and written, quarantined cases, connections",
            json_ok("`{ status, bundle_hash, policy, version, quarantined_cases, connections }`", json!({ "type": "object", "properties": {
                "status": { "type": "string", "enum": ["ok", "degraded"] },
                "quarantined_cases": { "type": "array", "items": { "type": "object", "properties": {
                    "id": { "type": "string" }, "message": { "type": "string" } } } },
                "connections": { "type": "object", "properties": { "open": { "type": "integer" }, "max": { "type": "integer" } } } } })),
            &[("503", "`store.unavailable`: the case store cannot be read or written")], public.clone()) },
        "/openapi.json": { "get": op("This document", json_ok("OpenAPI 3", json!({ "type": "object" })), &[], public.clone()) },
        "/inbox": { "get": op("The approver inbox (a web page; it asks for the approver's token)", html("HTML", "text/html"), &[], public.clone()) },
        "/inbox/app.js": { "get": op("The inbox script", html("JavaScript", "text/javascript"), &[], public.clone()) },
        "/inbox/style.css": { "get": op("The inbox style sheet", html("CSS", "text/css"), &[], public.clone()) },
        "/inbox/favicon.svg": { "get": op("The inbox icon", html("SVG", "image/svg+xml"), &[], public) },
        "/v1/decisions/{id}/override": { "post": op("Override a denial (break-glass): a new `allow` of the denied action for the time the policy's `override on TOOL` declaration grants, naming the caller as its authority; the denial is not changed. The caller is the authenticated approver, never a name in the body. The channels the declaration names (`notify`) get an `override_granted` notice",
            json_ok("the override's decision record, with `overrides`, `authority`, `expires_at`, `action_hash` and `receipt`", json!({ "$ref": "#/components/schemas/Decision" })),
            &[AUTH,
              ("403", "`not_an_overrider`: the caller is not an approver holding the declaration's role or named by it; `not_overridable`: the policy declares no override for the tool; `not_yourself`: `by` names someone else"),
              ("404", "`unknown_denial`: no deny with this decision id was answered by this service without a case (an allow, a case's decision or an unknown id)"),
              ("400", "`bad_request`: a field other than the statements, `by` and `event_id`, or a statement longer than 2000 bytes or with a control character; `input.invalid`: the body is not a JSON object"),
              ("409", "`override_active`: this denial is already overridden until that override expires; `override_in_progress`: a call with the same key is still being answered"),
              ("422", "`statement_missing`: a statement the declaration requires (`reason`, `ticket`) is missing or empty; `idempotency_key_reused`"),
              ("503", "the store failed; nothing was granted")],
            json!({ "parameters": [json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" }, "description": "the denial's `decision_id`" }), idempotency()],
                    "requestBody": body(json!({ "type": "object", "properties": {
                        "reason": { "type": "string", "maxLength": 2000 }, "ticket": { "type": "string", "maxLength": 2000 },
                        "by": { "type": "string", "description": "optional; must be the caller's own identity" },
                        "event_id": key_schema() } }), true) })) },
        "/v1/reviews": { "get": op("Overrides waiting for a verdict, oldest first (approvers and operators)",
            json_ok("`{ reviews: [{ id, kind, overrides, author, created_at, expires_at, current, receipt, verdict, decision }] }`", json!({ "type": "object" })),
            &[AUTH, ("403", "`not_a_reviewer`: agents do not review")], json!({})) },
        "/v1/reviews/{id}": { "get": op("One override, reviewed or not, as listed (the link an override's notices carry; approvers and operators)",
            json_ok("`{ id, kind, overrides, author, created_at, expires_at, current, receipt, verdict, decision }`", json!({ "type": "object" })),
            &[AUTH, ("403", "`not_a_reviewer`: agents do not review"), ("404", "`unknown_review`")],
            json!({ "parameters": [json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" }, "description": "the override's `decision_id`" })] })),
            "post": op("Give the verdict on an override: `accept` or `flag`, recorded as a receipt; its author may not review it. A flag is announced (`override_flagged`) on the channels the grant was",
            json_ok("the reviewed override, as listed", json!({ "type": "object" })),
            &[AUTH, ("403", "`self_review`: the caller granted this override; `not_a_reviewer`"),
              ("404", "`unknown_review`"), ("409", "`already_reviewed`: the first verdict stands"),
              ("400", "`bad_request`: no verdict, an unknown field, or a note longer than 2000 bytes"), ("503", "the store failed")],
            json!({ "parameters": [json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" }, "description": "the override's `decision_id`" })],
                    "requestBody": body(json!({ "type": "object", "required": ["verdict"], "properties": {
                        "verdict": { "type": "string", "enum": ["accept", "flag"] }, "note": { "type": "string", "maxLength": 2000 } } }), true) })) },
    });

    json!({
        "openapi": "3.0.3",
        "info": { "title": "aarm serve", "version": env!("CARGO_PKG_VERSION"),
                  "description": "Decisions, approvals and receipts for AI agent actions (server/README.md)." },
        "security": [{ "bearer": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer",
                "description": "A token of serve.toml ([auth.agents], [auth.approvers], [auth.admins]) or a JWT of a configured issuer" } },
            "schemas": {
                "Error": { "type": "object", "required": ["reason", "message"], "properties": {
                    "reason": { "type": "string", "description": "a stable code (docs/lifecycle.md, Refused events, for lifecycle refusals); every error answer, 405, 408, 413 and 431 included, has this shape" },
                    "message": { "type": "string" } } },
                "Request": { "type": "object", "required": ["action"], "properties": {
                    "action": { "type": "object", "required": ["tool"], "properties": {
                        "tool": { "type": "string" }, "operation": { "type": "string" }, "params": { "type": "object" } } },
                    "identity": { "type": "object", "description": "`agent` defaults to the caller's identity and must match it; `session` enables prior_actions accumulation" },
                    "context": { "type": "object" }, "evidence": { "type": "object" } } },
                "Decision": { "type": "object", "required": ["decision", "reason", "policy"], "properties": {
                    "decision": { "type": "string", "enum": ["allow", "deny", "modify", "step_up", "defer"] },
                    "rule": { "type": "string", "nullable": true },
                    "reason": { "type": "object", "properties": { "code": { "type": "string" }, "message": { "type": "string" } } },
                    "policy": { "type": "object" }, "risk": { "type": "string", "nullable": true },
                    "confidence": { "type": "number", "nullable": true },
                    "step_up": { "type": "object", "nullable": true }, "defer": { "type": "object", "nullable": true },
                    "modified_action": { "type": "object", "nullable": true },
                    "overrides": { "type": "string", "description": "on an override only: the decision_id of the denial it overrides" },
                    "authority": { "type": "object", "description": "on an override only: who granted it (`by`), the declaration's `role` (null when it names identities) and the `statements` given",
                        "required": ["by", "role", "statements"], "properties": {
                        "by": { "type": "string" }, "role": { "type": "string", "nullable": true },
                        "statements": { "type": "object", "additionalProperties": { "type": "string" } } } },
                    "error_at": { "type": "object", "description": "present with `eval.error` when the bundle knows where: the expression that failed (`file`, `line`, `col`, `expr`)",
                        "required": ["file", "line", "col", "expr"], "properties": {
                        "file": { "type": "string" }, "line": { "type": "integer" }, "col": { "type": "integer" }, "expr": { "type": "string" } } },
                    "limits": { "type": "object", "description": "on a case's released allow only: the approvers' caps, the smallest per parameter, `{\"params.amount\": {\"max\": \"5000\"}}` (exact decimal text); the released action is within them",
                        "additionalProperties": { "type": "object", "required": ["max"], "properties": { "max": { "type": "string" } } } },
                    "case": { "type": "string", "description": "present when a case opened" },
                    "action_hash": { "type": "string", "description": "`sha256:…` of the action decided (tool, operation, params), what approvals bind to; absent when the body was not JSON" },
                    "receipt": { "type": "string", "description": "the hash of the receipt recording this decision (the case's `open` receipt, or a `decide` receipt); absent only with `store.unavailable`" } } },
                "Case": { "type": "object", "required": ["id", "state", "decision", "resolved"], "properties": {
                    "id": { "type": "string" },
                    "state": { "type": "string", "enum": ["pending_approval", "pending_evidence", "allowed", "modified", "denied", "cancelled"] },
                    "decision": { "$ref": "#/components/schemas/Decision" },
                    "outcome": { "nullable": true, "allOf": [{ "$ref": "#/components/schemas/Decision" }] },
                    "resolved": { "type": "boolean" },
                    "outcome_summary": { "type": "object", "description": "present once resolved: how it ended, in an approver's terms",
                        "required": ["decision", "state", "at", "by", "reason_code", "reason"], "properties": {
                        "decision": { "type": "string", "enum": ["allow", "modify", "deny"] },
                        "state": { "type": "string" }, "at": { "type": "string", "format": "date-time" },
                        "by": { "type": "array", "items": { "type": "string" }, "description": "who decided; empty for a timeout or the policy on new evidence" },
                        "reason_code": { "type": "string" }, "reason": { "type": "string" },
                        "why": { "type": "string", "nullable": true, "description": "the deny reason a vetoing approver gave" } } } } },
                "Delivery": { "type": "object", "properties": {
                    "id": { "type": "integer" }, "case": { "type": "string" }, "trigger": { "type": "string" },
                    "channel": { "type": "string" }, "kind": { "type": "string" },
                    "state": { "type": "string", "enum": ["pending", "delivered", "failed"] },
                    "attempts": { "type": "integer" }, "last_error": { "type": "string", "nullable": true } } }
            }
        }
    })
}
