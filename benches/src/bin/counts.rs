//! `counts SCENARIO ITERATIONS`: runs one hot path `ITERATIONS` times over a fixed cycle of
//! requests, for `valgrind --tool=callgrind` (`benches/callgrind.sh` runs it twice and reports the
//! instructions per operation as the difference, so that setup — compiling the policy, loading
//! the bundle — cancels out). Instruction counts are repeatable whatever else the machine runs,
//! unlike nanoseconds.
//!
//! Scenarios:
//! - `decide10`: `Engine::decide` (the materialized decision) on `compare`'s workload at 10 rules
//!   (`decide100` at 100, and so on for every scenario ending in a rule count);
//! - `evaluate10`: `Engine::evaluate` on the same;
//! - `json10`: `Engine::decide_json` (JSON text → decision) on the same calls' text;
//! - `tree10`: the same through the reference reader (`convert::read_tree`: the text parsed into
//!   a `serde_json::Value`, then converted), which was `decide_json`'s only path before the
//!   one-pass reader (`decode.rs`);
//! - `tool_decide_N`, `tool_evaluate_N`: the per-tool workload (`per_tool.rs`) with `N` rules on
//!   each of 50 tools;
//! - `gateway_decide_N`, `gateway_evaluate_N`: `report`'s richer gateway (`Gateway`, in `lib.rs`)
//!   with `N` rules over `tools_for(N)` tools.
//!
//! With `UNINDEXED=1` in the environment the engine runs without the rule index
//! (`Engine::unindexed`): every candidate of a tool is evaluated, as before the index existed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use aarm_bench::engines::aarm_engine;
use aarm_bench::equivalent::Workload;
use aarm_bench::per_tool::PerTool;
use aarm_bench::{tools_for, Gateway};
use aarm_runtime::convert::{read_tree, Limits};
use aarm_runtime::engine::Engine;
use aarm_runtime::request::Request;
use aarm_runtime::vm::Vm;
use std::hint::black_box;

const NOW: i64 = 1_790_000_000;
/// The cycle of distinct requests each scenario walks (as `compare` does).
const CYCLE: usize = 20;

fn run(engine: Engine, texts: &[String], what: &str, iterations: usize) {
    let engine = if std::env::var_os("UNINDEXED").is_some() { engine.unindexed() } else { engine };
    let reqs: Vec<Request> = texts.iter().map(|j| engine.convert(j, NOW).expect("convert")).collect();
    let mut vm = Vm::new();
    for i in 0..iterations {
        let k = i % CYCLE;
        match what {
            "decide" => {
                black_box(engine.decide(black_box(&reqs[k])));
            }
            "evaluate" => {
                black_box(engine.evaluate(black_box(&reqs[k]), &mut vm));
            }
            "json" => {
                black_box(engine.decide_json(black_box(&texts[k]), NOW));
            }
            "tree" => {
                let schema = &engine.program().schema;
                match read_tree(schema, black_box(&texts[k]), NOW, &Limits::default()) {
                    Ok(req) => black_box(engine.decide(&req)),
                    Err(e) => black_box(engine.input_invalid(&e, NOW)),
                };
            }
            other => panic!("unknown operation {other}"),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(scenario), Some(iterations)) = (args.get(1), args.get(2).and_then(|n| n.parse::<usize>().ok())) else {
        eprintln!("usage: counts decideN|evaluateN|jsonN|treeN|tool_decide_N|tool_evaluate_N|gateway_decide_N|gateway_evaluate_N ITERATIONS");
        std::process::exit(2);
    };
    if let Some(rest) = scenario.strip_prefix("gateway_") {
        let (what, n) = rest.rsplit_once('_').expect("gateway_OP_N");
        let rules: usize = n.parse().expect("N");
        let g = Gateway::new(rules, tools_for(rules));
        let engine = aarm_engine(&g.policy()).expect("engine");
        run(engine, &g.requests(CYCLE, 7), what, iterations);
    } else if let Some(rest) = scenario.strip_prefix("tool_") {
        let (what, n) = rest.rsplit_once('_').expect("tool_OP_N");
        let w = PerTool::new(n.parse().expect("N"));
        let engine = aarm_engine(&w.policy()).expect("engine");
        run(engine, &w.requests(CYCLE, 7), what, iterations);
    } else if let Some(at) = scenario.find(|c: char| c.is_ascii_digit()) {
        let (what, n) = scenario.split_at(at);
        let w = Workload::new(n.parse().expect("N"));
        let texts: Vec<String> = w.calls(CYCLE, 7).iter().map(|c| c.aarm_json()).collect();
        let engine = aarm_engine(&w.aarm()).expect("engine");
        run(engine, &texts, what, iterations);
    } else {
        eprintln!("unknown scenario {scenario}");
        std::process::exit(2);
    }
}
