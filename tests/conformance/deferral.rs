//! The deferral flow's rule that a timeout is never an implicit allow, through the CLI: the
//! language's defaults end unanswered cases in a deny, and `aarm check` flags a policy that
//! writes `-> allow`. The other deferral rows are in `server/tests/conformance/deferral.rs`.

use crate::{text, Dir};
use serde_json::json;

/// A deferral by missing evidence and a step-up, neither writing a timeout: the defaults apply.
const DEFAULTS: &str = r#"
policy late version "1"
tool purge { table: String }
tool wire { amount: Int }
evidence confirmed: Bool from "requester"

rule purge_confirmed on purge {
  when evidence.confirmed
  allow
}
rule wires on wire {
  step_up { approvers 1 of ["cfo@corp.com"] }
}
"#;

/// Design rule: the timeout of a deferral (and of an approval) must not become an allow.
/// Unanswered, both end in a deny at the language's default deadlines (10 minutes, one hour);
/// a policy that writes `timeout … -> allow` is flagged W0001, which CI's
/// `--deny-warnings` refuses.
#[test]
fn deferral_timeout_is_never_an_implicit_allow() {
    let dir = Dir::new("d5", DEFAULTS);
    let purge =
        dir.open(&json!({ "action": { "tool": "purge", "params": { "table": "ledger" } } }), "2026-11-24T10:00:00Z");
    let wire = dir.open(&json!({ "action": { "tool": "wire", "params": { "amount": 5 } } }), "2026-11-24T10:00:00Z");
    assert_eq!((purge["decision"].as_str(), purge["defer"]["timeout_s"].as_i64()), (Some("defer"), Some(600)));
    assert_eq!((wire["decision"].as_str(), wire["step_up"]["timeout_s"].as_i64()), (Some("step_up"), Some(3600)));
    let (purge, wire) = (purge["case"].as_str().unwrap().to_string(), wire["case"].as_str().unwrap().to_string());

    let tick = |now| {
        let out = dir.case(&["tick"], now);
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    tick("2026-11-24T10:09:59Z");
    assert_eq!(dir.show(&purge, "2026-11-24T10:09:59Z")["state"], "pending_evidence");
    tick("2026-11-24T10:10:00Z");
    tick("2026-11-24T11:00:00Z");
    for id in [&purge, &wire] {
        let case = dir.show(id, "2026-11-24T11:00:00Z");
        assert_eq!(
            (case["state"].as_str(), case["outcome"]["decision"].as_str()),
            (Some("denied"), Some("deny")),
            "{case}"
        );
    }

    let lenient =
        DEFAULTS.replace("approvers 1 of [\"cfo@corp.com\"]", "approvers 1 of [\"cfo@corp.com\"]  timeout 1h -> allow");
    std::fs::write(dir.0.join("policy/policy.aarm"), lenient).unwrap();
    let out = dir.run(&["check", "policy", "--deny-warnings", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("\"W0001\""), "{}", text(&out.stdout));
}
