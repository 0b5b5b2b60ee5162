//! What must hold on every generated case: the engine (fused and indexed, as hosts run it), the
//! same bundle without the rule index, the same bundle without fusion and plans, and the
//! reference interpreter (`aarm_compiler::interpret`) return the same decision for every request
//! the converter accepts; and every evaluation error of the VM names its expression.
//!
//! Known, intended divergence: the interpreter has no fuel, so a condition that exhausts the VM's
//! fuel is an `eval.error` for the VM only; the generated programs stay far below that.

use crate::{build, BuildError, Built};
use aarm_compiler::{interpret, ir};
use aarm_runtime::bundle;
use aarm_runtime::decision::Decision;
use aarm_runtime::engine::Engine;

/// `context.now` when a request gives none: 2026-11-24T10:00:00Z.
pub const NOW: i64 = 1_795_514_400;

/// A generated policy compiled and loaded three ways.
pub struct Engines {
    /// The checked IR of the compiled bundle (it feeds the interpreter).
    pub ir: ir::Bundle,
    /// As a host loads it: verified, fused, planned and indexed, named by the encoded bundle's
    /// hash. Built from the compiled program in memory rather than by decoding the bundle's
    /// bytes again: decoding gives back that program (`compiler/tests/differential.rs`,
    /// `the_engines_are_the_loaded_bundles`), and `bundle_load` / `bundle_mutate` fuzz decoding.
    pub engine: Engine,
    unindexed: Engine,
    unfused: Engine,
}

/// A request on which two deciders disagree: everything needed to reproduce it.
#[derive(Debug, thiserror::Error)]
#[error("{what}\n--- policy:\n{policy}\n--- request:\n{request}\n--- {left_name}:\n{left:#?}\n--- {right_name}:\n{right:#?}")]
pub struct Disagreement {
    pub(crate) what: String,
    pub(crate) policy: String,
    pub(crate) request: String,
    pub(crate) left_name: &'static str,
    pub(crate) left: Box<Decision>,
    pub(crate) right_name: &'static str,
    pub(crate) right: Box<Decision>,
}

impl Engines {
    /// Compiles `src` (see [`crate::files`]); [`BuildError::Check`] when the checker refuses it.
    pub fn new(src: &str) -> Result<Engines, BuildError> {
        let Built { ir, program, bytes } = build(src)?;
        let hash = bundle::read_info(&bytes)?.hash_string();
        // Loaded once: the variants are the same loaded engine with parts turned off.
        let engine = Engine::from_program(program, hash)?;
        Ok(Engines { unindexed: engine.clone().unindexed(), unfused: engine.clone().unfused(), engine, ir })
    }

    /// Decides `json` every way. `Ok(None)` when the converter refuses the request (target
    /// `decide_json` covers conversion); otherwise the reference interpreter's decision.
    pub fn compare(&self, src: &str, json: &str) -> Result<Option<Decision>, Box<Disagreement>> {
        let Ok(req) = self.engine.convert(json, NOW) else { return Ok(None) };
        let vm = self.engine.decide(&req);
        let disagree = |what: &str, left_name, left: &Decision, right_name, right: Decision| {
            Box::new(Disagreement {
                what: what.to_string(),
                policy: src.to_string(),
                request: json.to_string(),
                left_name,
                left: Box::new(left.clone()),
                right_name,
                right: Box::new(right),
            })
        };
        if let Err(why) = self.engine.check_index_skips(&req) {
            return Err(disagree(&why, "indexed", &vm, "indexed", vm.clone()));
        }
        let scanned = self.unindexed.decide(&req);
        if vm != scanned {
            return Err(disagree("indexed and unindexed engines disagree", "indexed", &vm, "unindexed", scanned));
        }
        let plain = self.unfused.decide(&req);
        if vm != plain {
            return Err(disagree("fused and unfused VM disagree", "fused", &vm, "unfused", plain));
        }
        // A `modify` value that is not yet known is the engine's refusal, not a failed
        // instruction: every other failure of the VM's code names its expression.
        if &*vm.reason.code == "eval.error"
            && vm.error_at.is_none()
            && !vm.reason.message.contains("depends on evidence")
        {
            return Err(disagree("an evaluation error without its location", "VM", &vm, "VM", vm.clone()));
        }
        let reference = interpret::decide(&self.ir, &req, self.engine.bundle_hash());
        // The interpreter has no span table: it names the rule that failed, not the expression.
        let located = vm.clone().without_error_location();
        if located != reference {
            return Err(disagree("VM and interpreter disagree", "VM", &vm, "interpreter", reference));
        }
        Ok(Some(reference))
    }
}
