//! `cargo run --release -p aarm-bench --bin report`: the figures of the criterion benchmarks,
//! measured without criterion (warm up, then the median of several timed batches), one line per
//! size. Finishes in well under a minute.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use aarm_bench::{gateway_policy, requests, tools_for, typical_request};
use aarm_runtime::engine::Engine;
use aarm_runtime::request::Request;
use aarm_runtime::vm::Vm;
use std::hint::black_box;
use std::time::{Duration, Instant};

const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];
const NOW: i64 = 1_790_000_000;
const REQUESTS: usize = 256;

/// Nanoseconds per operation: `f` runs `ops` operations; calibrated so that a batch takes about
/// `batch` (at least one call), warmed up for one batch, then the median of `batches` batches.
fn measure(ops: usize, batches: usize, batch: Duration, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    f();
    let one = start.elapsed().max(Duration::from_nanos(1));
    let calls = ((batch.as_nanos() / one.as_nanos()).max(1) as usize).min(1_000_000);
    for _ in 0..calls {
        f();
    }
    let mut per_op: Vec<f64> = (0..batches)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..calls {
                f();
            }
            start.elapsed().as_nanos() as f64 / (calls * ops) as f64
        })
        .collect();
    per_op.sort_by(f64::total_cmp);
    per_op[per_op.len() / 2]
}

/// A request of the same shape as the typical one for the last declared tool.
fn last_tool_request(tools: usize) -> String {
    let gw = aarm_bench::Gateway::new(0, tools);
    let params = if tools > 7 {
        serde_json::json!({ "target": "t0/obj", "size": 3, "tags": ["a", "b"] })
    } else {
        serde_json::json!({ "to": ["a@corp.com"], "subject": "[team0] weekly" })
    };
    serde_json::json!({
        "action": { "tool": gw.tool_name(tools - 1), "operation": "execute", "params": params },
        "identity": { "human": "alice@corp.com", "service": "svc-gateway", "agent": "research-agent",
                      "session": "s-81", "roles": ["dev", "reader"] },
        "context": { "original_request": "summarize the open items", "data_classes": ["INTERNAL"],
                     "semantic_distance": 0.2 }
    })
    .to_string()
}

fn compile(src: &str) -> aarm_runtime::program::Program {
    let loaded = aarm_compiler::load_sources(vec![("gateway.aarm".to_string(), src.to_string())]);
    aarm_compiler::compile(&loaded).program.expect("the generated policy compiles")
}

/// `report profile evaluate|decide|convert`: only that operation on the 10 000-rule bundle, in a
/// loop for five seconds (to run under `perf record`).
fn profile(what: &str) {
    let rules = 10_000;
    let tools = tools_for(rules);
    let bytes = aarm_runtime::bundle::encode(&compile(&gateway_policy(rules, tools)), None).expect("encode");
    let engine = Engine::load(&bytes, &[], false).expect("load");
    let reqs: Vec<Request> =
        requests(rules, tools, REQUESTS, 42).iter().map(|j| engine.convert(j, NOW).expect("convert")).collect();
    let typical = typical_request();
    let mut vm = Vm::new();
    let start = Instant::now();
    let mut n = 0usize;
    while start.elapsed() < Duration::from_secs(5) {
        match what {
            "evaluate" => reqs.iter().for_each(|r| {
                black_box(engine.evaluate(r, &mut vm));
            }),
            "decide" => reqs.iter().for_each(|r| {
                black_box(engine.decide(r));
            }),
            "convert" => {
                black_box(engine.convert(&typical, NOW).is_ok());
            }
            other => panic!("unknown operation {other}: evaluate, decide or convert"),
        }
        n += 1;
    }
    println!("profile {what}: {n} rounds");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let (Some("profile"), Some(what)) = (args.get(1).map(String::as_str), args.get(2)) {
        return profile(what);
    }
    let total = Instant::now();
    let batch = Duration::from_millis(150);
    let mut evaluate_at = Vec::new();
    let mut largest: Option<(String, Vec<u8>)> = None;
    for rules in SIZES {
        let tools = tools_for(rules);
        let src = gateway_policy(rules, tools);
        let bytes = aarm_runtime::bundle::encode(&compile(&src), None).expect("encode");
        let engine = Engine::load(&bytes, &[], false).expect("load");
        let reqs: Vec<Request> =
            requests(rules, tools, REQUESTS, 42).iter().map(|j| engine.convert(j, NOW).expect("convert")).collect();
        let mut vm = Vm::new();
        let evaluate_ns = measure(reqs.len(), 7, batch, || {
            for r in &reqs {
                black_box(engine.evaluate(black_box(r), &mut vm));
            }
        });
        let decide_ns = measure(reqs.len(), 7, batch, || {
            for r in &reqs {
                black_box(engine.decide(black_box(r)));
            }
        });
        let typical = typical_request();
        let convert_ns = measure(1, 7, batch, || {
            black_box(engine.convert(black_box(&typical), NOW).is_ok());
        });
        // The typical request names the first declared tool; this one names the last.
        let last = last_tool_request(tools);
        let convert_last_ns = measure(1, 7, batch, || {
            black_box(engine.convert(black_box(&last), NOW).is_ok());
        });
        let per_tool = rules.div_ceil(tools);
        println!(
            "decide rules={rules} tools={tools} rules_per_tool<={per_tool} evaluate_ns={evaluate_ns:.0} \
             decide_ns={decide_ns:.0} convert_ns={convert_ns:.0} convert_last_tool_ns={convert_last_ns:.0}"
        );
        evaluate_at.push((rules, evaluate_ns));
        largest = Some((src, bytes));
    }
    if let Some((src, bytes)) = largest {
        let load_ns = measure(1, 5, batch, || {
            black_box(Engine::load(black_box(&bytes), &[], false).is_ok());
        });
        println!("load rules=10000 bundle_bytes={} load_ns={load_ns:.0} load_ms={:.2}", bytes.len(), load_ns / 1e6);
        let compile_ns = measure(1, 3, Duration::from_millis(1), || {
            black_box(compile(black_box(&src)).rules.len());
        });
        println!(
            "compile rules=10000 source_bytes={} compile_ns={compile_ns:.0} compile_ms={:.1}",
            src.len(),
            compile_ns / 1e6
        );
    }
    let at = |n: usize| evaluate_at.iter().find(|(r, _)| *r == n).map(|(_, ns)| *ns).unwrap_or(f64::NAN);
    println!(
        "ratio evaluate(10000)/evaluate(10)={:.2} evaluate(10000)/evaluate(100)={:.2}",
        at(10_000) / at(10),
        at(10_000) / at(100)
    );
    println!("total_s={:.1}", total.elapsed().as_secs_f64());
}
