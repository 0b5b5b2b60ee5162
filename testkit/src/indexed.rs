//! A bundle whose rules the engine indexes, for the tests and fuzz targets that try the rule
//! index (`runtime/src/index.rs`, `runtime/src/leading.rs`) with hostile bytecode: whatever the
//! bytes, a bundle that loads must not have the index skip a rule that holds or fails.

/// A policy whose one tool has its rules indexed (`runtime/src/index.rs`), most of them past a
/// quantifier, a call or a negation (`runtime/src/leading.rs`): the base `bundle_mutate` (fuzz/)
/// mutates to reach the index with hostile bytecode, and `tests/adversarial_index.rs` flips
/// every bit of. Every table kind is used.
pub const POLICY: &str = r#"policy indexed version "1"
settings {
  default allow
}
group ops = ["root", "ops"]
fn safe(p: String) -> Bool = p.starts_with("/") and not p.contains("..")
tool call { path: String, tags: List<String>, n: Int, amount: Decimal }
rule r0 on call { when safe(params.path) and params.path.starts_with("/srv/a/") deny }
rule r1 on call { when (any t in params.tags: t.ends_with("x")) and params.n > 3 deny }
rule r2 on call { when (all t in params.tags: safe(t)) and params.path.ends_with(".pem") deny }
rule r3 on call { when not (params.n == 2) and params.path.contains("/.ssh/") deny }
rule r4 on call { when params.amount > 100.5 and "admin" in params.tags deny }
rule r5 on call { when params.path in ["/x", "/y"] or params.n < 0 deny }
rule r6 on call { when identity.human in ops and "dev" in identity.roles deny }
rule r7 on call { when params.n >= 7 and params.path.starts_with("/srv/b/") deny }
rule r8 on call { when 100 / params.n > 10 and params.path == "/div" deny }
rule r9 on call { when (any t in params.tags: t == "stop") and params.amount <= 0.0 deny }
"#;

/// Requests for [`POLICY`]: some hold a rule, some none, one divides by zero.
pub const REQUESTS: [&str; 4] = [
    r#"{"action": {"tool": "call", "params": {"path": "/srv/a/k", "tags": ["ax", "b"], "n": 5, "amount": "120.25"}}, "identity": {"human": "root", "roles": ["dev"]}}"#,
    r#"{"action": {"tool": "call", "params": {"path": "/home/.ssh/id.pem", "tags": [], "n": 2, "amount": 0}}}"#,
    r#"{"action": {"tool": "call", "params": {"path": "/div", "tags": ["stop"], "n": 0, "amount": "-1"}}}"#,
    r#"{"action": {"tool": "call", "params": {"path": "/srv/b/z", "tags": ["admin", "a..b"], "n": 9, "amount": "100.5"}}, "identity": {"human": "ops"}}"#,
];
