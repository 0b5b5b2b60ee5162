//! Criterion benchmarks of one decision on generated gateway policies of 10 to 10 000 rules:
//! `evaluate` (the allocation-free hot path, one reused `Vm`), `decide` (the materialized
//! decision), `convert` (JSON → request), `Engine::load` and compilation of the largest bundle;
//! and `json_10`: JSON text → decision (`decide_json`) against `decide` on `compare`'s workload
//! at 10 rules, the two in the same run (`cargo bench -p aarm-bench --bench decide -- json_10`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use aarm_bench::engines::aarm_engine;
use aarm_bench::equivalent::Workload;
use aarm_bench::{gateway_policy, requests, tools_for, typical_request};
use aarm_runtime::engine::Engine;
use aarm_runtime::request::Request;
use aarm_runtime::vm::Vm;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;

const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];
const NOW: i64 = 1_790_000_000;
const REQUESTS: usize = 256;

fn compile(rules: usize) -> aarm_runtime::program::Program {
    let src = gateway_policy(rules, tools_for(rules));
    let loaded = aarm_compiler::load_sources(vec![("gateway.aarm".to_string(), src)]);
    aarm_compiler::compile(&loaded).program.expect("the generated policy compiles")
}

fn bundle(rules: usize) -> Vec<u8> {
    aarm_runtime::bundle::encode(&compile(rules), None).expect("encode")
}

fn decisions(c: &mut Criterion) {
    for rules in SIZES {
        let engine = Engine::load(&bundle(rules), &[], false).expect("load");
        let reqs: Vec<Request> = requests(rules, tools_for(rules), REQUESTS, 42)
            .iter()
            .map(|j| engine.convert(j, NOW).expect("convert"))
            .collect();
        let mut group = c.benchmark_group(format!("rules_{rules}"));
        group.throughput(Throughput::Elements(REQUESTS as u64));
        let mut vm = Vm::new();
        group.bench_function("evaluate", |b| {
            b.iter(|| {
                for r in &reqs {
                    black_box(engine.evaluate(black_box(r), &mut vm));
                }
            })
        });
        group.bench_function("decide", |b| {
            b.iter(|| {
                for r in &reqs {
                    black_box(engine.decide(black_box(r)));
                }
            })
        });
        group.throughput(Throughput::Elements(1));
        let typical = typical_request();
        group.bench_function("convert", |b| b.iter(|| black_box(engine.convert(black_box(&typical), NOW))));
        group.finish();
    }
}

fn load_and_compile(c: &mut Criterion) {
    let rules = 10_000;
    let bytes = bundle(rules);
    let src = gateway_policy(rules, tools_for(rules));
    let mut group = c.benchmark_group("rules_10000_build");
    group.sample_size(10);
    group.bench_function("load", |b| b.iter(|| black_box(Engine::load(black_box(&bytes), &[], false).is_ok())));
    group.bench_function("compile", |b| {
        b.iter_batched(
            || vec![("gateway.aarm".to_string(), src.clone())],
            |files| {
                let loaded = aarm_compiler::load_sources(files);
                black_box(aarm_compiler::compile(&loaded).program.is_some())
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

/// `compare`'s workload at 10 rules (the `json10` and `decide10` of `callgrind.sh`): the
/// materialized decision of a converted request, and the same from the request's JSON text.
fn json_text(c: &mut Criterion) {
    let w = Workload::new(10);
    let texts: Vec<String> = w.calls(20, 7).iter().map(|c| c.aarm_json()).collect();
    let engine = aarm_engine(&w.aarm()).expect("engine");
    let reqs: Vec<Request> = texts.iter().map(|t| engine.convert(t, NOW).expect("convert")).collect();
    let mut group = c.benchmark_group("json_10");
    group.throughput(Throughput::Elements(texts.len() as u64));
    group.bench_function("decide", |b| {
        b.iter(|| reqs.iter().for_each(|r| drop(black_box(engine.decide(black_box(r))))))
    });
    group.bench_function("decide_json", |b| {
        b.iter(|| texts.iter().for_each(|t| drop(black_box(engine.decide_json(black_box(t), NOW)))))
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group! { name = benches; config = config(); targets = decisions, load_and_compile, json_text }
criterion_main!(benches);
