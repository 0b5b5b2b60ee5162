//! `aarm new NAME`: a policy directory to start from: a policy, a test of it and a request,
//! which `aarm check NAME`, `aarm test NAME` and `aarm eval NAME --input NAME/request.json`
//! accept as they are.

use super::exit;
use aarm_compiler::{check, load_sources};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The directory to create (its last component names the policy). It must not exist, or be
    /// empty.
    #[arg(value_name = "NAME")]
    pub dir: PathBuf,
}

const POLICY: &str = r#"/// What the agent may do with refunds. Edit the tool to match what your agent calls, then run
/// `aarm check`, `aarm test` and `aarm eval . --input request.json` in this directory.
policy NAME version "0.1.0"

/// The tool the agent calls, and the parameters it sends.
tool refund { order: String, amount: Int }

/// Large refunds wait for a manager; nobody answering within an hour is a refusal.
rule large_refunds_need_a_manager on refund priority 20 {
  when params.amount > 500
  step_up {
    approvers 1 of ["manager@example.com"]
    timeout 1h -> deny
  }
  reason "refund.large" "A refund of {params.amount} for order {params.order} needs a manager"
}

rule small_refunds on refund priority 10 {
  allow
}
"#;

const TEST: &str = r#"test "a small refund is allowed" {
  action refund { order: "A-1", amount: 20 }
  expect allow rule small_refunds
}

test "a large refund waits for a manager, who approves" {
  action refund { order: "A-2", amount: 5000 }
  expect step_up rule large_refunds_need_a_manager
  approve by "manager@example.com"
  expect allow
}
"#;

const REQUEST: &str = r#"{
  "action": { "tool": "refund", "params": { "order": "A-1", "amount": 20 } },
  "identity": { "human": "alice@example.com", "agent": "support-agent" }
}
"#;

/// The policy's name: the directory's last component as an identifier (`my-refunds` →
/// `my_refunds`), or `starter` when that is no usable name.
fn policy_name(dir: &Path) -> String {
    let base = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut name: String =
        base.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name.insert_str(0, "p_");
    }
    // A name the language reserves (`rule`, `policy`, ...) would not parse: check, fall back.
    let policy = POLICY.replace("NAME", &name);
    let checked = check(&load_sources(vec![("policy.aarm".into(), policy)]));
    if checked.diagnostics.iter().any(|d| d.is_error()) {
        "starter".to_string()
    } else {
        name
    }
}

pub fn run(args: &NewArgs) -> ExitCode {
    let dir = &args.dir;
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                crate::errln!(
                    "error: {} exists and is not empty; nothing was written\n  help: give a new directory name",
                    dir.display()
                );
                return ExitCode::from(exit::USAGE);
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            crate::errln!("error: {}: {e}; nothing was written\n  help: give a new directory name", dir.display());
            return ExitCode::from(exit::USAGE);
        }
    }
    let name = policy_name(dir);
    let files = [
        ("policy.aarm", POLICY.replace("NAME", &name)),
        ("policy_test.aarm", TEST.to_string()),
        ("request.json", REQUEST.to_string()),
    ];
    if let Err(e) = std::fs::create_dir_all(dir) {
        crate::errln!("error: cannot create {}: {e}", dir.display());
        return ExitCode::from(exit::USAGE);
    }
    for (file, text) in &files {
        let path = dir.join(file);
        if let Err(e) = std::fs::write(&path, text) {
            crate::errln!("error: cannot write {}: {e}", path.display());
            return ExitCode::from(exit::USAGE);
        }
    }
    let d = dir.display();
    crate::errln!("created {d}/ with policy.aarm (policy {name}), policy_test.aarm and request.json");
    crate::errln!("next: aarm check {d} && aarm test {d} && aarm eval {d} --input {d}/request.json");
    ExitCode::from(exit::OK)
}
