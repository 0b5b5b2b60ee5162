//! `cargo run --release -p aarm-bench --bin compare -- [--quick]`: aarm, Cedar and regorus on the
//! same policies and requests (`equivalent.rs`), one line per policy size:
//!
//! ```text
//! compare rules=N aarm_ns=X cedar_ns=Y regorus_ns=Z
//! ```
//!
//! X, Y, Z are median nanoseconds per decision. Each round times every engine on the same cycle
//! of requests, engines in a rotating order, so a slow moment of the machine hits all of them;
//! the median is over rounds. `regorus_ns` is the fastest of regorus's three evaluators (all three
//! are printed on the detail line). Detail lines (indented) give ratios, aarm's figure on a wide
//! list of requests (no request repeats within a pass), the materialized `decide`, request
//! preparation, and build times for each size.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use aarm_bench::engines::{aarm_engine, AarmSide, CedarSide, RegoPath, RegoSide, NOW};
use aarm_bench::equivalent::Workload;
use std::hint::black_box;
use std::time::{Duration, Instant};

const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];
/// Requests in the cycle every engine is timed on.
const CYCLE: usize = 20;
/// Requests in aarm's wide list.
const WIDE: usize = 4_000;

struct Plan {
    rounds: usize,
    /// How long one engine's share of a round should take (at least one pass is always made).
    slice: Duration,
}

/// Passes over `0..n` that take about `slice`, measured with one pass.
fn calibrate(n: usize, slice: Duration, f: &mut dyn FnMut(usize) -> bool) -> usize {
    let start = Instant::now();
    for i in 0..n {
        black_box(f(black_box(i)));
    }
    let one = start.elapsed().max(Duration::from_nanos(1));
    ((slice.as_nanos() / one.as_nanos()) as usize).clamp(1, 1_000_000)
}

/// ns per decision of `passes` passes over `0..n`.
fn time_passes(n: usize, passes: usize, f: &mut dyn FnMut(usize) -> bool) -> f64 {
    let start = Instant::now();
    for _ in 0..passes {
        for i in 0..n {
            black_box(f(black_box(i)));
        }
    }
    start.elapsed().as_nanos() as f64 / (passes * n) as f64
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

/// Medians for each labelled subject, timed in interleaved rounds over `0..n`.
fn interleaved(plan: &Plan, n: usize, subjects: &mut [(&str, &mut dyn FnMut(usize) -> bool)]) -> Vec<f64> {
    let passes: Vec<usize> = subjects.iter_mut().map(|(_, f)| calibrate(n, plan.slice, &mut **f)).collect();
    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(plan.rounds); subjects.len()];
    for round in 0..plan.rounds {
        for k in 0..subjects.len() {
            let j = (k + round) % subjects.len();
            let (_, f) = &mut subjects[j];
            samples[j].push(time_passes(n, passes[j], &mut **f));
        }
    }
    samples.into_iter().map(median).collect()
}

/// `compare --profile RULES`: aarm's evaluate alone on the cycle for 5 s (to run under `perf
/// record` or `valgrind --tool=callgrind`).
fn profile(rules: usize) {
    let w = Workload::new(rules);
    let calls = w.calls(CYCLE, 42);
    let mut aarm = AarmSide::new(&w, &calls).expect("aarm");
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(5) {
        for i in 0..CYCLE {
            black_box(aarm.allow(black_box(i)));
        }
        n += CYCLE as u64;
    }
    println!("profile rules={rules}: {n} decisions, {:.0} ns each", start.elapsed().as_nanos() as f64 / n as f64);
}

/// The median ns of one subject alone over `0..n`, in `plan.rounds` rounds of one slice each.
fn alone(plan: &Plan, n: usize, f: &mut dyn FnMut(usize) -> bool) -> f64 {
    let passes = calibrate(n, plan.slice, f);
    median((0..plan.rounds).map(|_| time_passes(n, passes, f)).collect())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--profile") {
        profile(args.get(at + 1).and_then(|r| r.parse().ok()).unwrap_or(10));
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let plan = if quick {
        Plan { rounds: 5, slice: Duration::from_millis(20) }
    } else {
        Plan { rounds: 11, slice: Duration::from_millis(100) }
    };
    println!(
        "# aarm vs cedar-policy 4 vs regorus 0.14: median ns per decision over {} interleaved rounds, \
         a cycle of {CYCLE} requests ({} mode)",
        plan.rounds,
        if quick { "quick" } else { "full" }
    );
    let mut aarm_at = Vec::new();
    for rules in SIZES {
        let w = Workload::new(rules);
        let calls = w.calls(WIDE, 42);
        let mut aarm = AarmSide::new(&w, &calls).expect("aarm");
        let cedar = CedarSide::new(&w, &calls).expect("cedar");
        let mut rego = RegoSide::new(&w, &calls).expect("regorus");
        let medians = {
            let rego = std::cell::RefCell::new(&mut rego);
            let mut a = |i| aarm.allow(i);
            let mut c = |i| cedar.allow(i);
            let mut r0 = |i| rego.borrow_mut().allow(RegoPath::Interpreter, i);
            let mut r1 = |i| rego.borrow_mut().allow(RegoPath::Compiled, i);
            let mut r2 = |i| rego.borrow_mut().allow(RegoPath::Rvm, i);
            let has_rvm = rego.borrow().has(RegoPath::Rvm);
            let mut subjects: Vec<(&str, &mut dyn FnMut(usize) -> bool)> = vec![
                ("aarm", &mut a),
                ("cedar", &mut c),
                ("eval_rule", &mut r0),
                ("compiled", &mut r1),
                ("rvm", &mut r2),
            ];
            if !has_rvm {
                subjects.pop();
            }
            let mut m = interleaved(&plan, CYCLE, &mut subjects);
            m.resize(5, f64::NAN);
            m
        };
        if let Some(why) = &rego.rvm_error {
            println!("  rules={rules}: regorus rvm not available: {why}");
        }
        let (a, c) = (medians[0], medians[1]);
        let r = medians[2..].iter().copied().filter(|x| x.is_finite()).fold(f64::INFINITY, f64::min);
        println!("compare rules={rules} aarm_ns={a:.0} cedar_ns={c:.0} regorus_ns={r:.0}");
        aarm_at.push(a);
        println!(
            "  rules={rules} tools={}: cedar/aarm {:.0}x, regorus/aarm {:.0}x; regorus eval_rule={:.0} compiled={:.0} rvm={:.0} ns",
            w.tools(),
            c / a,
            r / a,
            medians[2],
            medians[3],
            medians[4]
        );
        let wide = alone(&plan, WIDE, &mut |i| aarm.allow(i));
        let decide = alone(&plan, CYCLE, &mut |i| aarm.decide_allows(i));
        println!("  rules={rules}: aarm over {WIDE} distinct requests {wide:.0} ns; aarm decide (materialized Decision) {decide:.0} ns");
        println!(
            "  rules={rules}: build (policy text to a ready engine) aarm {} ms, cedar {} ms, regorus {} ms; \
             {WIDE} requests prepared: aarm {} ms (JSON text to Request), cedar {} ms (JSON to Context + Request), regorus {} ms (JSON text to Value)",
            ms(aarm.built.policy),
            ms(cedar.built.policy),
            ms(rego.built.policy),
            ms(aarm.built.requests),
            ms(cedar.built.requests),
            ms(rego.built.requests)
        );
    }
    if let (Some(first), Some(last)) = (aarm_at.first(), aarm_at.last()) {
        println!("  growth: aarm at {} rules / at {} rules = {:.2}", SIZES[3], SIZES[0], last / first);
    }
    build_line(&plan);
}

/// Compile, bundle load and request conversion at 10 000 rules, measured separately.
fn build_line(plan: &Plan) {
    let w = Workload::new(10_000);
    let src = w.aarm();
    let start = Instant::now();
    let loaded = aarm_compiler::load_sources(vec![("gateway.aarm".to_string(), src.clone())]);
    let program = aarm_compiler::compile(&loaded).program.expect("compiles");
    let compile = start.elapsed();
    let bytes = aarm_runtime::bundle::encode(&program, None).expect("encode");
    let loads: Vec<Duration> = (0..plan.rounds.min(5))
        .map(|_| {
            let start = Instant::now();
            black_box(aarm_runtime::engine::Engine::load(&bytes, &[], false).expect("load"));
            start.elapsed()
        })
        .collect();
    let load = loads.iter().copied().min().unwrap_or_default();
    let engine = aarm_engine(&src).expect("engine");
    let texts: Vec<String> = w.calls(CYCLE, 7).iter().map(|c| c.aarm_json()).collect();
    let conv = alone(plan, CYCLE, &mut |i: usize| engine.convert(&texts[i], NOW).is_ok());
    println!(
        "build rules=10000 aarm_compile_ms={} aarm_load_ms={} bundle_bytes={} source_bytes={} aarm_convert_ns={conv:.0}",
        ms(compile),
        ms(load),
        bytes.len(),
        src.len()
    );
}
