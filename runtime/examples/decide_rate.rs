//! Decisions per second of `Engine::decide_json` on one thread: the in-process baseline that
//! `benches/http.sh` sets `aarm serve` against, on the same bundle and the same request body.
//!
//! ```sh
//! cargo run --release -p aarm-runtime --example decide_rate -- BUNDLE.aarmb BODY.json [SECONDS]
//! ```
//!
//! Two figures: `decide_json` alone, and `decide_json` plus what the service adds to every
//! answer without touching the network or the store (the decision id and the JSON text).

use std::time::{Duration, Instant};

const NOW: i64 = 1_796_299_200;

/// Runs `step` in blocks of 1 000 until `seconds` have passed; returns calls per second.
fn rate(seconds: f64, mut step: impl FnMut()) -> f64 {
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let mut calls = 0u64;
    while Instant::now() < deadline {
        for _ in 0..1000 {
            step();
        }
        calls += 1000;
    }
    calls as f64 / start.elapsed().as_secs_f64()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(bundle), Some(body)) = (args.get(1), args.get(2)) else {
        return Err("usage: decide_rate BUNDLE.aarmb BODY.json [SECONDS]".into());
    };
    let seconds: f64 = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(5.0);
    let engine = aarm_runtime::Engine::load(&std::fs::read(bundle)?, &[], false)?;
    let body = std::fs::read_to_string(body)?;
    let effect = engine.decide_json(&body, NOW).decision;
    let bare = rate(seconds, || {
        std::hint::black_box(engine.decide_json(std::hint::black_box(&body), NOW));
    });
    let answered = rate(seconds, || {
        let decision = engine.decide_json(std::hint::black_box(&body), NOW).identify();
        std::hint::black_box(serde_json::to_string(&decision).unwrap_or_default());
    });
    println!("decision: {}", effect.as_str());
    println!("in-process decide_json: {bare:.0} decisions/s");
    println!("in-process decide_json + id + JSON text: {answered:.0} decisions/s");
    Ok(())
}
