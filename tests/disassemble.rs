//! Golden files of what the compiler emits: `aarm inspect --disassemble` of two examples must
//! print exactly `tests/golden/NAME.disasm` from its first `tool` line on (the header above it
//! names the scratch path and the hash, which any format change moves). Run with `AARM_BLESS=1`
//! to rewrite the files after an intended change to code generation, and read the diff.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{aarm, root, scratch};

fn disassembly(example: &str) -> String {
    let dir = scratch("disassemble", example);
    let bundle = dir.join(format!("{example}.aarmb"));
    let built =
        aarm().args(["build", &format!("examples/{example}"), "-o"]).arg(&bundle).current_dir(root()).output().unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let out = aarm().arg("inspect").arg(&bundle).arg("--disassemble").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let start = text.find("\ntool ").expect("a disassembly") + 1;
    text[start..].to_string()
}

#[test]
fn disassembly_matches_golden_files() {
    let bless = std::env::var_os("AARM_BLESS").is_some();
    let mut failures = Vec::new();
    for example in ["payments", "rate_limits"] {
        let got = disassembly(example);
        let path = root().join(format!("tests/golden/{example}.disasm"));
        if bless {
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        if got != expected {
            failures.push(format!("--- {example}: expected\n{expected}\n--- got\n{got}"));
        }
    }
    assert!(failures.is_empty(), "disassembly differs (AARM_BLESS=1 to accept):\n{}", failures.join("\n"));
}
