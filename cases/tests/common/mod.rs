//! Fixtures shared by the store suites: a pending step-up case and receipt drafts for it.
#![allow(clippy::unwrap_used, dead_code)]

use aarm_cases::lifecycle::case::{Case, CaseState};
use aarm_cases::lifecycle::receipt::ReceiptDraft;
use aarm_runtime::decision::{Decision, PolicyRef, Reason};
use serde_json::json;
use std::collections::BTreeMap;

/// A two-of-three step-up decision, as the engine would produce it.
pub fn decision() -> Decision {
    serde_json::from_value(json!({
        "decision": "step_up",
        "rule": "payments.large_transfer",
        "reason": { "code": "payments.large", "message": "transfers over 10000 need two approvers" },
        "policy": { "name": "payments", "version": "1.2.0", "bundle_hash": "sha256:abc" },
        "risk": "high",
        "confidence": null,
        "step_up": {
            "approvers": ["alice", "bob", "carol"],
            "quorum": 2,
            "timeout_s": 3600,
            "on_timeout": "deny",
            "escalate": { "after_s": 600, "to": ["dave"] },
            "veto": true,
            "self_approval": false,
            "risk": "high",
            "notify": ["#payments"]
        },
        "defer": null,
        "modified_action": null
    }))
    .unwrap()
}

/// A new pending case opened at `at` (its id is assigned by the store).
pub fn new_case(at: i64) -> Case {
    Case {
        id: String::new(),
        state: CaseState::PendingApproval,
        request: json!({ "action": { "tool": "bank", "operation": "transfer", "params": { "amount": 25000 } } }),
        action_hash: "sha256:action".into(),
        identity: json!({ "agent": "finance-agent" }),
        bundle_hash: "sha256:abc".into(),
        decision: decision(),
        escalated_from_defer: false,
        tier: 0,
        approvals: vec![],
        denials: vec![],
        extra_approvers: vec![],
        escalated: false,
        evidence: BTreeMap::new(),
        attempts: 0,
        opened_at: at,
        waiting_since: at,
        updated_at: at,
        outcome: None,
        resolution: None,
        released_action: None,
        version: 1,
        credential: None,
        rounds: Default::default(),
        evidence_refs: Vec::new(),
    }
}

/// A receipt draft for `case` with the given event, resulting state, time and detail.
pub fn draft_with(case: &str, event: &str, state: CaseState, at: i64, detail: serde_json::Value) -> ReceiptDraft {
    ReceiptDraft {
        case: case.into(),
        event: event.into(),
        actor: Some("alice".into()),
        state,
        decision: "step_up".into(),
        reason: Reason { code: "payments.large".into(), message: "two approvers".into() },
        policy: PolicyRef::new("payments", "1.2.0", "sha256:abc"),
        action_hash: "sha256:action".into(),
        identity: json!({ "agent": "finance-agent" }),
        at,
        detail,
    }
}

/// A fresh directory for one test under cargo's directory for integration tests' files
/// (`target/tmp`), named `aarm-NAME-XXXXXX` (unique, so parallel tests and runs never share one),
/// removed with everything in it (a store's `-wal` and `-shm` files too) when dropped, also when
/// the test panics.
pub fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("aarm-{name}-")).tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}
