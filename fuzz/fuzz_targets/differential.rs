//! Target (4): the compiled VM against the reference interpreter on generated programs.
//!
//! Structure-aware: the fuzzer's bytes drive an `arbitrary::Unstructured` through the grammar of
//! `aarm_testkit::generate` (the one `compiler/tests/differential.rs` runs under proptest): the
//! first byte picks a general policy (settings, 1–7 rules over a fixed schema, conditions of every
//! type up to depth 4, every decision kind, sometimes two files of two policies) or one of the rule
//! index's shape (8–39 same-shape rules on one tool); then 1–4 requests. When the checker accepts
//! the policy, `aarm_testkit::differential` must hold on every request the converter accepts: the
//! engine, the engine without the rule index, the engine without fusion and the interpreter
//! decide alike, and every evaluation error names its expression.
#![no_main]

use aarm_fuzz as _;
use aarm_testkit::differential::Engines;
use aarm_testkit::generate;
use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use std::sync::atomic::{AtomicU64, Ordering};

/// Nesting depth of the general policies' conditions.
const DEPTH: u32 = 4;

fn case(u: &mut Unstructured<'_>) -> Result<(String, Vec<String>)> {
    let src = if u.ratio(1, 5)? { generate::indexed_policy(u)? } else { generate::policy(u, DEPTH)? };
    let n = u.int_in_range(1usize..=4)?;
    let requests = (0..n).map(|_| generate::request(u)).collect::<Result<Vec<_>>>()?;
    Ok((src, requests))
}

/// Inputs, generated policies, checked policies, compared decisions (`AARM_FUZZ_STATS=1` prints
/// them every 10 000 inputs, the checker's rejections with `AARM_FUZZ_STATS=2`, every generated
/// policy and request with `AARM_FUZZ_STATS=3`).
static STATS: [AtomicU64; 4] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

fn count(i: usize) {
    let n = STATS[i].fetch_add(1, Ordering::Relaxed);
    if i == 0 && n % 10_000 == 9_999 && std::env::var_os("AARM_FUZZ_STATS").is_some() {
        let s: Vec<u64> = STATS.iter().map(|a| a.load(Ordering::Relaxed)).collect();
        eprintln!("stats: inputs {} generated {} checked {} compared {}", s[0], s[1], s[2], s[3]);
    }
}

fuzz_target!(|data: &[u8]| {
    count(0);
    let mut u = Unstructured::new(data);
    let Ok((src, requests)) = case(&mut u) else { return };
    count(1);
    if std::env::var("AARM_FUZZ_STATS").is_ok_and(|v| v == "3") {
        eprintln!("policy:\n{src}\nrequests: {requests:#?}");
    }
    let engines = match Engines::new(&src) {
        Ok(e) => e,
        Err(aarm_testkit::BuildError::Check(why)) => {
            if std::env::var("AARM_FUZZ_STATS").is_ok_and(|v| v == "2") {
                eprintln!("rejected: {why}");
            }
            return;
        }
        Err(e) => panic!("a checked policy did not become an engine: {e}\n{src}"),
    };
    count(2);
    for json in &requests {
        match engines.compare(&src, json) {
            Ok(Some(_)) => count(3),
            Ok(None) => {}
            Err(e) => panic!("{e}"),
        }
    }
});
