//! Target (4): the compiled VM against the reference interpreter on generated programs.
//!
//! Structure-aware: the fuzzer's bytes drive an `arbitrary::Unstructured` that picks a policy
//! (settings, 1–6 rules over a fixed schema, conditions typed by construction up to depth 4,
//! every decision kind including `modify`, reasons with interpolations; the string and list
//! methods `split`, `at`, `index_of`, `in_cidr`, `is_ip`, `utc_offset`, `offset_in` and the `url_*`
//! methods with inputs that make valid and invalid strings both frequent, the invalid ones built at
//! run time since a literal a method cannot read is a compile-time error) and a request (tool,
//! params, context, identity, any subset of the evidence). The policy is compiled; when the
//! checker accepts it, `engine.decide(&req)` (bytecode) must equal
//! `aarm_compiler::interpret::decide(&ir, &req, hash)`, as in `compiler/tests/differential.rs`.
//! Requests the converter refuses are skipped (target 3 covers conversion).
#![no_main]

use aarm_compiler::{check, codegen, interpret, load_sources};
use aarm_runtime::engine::Engine;
use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};

const HASH: &str = "sha256:fuzz";
const NOW: i64 = 1_795_514_400;
const MAX_DEPTH: u32 = 4;

const SCHEMA: &str = r#"
tool pay { amount: Decimal, count: Int, currency: String, memo: String?, tags: List<String>, urgent: Bool, limit: Int? }
tool mail { to: List<String>, subject: String, count: Int, urgent: Bool }
tool wipe { name: String }
context { env: String, level: Int? }
evidence ok: Bool from "ok_api"
evidence score: Int from "scorer"
evidence label: String
evidence flag: Bool from "flags"
evidence seen: List<String> from "history"
evidence rate: Decimal
group admins = ["a@x", "b@x", "c@x"]
fn is_big(n: Int) -> Bool = n > 100
fn double(n: Int) -> Int = n * 2
fn opt_pos(n: Int?) -> Bool = n is set and n > 0
"#;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Pay,
    Mail,
    Both,
    Any,
}

impl Scope {
    fn targets(self) -> &'static str {
        match self {
            Scope::Pay => "pay",
            Scope::Mail => "mail",
            Scope::Both => "pay, mail",
            Scope::Any => "*",
        }
    }
}

struct Gen<'a, 'b> {
    u: &'a mut Unstructured<'b>,
    scope: Scope,
    /// Bound string variables (quantifiers, lambdas).
    vars: Vec<String>,
    fresh: u32,
}

fn pick<'x>(u: &mut Unstructured<'_>, xs: &[&'x str]) -> Result<&'x str> {
    Ok(*u.choose(xs)?)
}

impl Gen<'_, '_> {
    fn leaf_b(&mut self) -> Result<String> {
        let mut xs = vec![
            "true",
            "false",
            "evidence.ok",
            "evidence.flag",
            "evidence.ok is set",
            "evidence.score is not set",
            "context.level is not set",
            "(context.semantic_distance is set and context.semantic_distance > 0.5)",
            "context.now - 1h < context.now",
        ];
        match self.scope {
            Scope::Pay => xs.extend(["params.urgent", "params.memo is set", "params.limit is not set"]),
            Scope::Mail | Scope::Both => xs.push("params.urgent"),
            Scope::Any => {}
        }
        Ok(pick(self.u, &xs)?.to_string())
    }

    fn leaf_i(&mut self) -> Result<String> {
        let mut xs = vec![
            "0",
            "1",
            "2",
            "-1",
            "7",
            "9223372036854775807",
            "evidence.score",
            "context.now.hour()",
            "context.now.minute()",
            "context.now.weekday()",
            "identity.roles.len()",
            "evidence.seen.len()",
            "context.prior_actions.len()",
        ];
        match self.scope {
            Scope::Pay => xs.extend(["params.count", "params.tags.len()", "params.currency.len()"]),
            Scope::Mail => xs.extend(["params.count", "params.to.len()", "params.subject.len()"]),
            Scope::Both => xs.push("params.count"),
            Scope::Any => {}
        }
        if self.u.ratio(1, 4)? {
            return Ok(format!("({})", self.u.int_in_range(-1000i64..=1000)?));
        }
        Ok(pick(self.u, &xs)?.to_string())
    }

    fn leaf_d(&mut self) -> Result<String> {
        let mut xs =
            vec!["0.5", "12.25", "1000", "0.0001", "900000000000000.0", "evidence.rate", "922337203685477.5807"];
        if self.scope == Scope::Pay {
            xs.push("params.amount");
        }
        Ok(pick(self.u, &xs)?.to_string())
    }

    fn leaf_s(&mut self) -> Result<String> {
        if !self.vars.is_empty() && self.u.ratio(1, 2)? {
            return Ok(self.u.choose(&self.vars)?.clone());
        }
        let mut xs = vec![
            r#""a""#,
            r#""ab""#,
            r#""A""#,
            r#""""#,
            r#"" a ""#,
            r#""USD""#,
            "identity.human",
            "context.env",
            "evidence.label",
            "action.tool",
            "action.operation",
            r#""10.1.2.3""#,
            r#""+05:30""#,
            // An evaluation error when there is no prior action.
            "context.prior_actions.at(-1).tool",
        ];
        match self.scope {
            Scope::Pay => xs.push("params.currency"),
            Scope::Mail => xs.push("params.subject"),
            _ => {}
        }
        Ok(pick(self.u, &xs)?.to_string())
    }

    /// A `List<String>` leaf (`at` and `index_of` need a list: a `Set` has no order).
    fn leaf_lo(&mut self) -> Result<String> {
        let mut xs = vec![r#"["a", "b"]"#, "evidence.seen", r#"["b", "x", "a@x"]"#];
        match self.scope {
            Scope::Pay => xs.push("params.tags"),
            Scope::Mail => xs.push("params.to"),
            _ => {}
        }
        Ok(pick(self.u, &xs)?.to_string())
    }

    /// A separator for `split`.
    fn sep(&mut self) -> Result<String> {
        if self.u.ratio(1, 6)? {
            return self.s(MAX_DEPTH);
        }
        Ok(pick(self.u, &[r#"",""#, r#""a""#, r#""""#, r#""@""#, r#"".""#])?.to_string())
    }

    /// An index for `at`: small, mostly in range, or any integer.
    fn index(&mut self, depth: u32) -> Result<String> {
        if self.u.ratio(1, 4)? {
            return self.i(depth);
        }
        Ok(pick(self.u, &["0", "1", "-1", "-2"])?.to_string())
    }

    /// A `List<String>` (never a `Set`).
    fn lo(&mut self, depth: u32) -> Result<String> {
        if depth >= MAX_DEPTH || self.u.ratio(1, 2)? {
            return self.leaf_lo();
        }
        let d = depth + 1;
        Ok(match self.u.int_in_range(0u8..=2)? {
            0 => format!("({}).split({})", self.s(d)?, self.sep()?),
            1 => {
                let xs = self.lo(d)?;
                let (v, body) = self.with_var(|g, _| g.b(d))?;
                format!("{xs}.filter({v} => {body})")
            }
            _ => format!("[{}, {}]", self.s(d)?, self.s(d)?),
        })
    }

    fn leaf_l(&mut self) -> Result<String> {
        let mut xs = vec![r#"["a", "b"]"#, "identity.roles", "evidence.seen", r#"["b", "x", "a@x"]"#, "admins"];
        match self.scope {
            Scope::Pay => xs.push("params.tags"),
            Scope::Mail => xs.push("params.to"),
            _ => {}
        }
        Ok(pick(self.u, &xs)?.to_string())
    }

    fn with_var<T>(&mut self, f: impl FnOnce(&mut Self, &str) -> Result<T>) -> Result<(String, T)> {
        self.fresh += 1;
        let v = format!("v{}", self.fresh);
        self.vars.push(v.clone());
        let r = f(self, &v);
        self.vars.pop();
        Ok((v, r?))
    }

    fn b(&mut self, depth: u32) -> Result<String> {
        if depth >= MAX_DEPTH || self.u.ratio(1, 3)? {
            return self.leaf_b();
        }
        let d = depth + 1;
        let cmp = ["==", "!=", "<", "<=", ">", ">="];
        Ok(match self.u.int_in_range(0u8..=19)? {
            0 => format!("{} {} {}", self.i(d)?, pick(self.u, &cmp)?, self.i(d)?),
            1 => format!("{} {} {}", self.d(d)?, pick(self.u, &cmp)?, self.i(d)?),
            2 => format!("{} {} {}", self.d(d)?, pick(self.u, &cmp)?, self.d(d)?),
            3 => format!("{} {} {}", self.s(d)?, pick(self.u, &cmp)?, self.s(d)?),
            4 => format!("not ({})", self.b(d)?),
            5 => format!("({} and {})", self.b(d)?, self.b(d)?),
            6 => format!("({} or {})", self.b(d)?, self.b(d)?),
            7 => format!("({}) == ({})", self.b(d)?, self.b(d)?),
            8 => format!("{} in {}", self.s(d)?, self.l(d)?),
            9 => {
                let q = pick(self.u, &["any", "all"])?;
                let xs = self.l(d)?;
                let (v, body) = self.with_var(|g, _| g.b(d))?;
                format!("({q} {v} in {xs}: {body})")
            }
            10 => {
                let m = pick(self.u, &["starts_with", "ends_with", "contains"])?;
                format!("({}).{m}({})", self.s(d)?, self.s(d)?)
            }
            11 => {
                let m =
                    pick(self.u, &[r#"matches("^a+b?$")"#, r#"matches("(?i)usd")"#, r#"glob("a*")"#, r#"glob("?b")"#])?;
                format!("({}).{m}", self.s(d)?)
            }
            12 => format!("is_big({})", self.i(d)?),
            13 => format!("opt_pos({})", self.i(d)?),
            14 => format!("(context.level is set and context.level * {} > 3)", self.i(d)?),
            15 if self.scope == Scope::Pay => {
                format!("(params.memo is set and params.memo.contains({}))", self.s(d)?)
            }
            16 if self.scope == Scope::Pay => format!("(params.limit is set and params.limit > {})", self.i(d)?),
            17 => {
                let a = if self.u.arbitrary()? {
                    self.runtime_s(d)?
                } else {
                    let addresses = [
                        r#""10.1.2.3""#,
                        r#""10.9.9.9""#,
                        r#""fd00::1""#,
                        r#""::ffff:10.0.0.1""#,
                        r#"("256.0.0." + "1")"#,
                        r#"("010.1.2." + "3")"#,
                    ];
                    pick(self.u, &addresses)?.to_string()
                };
                let blocks = [
                    r#""10.0.0.0/8""#,
                    r#""0.0.0.0/0""#,
                    r#""10.1.2.3/32""#,
                    r#"("10.1.2.0/3" + "3")"#,
                    r#""10.1.0.0/16""#,
                    r#""fc00::/7""#,
                ];
                let block = if self.u.ratio(1, 5)? { self.runtime_s(d)? } else { pick(self.u, &blocks)?.to_string() };
                format!("({a}).in_cidr({block})")
            }
            18 => format!("{}.index_of({}) >= {}", self.lo(d)?, self.s(d)?, self.i(d)?),
            19 => format!("({}).is_ip()", self.s(d)?),
            _ => format!("{}.contains({})", self.l(d)?, self.s(d)?),
        })
    }

    fn i(&mut self, depth: u32) -> Result<String> {
        if depth >= MAX_DEPTH || self.u.ratio(1, 2)? {
            return self.leaf_i();
        }
        let d = depth + 1;
        Ok(match self.u.int_in_range(0u8..=10)? {
            0 => format!("({} {} {})", self.i(d)?, pick(self.u, &["+", "-", "*", "/"])?, self.i(d)?),
            6 => format!("{}.index_of({})", self.lo(d)?, self.s(d)?),
            7 => format!("({}).split({}).len()", self.s(d)?, self.sep()?),
            8 => {
                let offsets = [
                    r#""+05:30""#,
                    r#""-08:00""#,
                    r#""Z""#,
                    r#""UTC+2""#,
                    r#"("+24:0" + "0")"#,
                    r#""gmt-0130""#,
                    "context.env",
                ];
                let o = if self.u.ratio(1, 4)? { self.runtime_s(d)? } else { pick(self.u, &offsets)?.to_string() };
                format!("(context.now + ({o}).utc_offset()).hour()")
            }
            9 => {
                let zones = [
                    r#""Europe/Paris""#,
                    r#""America/New_York""#,
                    r#""+05:30""#,
                    r#"("Europe/Pari" + "")"#,
                    "context.env",
                ];
                let z = if self.u.ratio(1, 4)? { self.runtime_s(d)? } else { pick(self.u, &zones)?.to_string() };
                format!("(context.now + context.now.offset_in({z})).hour()")
            }
            10 => format!("({}).url_port()", self.url(d)?),
            1 => format!("(-{})", self.i(d)?),
            2 => {
                let xs = self.l(d)?;
                let (v, body) = self.with_var(|g, _| g.b(d))?;
                format!("(count {v} in {xs}: {body})")
            }
            3 => format!("double({})", self.i(d)?),
            4 => format!("({}).len()", self.s(d)?),
            _ => format!("{}.len()", self.l(d)?),
        })
    }

    fn d(&mut self, depth: u32) -> Result<String> {
        if depth >= MAX_DEPTH || self.u.ratio(1, 2)? {
            return self.leaf_d();
        }
        let d = depth + 1;
        let op = pick(self.u, &["+", "-", "*", "/"])?;
        Ok(match self.u.int_in_range(0u8..=2)? {
            0 => format!("({} {op} {})", self.d(d)?, self.d(d)?),
            1 => format!("({} {op} {})", self.d(d)?, self.i(d)?),
            _ => format!("(-{})", self.d(d)?),
        })
    }

    fn s(&mut self, depth: u32) -> Result<String> {
        if depth >= MAX_DEPTH || self.u.ratio(1, 2)? {
            return self.leaf_s();
        }
        let d = depth + 1;
        Ok(match self.u.int_in_range(0u8..=4)? {
            0 => format!("({} + {})", self.s(d)?, self.s(d)?),
            2 => format!("({}).split({}).at({})", self.s(d)?, self.sep()?, self.index(d)?),
            3 => format!("{}.at({})", self.lo(d)?, self.index(d)?),
            4 => format!("({}).{}()", self.url(d)?, pick(self.u, &["url_scheme", "url_host", "url_path", "url_query"])?),
            _ => format!("({}).{}()", self.s(d)?, pick(self.u, &["lower", "upper", "trim"])?),
        })
    }

    /// A string that is never a literal: a literal that a method parses is read at compile time
    /// (E0211), so the strings given to those methods are built at run time to reach the engines.
    fn runtime_s(&mut self, depth: u32) -> Result<String> {
        Ok(format!("({} + \"\")", self.s(depth)?))
    }

    /// A URL for the `url_*` methods: valid and invalid ones (the invalid built at run time).
    fn url(&mut self, depth: u32) -> Result<String> {
        if self.u.ratio(1, 4)? {
            return self.runtime_s(depth);
        }
        let urls = [
            r#""https://evil.example\\@github.com/x?q=1""#,
            r#""https://User@API.Example.com:8443/a/../b?x#f""#,
            r#""http://[::1]/""#,
            r#"("foo://h/" + "p")"#,
            r#"("mailto:" + "a@b")"#,
            r#"("github.com/" + "x")"#,
            "context.env",
        ];
        Ok(pick(self.u, &urls)?.to_string())
    }

    fn l(&mut self, depth: u32) -> Result<String> {
        if depth >= MAX_DEPTH || self.u.ratio(1, 2)? {
            return self.leaf_l();
        }
        let d = depth + 1;
        Ok(match self.u.int_in_range(0u8..=2)? {
            2 => self.lo(d)?,
            0 => {
                let xs = self.l(d)?;
                let (v, body) = self.with_var(|g, _| g.b(d))?;
                format!("{xs}.filter({v} => {body})")
            }
            _ => format!("[{}, {}]", self.s(d)?, self.s(d)?),
        })
    }

    fn decision(&mut self) -> Result<String> {
        let simple = [
            "allow",
            "deny",
            "step_up { approvers 1 of admins }",
            r#"step_up { approvers 2 of ["a@x", "b@x"] timeout 30m -> deny risk high }"#,
            r#"step_up { approvers 1 of role "sec" timeout 10m -> step_up { approvers 1 of admins } escalate after 5m to ["boss@x"] no veto }"#,
            "defer { need ok }",
            "defer { need score, label timeout 5m -> deny attempts 2 -> cancel }",
        ];
        if self.scope == Scope::Any || self.u.ratio(3, 4)? {
            return Ok(pick(self.u, &simple)?.to_string());
        }
        Ok(match self.scope {
            Scope::Pay => match self.u.int_in_range(0u8..=3)? {
                0 => format!("modify {{ params.currency = {} }}", self.s(2)?),
                1 => format!("modify {{ params.amount = {} }}", self.d(2)?),
                2 => format!("modify {{ params.count = {}; params.urgent = {} }}", self.i(2)?, self.b(2)?),
                _ => r#"modify { params.tags = params.tags.filter(x => x != evidence.label); params.memo = "m" }"#
                    .to_string(),
            },
            Scope::Mail => format!("modify {{ params.subject = \"[r] \" + {} }}", self.s(2)?),
            _ => format!("modify {{ params.urgent = {}; params.count = {} }}", self.b(2)?, self.i(2)?),
        })
    }

    fn interpolation(&mut self) -> Result<String> {
        let mut xs = vec![
            "evidence.score",
            "evidence.label",
            "identity.human",
            "context.env",
            "100 / evidence.score",
            "evidence.seen",
            "evidence.rate",
        ];
        match self.scope {
            Scope::Pay => xs.extend(["params.amount", "params.tags", "params.amount * params.count"]),
            Scope::Mail => xs.extend(["params.to", "params.subject"]),
            Scope::Both => xs.push("params.count"),
            Scope::Any => {}
        }
        Ok(pick(self.u, &xs)?.to_string())
    }
}

fn rule(u: &mut Unstructured<'_>, index: usize) -> Result<String> {
    let scope = *u.choose(&[Scope::Pay, Scope::Pay, Scope::Mail, Scope::Both, Scope::Any])?;
    let mut g = Gen { u, scope, vars: Vec::new(), fresh: 0 };
    let mut out = format!("rule r{index} on {}", scope.targets());
    if g.u.arbitrary()? {
        out.push_str(&format!(" priority {}", g.u.int_in_range(-1i64..=3)?));
    }
    out.push_str(" {\n");
    for _ in 0..g.u.int_in_range(0u8..=2)? {
        let w = g.b(0)?;
        out.push_str(&format!("  when {w}\n"));
    }
    if g.u.ratio(1, 5)? {
        out.push_str(&format!("  confidence {}\n", pick(g.u, &["0.3", "0.6", "0.9"])?));
    }
    let decision = g.decision()?;
    out.push_str(&format!("  {decision}\n"));
    if g.u.ratio(1, 3)? {
        let mut msg = String::from("v ");
        for _ in 0..g.u.int_in_range(0u8..=2)? {
            msg.push_str(&format!("{{{}}} / ", g.interpolation()?));
        }
        out.push_str(&format!("  reason \"code.r{index}\" \"{msg}\"\n"));
    }
    out.push_str("}\n");
    Ok(out)
}

fn policy(u: &mut Unstructured<'_>) -> Result<String> {
    let mut settings = Vec::new();
    if u.ratio(1, 5)? {
        settings.push("default allow");
    }
    if u.ratio(1, 4)? {
        settings.push("conflict defer");
    }
    if u.ratio(1, 4)? {
        settings.push("min_confidence 0.6");
    }
    let mut src = String::from("policy p version \"1\"\n");
    if !settings.is_empty() {
        src.push_str(&format!("settings {{ {} }}\n", settings.join("\n")));
    }
    src.push_str(SCHEMA);
    for i in 0..u.int_in_range(1usize..=6)? {
        src.push_str(&rule(u, i)?);
    }
    Ok(src)
}

fn strs(u: &mut Unstructured<'_>, max: usize) -> Result<Vec<&'static str>> {
    let n = u.int_in_range(0..=max)?;
    (0..n).map(|_| pick(u, &["a", "b", "ab", "A", "x", "a@x", "b@x", "USD", ""])).collect()
}

fn request(u: &mut Unstructured<'_>) -> Result<String> {
    let tool = pick(u, &["pay", "mail", "wipe", "other"])?;
    let count = *u.choose(&[0i64, 1, 2, -5, 200, i64::MAX, i64::MIN])?;
    let params = match tool {
        "pay" => {
            let amount =
                u.choose(&[json!(0), json!(10.5), json!(5000), json!(1e15), json!(-3), json!(0.0001)])?.clone();
            let mut p = json!({
                "amount": amount, "count": count, "currency": pick(u, &["USD", "EUR", "a"])?,
                "tags": strs(u, 3)?, "urgent": u.arbitrary::<bool>()?,
            });
            if u.arbitrary()? {
                p["memo"] = json!(pick(u, &["refund", "a", ""])?);
            }
            if u.arbitrary()? {
                p["limit"] = json!(*u.choose(&[0i64, 5, -1])?);
            }
            p
        }
        "mail" => {
            json!({"to": strs(u, 3)?, "subject": pick(u, &["hi", "A", ""])?, "count": count, "urgent": u.arbitrary::<bool>()?})
        }
        "wipe" => json!({"name": "db"}),
        _ => json!({}),
    };
    let mut context = json!({"env": pick(u, &["prod", "dev", "10.1.2.3", "+05:30", "a,b"])?});
    if u.arbitrary()? {
        context["level"] = json!(*u.choose(&[0i64, 3, -2])?);
    }
    if u.arbitrary()? {
        context["semantic_distance"] = json!(*u.choose(&[0.2f64, 0.9])?);
    }
    if u.arbitrary()? {
        context["now"] = json!(pick(u, &["2026-11-24T23:59:59Z", "2026-01-01T00:00:00Z"])?);
    }
    let mut evidence = Map::new();
    if u.arbitrary()? {
        evidence.insert("ok".into(), json!(u.arbitrary::<bool>()?));
    }
    if u.arbitrary()? {
        evidence.insert("score".into(), json!(*u.choose(&[0i64, 1, 6, -1, i64::MAX])?));
    }
    if u.arbitrary()? {
        evidence.insert("label".into(), json!(pick(u, &["a", "b", "USD"])?));
    }
    if u.arbitrary()? {
        evidence.insert("flag".into(), json!(u.arbitrary::<bool>()?));
    }
    if u.arbitrary()? {
        evidence.insert("seen".into(), json!(strs(u, 2)?));
    }
    if u.arbitrary()? {
        evidence.insert("rate".into(), u.choose(&[json!(0), json!(1.5), json!(0.001)])?.clone());
    }
    let mut req = json!({
        "action": {"tool": tool, "operation": pick(u, &["execute", "a"])?, "params": params},
        "identity": {"human": pick(u, &["a@x", "z", "10.9.0.1", "UTC-8"])?, "roles": strs(u, 2)?},
        "context": context,
        "evidence": Value::Object(evidence),
    });
    if u.ratio(1, 4)? {
        req["context"]["prior_actions"] = json!([{"tool": "pay", "decision": "allow"}]);
    }
    Ok(req.to_string())
}

/// Inputs, generated policies, checked policies, compared decisions (`AARM_FUZZ_STATS=1` prints
/// them every 10 000 inputs, the checker's rejections with `AARM_FUZZ_STATS=2`, every generated
/// policy and request with `AARM_FUZZ_STATS=3`).
static STATS: [AtomicU64; 4] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

fn count(i: usize) {
    let n = STATS[i].fetch_add(1, Ordering::Relaxed);
    if i == 0 && n % 10_000 == 9_999 && std::env::var_os("AARM_FUZZ_STATS").is_some() {
        let s: Vec<u64> = STATS.iter().map(|a| a.load(Ordering::Relaxed)).collect();
        eprintln!("stats: inputs {} generated {} checked {} compared {}", s[0], s[1], s[2], s[3]);
    }
}

fuzz_target!(|data: &[u8]| {
    count(0);
    let mut u = Unstructured::new(data);
    let (Ok(src), Ok(json)) = (policy(&mut u), request(&mut u)) else { return };
    count(1);
    if std::env::var("AARM_FUZZ_STATS").is_ok_and(|v| v == "3") {
        eprintln!("policy:\n{src}\nrequest: {json}");
    }
    let loaded = load_sources(vec![("policy.aarm".to_string(), src.clone())]);
    let checked = check(&loaded);
    let Some(ir) = checked.bundle else {
        if std::env::var("AARM_FUZZ_STATS").is_ok_and(|v| v == "2") {
            for d in checked.diagnostics.iter().filter(|d| d.is_error()) {
                eprintln!("rejected: {} {}", d.code.as_str(), d.message);
            }
        }
        return;
    };
    count(2);
    let program = codegen::generate(&ir, &loaded).expect("codegen of a checked bundle");
    let engine = Engine::from_program(program, HASH).expect("generated program verifies");
    let Ok(req) = engine.convert(&json, NOW) else { return };
    count(3);
    // The interpreter has no span table: it names the rule that failed, not the expression.
    let vm = engine.decide(&req).without_error_location();
    let interp = interpret::decide(&ir, &req, HASH);
    assert_eq!(vm, interp, "VM and interpreter disagree\npolicy:\n{src}\nrequest: {json}");
});
