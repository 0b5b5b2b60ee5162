//! `aarm eval (BUNDLE|PATH) --input FILE|- [--explain] [--exit-code]`: one decision as JSON on
//! stdout. With `--exit-code` the exit status says the decision too (see [`decision_exit`]), for
//! shell scripts and CI gates.

use super::exit;
use super::output::Format;
use super::source::{compile_path, engine_of, public_keys, read_input};
use aarm_runtime::bundle;
use aarm_runtime::decision::{codes, Decision, Effect, PolicyRef};
use aarm_runtime::engine::Engine;
use aarm_runtime::value::parse_time;
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A `.aarmb` bundle, or a policy directory or file to compile first.
    pub bundle: PathBuf,
    /// The request JSON (its fields are described in docs/json.md), or `-` for standard input.
    #[arg(long, value_name = "FILE|-")]
    pub input: PathBuf,
    /// Also show every rule tried and what its condition evaluated to.
    #[arg(long)]
    pub explain: bool,
    /// Public keys (32 bytes, raw or hex) a bundle must be signed with; once given, an unsigned
    /// or otherwise signed bundle is refused.
    #[arg(long = "key", value_name = "PUB")]
    pub keys: Vec<PathBuf>,
    /// The evaluation time when the request has no `context.now` (default: the clock).
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
    /// Exit with the decision: 0 allow, 10 modify, 11 step_up, 12 defer, 13 deny (an invalid
    /// request is a deny, 13). A bundle that cannot be loaded is still 1, a usage error 2.
    #[arg(long)]
    pub exit_code: bool,
}

/// The exit status `--exit-code` gives a decision. Only `allow` is 0, so that a script testing
/// for success fails closed on every other decision.
pub fn decision_exit(effect: Effect) -> u8 {
    match effect {
        Effect::Allow => exit::OK,
        Effect::Modify => 10,
        Effect::StepUp => 11,
        Effect::Defer => 12,
        Effect::Deny => 13,
    }
}

fn is_bundle(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "aarmb")
        || (path.is_file() && std::fs::read(path).is_ok_and(|b| bundle::read_info(&b).is_ok()))
}

fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn print(decision: &Decision, explain: Option<serde_json::Value>) {
    let mut value = serde_json::to_value(decision).unwrap_or(serde_json::Value::Null);
    if let (Some(extra), Some(obj)) = (explain, value.as_object_mut()) {
        obj.insert("explain".into(), extra);
    }
    match serde_json::to_string_pretty(&value) {
        Ok(s) => crate::outln!("{s}"),
        Err(e) => crate::errln!("error: cannot print the decision: {e}"),
    }
}

pub fn run(args: &EvalArgs) -> ExitCode {
    let now = match &args.now {
        Some(text) => match parse_time(text) {
            Some(t) => t,
            None => {
                crate::errln!("error: --now {text:?} is not an RFC 3339 time (e.g. 2026-11-24T10:00:00Z)");
                return ExitCode::from(exit::USAGE);
            }
        },
        None => now_seconds(),
    };
    let input = match read_input(&args.input) {
        Ok(bytes) => bytes,
        Err(e) => {
            crate::errln!("error: cannot read {}: {e}", args.input.display());
            return ExitCode::from(exit::USAGE);
        }
    };
    let trusted = match public_keys(&args.keys) {
        Ok(keys) => keys,
        Err(code) => return ExitCode::from(code),
    };
    let engine = if is_bundle(&args.bundle) {
        let bytes = match std::fs::read(&args.bundle) {
            Ok(b) => b,
            Err(e) => {
                crate::errln!("error: cannot read {}: {e}", args.bundle.display());
                return ExitCode::from(exit::USAGE);
            }
        };
        match Engine::load(&bytes, &trusted, !trusted.is_empty()) {
            Ok(engine) => engine,
            Err(e) => {
                // Fail closed: the host would deny; say so, and exit 1.
                let policy = PolicyRef::default();
                print(
                    &Decision::fail_closed(codes::BUNDLE_INVALID, format!("the bundle cannot be loaded: {e}"), policy)
                        .timed(now, None)
                        .identify(),
                    None,
                );
                crate::errln!("error: {}: {e}", args.bundle.display());
                return ExitCode::from(exit::FAILED);
            }
        }
    } else {
        let program = match compile_path(&args.bundle, Format::Human) {
            Ok(p) => p,
            Err(code) => return ExitCode::from(code),
        };
        match engine_of(&program) {
            Ok((engine, _)) => engine,
            Err(e) => {
                crate::errln!("error: the compiled program does not load: {e}");
                return ExitCode::from(exit::FAILED);
            }
        }
    };
    let text = String::from_utf8_lossy(&input);
    let effect = match engine.convert(&text, now) {
        Ok(request) => {
            let decision = engine.decide(&request).identify();
            let explain = args.explain.then(|| serde_json::json!({ "tried": engine.explain(&request) }));
            print(&decision, explain);
            decision.decision
        }
        Err(e) => {
            let decision = engine.input_invalid(&e, now).identify();
            print(&decision, None);
            decision.decision
        }
    };
    ExitCode::from(if args.exit_code { decision_exit(effect) } else { exit::OK })
}
