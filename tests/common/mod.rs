//! Helpers shared by the end-to-end CLI tests.
#![allow(clippy::unwrap_used, dead_code)]

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The `aarm` binary under test.
pub fn aarm() -> Command {
    Command::new(env!("CARGO_BIN_EXE_aarm"))
}

/// The repository root (examples, tests/ui, ...).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A test's scratch directory: a unique directory under the target directory's `tmp/` (cargo's
/// place for integration tests' files), removed with everything in it when dropped, also when
/// the test panics. It stands for its path (`dir.join(..)`, `&dir` as a `&Path`, `.arg(&dir)`).
pub struct Scratch(tempfile::TempDir);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<OsStr> for Scratch {
    fn as_ref(&self) -> &OsStr {
        self.0.path().as_os_str()
    }
}

/// A fresh [`Scratch`] directory for one test of one suite, `aarm-SUITE-NAME-XXXXXX` (unique, so
/// neither parallel tests nor runs share one), at a canonical path (no symbolic link in it).
pub fn scratch(suite: &str, name: &str) -> Scratch {
    let parent = Path::new(env!("CARGO_TARGET_TMPDIR")).canonicalize().unwrap();
    let dir = tempfile::Builder::new().prefix(&format!("aarm-{suite}-{name}-")).tempdir_in(parent).unwrap();
    Scratch(dir)
}

/// A fresh [`scratch`] directory with `policy` as its `p.aarm`.
pub fn scratch_with_policy(suite: &str, name: &str, policy: &str) -> Scratch {
    let dir = scratch(suite, name);
    std::fs::write(dir.join("p.aarm"), policy).unwrap();
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

/// A bound on waiting for `aarm serve` that only a broken server reaches (no test asserts how fast
/// it starts or answers).
pub const SERVE_BOUND: std::time::Duration = std::time::Duration::from_secs(120);

/// A running `aarm serve`, killed (and reaped) when dropped.
pub struct Served {
    pub child: std::process::Child,
    /// The address it logged that it listens on.
    pub addr: String,
    /// The rest of its log, read on a thread so that the server never blocks on a full pipe.
    log: Option<std::thread::JoinHandle<Vec<String>>>,
}

impl Served {
    /// Starts `serve` (an `aarm serve …` command) with `--listen 127.0.0.1:0 --log-format json`
    /// added, and waits until it logs the address it listens on; every log line until then must
    /// be JSON, and the server must not stop before.
    pub fn start(serve: &mut Command) -> Served {
        use std::io::BufRead;
        let mut child =
            serve.args(["--listen", "127.0.0.1:0", "--log-format", "json"]).stderr(Stdio::piped()).spawn().unwrap();
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let start = std::time::Instant::now();
        let addr = loop {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                panic!("the server stopped before listening: {:?}", child.wait());
            };
            let v: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|_| panic!("not a JSON log line: {line}"));
            if v["message"] == "aarm serve listening" {
                break v["addr"].as_str().unwrap().to_string();
            }
            assert!(start.elapsed() < SERVE_BOUND, "no address logged");
        };
        let log = std::thread::spawn(move || lines.map_while(Result::ok).collect());
        Served { child, addr, log: Some(log) }
    }

    /// Its log after the line that gave its address; waits for the server to end (its log ends
    /// when it does).
    pub fn log_to_the_end(&mut self) -> Vec<String> {
        self.log.take().map(|log| log.join().unwrap()).unwrap_or_default()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One plain HTTP/1.1 call over a socket (the root crate has no HTTP client): `REQUEST_LINE
/// HTTP/1.1`, then `headers` (each ending in CRLF) and `body`; the whole answer, read until the
/// server closes the connection (a read waits at most [`SERVE_BOUND`]).
pub fn http(addr: &str, request_line: &str, headers: &str, body: &str) -> String {
    use std::io::Read;
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(SERVE_BOUND)).unwrap();
    write!(
        sock,
        "{request_line} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n{headers}\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    sock.read_to_string(&mut answer).unwrap();
    answer
}

/// `METHOD PATH` with a bearer `token` and a JSON `body` ([`http`]): the status code and the JSON
/// body (`null` when the answer has none; an answer that is not JSON fails the test).
pub fn http_json(addr: &str, method: &str, path: &str, token: &str, body: &str) -> (u16, serde_json::Value) {
    let answer = http(
        addr,
        &format!("{method} {path}"),
        &format!("Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"),
        body,
    );
    let status: u16 = answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{answer}"));
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    // A chunked body: the JSON is from the first `{` or `[` to the last `}` or `]`.
    let json = match (body.find(['{', '[']), body.rfind(['}', ']'])) {
        (Some(start), Some(end)) if start <= end => body.get(start..=end).unwrap_or_default(),
        _ => "null",
    };
    (status, serde_json::from_str(json).unwrap_or_else(|_| panic!("not JSON: {answer}")))
}

/// Builds `examples/EXAMPLE` (from the repository root) into `bundle`; a build that fails fails
/// the test with its errors.
pub fn build_example(example: &str, bundle: &Path) {
    let out =
        aarm().args(["build", &format!("examples/{example}"), "-o"]).arg(bundle).current_dir(root()).output().unwrap();
    assert!(out.status.success(), "aarm build examples/{example}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Runs `cmd` and fails the test, with its arguments and errors, unless it exits 0; its output.
pub fn succeeds(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    let args: Vec<_> = cmd.get_args().collect();
    assert!(out.status.success(), "aarm {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// `got` against the golden file at `path`: `None` when they are the same, else the difference
/// to report as `--- NAME: expected … --- got …`. With `AARM_BLESS` set, `got` is written to
/// `path` instead (an intended change, to read in the diff) and nothing differs.
pub fn golden_difference(name: &str, path: &Path, got: &str) -> Option<String> {
    if std::env::var_os("AARM_BLESS").is_some() {
        std::fs::write(path, got).unwrap();
        return None;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    (got != expected).then(|| format!("--- {name}: expected\n{expected}\n--- got\n{got}"))
}

/// The RFC 8032 test seed and its public key: the receipt signing key of [`signed_case_dir`].
const SIGNING_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const SIGNING_PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

/// A fresh [`scratch`] directory where the CLI runs on a signed case store: `policy` as
/// `policy/STEM.aarm`, built to `STEM.aarmb`, and the signing key `key.hex` (the RFC 8032 test
/// seed) with its public key `key.pub`.
pub fn signed_case_dir(suite: &str, name: &str, stem: &str, policy: &str) -> Scratch {
    let dir = scratch(suite, name);
    std::fs::create_dir_all(dir.join("policy")).unwrap();
    std::fs::write(dir.join(format!("policy/{stem}.aarm")), policy).unwrap();
    std::fs::write(dir.join("key.hex"), SIGNING_SEED).unwrap();
    std::fs::write(dir.join("key.pub"), SIGNING_PUBLIC).unwrap();
    let out = aarm().args(["build", "policy", "-o", &format!("{stem}.aarmb")]).current_dir(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    dir
}

/// `aarm case ARGS…` in `dir` (a [`signed_case_dir`]) on its signed store `cases.db` at `now`.
pub fn signed_case(dir: &Path, args: &[&str], now: &str) -> Output {
    aarm()
        .arg("case")
        .args(args)
        .args(["--store", "cases.db", "--sign-key", "key.hex", "--now", now])
        .current_dir(dir)
        .output()
        .unwrap()
}
