//! The three engines, each prepared through its own best API for a [`Workload`]: policies parsed
//! and compiled once, requests built once (aarm: converted `Request`s; Cedar: `Request`s and an
//! empty `Entities`; regorus: `Value` inputs), engines and VMs reused across decisions.
//!
//! Each side answers `allow(i)`: the decision for prepared call `i`, `true` for allow. Nothing is
//! timed here; `src/bin/compare.rs` times these calls and `tests/equivalence.rs` compares them.

use crate::equivalent::{Call, Workload};
use aarm_runtime::engine::{Engine, Verdict};
use aarm_runtime::program::DecisionTemplate;
use aarm_runtime::request::Request;
use aarm_runtime::vm::Vm;
use std::time::{Duration, Instant};

/// The clock value requests are converted at (the workload reads no time).
pub const NOW: i64 = 1_790_000_000;

/// How long building one engine took, for the build line of `compare`.
#[derive(Clone, Copy, Debug, Default)]
pub struct BuildTimes {
    /// Source to a loaded engine (aarm: compile + encode + load; Cedar: parse; regorus: add_policy
    /// + compile).
    pub policy: Duration,
    /// All requests prepared.
    pub requests: Duration,
}

fn timed<T>(f: impl FnOnce() -> Result<T, String>) -> Result<(T, Duration), String> {
    let start = Instant::now();
    let v = f()?;
    Ok((v, start.elapsed()))
}

/// aarm: a loaded bundle, converted requests and one reused `Vm`.
pub struct AarmSide {
    pub engine: Engine,
    pub requests: Vec<Request>,
    vm: Vm,
    pub built: BuildTimes,
}

/// Compiles `.aarm` source to a loaded engine, through the bundle bytes a host would load.
pub fn aarm_engine(source: &str) -> Result<Engine, String> {
    let loaded = aarm_compiler::load_sources(vec![("gateway.aarm".to_string(), source.to_string())]);
    let compiled = aarm_compiler::compile(&loaded);
    if let Some(d) = compiled.checked.diagnostics.iter().find(|d| d.is_error()) {
        return Err(format!("the generated policy does not check: {d:?}"));
    }
    if let Some(e) = compiled.codegen_error {
        return Err(format!("codegen: {e:?}"));
    }
    let program = compiled.program.ok_or("no program")?;
    let bytes = aarm_runtime::bundle::encode(&program, None).map_err(|e| e.to_string())?;
    Engine::load(&bytes, &[], false).map_err(|e| e.to_string())
}

impl AarmSide {
    pub fn new(w: &Workload, calls: &[Call]) -> Result<AarmSide, String> {
        let (engine, policy) = timed(|| aarm_engine(&w.aarm()))?;
        let texts: Vec<String> = calls.iter().map(Call::aarm_json).collect();
        let (requests, req_time) =
            timed(|| texts.iter().map(|j| engine.convert(j, NOW).map_err(|e| format!("{e}: {j}"))).collect())?;
        Ok(AarmSide { engine, requests, vm: Vm::new(), built: BuildTimes { policy, requests: req_time } })
    }

    /// `Engine::evaluate` on a converted request: the allocation-free hot path.
    #[inline]
    pub fn allow(&mut self, i: usize) -> bool {
        let Some(req) = self.requests.get(i) else { return false };
        match self.engine.evaluate(req, &mut self.vm) {
            Verdict::Rule(c) => self
                .engine
                .program()
                .rules
                .get(c.rule as usize)
                .is_some_and(|r| matches!(r.decision, DecisionTemplate::Allow)),
            _ => false,
        }
    }

    /// `Engine::decide`: the full `Decision` a host receives (reason, policy reference).
    pub fn decide_allows(&self, i: usize) -> bool {
        self.requests.get(i).is_some_and(|r| self.engine.decide(r).decision == aarm_runtime::decision::Effect::Allow)
    }
}

/// Cedar: a parsed `PolicySet`, built `Request`s, empty `Entities`, one `Authorizer`.
pub struct CedarSide {
    authorizer: cedar_policy::Authorizer,
    policies: cedar_policy::PolicySet,
    entities: cedar_policy::Entities,
    pub requests: Vec<cedar_policy::Request>,
    pub built: BuildTimes,
}

fn cedar_request(call: &Call) -> Result<cedar_policy::Request, String> {
    use cedar_policy::{Context, EntityUid};
    let uid = |s: String| s.parse::<EntityUid>().map_err(|e| e.to_string());
    let principal = uid("Agent::\"bench-agent\"".to_string())?;
    let action = uid(format!("Action::\"{}\"", call.tool))?;
    let resource = uid(format!("Tool::\"{}\"", call.tool))?;
    let context = Context::from_json_value(call.cedar_context(), None).map_err(|e| e.to_string())?;
    cedar_policy::Request::new(principal, action, resource, context, None).map_err(|e| e.to_string())
}

impl CedarSide {
    pub fn new(w: &Workload, calls: &[Call]) -> Result<CedarSide, String> {
        let (policies, policy) = timed(|| w.cedar().parse::<cedar_policy::PolicySet>().map_err(|e| format!("{e:?}")))?;
        let (requests, req_time) = timed(|| calls.iter().map(cedar_request).collect())?;
        Ok(CedarSide {
            authorizer: cedar_policy::Authorizer::new(),
            policies,
            entities: cedar_policy::Entities::empty(),
            requests,
            built: BuildTimes { policy, requests: req_time },
        })
    }

    #[inline]
    pub fn allow(&self, i: usize) -> bool {
        let Some(req) = self.requests.get(i) else { return false };
        self.authorizer.is_authorized(req, &self.policies, &self.entities).decision() == cedar_policy::Decision::Allow
    }
}

/// Which of regorus's evaluators to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegoPath {
    /// `Engine::set_input` + `Engine::eval_rule` (the tree-walking interpreter).
    Interpreter,
    /// `CompiledPolicy::eval_with_input` (the policy compiled for one entry point).
    Compiled,
    /// The Rego VM (`rvm`): the compiled policy lowered to its register machine.
    Rvm,
}

impl RegoPath {
    pub const ALL: [RegoPath; 3] = [RegoPath::Interpreter, RegoPath::Compiled, RegoPath::Rvm];

    pub fn name(self) -> &'static str {
        match self {
            RegoPath::Interpreter => "eval_rule",
            RegoPath::Compiled => "compiled",
            RegoPath::Rvm => "rvm",
        }
    }
}

/// regorus: one engine, its compiled policy and a loaded Rego VM; inputs as `Value`s.
pub struct RegoSide {
    engine: regorus::Engine,
    compiled: regorus::CompiledPolicy,
    /// `None` when the policy does not compile to the Rego VM (it refuses programs over 65 535
    /// instructions, which 10 000 rules exceed); `rvm_error` then says why.
    vm: Option<regorus::rvm::RegoVM>,
    pub rvm_error: Option<String>,
    pub inputs: Vec<regorus::Value>,
    pub built: BuildTimes,
}

const REGO_RULE: &str = "data.gw.allow";

impl RegoSide {
    pub fn new(w: &Workload, calls: &[Call]) -> Result<RegoSide, String> {
        let ((engine, compiled, vm), policy) = timed(|| {
            let mut engine = regorus::Engine::new();
            for (i, module) in w.rego_modules().into_iter().enumerate() {
                engine.add_policy(format!("gw{i}.rego"), module).map_err(|e| e.to_string())?;
            }
            let entry: regorus::Rc<str> = regorus::Rc::from(REGO_RULE);
            let compiled = engine.compile_with_entrypoint(&entry).map_err(|e| e.to_string())?;
            let vm = regorus::languages::rego::compiler::Compiler::compile_from_policy(&compiled, &[REGO_RULE])
                .map_err(|e| e.to_string())
                .and_then(|program| {
                    let mut vm = regorus::rvm::RegoVM::new_with_policy(compiled.clone());
                    vm.load_program(program);
                    vm.set_data(regorus::Value::new_object()).map_err(|e| e.to_string())?;
                    Ok(vm)
                });
            Ok((engine, compiled, vm))
        })?;
        let (vm, rvm_error) = match vm {
            Ok(vm) => (Some(vm), None),
            Err(e) => (None, Some(e)),
        };
        let (inputs, req_time) = timed(|| {
            calls
                .iter()
                .map(|c| regorus::Value::from_json_str(&c.rego_input().to_string()).map_err(|e| e.to_string()))
                .collect()
        })?;
        Ok(RegoSide { engine, compiled, vm, rvm_error, inputs, built: BuildTimes { policy, requests: req_time } })
    }

    /// Whether `path` can run this policy.
    pub fn has(&self, path: RegoPath) -> bool {
        path != RegoPath::Rvm || self.vm.is_some()
    }

    /// The decision through `path`; an evaluation error is a deny (and is caught by the
    /// equivalence test, which uses [`RegoSide::try_allow`]).
    #[inline]
    pub fn allow(&mut self, path: RegoPath, i: usize) -> bool {
        self.try_allow(path, i).unwrap_or(false)
    }

    /// The decision through `path`, or why there is none (evaluation error, a result that is not
    /// a boolean, no such input or evaluator).
    pub fn try_allow(&mut self, path: RegoPath, i: usize) -> Result<bool, String> {
        let input = self.inputs.get(i).ok_or("no such input")?.clone();
        let out = match path {
            RegoPath::Interpreter => {
                self.engine.set_input(input);
                self.engine.eval_rule(REGO_RULE.to_string()).map_err(|e| e.to_string())
            }
            RegoPath::Compiled => self.compiled.eval_with_input(input).map_err(|e| e.to_string()),
            RegoPath::Rvm => {
                let vm = self.vm.as_mut().ok_or_else(|| self.rvm_error.clone().unwrap_or_default())?;
                vm.set_input(input);
                vm.execute_entry_point_by_name(REGO_RULE).map_err(|e| e.to_string())
            }
        };
        match out? {
            regorus::Value::Bool(b) => Ok(b),
            other => Err(format!("{REGO_RULE} is not a boolean: {other}")),
        }
    }
}
