//! What every database-backed store does the same way with its rows: number conversions, the
//! JSON a case or receipt is kept as, and the quarantine of case rows that do not decode.

use super::StoreError;
use crate::lifecycle::case::Case;
use crate::lifecycle::receipt::Receipt;
use std::collections::{BTreeMap, BTreeSet};

pub(super) fn to_i64(n: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Backend(format!("{what} {n} does not fit the store")))
}

pub(super) fn to_u64(n: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Backend(format!("stored {what} {n} is negative")))
}

pub(super) fn case_json(case: &Case) -> Result<String, StoreError> {
    serde_json::to_string(case).map_err(|e| StoreError::Backend(format!("cannot encode case {}: {e}", case.id)))
}

pub(super) fn parse_case(json: &str) -> Result<Case, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Backend(format!("stored case is not valid: {e}")))
}

pub(super) fn parse_receipt(json: &str) -> Result<Receipt, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Backend(format!("stored receipt is not valid: {e}")))
}

/// The JSON a receipt is kept as: `serde_json::to_string(receipt)`, written by
/// `receipts::text::row` without serde's flattened map (its tests hold it to serde_json's text).
pub(super) fn receipt_json(receipt: &Receipt) -> String {
    crate::receipts::text::row(receipt)
}

/// A stored case that cannot be read (its JSON does not decode): skipped by `list`, refused by
/// `get`, and reported here until a read finds it readable again.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unreadable {
    /// The case's id.
    pub id: String,
    /// Why its row does not decode.
    pub message: String,
}

/// The unreadable cases met so far, and which of them were already reported.
#[derive(Debug, Default)]
pub(super) struct Quarantine {
    cases: BTreeMap<String, String>,
    reported: BTreeSet<String>,
}

impl Quarantine {
    /// Decodes a case row read by `id`: an undecodable one is quarantined and
    /// [`StoreError::Unreadable`]; a readable one leaves quarantine.
    pub(super) fn decode(&mut self, id: &str, json: &str) -> Result<Case, StoreError> {
        match parse_case(json) {
            Ok(case) => {
                self.cases.remove(id);
                self.reported.remove(id);
                Ok(case)
            }
            Err(e) => {
                let message = e.to_string();
                self.cases.insert(id.to_string(), message.clone());
                Err(StoreError::Unreadable { id: id.to_string(), message })
            }
        }
    }

    /// Decodes the `(id, json)` rows of a listing, the unreadable ones skipped.
    pub(super) fn decode_listing(&mut self, rows: Vec<(String, String)>) -> Vec<Case> {
        rows.into_iter().filter_map(|(id, json)| self.decode(&id, &json).ok()).collect()
    }

    /// Every quarantined case, in id order.
    pub(super) fn all(&self) -> Vec<Unreadable> {
        self.cases.iter().map(|(id, message)| Unreadable { id: id.clone(), message: message.clone() }).collect()
    }

    /// The quarantined cases not returned by an earlier call: what a host should log now.
    pub(super) fn newly(&mut self) -> Vec<Unreadable> {
        let fresh: Vec<Unreadable> = self
            .cases
            .iter()
            .filter(|(id, _)| !self.reported.contains(*id))
            .map(|(id, message)| Unreadable { id: id.clone(), message: message.clone() })
            .collect();
        self.reported.extend(fresh.iter().map(|u| u.id.clone()));
        fresh
    }
}
