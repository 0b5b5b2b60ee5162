//! Conformance through the service: one test per requirement row of `docs/conformance.md` that
//! `aarm serve` shows — the real server on loopback, its SQLite store, webhook, Slack and SMTP
//! receivers, and the test's own clock (`Deployment::advance`). Each test is named by its row;
//! `tests/conformance/table.rs` (the root package) holds the table and these files to each other.
//!
//! Only public surfaces are used (HTTP, the receipts' JSON, `aarm_cases::receipts`), so that
//! refactors of the server's internals do not move these tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

#[path = "conformance/aarm.rs"]
mod aarm;
#[path = "conformance/approval.rs"]
mod approval;
#[path = "conformance/contract.rs"]
mod contract;
#[path = "conformance/deferral.rs"]
mod deferral;

pub use common::case_id;
use common::Deployment;
use serde_json::Value;

/// Every receipt of case `id`, in chain order, as the operator reads them.
pub async fn receipts_of(d: &Deployment, id: &str) -> Vec<Value> {
    let (status, body) = d.get(&format!("/v1/receipts?case={id}"), "tok-ops").await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

/// The case as `who` sees it.
pub async fn case_as(d: &Deployment, id: &str, who: &str) -> Value {
    let (status, case) = d.get(&format!("/v1/cases/{id}"), who).await;
    assert_eq!(status, 200, "{case}");
    case
}
