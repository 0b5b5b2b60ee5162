//! The "many rules on one tool" workload of issue 20: 50 tools, `N` rules per tool, each
//! `params.amount > X and params.dest.starts_with(P)` and `deny`, under `default allow`. Real
//! policies grow this way (per-recipient, per-path, per-host rules on the same tool); without an
//! index on the rules of a tool a decision walks all `N` of them.
//!
//! Rule `k` of tool `t` denies amounts over `100·k` sent to a destination starting with
//! `acct-t-k/`. A request names a random tool, an amount in `0 .. 100·(N+1)` and a destination
//! that is one rule's prefix (with a suffix) or a near miss (`acct-t-k` without the slash, or
//! another tool's prefix), so that about a third are denied and the rest allowed by default.

use serde_json::json;
use std::fmt::Write as _;

/// Tools in the workload.
pub const TOOLS: usize = 50;

/// The workload with `rules_per_tool` rules on each of [`TOOLS`] tools.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PerTool {
    pub rules_per_tool: usize,
}

/// A small reproducible generator (xorshift), as in `equivalent.rs`.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

impl PerTool {
    pub fn new(rules_per_tool: usize) -> PerTool {
        PerTool { rules_per_tool }
    }

    /// The `.aarm` source.
    pub fn policy(&self) -> String {
        let mut out = String::with_capacity(TOOLS * (self.rules_per_tool * 110 + 80) + 128);
        out.push_str("policy per_tool version \"1.0.0\"\n\nsettings {\n  default allow\n}\n\n");
        for t in 0..TOOLS {
            let _ = writeln!(out, "tool pay_{t} {{ amount: Int, dest: String }}");
        }
        out.push('\n');
        for t in 0..TOOLS {
            for k in 0..self.rules_per_tool {
                let _ = writeln!(
                    out,
                    "rule t{t}_r{k} on pay_{t} {{\n  when params.amount > {} and params.dest.starts_with(\"acct-{t}-{k}/\")\n  deny\n}}\n",
                    100 * k
                );
            }
        }
        out
    }

    /// `n` request JSON texts, reproducible from `seed`.
    pub fn requests(&self, n: usize, seed: u64) -> Vec<String> {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        (0..n)
            .map(|_| {
                let t = rng.below(TOOLS);
                let k = rng.below(self.rules_per_tool.max(1));
                let amount = rng.below(100 * (self.rules_per_tool + 1));
                let dest = match rng.below(4) {
                    0 | 1 => format!("acct-{t}-{k}/inbox"),
                    2 => format!("acct-{t}-{k}"),
                    _ => format!("acct-{}-{k}/inbox", (t + 1) % TOOLS),
                };
                json!({
                    "action": { "tool": format!("pay_{t}"), "operation": "execute",
                                "params": { "amount": amount, "dest": dest } },
                    "identity": { "human": "alice@corp.com", "agent": "bench-agent", "roles": ["payer"] },
                })
                .to_string()
            })
            .collect()
    }

    /// Whether the policy denies the request `(tool, amount, dest)`: the rule model the tests hold
    /// the engine to.
    pub fn denies(&self, tool: usize, amount: i64, dest: &str) -> bool {
        (0..self.rules_per_tool).any(|k| amount > 100 * k as i64 && dest.starts_with(&format!("acct-{tool}-{k}/")))
    }
}
