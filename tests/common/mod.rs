//! Helpers shared by the end-to-end CLI tests.
#![allow(clippy::unwrap_used, dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The `aarm` binary under test.
pub fn aarm() -> Command {
    Command::new(env!("CARGO_BIN_EXE_aarm"))
}

/// The repository root (examples, tests/ui, ...).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh scratch directory for one test of one suite.
pub fn scratch(suite: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aarm-{suite}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
