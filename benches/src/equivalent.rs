//! One policy set written three times — `.aarm`, Cedar and Rego — for the side-by-side comparison
//! (`src/bin/compare.rs`) and its honesty test (`tests/equivalence.rs`).
//!
//! The rules are built once as data ([`Rule`], [`Cond`]) and *rendered* into each language, so the
//! three texts cannot drift apart by hand. Only what all three express is used: `allow`/`deny`,
//! conjunctions of string prefix/suffix/substring tests, equality, membership in a literal set,
//! integer bounds, role membership (and its negation) and membership in a list parameter.
//!
//! The shape is an agent gateway: `tools` tools in four families (HTTP, file system, payments,
//! shell), [`RULES_PER_TOOL`] rules on each — two `deny` and three `allow` — with constants that
//! name the tool, so every rule is distinct. A request is allowed when an `allow` rule of its tool
//! matches and no `deny` rule does; otherwise it is denied. In each language:
//!
//! - aarm: `deny` rules at priority 100, `allow` rules at priority 0, `default deny`;
//! - Cedar: `forbid` and `permit` policies scoped to `action == Action::"<tool>"` (forbid overrides
//!   permit, and the default is deny);
//! - Rego: `allow if { permit; not forbid }` with `default allow := false`, one `permit` or `forbid`
//!   body per rule, each starting with `input.tool == "<tool>"`.

use serde_json::{json, Map, Value};
use std::fmt::Write as _;

/// Rules on each tool: the first [`DENY_RULES_PER_TOOL`] deny, the rest allow.
pub const RULES_PER_TOOL: usize = 5;
pub const DENY_RULES_PER_TOOL: usize = 2;

/// Rules per Rego module (see [`Workload::rego_modules`]).
pub const REGO_RULES_PER_MODULE: usize = 2_000;

/// Roles a request's identity may carry.
const ROLES: [&str; 5] = ["admin", "writer", "finance", "ops", "dev"];

/// A parameter test or an identity test. Field names are parameters of the rule's tool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cond {
    Prefix(&'static str, String),
    Suffix(&'static str, String),
    Substring(&'static str, String),
    EqStr(&'static str, String),
    EqInt(&'static str, i64),
    InSet(&'static str, Vec<String>),
    Lt(&'static str, i64),
    Le(&'static str, i64),
    Gt(&'static str, i64),
    HasRole(&'static str),
    LacksRole(&'static str),
    /// A list parameter contains the string.
    ListHas(&'static str, String),
}

/// One rule: on `tool`, `deny` or allow when every condition holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub tool: usize,
    pub deny: bool,
    pub all: Vec<Cond>,
}

/// The workload for one policy size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Workload {
    pub rules: usize,
}

/// One generated call: the tool, its parameters and the caller's roles.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub tool: String,
    pub params: Map<String, Value>,
    pub roles: Vec<&'static str>,
}

fn family(tool: usize) -> usize {
    tool % 4
}

/// The name of tool `t`: its family and number.
pub fn tool_name(t: usize) -> String {
    let fam = ["http", "fs", "pay", "shell"].get(family(t)).copied().unwrap_or("tool");
    format!("{fam}_{t}")
}

fn s(x: impl Into<String>) -> String {
    x.into()
}

fn set(items: &[&str]) -> Vec<String> {
    items.iter().map(|x| (*x).to_string()).collect()
}

/// The five rules of tool `t`, denies first.
fn rules_of(t: usize) -> [Rule; RULES_PER_TOOL] {
    let n = i64::try_from(t).unwrap_or(i64::MAX);
    let rule = |deny: bool, all: Vec<Cond>| Rule { tool: t, deny, all };
    use Cond::*;
    match family(t) {
        0 => [
            rule(true, vec![Substring("url", format!("internal-{t}.")), LacksRole("admin")]),
            rule(true, vec![InSet("method", set(&["DELETE", "PATCH"])), Lt("port", 1024)]),
            rule(
                false,
                vec![Prefix("url", format!("https://api{t}.example.com/")), InSet("method", set(&["GET", "HEAD"]))],
            ),
            rule(
                false,
                vec![
                    EqStr("method", s("POST")),
                    HasRole("writer"),
                    Prefix("url", format!("https://api{t}.example.com/")),
                ],
            ),
            rule(false, vec![EqInt("port", 8080), Suffix("url", s(".internal"))]),
        ],
        1 => [
            rule(true, vec![Prefix("path", s("/etc/"))]),
            rule(true, vec![Substring("path", s("/.ssh")), LacksRole("admin")]),
            rule(false, vec![Prefix("path", format!("/srv/app{t}/")), Le("size", 1_000_000)]),
            rule(false, vec![Prefix("path", s("/tmp/")), Lt("size", 10_000)]),
            rule(false, vec![HasRole("admin"), Suffix("path", s(".log"))]),
        ],
        2 => [
            rule(true, vec![Gt("amount", 10_000 + n)]),
            rule(true, vec![InSet("recipient", set(&["mallory", "eve", "shell-co"]))]),
            rule(false, vec![Le("amount", 100 + n), InSet("currency", set(&["USD", "EUR"]))]),
            rule(false, vec![Prefix("recipient", format!("vendor-{t}-")), Le("amount", 5_000)]),
            rule(false, vec![HasRole("finance"), EqStr("currency", s("USD"))]),
        ],
        _ => [
            rule(true, vec![ListHas("args", s("-rf"))]),
            rule(true, vec![Prefix("command", s("sudo"))]),
            rule(false, vec![InSet("command", set(&["ls", "cat", "grep"]))]),
            rule(false, vec![EqStr("command", format!("deploy-{t}")), HasRole("ops")]),
            rule(false, vec![EqStr("command", s("echo")), ListHas("args", s("-n"))]),
        ],
    }
}

/// A string literal in any of the three languages (all accept JSON's escapes for what the
/// generator writes: letters, digits and punctuation without quotes or backslashes).
fn lit(x: &str) -> String {
    serde_json::to_string(x).unwrap_or_default()
}

fn list(items: &[String], open: &str, close: &str) -> String {
    let inner: Vec<String> = items.iter().map(|x| lit(x)).collect();
    format!("{open}{}{close}", inner.join(", "))
}

impl Cond {
    fn aarm(&self) -> String {
        match self {
            Cond::Prefix(f, x) => format!("params.{f}.starts_with({})", lit(x)),
            Cond::Suffix(f, x) => format!("params.{f}.ends_with({})", lit(x)),
            Cond::Substring(f, x) => format!("params.{f}.contains({})", lit(x)),
            Cond::EqStr(f, x) => format!("params.{f} == {}", lit(x)),
            Cond::EqInt(f, x) => format!("params.{f} == {x}"),
            Cond::InSet(f, xs) => format!("params.{f} in {}", list(xs, "[", "]")),
            Cond::Lt(f, x) => format!("params.{f} < {x}"),
            Cond::Le(f, x) => format!("params.{f} <= {x}"),
            Cond::Gt(f, x) => format!("params.{f} > {x}"),
            Cond::HasRole(r) => format!("{} in identity.roles", lit(r)),
            Cond::LacksRole(r) => format!("not ({} in identity.roles)", lit(r)),
            Cond::ListHas(f, x) => format!("{} in params.{f}", lit(x)),
        }
    }

    fn cedar(&self) -> String {
        // `like` patterns: the generator's constants contain no `*`, so nothing needs escaping.
        match self {
            Cond::Prefix(f, x) => format!("context.params.{f} like \"{x}*\""),
            Cond::Suffix(f, x) => format!("context.params.{f} like \"*{x}\""),
            Cond::Substring(f, x) => format!("context.params.{f} like \"*{x}*\""),
            Cond::EqStr(f, x) => format!("context.params.{f} == {}", lit(x)),
            Cond::EqInt(f, x) => format!("context.params.{f} == {x}"),
            Cond::InSet(f, xs) => format!("{}.contains(context.params.{f})", list(xs, "[", "]")),
            Cond::Lt(f, x) => format!("context.params.{f} < {x}"),
            Cond::Le(f, x) => format!("context.params.{f} <= {x}"),
            Cond::Gt(f, x) => format!("context.params.{f} > {x}"),
            Cond::HasRole(r) => format!("context.roles.contains({})", lit(r)),
            Cond::LacksRole(r) => format!("!context.roles.contains({})", lit(r)),
            Cond::ListHas(f, x) => format!("context.params.{f}.contains({})", lit(x)),
        }
    }

    fn rego(&self) -> String {
        match self {
            Cond::Prefix(f, x) => format!("startswith(input.params.{f}, {})", lit(x)),
            Cond::Suffix(f, x) => format!("endswith(input.params.{f}, {})", lit(x)),
            Cond::Substring(f, x) => format!("contains(input.params.{f}, {})", lit(x)),
            Cond::EqStr(f, x) => format!("input.params.{f} == {}", lit(x)),
            Cond::EqInt(f, x) => format!("input.params.{f} == {x}"),
            Cond::InSet(f, xs) => format!("input.params.{f} in {}", list(xs, "{", "}")),
            Cond::Lt(f, x) => format!("input.params.{f} < {x}"),
            Cond::Le(f, x) => format!("input.params.{f} <= {x}"),
            Cond::Gt(f, x) => format!("input.params.{f} > {x}"),
            Cond::HasRole(r) => format!("{} in input.roles", lit(r)),
            Cond::LacksRole(r) => format!("not {} in input.roles", lit(r)),
            Cond::ListHas(f, x) => format!("{} in input.params.{f}", lit(x)),
        }
    }

    /// The condition evaluated directly on a call: the model the three renderings must agree with.
    fn holds(&self, call: &Call) -> bool {
        let str_param = |f: &str| call.params.get(f).and_then(Value::as_str).unwrap_or_default();
        let int_param = |f: &str| call.params.get(f).and_then(Value::as_i64).unwrap_or_default();
        match self {
            Cond::Prefix(f, x) => str_param(f).starts_with(x.as_str()),
            Cond::Suffix(f, x) => str_param(f).ends_with(x.as_str()),
            Cond::Substring(f, x) => str_param(f).contains(x.as_str()),
            Cond::EqStr(f, x) => str_param(f) == x,
            Cond::EqInt(f, x) => int_param(f) == *x,
            Cond::InSet(f, xs) => xs.iter().any(|x| x == str_param(f)),
            Cond::Lt(f, x) => int_param(f) < *x,
            Cond::Le(f, x) => int_param(f) <= *x,
            Cond::Gt(f, x) => int_param(f) > *x,
            Cond::HasRole(r) => call.roles.contains(r),
            Cond::LacksRole(r) => !call.roles.contains(r),
            Cond::ListHas(f, x) => call
                .params
                .get(*f)
                .and_then(Value::as_array)
                .is_some_and(|items| items.iter().any(|v| v.as_str() == Some(x.as_str()))),
        }
    }
}

impl Rule {
    /// Whether every condition holds for `call` (its tool aside).
    pub fn matches(&self, call: &Call) -> bool {
        self.all.iter().all(|c| c.holds(call))
    }
}

impl Workload {
    pub fn new(rules: usize) -> Workload {
        Workload { rules }
    }

    /// Tools declared: enough for the rules at [`RULES_PER_TOOL`] each, and at least one.
    pub fn tools(&self) -> usize {
        self.rules.div_ceil(RULES_PER_TOOL).max(1)
    }

    /// Every rule, in order: tool 0's five, tool 1's five, … (the last tool may have fewer).
    pub fn rule_list(&self) -> Vec<Rule> {
        (0..self.tools()).flat_map(rules_of).take(self.rules).collect()
    }

    /// The `.aarm` source.
    pub fn aarm(&self) -> String {
        let mut out = String::with_capacity(self.rules * 160 + self.tools() * 80 + 256);
        out.push_str("/// Generated by aarm-bench (equivalent.rs); the same rules are in Cedar and Rego.\n");
        out.push_str("policy gateway version \"1.0.0\"\n\nsettings {\n  default deny\n}\n\n");
        for t in 0..self.tools() {
            let params = match family(t) {
                0 => "url: String, method: String, port: Int",
                1 => "path: String, size: Int",
                2 => "amount: Int, currency: String, recipient: String",
                _ => "command: String, args: List<String>",
            };
            let _ = writeln!(out, "tool {} {{ {params} }}", tool_name(t));
        }
        out.push('\n');
        for (i, r) in self.rule_list().iter().enumerate() {
            let priority = if r.deny { 100 } else { 0 };
            let _ = writeln!(out, "rule r{i} on {} priority {priority} {{", tool_name(r.tool));
            let conds: Vec<String> = r.all.iter().map(Cond::aarm).collect();
            let _ = writeln!(out, "  when {}", conds.join(" and "));
            let _ = writeln!(out, "  {}\n}}\n", if r.deny { "deny" } else { "allow" });
        }
        out
    }

    /// The Cedar policy set (no schema: the context is a record of `params` and `roles`).
    pub fn cedar(&self) -> String {
        let mut out = String::with_capacity(self.rules * 200);
        for (i, r) in self.rule_list().iter().enumerate() {
            let effect = if r.deny { "forbid" } else { "permit" };
            let conds: Vec<String> = r.all.iter().map(Cond::cedar).collect();
            let _ = writeln!(
                out,
                "@id(\"r{i}\")\n{effect} (principal, action == Action::\"{}\", resource)\nwhen {{ {} }};\n",
                tool_name(r.tool),
                conds.join(" && ")
            );
        }
        out
    }

    /// The Rego policy (v1 syntax), package `gw`, decision `data.gw.allow`, as one text.
    pub fn rego(&self) -> String {
        self.rego_modules().concat()
    }

    /// The same policy as modules of at most [`REGO_RULES_PER_MODULE`] rules (regorus refuses a
    /// file over 1 MiB, which 10 000 rules exceed): the first holds `allow`, every one declares
    /// `package gw`, so together they are one package.
    pub fn rego_modules(&self) -> Vec<String> {
        let header = "package gw\n\nimport rego.v1\n\n";
        let mut first = String::from(header);
        first.push_str("default allow := false\n\nallow if {\n  permit\n  not forbid\n}\n\n");
        let mut modules = vec![first];
        for (i, r) in self.rule_list().iter().enumerate() {
            if i > 0 && i % REGO_RULES_PER_MODULE == 0 {
                modules.push(String::from(header));
            }
            let Some(out) = modules.last_mut() else { break };
            let head = if r.deny { "forbid" } else { "permit" };
            let _ = writeln!(out, "{head} if {{\n  input.tool == {}", lit(&tool_name(r.tool)));
            for c in &r.all {
                let _ = writeln!(out, "  {}", c.rego());
            }
            out.push_str("}\n\n");
        }
        modules
    }

    /// What the rules decide for `call`, evaluated directly on the model.
    pub fn expected(&self, call: &Call) -> bool {
        let mut permitted = false;
        for r in self.rule_list().iter().filter(|r| tool_name(r.tool) == call.tool) {
            if r.matches(call) {
                if r.deny {
                    return false;
                }
                permitted = true;
            }
        }
        permitted
    }

    /// `n` calls, reproducible from `seed`. Parameters are drawn from small pools that contain
    /// each rule's constants, values beside them and values on either side of every bound, so the
    /// mix has allows, denies by a rule and default denies.
    pub fn calls(&self, n: usize, seed: u64) -> Vec<Call> {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        (0..n).map(|_| self.call(&mut rng)).collect()
    }

    fn call(&self, rng: &mut Rng) -> Call {
        let t = rng.below(self.tools());
        let pick_in = |rng: &mut Rng, xs: &[String]| xs.get(rng.below(xs.len())).cloned().unwrap_or_default();
        let mut params = Map::new();
        match family(t) {
            0 => {
                let urls = [
                    format!("https://api{t}.example.com/v1/items"),
                    format!("https://internal-{t}.corp/admin"),
                    format!("https://api{}.example.com/v1", t + 1),
                    s("http://build.internal"),
                    s("https://example.org/"),
                ];
                params.insert(s("url"), json!(pick_in(rng, &urls)));
                params.insert(s("method"), json!(pick_in(rng, &set(&["GET", "HEAD", "POST", "DELETE", "PATCH"]))));
                params.insert(s("port"), json!(pick_int(rng, &[443, 8080, 22, 80])));
            }
            1 => {
                let paths = [
                    format!("/srv/app{t}/config.toml"),
                    s("/etc/passwd"),
                    s("/home/u/.ssh/id_ed25519"),
                    s("/tmp/scratch.txt"),
                    s("/var/log/app.log"),
                    format!("/srv/app{}/x", t + 1),
                ];
                params.insert(s("path"), json!(pick_in(rng, &paths)));
                params.insert(s("size"), json!(pick_int(rng, &[10, 9_999, 10_000, 1_000_000, 1_000_001])));
            }
            2 => {
                let n = i64::try_from(t).unwrap_or(0);
                let amounts = [50, 100 + n, 101 + n, 5_000, 5_001, 10_000 + n, 10_001 + n];
                params.insert(s("amount"), json!(pick_int(rng, &amounts)));
                params.insert(s("currency"), json!(pick_in(rng, &set(&["USD", "EUR", "GBP"]))));
                let recipients = [format!("vendor-{t}-acme"), s("eve"), s("acme"), format!("vendor-{}-x", t + 1)];
                params.insert(s("recipient"), json!(pick_in(rng, &recipients)));
            }
            _ => {
                let commands = [s("ls"), s("cat"), s("sudo"), s("sudo-rs"), s("echo"), format!("deploy-{t}"), s("rm")];
                params.insert(s("command"), json!(pick_in(rng, &commands)));
                let args: Vec<String> =
                    (0..rng.below(4)).map(|_| pick_in(rng, &set(&["-l", "-n", "-rf", "a.txt", "--force"]))).collect();
                params.insert(s("args"), json!(args));
            }
        }
        let roles = ROLES.iter().copied().filter(|_| rng.below(3) == 0).collect();
        Call { tool: tool_name(t), params, roles }
    }
}

impl Call {
    /// The aarm request (docs/json.md).
    pub fn aarm_json(&self) -> String {
        json!({
            "action": { "tool": self.tool, "operation": "execute", "params": self.params },
            "identity": { "human": "alice@corp.com", "agent": "bench-agent", "roles": self.roles },
        })
        .to_string()
    }

    /// Cedar's context record.
    pub fn cedar_context(&self) -> Value {
        json!({ "params": self.params, "roles": self.roles })
    }

    /// Rego's `input` document.
    pub fn rego_input(&self) -> Value {
        json!({ "tool": self.tool, "params": self.params, "roles": self.roles })
    }
}

fn pick_int(rng: &mut Rng, xs: &[i64]) -> i64 {
    xs.get(rng.below(xs.len())).copied().unwrap_or(0)
}

/// A small deterministic generator (xorshift64*), so workloads are reproducible.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        match u64::try_from(n) {
            Ok(0) | Err(_) => 0,
            Ok(n) => usize::try_from(r % n).unwrap_or(0),
        }
    }
}
