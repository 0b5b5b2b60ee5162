//! Generated workloads for benchmarking the AARM compiler and runtime.
//!
//! [`gateway_policy`] writes the policy of an agent gateway: a handful of realistic tools (HTTP,
//! files, shell, payments, mail, database) plus numbered tools, and rules spread round-robin over
//! them with the usual kinds of conditions (string prefixes, set membership, numeric bounds,
//! `contains`, quantifiers over lists, identity roles, groups, `fn` calls), a mix of `allow`,
//! `deny` and some `step_up`, at varied priorities. [`requests`] writes request JSON for the same
//! tools: some match a rule, some match none (default deny), some name a tool the bundle does not
//! declare.
//!
//! Rule `i` targets tool `i % tools` and is that tool's rule number `k = i / tools`; its constants
//! contain `k`, so every rule is distinct and a request built for `(tool, k)` can hit it.

pub mod engines;
pub mod equivalent;
pub mod per_tool;

use serde_json::{json, Value};
use std::fmt::Write as _;

/// The realistic tools, in declaration order; numbered `tool_N` tools follow them.
const CORE_TOOLS: [&str; 7] = ["http_get", "fs_read", "shell", "transfer", "send_email", "db_query", "fs_write"];

/// How many condition templates each tool family has.
const TEMPLATES: usize = 4;

/// A generated gateway: `rules` rules over `tools` tools.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gateway {
    pub rules: usize,
    pub tools: usize,
}

/// The tool count used by the benchmarks for a rule count: `max(5, rules / 20)`.
pub fn tools_for(rules: usize) -> usize {
    (rules / 20).max(5)
}

/// The policy source of a gateway with `rules` rules over `tools` tools (at least one).
pub fn gateway_policy(rules: usize, tools: usize) -> String {
    Gateway::new(rules, tools).policy()
}

/// `n` request JSON texts for the gateway `(rules, tools)`, reproducible from `seed`.
pub fn requests(rules: usize, tools: usize, n: usize, seed: u64) -> Vec<String> {
    Gateway::new(rules, tools).requests(n, seed)
}

/// A request that hits an `allow` rule of `http_get` (rule 0 when `tools` > 0): the "typical"
/// request the conversion benchmark uses.
pub fn typical_request() -> String {
    json!({
        "action": { "tool": "http_get", "operation": "execute",
                    "params": { "url": "https://api0.example.com/v1/items?page=2", "method": "GET",
                                "headers": ["Accept: application/json", "X-Request-Id: 81"] } },
        "identity": { "human": "alice@corp.com", "service": "svc-gateway", "agent": "research-agent",
                      "session": "s-81", "roles": ["dev", "reader"] },
        "context": { "original_request": "summarize the open items", "data_classes": ["INTERNAL"],
                     "semantic_distance": 0.2 }
    })
    .to_string()
}

impl Gateway {
    pub fn new(rules: usize, tools: usize) -> Gateway {
        Gateway { rules, tools: tools.max(1) }
    }

    /// Name of tool `t`.
    pub fn tool_name(&self, t: usize) -> String {
        match CORE_TOOLS.get(t) {
            Some(name) => (*name).to_string(),
            None => format!("tool_{t}"),
        }
    }

    /// How many rules target tool `t`.
    pub fn rules_on(&self, t: usize) -> usize {
        if t >= self.tools {
            return 0;
        }
        self.rules / self.tools + usize::from(t < self.rules % self.tools)
    }

    pub fn policy(&self) -> String {
        let mut s = String::with_capacity(self.rules * 220 + self.tools * 80 + 2048);
        s.push_str(HEADER);
        for t in 0..self.tools {
            let decl = match t {
                0 => "tool http_get { url: String, method: String, headers: List<String> }".to_string(),
                1 => "tool fs_read { path: String }".to_string(),
                2 => "tool shell { command: String, args: List<String> }".to_string(),
                3 => "tool transfer { amount: Decimal, currency: String, recipient: String }".to_string(),
                4 => "tool send_email { to: List<String>, subject: String }".to_string(),
                5 => "tool db_query { database: String, query: String, rows: Int }".to_string(),
                6 => "tool fs_write { path: String, content: String }".to_string(),
                _ => format!("tool tool_{t} {{ target: String, size: Int, tags: List<String> }}"),
            };
            s.push_str(&decl);
            s.push('\n');
        }
        s.push('\n');
        for i in 0..self.rules {
            self.rule(&mut s, i);
        }
        s
    }

    fn rule(&self, s: &mut String, i: usize) {
        let t = i % self.tools;
        let k = i / self.tools;
        let template = k % TEMPLATES;
        let priority = (i * 37) % 100;
        let tool = self.tool_name(t);
        let (when, decision) = condition(t, template, k);
        let _ = writeln!(s, "rule r{i} on {tool} priority {priority} {{");
        for w in when {
            let _ = writeln!(s, "  when {w}");
        }
        let _ = writeln!(s, "  {decision}");
        if i % 3 == 0 {
            let _ = writeln!(s, "  reason \"gw.r{i}\" \"rule {i} on {tool} decided\"");
        }
        s.push_str("}\n\n");
    }

    /// `n` requests, reproducible from `seed`: about 10% for undeclared tools, the rest for
    /// declared tools with parameters built to hit one rule (about 70%) or none.
    pub fn requests(&self, n: usize, seed: u64) -> Vec<String> {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        (0..n).map(|_| self.request(&mut rng).to_string()).collect()
    }

    fn request(&self, rng: &mut Rng) -> Value {
        let identity = match rng.below(4) {
            0 => json!({ "human": "alice@corp.com", "agent": "ops-agent", "roles": ["admin", "dev"] }),
            1 => json!({ "human": "bob@corp.com", "agent": "mail-agent", "roles": ["mailer"] }),
            2 => json!({ "human": "mallory@example.net", "agent": "web-agent", "roles": [] }),
            _ => json!({ "human": "carol@corp.com", "agent": "dev-agent", "roles": ["dev", "dba"] }),
        };
        if rng.below(10) == 0 {
            let x = rng.below(1000);
            return json!({
                "action": { "tool": format!("undeclared_{x}"), "params": { "x": x, "note": "free-form" } },
                "identity": identity,
            });
        }
        let t = rng.below(self.tools as u64) as usize;
        let on_tool = self.rules_on(t).max(1) as u64;
        let k = rng.below(on_tool) as usize;
        // A rule's template is `k % TEMPLATES`; 30% of the requests miss every rule's constants.
        let hit = rng.below(10) < 7;
        let k_used = if hit { k } else { k + 1_000_000 };
        let params = params(t, k % TEMPLATES, k_used, rng);
        json!({
            "action": { "tool": self.tool_name(t), "operation": "execute", "params": params },
            "identity": identity,
            "context": { "original_request": "do the task", "data_classes": ["INTERNAL"] },
        })
    }
}

const HEADER: &str = r#"/// Generated agent-gateway policy (aarm-bench).
policy gateway version "1.0.0"

settings {
  default deny
}

group admins = ["alice@corp.com", "root@corp.com", "ops@corp.com"]
group finance = ["cfo@corp.com", "controller@corp.com", "lead@corp.com"]
group security_team = ["sec1@corp.com", "sec2@corp.com"]
group blocked_recipients = ["mallory", "eve", "shell-co-1", "shell-co-2"]

fn is_internal(addr: String) -> Bool = addr.ends_with("@corp.com")
fn is_safe_path(p: String) -> Bool = p.starts_with("/") and not p.contains("..")

"#;

/// The conditions and decision of template `template` of tool `t`, variant `k`.
fn condition(t: usize, template: usize, k: usize) -> (Vec<String>, String) {
    let allow = "allow".to_string();
    let deny = "deny".to_string();
    let step_up = |group: &str, n: usize| format!("step_up {{ approvers {n} of {group} }}");
    match (t, template) {
        (0, 0) => (
            vec![format!("params.url.starts_with(\"https://api{k}.example.com/\")"), "params.method in [\"GET\", \"HEAD\", \"OPTIONS\"]".into()],
            allow,
        ),
        (0, 1) => (vec![format!("params.url.contains(\"internal-{k}.\") and not (\"admin\" in identity.roles)")], deny),
        (0, 2) => (vec![format!("any h in params.headers: h.starts_with(\"X-Debug-{k}\")")], deny),
        (0, _) => (
            vec![format!("params.method in [\"POST\", \"PUT\", \"DELETE\"] and params.url.starts_with(\"https://pay{k}.example.com/\")")],
            step_up("security_team", 1),
        ),
        (1 | 6, 0) => (vec![format!("is_safe_path(params.path) and params.path.starts_with(\"/srv/app{k}/\")")], allow),
        (1 | 6, 1) => (vec![format!("params.path.starts_with(\"/etc/secret{k}\") or params.path.ends_with(\".pem\")")], deny),
        (1 | 6, 2) => (vec![format!("params.path.starts_with(\"/home/u{k}/\")"), "identity.human in admins".into()], allow),
        (1 | 6, _) => (vec![format!("params.path.contains(\"/.ssh{k}/\")")], deny),
        (2, 0) => (
            vec![format!("params.command in [\"ls\", \"cat\", \"grep\", \"tool{k}\"]"), "not (any a in params.args: a.contains(\";\"))".into()],
            allow,
        ),
        (2, 1) => (vec![format!("params.command == \"rm{k}\" and (any a in params.args: a == \"-rf\")")], deny),
        (2, 2) => (vec![format!("params.command.starts_with(\"sudo{k}\")")], step_up("security_team", 2)),
        (2, _) => (vec![format!("params.command == \"run{k}\" and params.args.len() > 8 and not (\"admin\" in identity.roles)")], deny),
        (3, 0) => (vec![format!("params.amount <= {}", 100 + k), format!("params.recipient.starts_with(\"vendor-{k}\")")], allow),
        (3, 1) => (
            vec![format!("params.amount > {}.50 and params.currency in [\"USD\", \"EUR\", \"GBP\"]", 1000 + k * 10), format!("params.recipient == \"payee-{k}\"")],
            step_up("finance", 2),
        ),
        (3, 2) => (vec![format!("params.currency == \"X{k}\"")], deny),
        (3, _) => (vec![format!("params.recipient in blocked_recipients and params.amount > {k}")], deny),
        (4, 0) => (vec![format!("(all r in params.to: is_internal(r)) and params.subject.starts_with(\"[team{k}]\")")], allow),
        (4, 1) => (vec![format!("(any r in params.to: not is_internal(r)) and params.subject.contains(\"confidential-{k}\")")], deny),
        (4, 2) => (vec![format!("params.subject.starts_with(\"[bulk{k}]\") and params.to.len() > 3")], deny),
        (4, _) => (vec!["\"mailer\" in identity.roles".into(), format!("params.subject.starts_with(\"[news{k}]\")")], allow),
        (5, 0) => (vec![format!("params.rows > {} and params.database in [\"prod\", \"prod-{k}\"]", 1000 + k)], deny),
        (5, 1) => (vec![format!("params.query.starts_with(\"SELECT {k} \") and params.rows <= {}", 100 + k), "identity.human in admins".into()], allow),
        (5, 2) => (vec![format!("params.query.contains(\"DROP TABLE t{k}\")")], deny),
        (5, _) => (vec![format!("params.database == \"ledger-{k}\" and not (\"dba\" in identity.roles)")], step_up("finance", 1)),
        (_, 0) => (vec![format!("params.target.starts_with(\"t{k}/\") and params.size < {}", 100 + k * 10)], allow),
        (_, 1) => (vec![format!("\"blocked-{k}\" in params.tags")], deny),
        (_, 2) => (vec![format!("params.target == \"big-{k}\" and params.size > {} and not (\"admin\" in identity.roles)", 5000 + k)], deny),
        (_, _) => (
            vec![format!("params.target in [\"svc-{k}\", \"svc-{k}-b\", \"svc-{k}-c\"] and (any x in params.tags: x.starts_with(\"ok\"))")],
            allow,
        ),
    }
}

/// Parameters for tool `t` built to satisfy template `template` with constant `k` (a `k` that no
/// rule uses gives parameters that match nothing, or only generic rules).
fn params(t: usize, template: usize, k: usize, rng: &mut Rng) -> Value {
    let n = rng.below(4) as usize;
    match (t, template) {
        (0, 0) => {
            json!({ "url": format!("https://api{k}.example.com/v1/items"), "method": "GET", "headers": ["Accept: */*"] })
        }
        (0, 1) => json!({ "url": format!("https://internal-{k}.corp/x"), "method": "GET", "headers": [] }),
        (0, 2) => json!({ "url": "https://example.org/", "method": "GET",
                          "headers": ["Accept: */*", "User-Agent: agent", format!("X-Debug-{k}: 1")] }),
        (0, _) => {
            json!({ "url": format!("https://pay{k}.example.com/charge"), "method": "POST", "headers": ["Content-Type: json"] })
        }
        (1, _) | (6, _) => {
            let path = match template {
                0 => format!("/srv/app{k}/config.toml"),
                1 => format!("/etc/secret{k}/token"),
                2 => format!("/home/u{k}/notes.txt"),
                _ => format!("/root/.ssh{k}/id_ed25519"),
            };
            if t == 1 {
                json!({ "path": path })
            } else {
                json!({ "path": path, "content": "hello" })
            }
        }
        (2, 0) => json!({ "command": format!("tool{k}"), "args": ["-l", "a.txt", "b.txt"] }),
        (2, 1) => json!({ "command": format!("rm{k}"), "args": ["-v", "-rf", "/tmp/x"] }),
        (2, 2) => json!({ "command": format!("sudo{k}"), "args": ["reboot"] }),
        (2, _) => json!({ "command": format!("run{k}"), "args": ["1", "2", "3", "4", "5", "6", "7", "8", "9"] }),
        (3, 0) => json!({ "amount": 50 + n, "currency": "USD", "recipient": format!("vendor-{k}-acme") }),
        (3, 1) => {
            json!({ "amount": format!("{}.75", 1000 + k * 10), "currency": "EUR", "recipient": format!("payee-{k}") })
        }
        (3, 2) => json!({ "amount": 10, "currency": format!("X{k}"), "recipient": "acme" }),
        (3, _) => {
            json!({ "amount": k + 5, "currency": "USD", "recipient": (if k < 1_000_000 { "eve" } else { "acme" }) })
        }
        (4, 0) => json!({ "to": ["a@corp.com", "b@corp.com"], "subject": format!("[team{k}] weekly") }),
        (4, 1) => json!({ "to": ["a@corp.com", "x@gmail.com"], "subject": format!("confidential-{k} numbers") }),
        (4, 2) => json!({ "to": ["a@corp.com", "b@corp.com", "c@corp.com", "d@corp.com", "e@corp.com"],
                          "subject": format!("[bulk{k}] promo") }),
        (4, _) => json!({ "to": ["list@corp.com"], "subject": format!("[news{k}] issue {n}") }),
        (5, 0) => json!({ "database": format!("prod-{k}"), "query": "SELECT * FROM t", "rows": 5000 + k }),
        (5, 1) => json!({ "database": "analytics", "query": format!("SELECT {k} FROM t"), "rows": 10 + n }),
        (5, 2) => json!({ "database": "analytics", "query": format!("DROP TABLE t{k};"), "rows": 0 }),
        (5, _) => json!({ "database": format!("ledger-{k}"), "query": "UPDATE x", "rows": 1 }),
        (_, 0) => json!({ "target": format!("t{k}/obj"), "size": 1 + n, "tags": ["a"] }),
        (_, 1) => json!({ "target": "x", "size": 1, "tags": ["a", format!("blocked-{k}"), "c"] }),
        (_, 2) => json!({ "target": format!("big-{k}"), "size": 10_000 + k, "tags": [] }),
        (_, _) => json!({ "target": format!("svc-{k}-b"), "size": 3, "tags": ["x", "ok-1"] }),
    }
}

/// A small deterministic generator (xorshift64*), so requests are reproducible without a
/// dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use aarm_runtime::decision::Effect;
    use aarm_runtime::engine::Engine;
    use std::collections::BTreeMap;

    fn engine(rules: usize, tools: usize) -> Engine {
        let src = gateway_policy(rules, tools);
        let loaded = aarm_compiler::load_sources(vec![("gateway.aarm".to_string(), src)]);
        let compiled = aarm_compiler::compile(&loaded);
        let errors: Vec<String> =
            compiled.checked.diagnostics.iter().filter(|d| d.is_error()).map(|d| format!("{d:?}")).collect();
        assert!(errors.is_empty(), "{} errors, first: {:?}", errors.len(), errors.first());
        assert!(compiled.codegen_error.is_none(), "{:?}", compiled.codegen_error);
        let program = compiled.program.expect("program");
        let bytes = aarm_runtime::bundle::encode(&program, None).expect("encode");
        Engine::load(&bytes, &[], false).expect("load")
    }

    #[test]
    fn policies_compile_at_every_size() {
        for (rules, tools) in [(0, 1), (3, 2), (10, 5), (100, 5), (400, 20), (1000, tools_for(1000))] {
            let e = engine(rules, tools);
            assert_eq!(e.program().rules.len(), rules, "rules={rules} tools={tools}");
            assert_eq!(e.program().schema.tools.len(), tools);
        }
    }

    #[test]
    fn requests_convert_and_give_a_mix_of_decisions() {
        let (rules, tools) = (400, 20);
        let e = engine(rules, tools);
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for json in requests(rules, tools, 2000, 7) {
            let req = e.convert(&json, 1_790_000_000).unwrap_or_else(|err| panic!("{err}: {json}"));
            let d = e.decide(&req);
            let key = match (&d.decision, d.rule.is_some()) {
                (Effect::Deny, false) => "default_deny".to_string(),
                (effect, _) => format!("{effect:?}"),
            };
            *seen.entry(key).or_default() += 1;
            assert_ne!(&*d.reason.code, "input.invalid", "{json}");
            assert_ne!(&*d.reason.code, "eval.error", "{json}: {:?}", d.reason);
        }
        for needed in ["Allow", "Deny", "StepUp", "default_deny"] {
            assert!(seen.get(needed).copied().unwrap_or(0) > 20, "{needed}: {seen:?}");
        }
    }

    #[test]
    fn the_typical_request_is_allowed() {
        let e = engine(100, 5);
        let req = e.convert(&typical_request(), 1_790_000_000).unwrap();
        let d = e.decide(&req);
        assert_eq!(d.decision, Effect::Allow, "{d:?}");
        assert_eq!(d.rule.as_deref(), Some("gateway.r0"));
    }

    #[test]
    fn requests_are_reproducible() {
        assert_eq!(requests(100, 5, 50, 3), requests(100, 5, 50, 3));
        assert_ne!(requests(100, 5, 50, 3), requests(100, 5, 50, 4));
    }
}
