#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! A bounded load test of `aarm serve` on loopback: the real server (SQLite store in a temp
//! directory) and C concurrent HTTP clients sending N decisions, then N/10 requests that open
//! a case (a synced SQLite write each). Reports decisions per second and latency percentiles.
//! A third phase sends the decisions in 100 sessions: each request gets its session's prior
//! actions filled in (200 by the end) and is journaled.
//!
//! ```sh
//! cargo run --release -p aarm-server --example load -- [REQUESTS] [CLIENTS]   # default 20000 16
//! ```
//!
//! It stops by itself: after REQUESTS requests, or 60 s per phase, whichever comes first.

use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The policy both load tests decide on (`benches/http.sh` copies the same file).
const POLICY: &str = include_str!("load.aarm");

const CONFIG: &str = r#"
[auth.agents]
"agent-token" = "load-agent"
[auth.agent_humans]
"load-agent" = ["alice@corp.com"]
"#;

struct Phase {
    name: &'static str,
    requests: usize,
    latencies: Vec<Duration>,
    elapsed: Duration,
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn phase(
    name: &'static str,
    base: &str,
    total: usize,
    clients: usize,
    body: impl Fn(usize) -> serde_json::Value + Send + Sync + 'static,
) -> Phase {
    let http = reqwest::Client::builder().pool_max_idle_per_host(clients).build().unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let body = Arc::new(body);
    let deadline = Instant::now() + Duration::from_secs(60);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, next, body, url) = (http.clone(), next.clone(), body.clone(), format!("{base}/v1/decide"));
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || Instant::now() > deadline {
                    return lat;
                }
                let t = Instant::now();
                let res = http.post(&url).bearer_auth("agent-token").json(&body(i)).send().await.unwrap();
                assert_eq!(res.status(), 200);
                let _ = res.bytes().await.unwrap();
                lat.push(t.elapsed());
            }
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let elapsed = start.elapsed();
    latencies.sort();
    Phase { name, requests: latencies.len(), latencies, elapsed }
}

fn report(p: &Phase) {
    println!(
        "{:<28} {:>7} requests in {:>6.2} s: {:>8.0} decisions/s   p50 {:>7.3} ms   p99 {:>7.3} ms   max {:>7.3} ms",
        p.name,
        p.requests,
        p.elapsed.as_secs_f64(),
        p.requests as f64 / p.elapsed.as_secs_f64(),
        pct(&p.latencies, 0.50).as_secs_f64() * 1e3,
        pct(&p.latencies, 0.99).as_secs_f64() * 1e3,
        p.latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let total: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let clients: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(16);

    // Removed when dropped (after the server has stopped), also when a phase panics.
    let temp = tempfile::Builder::new().prefix("aarm-load-").tempdir().unwrap();
    let dir = temp.path();
    let loaded = aarm_compiler::load_sources(vec![("policy.aarm".to_string(), POLICY.to_string())]);
    let program = aarm_compiler::compile(&loaded).program.expect("the load policy compiles");
    std::fs::write(dir.join("policy.aarmb"), aarm_runtime::bundle::encode(&program, None).unwrap()).unwrap();
    let config = aarm_server::config::Config::parse(CONFIG, "load.toml").unwrap();
    let options = aarm_server::Options::new(
        dir.join("policy.aarmb"),
        dir.join("cases.db"),
        "127.0.0.1:0".parse().unwrap(),
        config,
    );
    let server = aarm_server::start(options).await.unwrap();
    let base = format!("http://{}", server.addr);
    println!("aarm serve on {base}, {clients} concurrent clients");

    // Warm-up (connections, allocator).
    phase(
        "warm-up",
        &base,
        500,
        clients,
        |i| json!({"action": {"tool": "transfer", "params": {"amount": i % 500, "to": "acme"}}}),
    )
    .await;
    let decide = phase("allow/deny (no case)", &base, total, clients, |i| {
        let to = if i % 10 == 0 { "mallory" } else { "acme" };
        json!({"action": {"tool": "transfer", "params": {"amount": i % 1000, "to": to}}, "identity": {"human": "alice@corp.com"}})
    })
    .await;
    let sessions = phase("allow/deny in 100 sessions", &base, total, clients, |i| {
        let to = if i % 10 == 0 { "mallory" } else { "acme" };
        json!({"action": {"tool": "transfer", "params": {"amount": i % 1000, "to": to}},
               "identity": {"human": "alice@corp.com", "session": format!("s-{}", i % 100)}})
    })
    .await;
    let opened = phase("step_up (opens a case)", &base, (total / 10).max(1), clients, |i| {
        json!({"action": {"tool": "transfer", "params": {"amount": 5000 + i, "to": "acme"}}, "identity": {"human": "alice@corp.com"}})
    })
    .await;
    // The baseline, in the same run: the same decisions through the engine in-process, on one
    // thread (what HTTP, JSON framing, auth and scheduling add on top).
    let engine = server.app.engine().unwrap();
    let now = 1_795_514_400;
    let bodies: Vec<String> = (0..total)
        .map(|i| {
            let to = if i % 10 == 0 { "mallory" } else { "acme" };
            json!({"action": {"tool": "transfer", "params": {"amount": i % 1000, "to": to}}, "identity": {"human": "alice@corp.com", "agent": "load-agent"}}).to_string()
        })
        .collect();
    let prior: Vec<serde_json::Value> =
        (0..200).map(|i| json!({"tool": "transfer", "decision": if i % 10 == 0 { "deny" } else { "allow" }})).collect();
    let with_prior: Vec<String> = (0..total / 4)
        .map(|i| json!({"action": {"tool": "transfer", "params": {"amount": i % 1000, "to": "acme"}}, "identity": {"human": "alice@corp.com", "session": "s-1"}, "context": {"prior_actions": prior}}).to_string())
        .collect();
    let t0 = Instant::now();
    for b in &with_prior {
        std::hint::black_box(engine.decide_json(b, now));
    }
    let per_prior = t0.elapsed().as_secs_f64() / with_prior.len() as f64;
    println!("in-process decide_json with 200 prior actions: {:.1} µs per decision", per_prior * 1e6);
    let start = Instant::now();
    let mut lat = Vec::with_capacity(total);
    for b in &bodies {
        let t = Instant::now();
        std::hint::black_box(engine.decide_json(b, now));
        lat.push(t.elapsed());
    }
    let in_process = Phase {
        name: "baseline: in-process, 1 thread",
        requests: total,
        elapsed: start.elapsed(),
        latencies: {
            lat.sort();
            lat
        },
    };
    report(&in_process);
    report(&decide);
    report(&sessions);
    report(&opened);
    let rate = |p: &Phase| p.requests as f64 / p.elapsed.as_secs_f64();
    println!("HTTP allow/deny throughput = {:.3} × the in-process baseline", rate(&decide) / rate(&in_process));
    server.stop().await.unwrap();
}
