//! A receipts export and its head: what `aarm receipts export` writes and `aarm receipts verify`
//! checks for completeness.
//!
//! An export is JSON lines: the receipts (the whole chain, or one case's), then one last line
//! `{"export_head": {...}}` that states what the export holds — the case (absent for the whole
//! chain), how many receipts, the hash of the last one, and the store's chain head when it was
//! made — hashed like a receipt and signed with the store's receipt key when the exporter has it.
//!
//! Why a head: hashes and links show a receipt edited, reordered, or removed from between two
//! others, but nothing inside a list of receipts can show that the list was cut short — that the
//! final veto of a case was dropped. The head names the count and the last hash, and its
//! signature means only the key holder can restate them. Per-case links (`case_seq`,
//! `case_prev` in every case receipt) show a receipt of the case missing from the middle even
//! though other cases' receipts legitimately leave gaps in `seq`.
//!
//! What it cannot show: receipts appended to the case after the export was made (the head's
//! `chain_seq` says how far the store's chain went), and — without signatures checked against a
//! trusted key — anything at all against someone who rewrites the file, since anyone can compute
//! SHA-256.

use crate::lifecycle::receipt::{Receipt, ReceiptSignature};
use crate::receipts::{self, ChainError, VerifyOptions, VerifyReport, GENESIS};
use aarm_runtime::bundle;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier};
use serde::{Deserialize, Serialize};

/// What an export head signature signs, before the bytes of the head's `hash` string (so that
/// it can never pass for a receipt signature, whose context differs).
pub(crate) const HEAD_SIGNATURE_CONTEXT: &[u8] = b"aarm export head v1\0";

/// The key of the line that carries the head.
const HEAD_KEY: &str = "export_head";

/// The last line of an export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportHead {
    /// The case whose receipts the export holds; absent for the whole chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    /// How many receipts the export holds.
    pub count: u64,
    /// The hash of its last receipt ([`GENESIS`] when it holds none).
    pub last: String,
    /// The store's chain head (`seq` and hash) when the export was made: receipts after it are
    /// not covered.
    pub chain_seq: u64,
    /// The hash of the receipt at `chain_seq` (the chain's genesis when the store held none).
    pub chain_head: String,
    /// `sha256:<hex>` of the head's canonical JSON without `hash` and `signature`.
    pub hash: String,
    /// Ed25519 over [`HEAD_SIGNATURE_CONTEXT`] and `hash`, with the store's receipt key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<ReceiptSignature>,
}

fn head_hash(head: &ExportHead) -> String {
    receipts::sealed_hash(head)
}

fn signed_message(hash: &str) -> Vec<u8> {
    let mut m = HEAD_SIGNATURE_CONTEXT.to_vec();
    m.extend_from_slice(hash.as_bytes());
    m
}

/// The head of an export of `receipts` (one case's when `case` is given), made when the store's
/// chain ended at `chain` (`seq`, hash; `None` for an empty store).
pub fn make_head(
    receipts: &[Receipt],
    case: Option<&str>,
    chain: Option<(u64, String)>,
    signer: Option<&SigningKey>,
) -> ExportHead {
    let (chain_seq, chain_head) = chain.unwrap_or((0, GENESIS.to_string()));
    let mut head = ExportHead {
        case: case.map(str::to_string),
        count: u64::try_from(receipts.len()).unwrap_or(u64::MAX),
        last: receipts.last().map_or_else(|| GENESIS.to_string(), |r| r.hash.clone()),
        chain_seq,
        chain_head,
        hash: String::new(),
        signature: None,
    };
    head.hash = head_hash(&head);
    head.signature = signer.map(|key| ReceiptSignature {
        key_id: bundle::key_id(&key.verifying_key()),
        sig: hex::encode(key.sign(&signed_message(&head.hash)).to_bytes()),
    });
    head
}

/// The export as JSON lines: the receipts, then the head.
pub fn to_json_lines(receipts: &[Receipt], head: &ExportHead) -> String {
    let mut out = receipts::to_json_lines(receipts);
    let line = serde_json::json!({ HEAD_KEY: head });
    out.push_str(&line.to_string());
    out.push('\n');
    out
}

/// Splits an export into its receipts and its head (the last non-blank line, when it is one).
/// A head anywhere else, or a malformed one, is [`ChainError::Malformed`].
pub fn from_json_lines(text: &str) -> Result<(Vec<Receipt>, Option<ExportHead>), ChainError> {
    let is_head = |line: &str| serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| v.get(HEAD_KEY).is_some());
    let mut lines: Vec<&str> = text.lines().collect();
    let last = lines.iter().rposition(|l| !l.trim().is_empty());
    let head_at = last.filter(|&i| lines.get(i).is_some_and(|l| is_head(l)));
    let head = match head_at {
        None => None,
        Some(i) => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Line {
                export_head: ExportHead,
            }
            let line = i.saturating_add(1);
            let parsed: Line = serde_json::from_str(lines.get(i).copied().unwrap_or_default())
                .map_err(|e| ChainError::Malformed { line, message: format!("export head: {e}") })?;
            // Blank, the line keeps the receipts' line numbers in errors.
            if let Some(l) = lines.get_mut(i) {
                *l = "";
            }
            Some(parsed.export_head)
        }
    };
    if let Some(i) = lines.iter().position(|l| is_head(l)) {
        let line = i.saturating_add(1);
        return Err(ChainError::Malformed { line, message: "the export head must be the last line".into() });
    }
    Ok((receipts::from_json_lines(&lines.join("\n"))?, head))
}

/// Why an export is not complete, on top of [`ChainError`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExportError {
    /// The receipts themselves fail verification (a hash, link, order or signature).
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The last line is not an export head: what was left out cannot be known, so the export
    /// is refused rather than trusted.
    #[error(
        "the export has no head (its last line, `export_head`): whether receipts were left out cannot be \
         checked; export it again with `aarm receipts export`"
    )]
    NoHead,
    /// The head's content does not hash to its `hash`: it was changed after the export.
    #[error("the export head was edited: its content does not match its hash")]
    HeadEdited,
    /// The head's signature does not verify, or its key is not one the verifier trusts.
    #[error("the export head has an invalid signature, or is signed by a key that is not among the given keys")]
    HeadBadSignature,
    /// Signatures were required (keys were given) and the head carries none.
    #[error("the export head is not signed, and signatures are required")]
    HeadUnsigned,
    #[error("the export head promises {expected} receipts ending at {expected_last}, the file has {found}: receipts were removed or added")]
    /// The file does not hold what the head promises: receipts were removed or added.
    Incomplete {
        /// How many receipts the head says the export holds.
        expected: u64,
        /// The hash the head names as the last receipt's.
        expected_last: String,
        /// How many receipts the file holds.
        found: u64,
    },
    #[error("receipt seq {seq} belongs to {found}, not to the exported case {case}")]
    /// A one-case export holds a receipt of another case (or of no case).
    ForeignReceipt {
        /// The receipt's position in the store's chain.
        seq: u64,
        /// The case the export is of.
        case: String,
        /// The case the receipt belongs to (empty for a `decide` receipt).
        found: String,
    },
    #[error(
        "receipt seq {seq} is not the case's receipt number {expected} linked to the one before it: \
         a receipt of the case is missing, reordered or inserted"
    )]
    /// A one-case export's receipts do not follow each other: one is missing, reordered or
    /// inserted.
    CaseLink {
        /// The receipt's position in the store's chain.
        seq: u64,
        /// Its expected number among the case's receipts.
        expected: u64,
    },
}

/// Verifies an export for integrity and completeness: every receipt as
/// [`receipts::verify_chain`] (whole chain, from its beginning) or
/// [`receipts::verify_subsequence`] (one case) checks it; for a case, every receipt is the
/// case's and its per-case links are consecutive from the case's first receipt; the head
/// recomputes, is signed by one of `opts.keys` when keys are given (and must be signed when
/// signatures are required), and names exactly the receipts present (count and last hash).
pub fn verify_export(
    receipts: &[Receipt],
    head: Option<&ExportHead>,
    opts: &VerifyOptions,
) -> Result<VerifyReport, ExportError> {
    let head = head.ok_or(ExportError::NoHead)?;
    check_head(head, opts)?;
    let report = match &head.case {
        None => {
            let opts = VerifyOptions { from_genesis: true, ..*opts };
            receipts::verify_chain(receipts, &opts)?
        }
        Some(case) => {
            let report = receipts::verify_subsequence(receipts, opts)?;
            check_case_links(receipts, case)?;
            report
        }
    };
    let found = u64::try_from(receipts.len()).unwrap_or(u64::MAX);
    if found != head.count || report.head != head.last {
        return Err(ExportError::Incomplete { expected: head.count, expected_last: head.last.clone(), found });
    }
    Ok(report)
}

fn check_head(head: &ExportHead, opts: &VerifyOptions) -> Result<(), ExportError> {
    if head_hash(head) != head.hash {
        return Err(ExportError::HeadEdited);
    }
    match &head.signature {
        None if opts.require_signatures => Err(ExportError::HeadUnsigned),
        None => Ok(()),
        Some(_) if opts.keys.is_empty() => Ok(()),
        Some(s) => {
            let key = opts.keys.iter().find(|k| bundle::key_id(k) == s.key_id).ok_or(ExportError::HeadBadSignature)?;
            let bytes = hex::decode(&s.sig).map_err(|_| ExportError::HeadBadSignature)?;
            let sig = Signature::from_slice(&bytes).map_err(|_| ExportError::HeadBadSignature)?;
            key.verify(&signed_message(&head.hash), &sig).map_err(|_| ExportError::HeadBadSignature)
        }
    }
}

/// One case's receipts, in order: all of `case`, and each that carries a per-case link is the
/// case's receipt number (its position, from 1) and links to the one before it. Receipts written
/// before per-case links existed carry none; once one does, every later one must.
fn check_case_links(receipts: &[Receipt], case: &str) -> Result<(), ExportError> {
    let mut linked = false;
    let mut prev = GENESIS;
    for (i, r) in receipts.iter().enumerate() {
        if r.body.case != case {
            return Err(ExportError::ForeignReceipt { seq: r.seq, case: case.to_string(), found: r.body.case.clone() });
        }
        let expected = u64::try_from(i).unwrap_or(u64::MAX).saturating_add(1);
        match (&r.case_seq, &r.case_prev) {
            (Some(n), Some(p)) if *n == expected && p == prev => linked = true,
            (None, None) if !linked => {}
            _ => return Err(ExportError::CaseLink { seq: r.seq, expected }),
        }
        prev = &r.hash;
    }
    Ok(())
}
