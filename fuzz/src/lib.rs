//! Helpers shared by the fuzz targets: the fixed bundles they run against, built from source at
//! startup with the real compiler (so they always match the current bytecode format).

use aarm_runtime::engine::Engine;
use sha2::{Digest, Sha256};

/// `examples/payments`, as files for [`load_sources`].
pub fn payments_files() -> Vec<(String, String)> {
    vec![
        ("common.aarm".to_string(), include_str!("../../examples/payments/common.aarm").to_string()),
        ("payments.aarm".to_string(), include_str!("../../examples/payments/payments.aarm").to_string()),
        ("payments_test.aarm".to_string(), include_str!("../../examples/payments/payments_test.aarm").to_string()),
    ]
}

/// `examples/payments/request.json`.
pub const PAYMENTS_REQUEST: &str = include_str!("../../examples/payments/request.json");

pub use aarm_testkit::Built;

pub use aarm_testkit::indexed::{POLICY as INDEXED_POLICY, REQUESTS as INDEXED_REQUESTS};




/// Compiles `files` (`aarm_testkit::build_files`); panics (at startup, not inside the fuzz loop)
/// when they do not compile.
pub fn build(files: Vec<(String, String)>) -> Built {
    aarm_testkit::build_files(files).unwrap_or_else(|e| panic!("fuzz fixture: {e}"))
}

/// The engine of a built bundle, loaded from its bytes as a host would.
pub fn load(built: &Built) -> Engine {
    built.engine().unwrap_or_else(|e| panic!("fuzz fixture: {e}"))
}

/// An unsigned bundle split into the hashed header prefix (magic through compiler version and
/// signature flag; the payload length and digest are left out) and the payload.
pub struct Parts<'a> {
    pub prefix: &'a [u8],
    pub payload: &'a [u8],
}

/// Splits an unsigned bundle (the layout of `runtime/src/bundle.rs`, format version 1).
pub fn split_unsigned(bytes: &[u8]) -> Parts<'_> {
    let n = u16::from_le_bytes([bytes[10], bytes[11]]) as usize;
    let flag_at = 12 + n;
    assert_eq!(bytes[flag_at], 0, "fixture bundle is unsigned");
    let prefix_len = flag_at + 1;
    let payload_start = prefix_len + 8 + 32;
    Parts { prefix: &bytes[..prefix_len], payload: &bytes[payload_start..] }
}

/// Reassembles an unsigned bundle with the payload length and SHA-256 recomputed, so that a
/// changed payload reaches the decoder and the bytecode verifier instead of `HashMismatch`.
pub fn reassemble_unsigned(prefix: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + 40 + payload.len());
    out.extend_from_slice(prefix);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    let mut hasher = Sha256::new();
    hasher.update(&out);
    hasher.update(payload);
    let digest: [u8; 32] = hasher.finalize().into();
    out.extend_from_slice(&digest);
    out.extend_from_slice(payload);
    out
}

/// Applies the fuzzer's bytes as mutations: 4 bytes each, `[kind, pos_lo, pos_hi, value]`, the
/// position taken modulo the current length; kind % 4 = 0 xor (value, 0 counts as 0xff), 1
/// insert, 2 delete, 3 overwrite.
pub fn mutate(target: &mut Vec<u8>, ops: &[u8]) {
    for op in ops.chunks_exact(4) {
        let (kind, value) = (op[0] % 4, op[3]);
        let pos = u16::from_le_bytes([op[1], op[2]]) as usize;
        let len = target.len();
        match kind {
            0 if len > 0 => target[pos % len] ^= if value == 0 { 0xff } else { value },
            1 => target.insert(pos % (len + 1), value),
            2 if len > 0 => {
                target.remove(pos % len);
            }
            3 if len > 0 => target[pos % len] = value,
            _ => {}
        }
    }
}
