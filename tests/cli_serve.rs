#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! `aarm serve` as a process: `--help` documents every flag, examples/serve.toml loads, the
//! service answers on loopback, a bad config is a clear error, and SIGTERM stops it cleanly.

use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

mod common;
use common::{aarm, build_example, http, Served};

fn temp(name: &str) -> common::Scratch {
    common::scratch("cli-serve", name)
}

#[test]
fn help_documents_every_flag() {
    let out = aarm().args(["serve", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--bundle",
        "--store",
        "--listen",
        "--metrics-listen",
        "--config",
        "--trusted-key",
        "--sign-key",
        "--max-body-bytes",
        "--request-timeout-s",
        "--max-wait-s",
        "--tick-ms",
        "--reload-interval-s",
        "--log-format",
        "--log",
    ] {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(flag))
            .unwrap_or_else(|| panic!("{flag} missing:\n{help}"));
        assert!(line.len() > flag.len() + 20, "{flag} has no description: {line}");
    }
}

#[test]
fn a_broken_config_is_a_clear_error() {
    let dir = temp("badconfig");
    let bundle = dir.join("t.aarmb");
    build_example("quorum_transfer", &bundle);
    std::fs::write(dir.join("serve.toml"), "[notify.channels]\n\"x\" = { kind = \"slack\", url = \"ftp://nope\" }\n")
        .unwrap();
    let out = aarm()
        .args(["serve", "--bundle"])
        .arg(&bundle)
        .arg("--store")
        .arg(dir.join("c.db"))
        .arg("--config")
        .arg(dir.join("serve.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("notify.channels.\"x\"") && err.contains("not an http"), "{err}");
}

/// A server started without [`Served`], killed (and reaped) when dropped: a failed assertion
/// leaves no `aarm serve` running (and writing into the test's directory).
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends SIGTERM to the server and waits until it exits: its exit status.
fn stop_with_sigterm(server: &mut Child) -> ExitStatus {
    let status = Command::new("sh").args(["-c", &format!("kill -TERM {}", server.id())]).status().unwrap();
    assert!(status.success());
    let t = Instant::now();
    loop {
        if let Some(code) = server.try_wait().unwrap() {
            return code;
        }
        // Far beyond the 10 s the server gives its background tasks to stop.
        assert!(t.elapsed() < Duration::from_secs(120), "the server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serves_the_example_config_and_stops_on_sigterm() {
    let dir = temp("run");
    let bundle = dir.join("treasury.aarmb");
    build_example("quorum_transfer", &bundle);
    let mut served = Served::start(
        aarm()
            .args(["serve", "--config", "examples/serve.toml", "--bundle"])
            .arg(&bundle)
            .arg("--store")
            .arg(dir.join("cases.db")),
    );
    let answer = http(&served.addr, "GET /healthz", "", "");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"policy\":\"treasury\""), "{answer}");

    let code = stop_with_sigterm(&mut served.child);
    assert!(code.success(), "graceful shutdown exits 0, got {code:?}");
    let rest = served.log_to_the_end();
    assert!(rest.iter().any(|l| l.contains("shutting down")), "{rest:?}");
}

/// Waits until the log file has a line containing `what`; returns that line.
fn logged(path: &std::path::Path, what: &str) -> String {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains(what)) {
            return line.to_string();
        }
        // A bound only a broken server reaches (no test asserts how fast it starts).
        assert!(start.elapsed() < Duration::from_secs(120), "no log line with {what:?} in:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The value of `key=` in a text log line (up to the next space).
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    let at = line.find(&format!("{key}=")).unwrap_or_else(|| panic!("no {key}= in {line}"));
    line[at + key.len() + 1..].split(' ').next().unwrap()
}

#[test]
fn text_logs_to_a_file_have_no_colour_codes_and_plain_values_and_metrics_listen_serves_metrics() {
    let dir = temp("logfile");
    let bundle = dir.join("treasury.aarmb");
    build_example("quorum_transfer", &bundle);
    let log = dir.join("serve.log");
    let mut child = Reaped(
        aarm()
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--metrics-listen",
                "127.0.0.1:0",
                "--config",
                "examples/serve.toml",
            ])
            .arg("--bundle")
            .arg(&bundle)
            .arg("--store")
            .arg(dir.join("cases.db"))
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let addr = field(&logged(&log, "aarm serve listening"), "addr").to_string();
    let metrics = field(&logged(&log, "metrics listening"), "addr").to_string();
    let request = std::fs::read_to_string("examples/quorum_transfer/request.json").unwrap();
    let answer = http(
        &addr,
        "POST /v1/decide",
        "Authorization: Bearer agent-token-1\r\nContent-Type: application/json\r\n",
        &request,
    );
    assert!(answer.starts_with("HTTP/1.1 200") && answer.contains("\"step_up\""), "{answer}");
    let opened = logged(&log, "case opened");
    let scraped = http(&metrics, "GET /metrics", "", "");
    assert!(scraped.starts_with("HTTP/1.1 200"), "{scraped}");
    assert!(scraped.contains("aarm_decisions_total{decision=\"step_up\",rule=\"treasury."), "{scraped}");

    stop_with_sigterm(&mut child.0);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains('\u{1b}'), "an ANSI escape code in a log file:\n{text}");
    // The rule is its name, not Rust's debug form of an optional value (`rule=Some("...")`).
    assert!(!text.contains("Some("), "{text}");
    assert!(field(&opened, "rule").trim_matches('"').starts_with("treasury."), "{opened}");
}
