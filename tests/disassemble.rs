//! Golden files of what the compiler emits: `aarm inspect --disassemble` of two examples must
//! print exactly `tests/golden/NAME.disasm` from its first `tool` line on (the header above it
//! names the scratch path and the hash, which any format change moves). Run with `AARM_BLESS=1`
//! to rewrite the files after an intended change to code generation, and read the diff.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{aarm, build_example, golden_difference, root, scratch};

fn disassembly(example: &str) -> String {
    let dir = scratch("disassemble", example);
    let bundle = dir.join(format!("{example}.aarmb"));
    build_example(example, &bundle);
    let out = aarm().arg("inspect").arg(&bundle).arg("--disassemble").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let start = text.find("\ntool ").expect("a disassembly") + 1;
    text[start..].to_string()
}

#[test]
fn disassembly_matches_golden_files() {
    let mut failures = Vec::new();
    for example in ["payments", "rate_limits"] {
        let path = root().join(format!("tests/golden/{example}.disasm"));
        failures.extend(golden_difference(example, &path, &disassembly(example)));
    }
    assert!(failures.is_empty(), "disassembly differs (AARM_BLESS=1 to accept):\n{}", failures.join("\n"));
}
