//! `cargo run --release -p aarm-bench --bin bindings_workload -- RULES DIR`: writes the comparison
//! workload of `compare` (src/equivalent.rs) for the Python and Node benchmarks
//! (benches/bindings/), and times the Rust baseline they are measured against.
//!
//! DIR receives `policy.aarm`, `policy.cedar` and `calls.json` (each call's aarm request, its
//! Cedar request, and the decision the rule model expects). Printed: the median nanoseconds of
//! `Engine::decide_json` per call (request text in, decision out: what a binding does, minus the
//! language) over 11 rounds, as `rust_decide_json_ns N`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use aarm_bench::engines::{aarm_engine, NOW};
use aarm_bench::equivalent::Workload;
use serde_json::json;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rules: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let dir = PathBuf::from(args.get(2).map(String::as_str).unwrap_or("bindings-workload"));
    std::fs::create_dir_all(&dir).unwrap();
    let w = Workload::new(rules);
    let calls = w.calls(1_000, 7);
    std::fs::write(dir.join("policy.aarm"), w.aarm()).unwrap();
    std::fs::write(dir.join("policy.cedar"), w.cedar()).unwrap();
    let out: Vec<_> = calls
        .iter()
        .map(|c| {
            let request: serde_json::Value = serde_json::from_str(&c.aarm_json()).unwrap();
            json!({
                "request": request,
                "cedar": {
                    "principal": "Agent::\"bench-agent\"",
                    "action": format!("Action::\"{}\"", c.tool),
                    "resource": format!("Tool::\"{}\"", c.tool),
                    "context": c.cedar_context(),
                },
                "allow": w.expected(c),
            })
        })
        .collect();
    std::fs::write(dir.join("calls.json"), serde_json::to_string(&out).unwrap()).unwrap();

    let engine = aarm_engine(&w.aarm()).unwrap();
    let texts: Vec<String> = calls.iter().map(|c| c.aarm_json()).collect();
    for (t, c) in texts.iter().zip(&calls) {
        let allowed = engine.decide_json(t, NOW).decision.as_str() == "allow";
        assert_eq!(allowed, w.expected(c), "aarm disagrees with the rule model on {t}");
    }
    let mut rounds: Vec<f64> = (0..11)
        .map(|_| {
            let start = Instant::now();
            let mut n = 0usize;
            while start.elapsed() < Duration::from_millis(100) {
                for t in &texts {
                    black_box(engine.decide_json(black_box(t), NOW));
                }
                n += texts.len();
            }
            start.elapsed().as_nanos() as f64 / n as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    println!("rust_decide_json_ns {:.0}", rounds[rounds.len() / 2]);
}
