//! `cargo run -p aarm-bench --bin policy_text -- RULES aarm|cedar|rego|gateway`: prints one of
//! the three renderings of the comparison workload, or (`gateway`) the richer gateway `report`
//! and `counts` run, with `tools_for(RULES)` tools (to read it, or to feed it to another tool).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rules: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let w = aarm_bench::equivalent::Workload::new(rules);
    let text = match args.get(2).map(String::as_str) {
        Some("cedar") => w.cedar(),
        Some("rego") => w.rego(),
        Some("gateway") => aarm_bench::gateway_policy(rules, aarm_bench::tools_for(rules)),
        _ => w.aarm(),
    };
    print!("{text}");
}
