//! The rule-count limit: one diagnostic, not a crash or a runaway build.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use aarm_compiler::{check, load_sources};
use aarm_lang::limits::MAX_RULES;
use aarm_lang::Code;

#[test]
fn more_rules_than_the_limit_is_one_error() {
    let mut src = String::from("policy p version \"1\"\ntool t { x: Int }\n");
    for i in 0..=MAX_RULES {
        src.push_str(&format!("rule r{i} on t {{ deny }}\n"));
    }
    let checked = check(&load_sources(vec![("p.aarm".into(), src)]));
    let limit: Vec<_> = checked.diagnostics.iter().filter(|d| d.code == Code::TooManyRules).collect();
    assert_eq!(limit.len(), 1, "reported once");
    assert!(checked.bundle.is_none(), "no bundle is built");
}
