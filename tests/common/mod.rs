//! Helpers shared by the end-to-end CLI tests.
#![allow(clippy::unwrap_used, dead_code)]

use std::ffi::OsStr;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The `aarm` binary under test.
pub fn aarm() -> Command {
    Command::new(env!("CARGO_BIN_EXE_aarm"))
}

/// The repository root (examples, tests/ui, ...).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh scratch directory for one test of one suite, under the target directory's `tmp/`
/// (cargo's place for integration tests' files). The name is fixed per test, so a rerun replaces
/// the last run's directory instead of leaving one more behind; test binaries run one at a time,
/// and a test name is unique within its suite.
pub fn scratch(suite: &str, name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("aarm-{suite}-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `aarm eval TARGET --input - EXTRA…` from the repository root with `input` on standard
/// input, and returns what it did.
pub fn eval_stdin(target: impl AsRef<OsStr>, input: &[u8], extra: &[&str]) -> Output {
    let mut child = aarm()
        .arg("eval")
        .arg(target)
        .args(["--input", "-"])
        .args(extra)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Written from a thread while the output is read, so that neither side waits on a full
    // pipe; a child that stops reading early (an input over the size limit is refused before
    // the end) closes its end, and the broken pipe that leaves the writer is expected.
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || match stdin.write_all(&input) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    output
}
