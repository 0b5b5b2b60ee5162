//! The grammar of the differential tests: random policies over a fixed schema, well-typed by
//! construction, and random requests for them, both as text (`.aarm` source, JSON).
//!
//! Every choice is read from an [`Unstructured`]: libFuzzer's input in `fuzz/fuzz_targets/
//! differential.rs`, bytes drawn by proptest in `compiler/tests/differential.rs` (which then
//! shrink as bytes). So there is one grammar; when the bytes run out, `arbitrary` answers every
//! choice with its first option, which ends the recursion at a leaf.
//!
//! What is generated:
//! - [`policy`]: settings (default, conflict mode, minimum confidence, deferral and step-up
//!   limits), 1–7 rules on `pay`, `mail`, `pay, mail` or `*`, conditions of every type up to
//!   `depth` levels (arithmetic, comparisons, three-valued logic over evidence, quantifiers and
//!   lambdas with bound variables, functions, records, durations and times, the string, list,
//!   IP, offset, zone and URL methods with valid and invalid inputs), straight-line leaf tests
//!   the engine fuses and plans, every decision kind including `modify`, risk, confidence,
//!   interpolated reasons; sometimes split over two files of two policies;
//! - [`indexed_policy`]: 8–39 rules on one tool made of the leaves the rule index reads
//!   (`runtime/src/index.rs`), mixed with leaves that end the indexed prefix;
//! - [`request`]: a request for either, with fields missing, extra or out of range, so that
//!   some are refused by the converter.

use crate::FILE_MARK;
use arbitrary::{Result, Unstructured};

/// The schema every generated policy declares (the request generator writes its fields).
pub const SCHEMA: &str = r#"
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
fn has(xs: List<String>, s: String) -> Bool = any x in xs: x == s
fn both_ok(b: Bool, n: Int) -> Bool = b and n != 0
fn double(n: Int) -> Int = n * 2
fn longer(xs: List<String>, n: Int) -> Bool = any x in xs: x.len() > n and not is_big(n)
fn tally(xs: List<String>, ys: List<String>) -> Int = count x in xs: (any y in ys: y == x)
fn opt_pos(n: Int?) -> Bool = n is set and n > 0
"#;

/// Which `params` a rule sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `on pay`: the `pay` tool's `params` (amount, currency, memo, tags, ...).
    Pay,
    /// `on mail`: the `mail` tool's `params` (to, subject, ...).
    Mail,
    /// `on pay, mail`: the shared fields `count` and `urgent`.
    Both,
    /// `on *`: no `params`.
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

fn pick<'x>(u: &mut Unstructured<'_>, options: &[&'x str]) -> Result<&'x str> {
    Ok(*u.choose(options)?)
}

/// An index into `weights`, each chosen in proportion to its weight.
fn weighted(u: &mut Unstructured<'_>, weights: &[u32]) -> Result<usize> {
    let total: u32 = weights.iter().sum();
    let mut x = u.int_in_range(0..=total.saturating_sub(1))?;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return Ok(i);
        }
        x -= w;
    }
    Ok(0)
}

/// Expressions of one rule: its scope and the variables bound around the current position.
struct Expr<'a, 'b> {
    u: &'a mut Unstructured<'b>,
    scope: Scope,
    /// Bound `String` variables (quantifiers, lambdas) a string leaf may name.
    vars: Vec<String>,
    fresh: u32,
}

const CMP: [&str; 6] = ["==", "!=", "<", "<=", ">", ">="];
const ARITH: [&str; 4] = ["+", "-", "*", "/"];

impl Expr<'_, '_> {
    fn leaf_b(&mut self) -> Result<String> {
        let mut xs = vec![
            "true",
            "false",
            "evidence.ok",
            "evidence.flag",
            "evidence.ok is set",
            "evidence.score is not set",
            "context.level is not set",
            "not evidence.seen is set",
            "(context.semantic_distance is set and context.semantic_distance > 0.5)",
            "context.now - 1h < context.now",
            "(context.now - (context.now - 1d)).seconds() > 86399",
        ];
        match self.scope {
            Scope::Pay => xs.extend(["params.urgent", "params.memo is set", "params.limit is not set"]),
            Scope::Mail | Scope::Both => xs.push("params.urgent"),
            Scope::Any => {}
        }
        Ok(pick(self.u, &xs)?.to_string())
    }

    fn leaf_i(&mut self) -> Result<String> {
        if self.u.ratio(1, 8)? {
            return Ok(format!("({})", self.u.int_in_range(-1000i64..=1000)?));
        }
        let mut xs = vec![
            "0",
            "1",
            "2",
            "-1",
            "7",
            "9223372036854775807",
            "evidence.score",
            "context.now.hour()",
            "identity.roles.len()",
            "context.now.minute()",
            "context.now.weekday()",
            "evidence.seen.len()",
            "context.prior_actions.len()",
        ];
        match self.scope {
            Scope::Pay => xs.extend(["params.count", "params.tags.len()", "params.currency.len()"]),
            Scope::Mail => xs.extend(["params.count", "params.to.len()", "params.subject.len()"]),
            Scope::Both => xs.extend(["params.count", "params.count"]),
            Scope::Any => {}
        }
        Ok(pick(self.u, &xs)?.to_string())
    }

    fn leaf_d(&mut self) -> Result<String> {
        let mut xs = vec![
            "0.5",
            "12.25",
            "1000",
            "0.0001",
            "900000000000000.0",
            "evidence.rate",
            "-0.3333",
            "922337203685477.5807",
            // 18 fractional digits, and the range's edge.
            "0.000000000000000001",
            "1.000000000000000001",
            "-0.333333333333333333",
            "99999999999999999999.999999999999999999",
            "12345678901.123456789012345678",
        ];
        if self.scope == Scope::Pay {
            xs.extend(["params.amount", "params.amount"]);
        }
        Ok(pick(self.u, &xs)?.to_string())
    }

    fn leaf_s(&mut self) -> Result<String> {
        if !self.vars.is_empty() && self.u.ratio(1, 3)? {
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
            Scope::Pay => xs.extend(["params.currency", "params.currency"]),
            Scope::Mail => xs.extend(["params.subject", "params.subject"]),
            Scope::Both | Scope::Any => {}
        }
        Ok(pick(self.u, &xs)?.to_string())
    }

    /// A list or set of strings.
    fn leaf_ls(&mut self) -> Result<String> {
        let mut xs = vec![r#"["a", "b"]"#, "identity.roles", "context.data_classes", "admins", "evidence.seen"];
        match self.scope {
            Scope::Pay => xs.extend(["params.tags", "params.tags"]),
            Scope::Mail => xs.extend(["params.to", "params.to"]),
            Scope::Both | Scope::Any => {}
        }
        Ok(pick(self.u, &xs)?.to_string())
    }

    /// A `List<String>`, never a `Set` (`at`, `index_of` and list parameters need an order).
    fn leaf_l(&mut self) -> Result<String> {
        let mut xs = vec![r#"["a", "b"]"#, "evidence.seen", r#"["b", "x", "a@x"]"#];
        match self.scope {
            Scope::Pay => xs.extend(["params.tags", "params.tags"]),
            Scope::Mail => xs.extend(["params.to", "params.to"]),
            Scope::Both | Scope::Any => {}
        }
        Ok(pick(self.u, &xs)?.to_string())
    }

    /// Runs `f` with a fresh `String` variable bound; returns the variable's name and `f`'s text.
    fn with_var(&mut self, f: impl FnOnce(&mut Self, &str) -> Result<String>) -> Result<(String, String)> {
        self.fresh += 1;
        let v = format!("v{}", self.fresh);
        self.vars.push(v.clone());
        let r = f(self, &v);
        self.vars.pop();
        Ok((v, r?))
    }

    /// A quantifier or lambda body over the string variable `v`, subexpressions of `depth`.
    fn body(&mut self, v: &str, depth: u32) -> Result<String> {
        Ok(match weighted(self.u, &[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3])? {
            0 => format!("(any w_{v} in {}: w_{v} == {v})", self.ls(depth)?),
            1 => format!("(count w_{v} in {}: w_{v} < {v}) > 1", self.ls(depth)?),
            2 => format!(r#"{v}.starts_with("a")"#),
            3 => format!("{v} == {}", self.s(depth)?),
            4 => format!("{v} in admins"),
            5 => format!("{v}.len() > {}", self.i(depth)?),
            6 => format!("{v} == evidence.label"),
            7 => format!(r#"({} and {v} != "b")"#, self.b(depth)?),
            8 => format!(r#"({} or {v}.contains("a"))"#, self.b(depth)?),
            9 => format!("{v}.upper() == \"AB\""),
            // Any condition, with `v` among the strings it may name.
            _ => self.b(depth)?,
        })
    }

    /// `(x + "")`: a string the compiler cannot read as a literal. A literal that a method parses
    /// (an address, block, offset, zone or URL) is read at compile time (E0211), so an invalid
    /// one, and any generated string that may be a literal, is built at run time.
    fn runtime(&mut self, depth: u32) -> Result<String> {
        Ok(format!("({} + \"\")", self.s(depth)?))
    }

    /// One of `options`, or (one time in `1 + weight`) a string built at run time.
    fn literal_or_runtime(&mut self, options: &[&str], weight: u32, depth: u32) -> Result<String> {
        if weighted(self.u, &[weight, 1])? == 1 {
            return self.runtime(depth);
        }
        Ok(pick(self.u, options)?.to_string())
    }

    /// A separator for `split`.
    fn sep(&mut self, depth: u32) -> Result<String> {
        if self.u.ratio(1, 6)? {
            return self.s(depth);
        }
        Ok(pick(self.u, &[r#"",""#, r#""a""#, r#""""#, r#""@""#, r#"".""#])?.to_string())
    }

    fn url(&mut self, depth: u32) -> Result<String> {
        let urls = [
            r#""https://evil.example\\@github.com/x?q=1""#,
            r#""https://User@API.Example.com:8443/a/../b?x#f""#,
            r#""http://[::1]/""#,
            r#"("foo://h/" + "p")"#,
            r#"("mailto:" + "a@b")"#,
            r#"("github.com/" + "x")"#,
            "context.env",
        ];
        self.literal_or_runtime(&urls, 1, depth)
    }

    /// An index for `at`: small, mostly in range, or any integer.
    fn index(&mut self, depth: u32) -> Result<String> {
        if self.u.ratio(1, 4)? {
            return self.i(depth);
        }
        Ok(pick(self.u, &["0", "1", "-1", "-2"])?.to_string())
    }

    fn i(&mut self, depth: u32) -> Result<String> {
        if depth == 0 {
            return self.leaf_i();
        }
        let d = depth - 1;
        Ok(match weighted(self.u, &[4, 1, 1, 1, 1, 1, 3, 1, 1, 1, 1])? {
            1 => format!("{}.index_of({})", self.l(d)?, self.s(d)?),
            2 => format!("({}).split({}).len()", self.s(d)?, self.sep(d)?),
            3 => {
                let offsets = [
                    r#""+05:30""#,
                    r#""-08:00""#,
                    r#""Z""#,
                    r#""UTC+2""#,
                    r#"("+24:0" + "0")"#,
                    r#""gmt-0130""#,
                    "context.env",
                ];
                let o = self.literal_or_runtime(&offsets, 1, d)?;
                format!("(context.now + ({o}).utc_offset()).hour()")
            }
            4 => {
                let zones = [
                    r#""Europe/Paris""#,
                    r#""America/New_York""#,
                    r#""+05:30""#,
                    r#""Z""#,
                    r#"("Europe/Pari" + "")"#,
                    "context.env",
                ];
                let z = self.literal_or_runtime(&zones, 1, d)?;
                format!("(context.now + context.now.offset_in({z})).hour()")
            }
            5 => format!("({}).url_port()", self.url(d)?),
            6 => format!("({} {} {})", self.i(d)?, pick(self.u, &ARITH)?, self.i(d)?),
            7 => format!("(-{})", self.i(d)?),
            8 => {
                let xs = self.ls(d)?;
                let (v, body) = self.with_var(|g, v| g.body(v, d))?;
                format!("(count {v} in {xs}: {body})")
            }
            9 => format!("double({})", self.i(d)?),
            10 => format!("tally([{}, {}], {})", self.s(d)?, self.s(d)?, self.l(d)?),
            _ => self.leaf_i()?,
        })
    }

    fn d(&mut self, depth: u32) -> Result<String> {
        if depth == 0 {
            return self.leaf_d();
        }
        let d = depth - 1;
        Ok(match weighted(self.u, &[4, 3, 2, 1])? {
            1 => format!("({} {} {})", self.d(d)?, pick(self.u, &ARITH)?, self.d(d)?),
            2 => format!("({} {} {})", self.d(d)?, pick(self.u, &ARITH)?, self.i(d)?),
            3 => format!("(-{})", self.d(d)?),
            _ => self.leaf_d()?,
        })
    }

    fn s(&mut self, depth: u32) -> Result<String> {
        if depth == 0 {
            return self.leaf_s();
        }
        let d = depth - 1;
        Ok(match weighted(self.u, &[4, 1, 1, 2, 1, 1])? {
            1 => format!("({}).split({}).at({})", self.s(d)?, self.sep(d)?, self.index(d)?),
            2 => format!("{}.at({})", self.l(d)?, self.index(d)?),
            3 => format!("({} + {})", self.s(d)?, self.s(d)?),
            4 => format!("({}).{}()", self.s(d)?, pick(self.u, &["lower", "upper", "trim"])?),
            5 => {
                let m = pick(self.u, &["url_scheme", "url_host", "url_path", "url_query"])?;
                format!("({}).{m}()", self.url(d)?)
            }
            _ => self.leaf_s()?,
        })
    }

    /// A list or set of strings.
    fn ls(&mut self, depth: u32) -> Result<String> {
        if depth == 0 {
            return self.leaf_ls();
        }
        let d = depth - 1;
        Ok(match weighted(self.u, &[4, 1, 1, 1])? {
            1 => {
                let xs = self.ls(d)?;
                let (v, body) = self.with_var(|g, v| g.body(v, d))?;
                format!("{xs}.filter({v} => {body})")
            }
            2 => format!("[{}, {}]", self.s(d)?, self.s(d)?),
            3 => self.l(d)?,
            _ => self.leaf_ls()?,
        })
    }

    /// A `List<String>`.
    fn l(&mut self, depth: u32) -> Result<String> {
        if depth == 0 {
            return self.leaf_l();
        }
        let d = depth - 1;
        Ok(match weighted(self.u, &[3, 1, 1, 1])? {
            1 => format!("({}).split({})", self.s(d)?, self.sep(d)?),
            2 => {
                let xs = self.l(d)?;
                let (v, body) = self.with_var(|g, v| g.body(v, d))?;
                format!("{xs}.filter({v} => {body})")
            }
            3 => format!("[{}, {}]", self.s(d)?, self.s(d)?),
            _ => self.leaf_l()?,
        })
    }

    fn b(&mut self, depth: u32) -> Result<String> {
        if depth == 0 {
            return self.leaf_b();
        }
        let d = depth - 1;
        let pay = if self.scope == Scope::Pay { 1 } else { 0 };
        let weights = [
            4,
            3,
            2,
            1,
            2,
            1,
            2,
            2,
            3,
            3,
            1,
            2,
            1,
            1,
            1,
            1,
            2,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            2 * pay,
            pay,
            pay,
        ];
        Ok(match weighted(self.u, &weights)? {
            1 => format!("{} {} {}", self.i(d)?, pick(self.u, &CMP)?, self.i(d)?),
            2 => format!("{} {} {}", self.d(d)?, pick(self.u, &CMP)?, self.i(d)?),
            3 => format!("{} {} {}", self.d(d)?, pick(self.u, &CMP)?, self.d(d)?),
            4 => format!("{} {} {}", self.s(d)?, pick(self.u, &CMP)?, self.s(d)?),
            5 => format!("({}) == ({})", self.b(d)?, self.b(d)?),
            6 => format!("{} in {}", self.s(d)?, self.ls(d)?),
            7 => format!("not ({})", self.b(d)?),
            8 => format!("({} and {})", self.b(d)?, self.b(d)?),
            9 => format!("({} or {})", self.b(d)?, self.b(d)?),
            10 => format!("({} and {} or {})", self.b(d)?, self.b(d)?, self.b(d)?),
            11 => {
                let q = pick(self.u, &["any", "all"])?;
                let xs = self.ls(d)?;
                let (v, body) = self.with_var(|g, v| g.body(v, d))?;
                format!("({q} {v} in {xs}: {body})")
            }
            12 => format!("{}.contains({})", self.ls(d)?, self.s(d)?),
            13 => {
                let addresses = [
                    r#""10.1.2.3""#,
                    r#""10.9.9.9""#,
                    r#""fd00::1""#,
                    r#""::ffff:10.0.0.1""#,
                    r#"("256.0.0." + "1")"#,
                    r#"("010.1.2." + "3")"#,
                ];
                let a = self.literal_or_runtime(&addresses, 1, d)?;
                let blocks = [
                    r#""10.0.0.0/8""#,
                    r#""0.0.0.0/0""#,
                    r#""10.1.2.3/32""#,
                    r#""10.1.0.0/16""#,
                    r#""fc00::/7""#,
                    r#"("10.1.2.0/3" + "3")"#,
                    "identity.human",
                ];
                let block = self.literal_or_runtime(&blocks, 4, d)?;
                format!("({a}).in_cidr({block})")
            }
            14 => format!("({}).is_ip()", self.s(d)?),
            15 => {
                let m = pick(self.u, &["contains_any", "contains_all"])?;
                format!("{}.{m}({})", self.ls(d)?, self.ls(d)?)
            }
            16 => {
                let m = pick(self.u, &["starts_with", "ends_with", "contains"])?;
                format!("({}).{m}({})", self.s(d)?, self.s(d)?)
            }
            17 => {
                let m =
                    pick(self.u, &[r#"matches("^a+b?$")"#, r#"matches("(?i)usd")"#, r#"glob("a*")"#, r#"glob("?b")"#])?;
                format!("({}).{m}", self.s(d)?)
            }
            18 => format!("is_big({})", self.i(d)?),
            // `has` takes a `List` (a `Set` argument is E0200): a list literal.
            19 => format!("has([{}, {}], {})", self.s(d)?, self.s(d)?, self.s(d)?),
            20 => format!("both_ok({}, {})", self.b(d)?, self.i(d)?),
            21 => format!("(context.level is set and context.level * {} > 3)", self.i(d)?),
            22 => format!("{} in [1, 2.5, {}]", self.d(d)?, self.i(d)?),
            23 => {
                self.fresh += 1;
                let p = format!("p{}", self.fresh);
                let (a, n) = (self.s(d)?, self.i(d)?);
                format!("(any {p} in context.prior_actions: {p}.tool == {a} or {p}.decision.len() > {n})")
            }
            24 => format!("longer({}, {})", self.l(d)?, self.i(d)?),
            25 => format!("({} * 1h).seconds() > 3600", self.i(d)?),
            26 => format!("not ({} or {} > 0)", self.b(d)?, self.i(d)?),
            27 => format!("opt_pos({})", self.i(d)?),
            28 => format!("(1h / {}).seconds() > 60", self.i(d)?),
            29 => format!("(context.now + {} * 1m).hour() > 3", self.i(d)?),
            30 => format!("1h + {} * 30m - 1s >= 90m", self.i(d)?),
            // `[]` (not as a method receiver: `[].contains("a")` is E0200, the element type of
            // `[]` does not unify with `String` there).
            31 => format!("({} in [] or [].len() == {})", self.s(d)?, self.i(d)?),
            // Records: literals, field access, membership in `context.prior_actions`.
            32 => format!("{{ tool: {}, decision: {} }} in context.prior_actions", self.s(d)?, self.s(d)?),
            33 => format!("{{ n: {}, s: {} }}.s == {}", self.i(d)?, self.s(d)?, self.s(d)?),
            34 => format!("{} == [{}, {}]", self.l(d)?, self.s(d)?, self.s(d)?),
            35 => format!("{}.index_of({}) >= {}", self.l(d)?, self.s(d)?, self.i(d)?),
            36 => format!("(params.memo is set and params.memo.contains({}))", self.s(d)?),
            37 => format!("(params.memo is not set or params.memo == {})", self.s(d)?),
            38 => format!("(params.limit is set and params.limit > {})", self.i(d)?),
            _ => self.leaf_b()?,
        })
    }

    /// Reason interpolations: no string literals inside `{}`.
    fn interpolation(&mut self) -> Result<String> {
        let mut parts = vec![
            "evidence.score",
            "evidence.label",
            "evidence.ok",
            "identity.human",
            "context.env",
            "action.tool",
            "evidence.score * 1000000000000000",
            "100 / evidence.score",
            "identity.roles",
            "context.now",
            "context.level is set",
            "evidence.seen",
            "evidence.rate",
            "count x in identity.roles: x in admins",
            "evidence.seen.filter(x => x in admins)",
            "context.now - 90m",
            "context.now - (context.now - 1h)",
        ];
        match self.scope {
            Scope::Pay => parts.extend([
                "params.amount",
                "params.tags",
                "params.count + 1",
                "params.amount * params.count",
                "params.tags.filter(t => t == evidence.label)",
                "params.amount / evidence.rate",
            ]),
            Scope::Mail => parts.extend(["params.to", "params.subject"]),
            Scope::Both => parts.extend(["params.count", "params.urgent"]),
            Scope::Any => {}
        }
        Ok(pick(self.u, &parts)?.to_string())
    }

    /// A decision; `modify` values are expressions of depth 1 or 2.
    fn decision(&mut self) -> Result<String> {
        if self.scope == Scope::Any || weighted(self.u, &[4, 1])? == 0 {
            return Ok(match self.u.int_in_range(0u8..=3)? {
                0 => "allow".to_string(),
                1 => "deny".to_string(),
                2 => pick(self.u, &[
                    "step_up { approvers 1 of admins }",
                    r#"step_up { approvers 2 of ["a@x", "b@x"] timeout 30m -> deny risk high }"#,
                    r#"step_up { approvers 1 of role "sec" timeout 10m -> step_up { approvers 1 of admins } escalate after 5m to ["boss@x"] notify "slack:#x" no veto }"#,
                ])?
                .to_string(),
                _ => pick(self.u, &[
                    "defer { need ok }",
                    "defer { need score, label timeout 5m -> deny attempts 2 -> cancel }",
                    "defer { }",
                ])?
                .to_string(),
            });
        }
        let d = self.u.int_in_range(1u32..=2)?;
        Ok(match self.scope {
            Scope::Pay => match self.u.int_in_range(0u8..=7)? {
                0 => format!("modify {{ params.currency = {} }}", self.s(d)?),
                1 => format!("modify {{ params.memo = {} }}", self.s(d)?),
                2 => r#"modify { params.tags = params.tags.filter(x => x != "a") }"#.to_string(),
                3 => r#"modify { params.tags = params.tags.filter(x => x != evidence.label); params.memo = "m" }"#
                    .to_string(),
                4 => "modify { params.memo = params.memo; params.limit = params.count }".to_string(),
                5 => "modify { params.amount = params.amount * evidence.rate }".to_string(),
                6 => format!("modify {{ params.amount = {} }}", self.d(d)?),
                _ => format!("modify {{ params.count = {}; params.urgent = {} }}", self.i(d)?, self.b(d)?),
            },
            Scope::Mail => match self.u.int_in_range(0u8..=3)? {
                0 => r#"modify { params.subject = "[r] " + params.subject }"#.to_string(),
                1 => format!("modify {{ params.to = params.to.filter(x => x != {}) }}", self.s(d)?),
                2 => format!("modify {{ params.subject = \"[r] \" + {} }}", self.s(d)?),
                _ => format!("modify {{ params.count = {} }}", self.i(d)?),
            },
            Scope::Both | Scope::Any => {
                format!("modify {{ params.urgent = {}; params.count = {} }}", self.b(d)?, self.i(d)?)
            }
        })
    }

    /// A leaf test of one parameter or role against a constant: what the engine fuses and runs
    /// as plans (`runtime/src/fuse.rs`, `plan.rs`).
    fn straight_leaf(&mut self) -> Result<String> {
        let mut leaves = vec![
            r#""admin" in identity.roles"#,
            r#""dev" in identity.roles"#,
            r#"not ("a" in identity.roles)"#,
            "identity.human in admins",
            "not (identity.agent in admins)",
        ];
        match self.scope {
            Scope::Pay => leaves.extend([
                "params.count > 3",
                "params.count == 7",
                "params.count <= 2",
                "not (params.count < 0)",
                r#"params.currency == "USD""#,
                r#"params.currency != "EUR""#,
                r#"params.currency.starts_with("U")"#,
                r#"params.currency.ends_with("D")"#,
                r#"params.currency.contains("S")"#,
                r#"params.currency.glob("U*")"#,
                r#"params.currency in ["USD", "GBP"]"#,
                r#""a" in params.tags"#,
                r#"params.tags.contains("b")"#,
                r#"params.tags.contains_any(["a", "x"])"#,
                "params.amount > 12.25",
                "params.urgent == true",
                "params.currency in admins",
            ]),
            Scope::Mail => leaves.extend([
                r#"params.subject.starts_with("a")"#,
                r#"params.subject == "ab""#,
                r#"not params.subject.contains("b")"#,
                r#""a@x" in params.to"#,
                r#"params.to.contains_all(["a"])"#,
                "params.count >= 1",
                "params.subject in admins",
            ]),
            Scope::Both => leaves.extend(["params.count > 1", "params.urgent == false"]),
            Scope::Any => {}
        }
        Ok(pick(self.u, &leaves)?.to_string())
    }

    /// The `when` lines of a rule: conditions of `depth`, or straight-line leaves (one a line,
    /// or one `or` of them).
    fn whens(&mut self, depth: u32) -> Result<Vec<String>> {
        match weighted(self.u, &[3, 1, 1])? {
            1 => (0..self.u.int_in_range(1usize..=3)?).map(|_| self.straight_leaf()).collect(),
            2 => {
                let xs =
                    (0..self.u.int_in_range(2usize..=3)?).map(|_| self.straight_leaf()).collect::<Result<Vec<_>>>()?;
                Ok(vec![xs.join(" or ")])
            }
            _ => (0..self.u.int_in_range(0usize..=2)?).map(|_| self.b(depth)).collect(),
        }
    }
}

fn rule(u: &mut Unstructured<'_>, index: usize, depth: u32) -> Result<String> {
    let scope = match weighted(u, &[4, 3, 2, 2])? {
        0 => Scope::Pay,
        1 => Scope::Mail,
        2 => Scope::Both,
        _ => Scope::Any,
    };
    let mut g = Expr { u, scope, vars: Vec::new(), fresh: 0 };
    let whens = g.whens(depth)?;
    let mut out = format!("rule r{index} on {}", scope.targets());
    if g.u.arbitrary()? {
        out.push_str(&format!(" priority {}", g.u.int_in_range(-1i64..=3)?));
    }
    out.push_str(" {\n");
    for w in whens {
        out.push_str(&format!("  when {w}\n"));
    }
    if g.u.ratio(1, 4)? {
        out.push_str(&format!("  risk {}\n", pick(g.u, &["low", "high", "critical"])?));
    }
    if g.u.ratio(1, 4)? {
        out.push_str(&format!("  confidence {}\n", pick(g.u, &["0.3", "0.6", "0.9"])?));
    }
    let decision = g.decision()?;
    out.push_str(&format!("  {decision}\n"));
    if g.u.ratio(1, 2)? {
        let mut msg = pick(g.u, &["", "value ", "x "])?.to_string();
        for _ in 0..g.u.int_in_range(0u8..=2)? {
            msg.push_str(&format!("{{{}}} / ", g.interpolation()?));
        }
        out.push_str(&format!("  reason \"code.r{index}\" \"{msg}\"\n"));
    }
    out.push_str("}\n");
    Ok(out)
}

fn settings(u: &mut Unstructured<'_>) -> Result<String> {
    let mut lines = Vec::new();
    if u.ratio(1, 5)? {
        lines.push("default allow".to_string());
    }
    if u.ratio(3, 10)? {
        lines.push("conflict defer".to_string());
    }
    if u.ratio(3, 10)? {
        lines.push(format!("min_confidence {}", pick(u, &["0.5", "0.6", "0.7"])?));
    }
    if u.ratio(1, 5)? {
        lines.push("defer timeout 2m -> deny, attempts 5 -> cancel".to_string());
        lines.push("step_up timeout 2h -> deny".to_string());
    }
    if lines.is_empty() {
        return Ok(String::new());
    }
    Ok(format!("settings {{\n  {}\n}}\n", lines.join("\n  ")))
}

/// A policy of 1–7 rules with conditions up to `depth` levels; three times in ten split over two
/// files of two policies (`p` and `q`), the second file sorting before or after the first, since
/// rule order and the default policy follow file path order.
pub fn policy(u: &mut Unstructured<'_>, depth: u32) -> Result<String> {
    let settings = settings(u)?;
    let n = u.int_in_range(1usize..=7)?;
    let rules = (0..n).map(|i| rule(u, i, depth)).collect::<Result<Vec<_>>>()?;
    let head = format!("policy p version \"1\"\n{settings}{SCHEMA}\n");
    if !u.ratio(3, 10)? {
        return Ok(format!("{head}{}", rules.join("\n")));
    }
    let at = u.int_in_range(0usize..=n)?;
    let other = pick(u, &["0.aarm", "b.aarm"])?;
    let (first, second) = rules.split_at(at.min(rules.len()));
    Ok(format!(
        "{FILE_MARK}a.aarm\n{head}{}{FILE_MARK}{other}\npolicy q version \"2\"\n{}",
        first.join("\n"),
        second.join("\n")
    ))
}

/// A leaf the rule index reads (integer and decimal bounds, integer and string equality,
/// prefixes, suffixes, substrings, list and group membership, a constant among a list parameter's
/// items or the roles, the caller in a group), with constants on both sides of the generated
/// requests' values.
fn indexable_leaf(u: &mut Unstructured<'_>) -> Result<String> {
    let strings = ["", "a", "U", "US", "USD", "É", "ab", "b", "x", "D"];
    Ok(match u.int_in_range(0u8..=10)? {
        0 => format!("params.count {} {}", pick(u, &[">", ">=", "<", "<=", "=="])?, u.int_in_range(-3i64..=7)?),
        1 => format!(r#"params.currency == "{}""#, pick(u, &["a", "ab", "b", "USD", "", "É", "x"])?),
        2 => format!(r#"params.currency.starts_with("{}")"#, pick(u, &strings)?),
        3 => format!("params.currency in {}", pick(u, &[r#"["a", "USD"]"#, r#"["b"]"#, "[]", r#"["É", "x", "ab"]"#])?),
        4 => "params.currency in admins".to_string(),
        5 => format!(r#"params.currency.ends_with("{}")"#, pick(u, &strings)?),
        6 => format!(r#"params.currency.contains("{}")"#, pick(u, &strings)?),
        7 => format!(
            "params.amount {} {}",
            pick(u, &[">", ">=", "<", "<="])?,
            pick(u, &["12.25", "12.5", "0.0", "-3.25", "5000.0", "0.000000000000000001", "99999.9999"])?
        ),
        8 => format!(r#""{}" in params.tags"#, pick(u, &["a", "ab", "x", "", "admin"])?),
        9 => format!(r#""{}" in identity.roles"#, pick(u, &["admin", "a", "x", ""])?),
        _ => "identity.human in admins".to_string(),
    })
}

/// A leaf that ends the indexed ones: a negation, evidence (unknown), an optional parameter, a
/// quantifier, a call, a test that can fail.
fn other_leaf(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(pick(
        u,
        &[
            "not (params.count > 2)",
            "evidence.score > 2",
            "evidence.label == \"a\"",
            "evidence.ok",
            "params.limit is set and params.limit > 1",
            "any t in params.tags: t == \"a\"",
            "100 / params.count > 20",
            "not (\"admin\" in identity.roles)",
            "params.count * 1000000000000000000 > 1",
            "is_big(params.count)",
            "has(params.tags, params.currency)",
        ],
    )?
    .to_string())
}

fn indexable_leaves(u: &mut Unstructured<'_>, most: usize) -> Result<Vec<String>> {
    (0..u.int_in_range(1..=most)?).map(|_| indexable_leaf(u)).collect()
}

/// The condition of one `when`, most starting with indexed leaves.
fn indexed_when(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(match weighted(u, &[3, 2, 1, 1, 1])? {
        1 => format!("{} and {}", indexable_leaves(u, 2)?.join(" and "), other_leaf(u)?),
        2 => format!("{} and {}", other_leaf(u)?, indexable_leaf(u)?),
        3 => format!("{} or {}", indexable_leaves(u, 3)?.join(" or "), indexable_leaf(u)?),
        // Leaves of an `and` whose `false` does not decide the condition.
        4 => format!("({}) or {}", indexable_leaves(u, 2)?.join(" and "), indexable_leaf(u)?),
        _ => indexable_leaves(u, 3)?.join(" and "),
    })
}

fn indexed_rule(u: &mut Unstructured<'_>, index: usize) -> Result<String> {
    let targets = pick(u, &["pay", "pay", "pay", "pay, mail", "*"])?;
    let n = u.int_in_range(0usize..=2)?;
    let whens = (0..n).map(|_| indexed_when(u)).collect::<Result<Vec<_>>>()?;
    let priority = if u.arbitrary()? { Some(u.int_in_range(-1i64..=2)?) } else { None };
    let mut g = Expr { u, scope: Scope::Pay, vars: Vec::new(), fresh: 0 };
    let decision = g.decision()?;
    // `on pay, mail` and `on *` see only the shared fields.
    let whens: Vec<String> = if targets == "pay" { whens } else { Vec::new() };
    let decision = if targets == "pay" || !decision.starts_with("modify") { decision } else { "deny".into() };
    let mut out = format!("rule r{index} on {targets}");
    if let Some(p) = priority {
        out.push_str(&format!(" priority {p}"));
    }
    out.push_str(" {\n");
    for w in whens {
        out.push_str(&format!("  when {w}\n"));
    }
    out.push_str(&format!("  {decision}\n}}\n"));
    Ok(out)
}

/// Many same-shape rules (8–39) on `pay`: the shape the rule index serves.
pub fn indexed_policy(u: &mut Unstructured<'_>) -> Result<String> {
    let settings = settings(u)?;
    let n = u.int_in_range(8usize..=39)?;
    let rules = (0..n).map(|i| indexed_rule(u, i)).collect::<Result<Vec<_>>>()?;
    Ok(format!("policy p version \"1\"\n{settings}{SCHEMA}\n{}", rules.join("\n")))
}

// ---------------------------------------------------------------------------------------------
// Requests

/// A JSON object written into `out` as its entries are drawn: each entry is left out unless
/// `present` (out of 100) holds. What the former `object(vec![maybe(..)?, ..])` wrote, drawing
/// the same bytes in the same order, without a string for every value, every entry and every
/// join (the request generator was 2.6 % of `differential`'s instructions, mostly `format!`).
struct Object<'o> {
    out: &'o mut String,
    empty: bool,
}

impl<'o> Object<'o> {
    fn open(out: &'o mut String) -> Object<'o> {
        out.push('{');
        Object { out, empty: true }
    }

    /// The entry `"key": value`, unless the draw leaves it out.
    fn maybe(
        &mut self,
        u: &mut Unstructured<'_>,
        key: &str,
        present: u8,
        value: impl FnOnce(&mut Unstructured<'_>, &mut String) -> Result<()>,
    ) -> Result<()> {
        if u.int_in_range(1u8..=100)? > present {
            return Ok(());
        }
        if !self.empty {
            self.out.push_str(", ");
        }
        self.empty = false;
        self.out.push('"');
        self.out.push_str(key);
        self.out.push_str("\": ");
        value(u, self.out)
    }

    fn close(self) {
        self.out.push('}');
    }
}

/// `s` in double quotes.
fn quoted(out: &mut String, s: &str) {
    out.push('"');
    out.push_str(s);
    out.push('"');
}

fn str_value(u: &mut Unstructured<'_>, out: &mut String) -> Result<()> {
    let values =
        ["a", "ab", "b", "A", "", " a ", "USD", "usd", "x", "a@x", "É", "prod", "10.1.2.3", "+05:30", "a,b", "UTC-8"];
    quoted(out, pick(u, &values)?);
    Ok(())
}

fn str_list(u: &mut Unstructured<'_>, out: &mut String) -> Result<()> {
    let n = u.int_in_range(0usize..=3)?;
    out.push('[');
    for i in 0..n {
        if i > 0 {
            out.push_str(", ");
        }
        quoted(out, pick(u, &["a", "b", "ab", "x", "a@x", "c@x", "USD", "", "admin"])?);
    }
    out.push(']');
    Ok(())
}

fn int_value(u: &mut Unstructured<'_>, out: &mut String) -> Result<()> {
    if weighted(u, &[6, 1])? == 0 {
        use std::fmt::Write as _;
        // Writing to a `String` cannot fail.
        let _ = write!(out, "{}", u.int_in_range(-2i64..=5)?);
        return Ok(());
    }
    out.push_str(pick(u, &["9223372036854775807", "-9223372036854775808", "101", "1000000", "200", "-5"])?);
    Ok(())
}

fn dec_value(u: &mut Unstructured<'_>, out: &mut String) -> Result<()> {
    out.push_str(pick(u, &DECIMALS)?);
    Ok(())
}

/// The decimal values of requests.
const DECIMALS: [&str; 17] = [
    "0",
    "12.5",
    "-3.25",
    "99999.9999",
    "5000",
    "0.0001",
    "922337203685477",
    "1",
    "10.5",
    "-3",
    // All 18 fractional digits, and the range's edges (as strings: a JSON number's double
    // would lose digits, and the reader refuses it).
    r#""0.000000000000000001""#,
    r#""1.000000000000000001""#,
    r#""-0.333333333333333333""#,
    r#""1.234567890123456789""#,
    r#""99999999999999999999.999999999999999999""#,
    r#""-99999999999999999999.999999999999999999""#,
    r#""9223372036854775807.5""#,
];

fn bool_value(u: &mut Unstructured<'_>, out: &mut String) -> Result<()> {
    out.push_str(pick(u, &["true", "false"])?);
    Ok(())
}

fn params(u: &mut Unstructured<'_>, tool: &str, out: &mut String) -> Result<()> {
    match tool {
        "pay" => {
            let mut o = Object::open(out);
            o.maybe(u, "amount", 98, dec_value)?;
            o.maybe(u, "count", 98, int_value)?;
            o.maybe(u, "currency", 98, str_value)?;
            o.maybe(u, "memo", 50, |u, out| {
                if u.arbitrary()? {
                    str_value(u, out)
                } else {
                    out.push_str("null");
                    Ok(())
                }
            })?;
            o.maybe(u, "tags", 98, str_list)?;
            o.maybe(u, "urgent", 98, bool_value)?;
            o.maybe(u, "limit", 50, int_value)?;
            o.close();
        }
        "mail" => {
            let mut o = Object::open(out);
            o.maybe(u, "to", 98, str_list)?;
            o.maybe(u, "subject", 98, str_value)?;
            o.maybe(u, "count", 98, int_value)?;
            o.maybe(u, "urgent", 98, bool_value)?;
            o.close();
        }
        "wipe" => {
            let mut o = Object::open(out);
            o.maybe(u, "name", 98, str_value)?;
            o.close();
        }
        _ => out.push_str(pick(u, &["{}", r#"{"x": 1}"#])?),
    }
    Ok(())
}

/// A request for a generated policy (of either shape), as JSON text.
pub fn request(u: &mut Unstructured<'_>) -> Result<String> {
    let mut out = String::with_capacity(512);
    let tool = pick(u, &["pay", "pay", "mail", "mail", "wipe", "other"])?;
    let operation = pick(u, &["", "run", "execute"])?;
    out.push_str(r#"{"action": {"tool": ""#);
    out.push_str(tool);
    out.push_str(r#"", "operation": ""#);
    out.push_str(operation);
    out.push_str(r#"", "params": "#);
    params(u, tool, &mut out)?;
    let human = pick(u, &["a@x", "z@y", "", "10.9.0.1", "UTC-8"])?;
    out.push_str(r#"}, "identity": {"human": ""#);
    out.push_str(human);
    out.push_str(r#"", "roles": "#);
    str_list(u, &mut out)?;
    out.push_str(r#"}, "context": "#);
    let mut context = Object::open(&mut out);
    context.maybe(u, "env", 98, str_value)?;
    context.maybe(u, "level", 50, int_value)?;
    context.maybe(u, "data_classes", 50, str_list)?;
    context.maybe(u, "now", 70, |u, out| {
        let times = [
            "2026-11-24T10:30:00Z",
            "2026-11-29T23:59:59Z",
            "1970-01-01T00:00:00Z",
            "2026-11-24T23:59:59Z",
            "2026-01-01T00:00:00Z",
        ];
        quoted(out, pick(u, &times)?);
        Ok(())
    })?;
    context.maybe(u, "semantic_distance", 30, dec_value)?;
    context.maybe(u, "prior_actions", 40, |u, out| {
        out.push_str(pick(
            u,
            &[
                "[]",
                r#"[{"tool": "pay", "decision": "allow"}]"#,
                r#"[{"tool": "a", "decision": "deny"}, {"tool": "mail", "decision": "x"}]"#,
            ],
        )?);
        Ok(())
    })?;
    context.close();
    out.push_str(r#", "evidence": "#);
    let mut evidence = Object::open(&mut out);
    evidence.maybe(u, "ok", 50, bool_value)?;
    evidence.maybe(u, "score", 50, int_value)?;
    evidence.maybe(u, "label", 50, str_value)?;
    evidence.maybe(u, "flag", 50, bool_value)?;
    evidence.maybe(u, "seen", 50, str_list)?;
    evidence.maybe(u, "rate", 50, dec_value)?;
    evidence.close();
    out.push('}');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::former;
    use arbitrary::Unstructured;

    /// `request` writes the text the former `request` formatted, and leaves the same bytes
    /// unread, on 20 000 pseudo-random byte strings of 0 to 300 bytes (requests are drawn after
    /// a policy, from whatever bytes are left, so short and exhausted inputs matter) and on runs
    /// of one byte value.
    #[test]
    fn requests_are_the_former_ones() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut inputs: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b; 64]).collect();
        for _ in 0..20_000 {
            let len = (next() % 301) as usize;
            inputs.push((0..len).map(|_| next() as u8).collect());
        }
        let mut compared = 0;
        for bytes in &inputs {
            let (mut ours, mut theirs) = (Unstructured::new(bytes), Unstructured::new(bytes));
            for _ in 0..4 {
                let (a, b) = (super::request(&mut ours), former::request(&mut theirs));
                assert_eq!(a.as_ref().ok(), b.as_ref().ok(), "{bytes:?}");
                assert_eq!(a.is_err(), b.is_err(), "{bytes:?}");
                assert_eq!(ours.len(), theirs.len(), "{bytes:?}");
                compared += 1;
            }
        }
        assert!(compared >= 80_000);
    }
}

/// The request generator as it was before [`request`] wrote into one string: the reference
/// `requests_are_the_former_ones` holds it to.
#[cfg(test)]
mod former {
    use super::{pick, weighted};
    use arbitrary::{Result, Unstructured};

    /// A `"key": value` entry, left out unless `present` (out of 100) holds.
    fn maybe(
        u: &mut Unstructured<'_>,
        key: &str,
        present: u8,
        value: impl FnOnce(&mut Unstructured<'_>) -> Result<String>,
    ) -> Result<Option<String>> {
        if u.int_in_range(1u8..=100)? > present {
            return Ok(None);
        }
        Ok(Some(format!("\"{key}\": {}", value(u)?)))
    }

    fn object(entries: Vec<Option<String>>) -> String {
        let kept: Vec<String> = entries.into_iter().flatten().collect();
        format!("{{{}}}", kept.join(", "))
    }

    fn quoted(s: &str) -> String {
        format!("\"{s}\"")
    }

    fn str_value(u: &mut Unstructured<'_>) -> Result<String> {
        let values = [
            "a", "ab", "b", "A", "", " a ", "USD", "usd", "x", "a@x", "É", "prod", "10.1.2.3", "+05:30", "a,b", "UTC-8",
        ];
        Ok(quoted(pick(u, &values)?))
    }

    fn str_list(u: &mut Unstructured<'_>) -> Result<String> {
        let n = u.int_in_range(0usize..=3)?;
        let items = (0..n)
            .map(|_| Ok(quoted(pick(u, &["a", "b", "ab", "x", "a@x", "c@x", "USD", "", "admin"])?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(format!("[{}]", items.join(", ")))
    }

    fn int_value(u: &mut Unstructured<'_>) -> Result<String> {
        if weighted(u, &[6, 1])? == 0 {
            return Ok(u.int_in_range(-2i64..=5)?.to_string());
        }
        Ok(pick(u, &["9223372036854775807", "-9223372036854775808", "101", "1000000", "200", "-5"])?.to_string())
    }

    fn dec_value(u: &mut Unstructured<'_>) -> Result<String> {
        Ok(pick(
            u,
            &[
                "0",
                "12.5",
                "-3.25",
                "99999.9999",
                "5000",
                "0.0001",
                "922337203685477",
                "1",
                "10.5",
                "-3",
                // All 18 fractional digits, and the range's edges (as strings: a JSON number's double
                // would lose digits, and the reader refuses it).
                r#""0.000000000000000001""#,
                r#""1.000000000000000001""#,
                r#""-0.333333333333333333""#,
                r#""1.234567890123456789""#,
                r#""99999999999999999999.999999999999999999""#,
                r#""-99999999999999999999.999999999999999999""#,
                r#""9223372036854775807.5""#,
            ],
        )?
        .to_string())
    }

    fn bool_value(u: &mut Unstructured<'_>) -> Result<String> {
        Ok(pick(u, &["true", "false"])?.to_string())
    }

    fn params(u: &mut Unstructured<'_>, tool: &str) -> Result<String> {
        Ok(match tool {
            "pay" => object(vec![
                maybe(u, "amount", 98, dec_value)?,
                maybe(u, "count", 98, int_value)?,
                maybe(u, "currency", 98, str_value)?,
                maybe(u, "memo", 50, |u| if u.arbitrary()? { str_value(u) } else { Ok("null".to_string()) })?,
                maybe(u, "tags", 98, str_list)?,
                maybe(u, "urgent", 98, bool_value)?,
                maybe(u, "limit", 50, int_value)?,
            ]),
            "mail" => object(vec![
                maybe(u, "to", 98, str_list)?,
                maybe(u, "subject", 98, str_value)?,
                maybe(u, "count", 98, int_value)?,
                maybe(u, "urgent", 98, bool_value)?,
            ]),
            "wipe" => object(vec![maybe(u, "name", 98, str_value)?]),
            _ => pick(u, &["{}", r#"{"x": 1}"#])?.to_string(),
        })
    }

    /// A request for a generated policy (of either shape), as JSON text.
    pub(super) fn request(u: &mut Unstructured<'_>) -> Result<String> {
        let tool = pick(u, &["pay", "pay", "mail", "mail", "wipe", "other"])?;
        let operation = pick(u, &["", "run", "execute"])?;
        let action = format!(r#"{{"tool": "{tool}", "operation": "{operation}", "params": {}}}"#, params(u, tool)?);
        let human = pick(u, &["a@x", "z@y", "", "10.9.0.1", "UTC-8"])?;
        let identity = format!(r#"{{"human": "{human}", "roles": {}}}"#, str_list(u)?);
        let context = object(vec![
            maybe(u, "env", 98, str_value)?,
            maybe(u, "level", 50, int_value)?,
            maybe(u, "data_classes", 50, str_list)?,
            maybe(u, "now", 70, |u| {
                let times = [
                    "2026-11-24T10:30:00Z",
                    "2026-11-29T23:59:59Z",
                    "1970-01-01T00:00:00Z",
                    "2026-11-24T23:59:59Z",
                    "2026-01-01T00:00:00Z",
                ];
                Ok(quoted(pick(u, &times)?))
            })?,
            maybe(u, "semantic_distance", 30, dec_value)?,
            maybe(u, "prior_actions", 40, |u| {
                Ok(pick(
                    u,
                    &[
                        "[]",
                        r#"[{"tool": "pay", "decision": "allow"}]"#,
                        r#"[{"tool": "a", "decision": "deny"}, {"tool": "mail", "decision": "x"}]"#,
                    ],
                )?
                .to_string())
            })?,
        ]);
        let evidence = object(vec![
            maybe(u, "ok", 50, bool_value)?,
            maybe(u, "score", 50, int_value)?,
            maybe(u, "label", 50, str_value)?,
            maybe(u, "flag", 50, bool_value)?,
            maybe(u, "seen", 50, str_list)?,
            maybe(u, "rate", 50, dec_value)?,
        ]);
        Ok(format!(r#"{{"action": {action}, "identity": {identity}, "context": {context}, "evidence": {evidence}}}"#))
    }
}
