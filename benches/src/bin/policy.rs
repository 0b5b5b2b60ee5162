//! `cargo run --release -p aarm-bench --bin policy -- RULES [TOOLS] [--priority N]`: prints the
//! generated gateway policy of `aarm_bench::gateway_policy` on stdout, to time the CLI on it
//! (`aarm check`, `aarm analyze`). `--priority N` gives every rule priority N: the worst case for
//! the equal-priority conflict analysis (W0016).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use aarm_bench::{gateway_policy, tools_for};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: policy RULES [TOOLS] [--priority N]";
    let mut numbers = Vec::new();
    let mut priority: Option<i64> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--priority" {
            priority = Some(it.next().and_then(|p| p.parse().ok()).expect(usage));
        } else {
            numbers.push(a.parse::<usize>().expect(usage));
        }
    }
    let rules = *numbers.first().expect(usage);
    let tools = numbers.get(1).copied().unwrap_or_else(|| tools_for(rules));
    let src = gateway_policy(rules, tools);
    let src = match priority {
        None => src,
        Some(p) => src
            .lines()
            .map(|l| match (l.starts_with("rule "), l.find(" priority ")) {
                (true, Some(at)) => format!("{} priority {p} {{", &l[..at]),
                _ => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
    };
    print!("{src}");
}
