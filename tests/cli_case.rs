//! End-to-end tests of `aarm case …` and `aarm receipts …`: separate processes sharing one
//! SQLite store, driven with `--now` like an operator's script.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;
use common::{aarm, build_example, root};
use serde_json::Value;
use std::path::Path;
use std::process::Output;

fn scratch(name: &str) -> common::Scratch {
    common::scratch("case", name)
}

fn run(dir: &Path, args: &[&str]) -> Output {
    aarm().args(args).current_dir(dir).output().unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!("stdout={} stderr={}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// `aarm case open --store STORE --bundle BUNDLE --input examples/EXAMPLE/request.json --now NOW`
/// in `dir`.
fn open_example_case(dir: &Path, store: &str, bundle: &str, example: &str, now: &str) -> Output {
    let request = root().join("examples").join(example).join("request.json");
    let input = request.to_str().unwrap();
    run(dir, &["case", "open", "--store", store, "--bundle", bundle, "--input", input, "--now", now])
}

/// Builds the quorum example and opens a case for its request at 10:00.
fn open_quorum_case(dir: &Path) -> String {
    build_example("quorum_transfer", &dir.join("q.aarmb"));
    let out = open_example_case(dir, "cases.db", "q.aarmb", "quorum_transfer", "2026-11-24T10:00:00Z");
    assert!(out.status.success(), "{}", stderr(&out));
    let d = json(&out);
    assert_eq!(d["decision"], "step_up");
    d["case"].as_str().unwrap().to_string()
}

#[test]
fn two_of_three_across_processes_with_receipts() {
    let dir = scratch("quorum");
    let id = open_quorum_case(&dir);
    assert_eq!(id, "case-000001");
    let approve =
        |by: &str, now: &str| run(&dir, &["case", "approve", &id, "--by", by, "--store", "cases.db", "--now", now]);

    let out = approve("cfo@corp.com", "2026-11-24T10:01:00Z");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["state"], "pending_approval");

    // The same approver twice: refused with its reason, exit 1, nothing changes.
    let out = approve("cfo@corp.com", "2026-11-24T10:02:00Z");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("duplicate_approval"), "{}", stderr(&out));
    // A clock earlier than the last event: refused.
    let out = approve("lead@corp.com", "2026-11-24T09:00:00Z");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("clock_went_back"));

    let out = approve("lead@corp.com", "2026-11-24T10:03:00Z");
    assert_eq!(json(&out)["state"], "allowed");
    assert_eq!(json(&out)["resolution"]["code"], "approved");

    // A resolved case never changes.
    let out = approve("controller@corp.com", "2026-11-24T10:04:00Z");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("case_resolved"));

    let out = run(&dir, &["case", "show", &id, "--store", "cases.db"]);
    assert_eq!(json(&out)["state"], "allowed");
    let out = run(&dir, &["case", "show", "case-999999", "--store", "cases.db"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("unknown_case"));

    // Receipts: open, approve, approve, then the export head; the chain verifies, an edit does not.
    let out = run(&dir, &["receipts", "export", "--store", "cases.db"]);
    let lines = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(lines.lines().count(), 4);
    assert!(lines.lines().last().unwrap().starts_with("{\"export_head\""), "{lines}");
    std::fs::write(dir.join("r.jsonl"), &lines).unwrap();
    let out = run(&dir, &["receipts", "verify", "r.jsonl"]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::write(dir.join("bad.jsonl"), lines.replacen("lead@corp.com", "mallory@corp.com", 1)).unwrap();
    assert_eq!(run(&dir, &["receipts", "verify", "bad.jsonl"]).status.code(), Some(1));
    let mut kept: Vec<&str> = lines.lines().collect();
    kept.remove(1);
    std::fs::write(dir.join("gap.jsonl"), kept.join("\n")).unwrap();
    assert_eq!(run(&dir, &["receipts", "verify", "gap.jsonl"]).status.code(), Some(1), "a removed receipt is detected");
}

#[test]
fn timeouts_fire_on_tick_and_tiers_follow() {
    let dir = scratch("tick");
    let id = open_quorum_case(&dir);
    let tick = |now: &str| run(&dir, &["case", "tick", "--store", "cases.db", "--now", now]);
    assert!(tick("2026-11-24T10:20:00Z").status.success());
    // 30 minutes: the CEO tier; 90 minutes: nobody answered, deny.
    assert!(tick("2026-11-24T10:31:00Z").status.success());
    let c = json(&run(&dir, &["case", "show", &id, "--store", "cases.db"]));
    assert_eq!((c["state"].as_str(), c["tier"].as_u64()), (Some("pending_approval"), Some(1)));
    assert!(tick("2026-11-24T11:32:00Z").status.success());
    let c = json(&run(&dir, &["case", "show", &id, "--store", "cases.db"]));
    assert_eq!((c["state"].as_str(), c["resolution"]["code"].as_str()), (Some("denied"), Some("timeout")));
    let pending = run(&dir, &["case", "list", "--pending", "--store", "cases.db"]);
    assert!(String::from_utf8_lossy(&pending.stdout).trim().is_empty());
}

/// Two treasurers must approve a large transfer; each may cap its amount.
const CAPPED: &str = r#"policy treasury version "1"
tool transfer { amount: Decimal, to: String }
rule big on transfer priority 10 {
  when params.amount > 1000
  step_up { approvers 2 of ["cfo@corp.com", "controller@corp.com", "ceo@corp.com"]  limits amount  timeout 1h -> deny }
  reason "transfer.big" "Transfer of {params.amount} needs two approvals"
}
rule small on transfer { allow }
"#;

/// `aarm case approve --max amount=N` (repeatable): the case prints each approval's caps in
/// canonical form, and the release carries the smaller one as `limits`; a cap that is not
/// PARAM=NUMBER, not a number or given twice is a usage error (exit 2) and records nothing; a
/// cap the lifecycle refuses exits 1 with its reason.
#[test]
fn approvers_cap_the_amount_with_max_and_the_release_carries_the_smallest() {
    let dir = scratch("max");
    std::fs::write(dir.join("treasury.aarm"), CAPPED).unwrap();
    assert!(run(&dir, &["build", "treasury.aarm", "-o", "t.aarmb"]).status.success());
    let request = r#"{"action": {"tool": "transfer", "params": {"amount": "4000.50", "to": "acme"}},
        "identity": {"human": "alice@corp.com", "agent": "pay-bot"}}"#;
    std::fs::write(dir.join("request.json"), request).unwrap();
    let at = "2026-11-24T10:00:00Z";
    let open =
        run(&dir, &["case", "open", "--store", "c.db", "--bundle", "t.aarmb", "--input", "request.json", "--now", at]);
    let d = json(&open);
    assert_eq!((d["decision"].as_str(), &d["step_up"]["limits"]), (Some("step_up"), &serde_json::json!(["amount"])));
    let id = d["case"].as_str().unwrap().to_string();
    let approve = |by: &str, caps: &[&str]| {
        let mut args = vec!["case", "approve", id.as_str(), "--by", by, "--store", "c.db", "--now", at];
        for cap in caps {
            args.extend_from_slice(&["--max", cap]);
        }
        run(&dir, &args)
    };
    for (bad, says) in [
        (vec!["amount"], "is not PARAM=NUMBER"),
        (vec!["amount=lots"], "is not a number"),
        (vec!["amount=1e-19"], "is not a number"),
        (vec!["amount=5000", "amount=4500"], "name each parameter once"),
        (vec!["=5000"], "name each parameter once"),
    ] {
        let out = approve("cfo@corp.com", &bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{bad:?}: {}", stderr(&out));
    }
    let out = approve("cfo@corp.com", &["amount=4000.49"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("rejected: limit_below_action"), "{}", stderr(&out));
    let out = approve("cfo@corp.com", &["to=1"]);
    assert!(stderr(&out).contains("rejected: limit_not_allowed"), "{}", stderr(&out));
    let shown = json(&run(&dir, &["case", "show", &id, "--store", "c.db"]));
    assert_eq!(shown["approvals"], serde_json::json!([]), "refused approvals recorded nothing");

    let out = approve("cfo@corp.com", &["amount=5000.00"]);
    assert_eq!(json(&out)["approvals"][0]["max"], serde_json::json!({ "amount": "5000" }));
    let out = approve("controller@corp.com", &["amount=4500"]);
    let case = json(&out);
    assert_eq!(case["state"], "allowed", "{case}");
    assert_eq!(case["outcome"]["limits"], serde_json::json!({ "params.amount": { "max": "4500" } }));
    assert_eq!(case["released_action"]["params"]["amount"], "4000.50", "the action as submitted, within the cap");
}

#[test]
fn deferral_resolved_by_evidence_from_another_process() {
    let dir = scratch("defer");
    build_example("credentials", &dir.join("c.aarmb"));
    let out = open_example_case(&dir, "c.db", "c.aarmb", "credentials", "2026-11-24T02:00:00Z");
    let d = json(&out);
    assert_eq!(d["decision"], "defer");
    let id = d["case"].as_str().unwrap().to_string();
    // Wrong type and undeclared evidence are refused.
    let out = run(
        &dir,
        &[
            "case",
            "provide",
            &id,
            "maintenance_window_active=\"yes\"",
            "--store",
            "c.db",
            "--now",
            "2026-11-24T02:01:00Z",
        ],
    );
    assert!(stderr(&out).contains("evidence_type"), "{}", stderr(&out));
    let out = run(&dir, &["case", "provide", &id, "window=true", "--store", "c.db", "--now", "2026-11-24T02:01:00Z"]);
    assert!(stderr(&out).contains("undeclared_evidence"));
    // The bundle was kept in the store: this process re-evaluates without being given it.
    let out = run(
        &dir,
        &["case", "provide", &id, "maintenance_window_active=true", "--store", "c.db", "--now", "2026-11-24T02:02:00Z"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let c = json(&out);
    assert_eq!(c["state"], "allowed");
    assert_eq!(c["outcome"]["rule"], "credentials.rotation_in_window");
}

#[test]
fn stats_count_the_deferral_and_approval_signals_of_a_store() {
    let dir = scratch("stats");
    let slow = open_quorum_case(&dir);
    let opened = open_example_case(&dir, "cases.db", "q.aarmb", "quorum_transfer", "2026-11-24T10:00:00Z");
    let quick = json(&opened)["case"].as_str().unwrap().to_string();
    for (by, now) in [("cfo@corp.com", "2026-11-24T10:01:00Z"), ("lead@corp.com", "2026-11-24T10:03:00Z")] {
        let out = run(&dir, &["case", "approve", &quick, "--by", by, "--store", "cases.db", "--now", now]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    // The slow one: escalated at 10:15, its first tier times out at 10:30, the CEO's at 11:30.
    for now in ["2026-11-24T10:20:00Z", "2026-11-24T10:31:00Z", "2026-11-24T11:32:00Z"] {
        assert!(run(&dir, &["case", "tick", "--store", "cases.db", "--now", now]).status.success());
    }
    let c = json(&run(&dir, &["case", "show", &slow, "--store", "cases.db"]));
    assert_eq!(c["state"], "denied");

    let out = run(&dir, &["case", "stats", "--store", "cases.db", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = json(&out);
    assert_eq!(s["cases_by_state"], serde_json::json!({ "allowed": 1, "denied": 1 }));
    assert_eq!((s["deferred"].as_u64(), s["resolved"].as_u64()), (Some(0), Some(2)));
    assert_eq!((s["timeouts"].as_u64(), s["escalations"].as_u64()), (Some(2), Some(1)));
    // 3 minutes and 92 minutes (the denial is recorded at the tick of 11:32).
    assert_eq!(s["resolution_seconds_median"], 180);
    assert_eq!(s["resolution_seconds_p90"], 5520);

    let out = run(&dir, &["case", "stats", "--store", "cases.db"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("cases by state:       allowed 1, denied 1"), "{text}");
    assert!(text.contains("escalations:          1"), "{text}");
    assert!(text.contains("time to resolution:   median 180s, p90 5520s"), "{text}");
    assert!(text.contains("resolver attempts:    none"), "no source was asked: {text}");
    // A store that does not exist is an error, not an empty report.
    let out = run(&dir, &["case", "stats", "--store", "missing.db"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// A one-connection HTTP source on 127.0.0.1 that answers `answer` (a JSON body) to the first
/// request; the request it got (head and body) comes back through the handle.
fn one_shot_source(answer: &'static str) -> (String, std::thread::JoinHandle<String>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/facts", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        // The head, then as many body bytes as it announces.
        loop {
            let n = conn.read(&mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let len = text
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0);
                if got.len() >= end + 4 + len {
                    break;
                }
            }
            assert!(n > 0, "the request broke off");
        }
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
            answer.len()
        );
        conn.write_all(reply.as_bytes()).unwrap();
        String::from_utf8_lossy(&got).to_string()
    });
    (url, handle)
}

#[test]
fn tick_with_sources_asks_the_evidence_source_and_resolves_the_deferral() {
    let dir = scratch("tick-sources");
    build_example("credentials", &dir.join("c.aarmb"));
    let open = |now: &str| open_example_case(&dir, "c.db", "c.aarmb", "credentials", now);
    let d = json(&open("2026-11-24T02:00:00Z"));
    assert_eq!(d["decision"], "defer");
    let id = d["case"].as_str().unwrap().to_string();
    // `aarm case tick --sources FILE` with `sources` written to FILE.
    let tick_with_sources = |file: &str, sources: &str, now: &str| {
        std::fs::write(dir.join(file), sources).unwrap();
        run(&dir, &["case", "tick", "--store", "c.db", "--sources", file, "--now", now])
    };
    let (url, source) = one_shot_source(r#"{"maintenance_window_active": true}"#);
    let out = tick_with_sources(
        "sources.toml",
        &format!("[evidence.sources.maintenance_api]\nkind = \"http\"\nurl = \"{url}\"\ntoken = \"s3cret\"\n"),
        "2026-11-24T02:00:05Z",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("{id} allowed"), "{}", stderr(&out));
    assert!(stderr(&out).contains("asked maintenance_api for maintenance_window_active: answered"), "{}", stderr(&out));
    let asked = source.join().unwrap();
    assert!(asked.to_ascii_lowercase().contains("authorization: bearer s3cret"), "{asked}");
    assert!(asked.contains(r#""facts":["maintenance_window_active"]"#), "{asked}");
    // The try and the round are receipts of the case.
    let out = run(&dir, &["case", "show", &id, "--store", "c.db"]);
    assert_eq!(json(&out)["rounds"]["done"], 1);
    let out = run(&dir, &["receipts", "export", "--store", "c.db", "--case", &id]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("\"event\":\"source\"") && text.contains("\"event\":\"round\""), "{text}{}", stderr(&out));

    // A second deferral whose source cannot be reached (a port nobody listens on any more).
    let second = json(&open("2026-11-24T02:00:06Z"))["case"].as_str().unwrap().to_string();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let out = tick_with_sources(
        "down.toml",
        &format!("[evidence.sources.maintenance_api]\nkind = \"http\"\nurl = \"http://{closed}/facts\"\n"),
        "2026-11-24T02:00:07Z",
    );
    assert!(stderr(&out).contains(&format!("{second}: asked maintenance_api")), "{}", stderr(&out));
    // The resolver's success rate by source, read from the store's receipts.
    let out = run(&dir, &["case", "stats", "--store", "c.db", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        json(&out)["resolver_attempts"],
        serde_json::json!({ "maintenance_api": { "answered": 1, "failed": 1 } })
    );
    let out = run(&dir, &["case", "stats", "--store", "c.db"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("resolver maintenance_api: answered 1, failed 1 (50% answered of 2)"), "{text}");

    // A bad sources file is a clear error naming the key, and changes nothing.
    let bad = "[evidence.sources.m]\nkind = \"http\"\nurl = \"nowhere\"\n";
    let out = tick_with_sources("bad.toml", bad, "2026-11-24T02:00:08Z");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("evidence.sources.m.url"), "{}", stderr(&out));
}

/// `aarm review list` prints the overrides a service granted that still wait for a verdict, as
/// `GET /v1/reviews` does, with whether each may still be acted on at `--now`.
#[test]
fn review_list_shows_the_overrides_waiting_for_a_verdict() {
    use aarm_cases::store::service::{StoredOverride, Verdict};
    let dir = scratch("review-list");
    let store = aarm_cases::store::any::AnyStore::open(&dir.join("cases.db"), true).unwrap();
    let overrides = store.overrides().unwrap();
    // 2026-11-24T10:00:00Z, valid for an hour.
    let at = aarm_runtime::value::parse_time("2026-11-24T10:00:00Z").unwrap();
    for id in ["O1", "O2"] {
        let policy = aarm_runtime::decision::PolicyRef::new("ops", "1", "");
        let mut record = aarm_runtime::decision::Decision::fail_closed("override.granted", "overridden", policy);
        record.decision = aarm_runtime::decision::Effect::Allow;
        record.expires_at = Some("2026-11-24T11:00:00Z".into());
        record.overrides = Some(format!("D-{id}"));
        let record = serde_json::to_value(&record).unwrap();
        let o = StoredOverride {
            id: id.into(),
            overrides: format!("D-{id}"),
            author: "cfo@corp.com".into(),
            json: record.to_string(),
            receipt: format!("sha256:{id}"),
            created_at: at,
            expires_at: at + 3600,
            verdict: None,
        };
        overrides.grant(&o, at).unwrap();
    }
    let verdict = Verdict {
        reviewer: "sec@corp.com".into(),
        verdict: "accept".into(),
        note: None,
        receipt: "sha256:r".into(),
        at,
    };
    assert!(overrides.review("O1", &verdict).unwrap());

    let out = run(&dir, &["review", "list", "--store", "cases.db", "--now", "2026-11-24T10:30:00Z"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = json(&out);
    let reviews = listed["reviews"].as_array().unwrap();
    assert_eq!(reviews.len(), 1, "O1 was reviewed: {listed}");
    assert_eq!((reviews[0]["id"].as_str(), reviews[0]["author"].as_str()), (Some("O2"), Some("cfo@corp.com")));
    assert_eq!(reviews[0]["current"], true);
    let later = json(&run(&dir, &["review", "list", "--store", "cases.db", "--now", "2026-11-24T11:00:00Z"]));
    assert_eq!(later["reviews"][0]["current"], false, "expired: {later}");
}

/// A webhook receiver on loopback for one test: answers 200 to every request and keeps each
/// one's head and body, in order.
fn webhook_receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got: std::sync::Arc<std::sync::Mutex<Vec<String>>> = std::sync::Arc::default();
    let kept = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut head, mut length) = (String::new(), 0usize);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            kept.lock().unwrap().push(format!("{head}\r\n{}", String::from_utf8_lossy(&body)));
            stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").unwrap();
        }
    });
    (url, got)
}

/// `aarm case override` and `aarm review accept|flag` apply the service's rules to a store from
/// the shell: the authority (`--by`, `--roles`) and the statements the declaration requires,
/// one override at a time, no review by its author; the notices go to the declaration's
/// channels, and a command that could not send them is refused before it writes anything.
#[test]
fn case_override_and_review_from_the_shell() {
    let dir = scratch("override");
    std::fs::create_dir_all(dir.join("ops")).unwrap();
    std::fs::write(
        dir.join("ops/policy.aarm"),
        r#"policy ops version "1"
tool delete_database { name: String }
rule no_delete on delete_database { deny reason "db.delete" "Deleting a database is denied" }
override on delete_database by role "incident-commander" for 1h requires reason, ticket notify "webhook:audit"
"#,
    )
    .unwrap();
    assert!(run(&dir, &["build", "ops", "-o", "ops.aarmb"]).status.success());
    std::fs::write(
        dir.join("req.json"),
        r#"{"action": {"tool": "delete_database", "params": {"name": "orders"}}, "identity": {"agent": "ops-bot"}}"#,
    )
    .unwrap();
    let (hook, got) = webhook_receiver();
    std::fs::write(
        dir.join("serve.toml"),
        format!(
            "[server]\npublic_url = \"https://aarm.corp.com\"\n[notify.channels]\n\"webhook:audit\" = {{ kind = \"webhook\", url = \"{hook}\", secret = \"s\" }}\n"
        ),
    )
    .unwrap();
    let at = ["--now", "2026-11-24T10:00:00Z"];
    let store = ["--store", "cases.db"];
    let open =
        run(&dir, &[&["case", "open", "--bundle", "ops.aarmb", "--input", "req.json"][..], &store, &at].concat());
    let denial = json(&open);
    assert_eq!(denial["decision"], "deny", "{denial}");
    let id = denial["decision_id"].as_str().unwrap().to_string();
    let receipts = || {
        let out = run(&dir, &["receipts", "export", "--store", "cases.db"]);
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    let before = receipts();
    let over = |args: &[&str]| {
        let base = ["case", "override", id.as_str(), "--store", "cases.db", "--now", "2026-11-24T10:05:00Z"];
        run(&dir, &[&base[..], args].concat())
    };
    let stated = ["--reason", "primary is corrupt", "--ticket", "INC-4711"];

    // Refused, each with the service's reason, and nothing written.
    let out = over(&[&["--by", "mallory@corp.com"][..], &stated].concat());
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("rejected: not_an_overrider"), "{}", stderr(&out));
    let out = over(&["--by", "cfo@corp.com", "--role", "incident-commander", "--reason", "restore"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("rejected: statement_missing") && stderr(&out).contains("`ticket`"),
        "{}",
        stderr(&out)
    );
    let out = over(&[&["--by", "cfo@corp.com", "--role", "incident-commander"][..], &stated].concat());
    assert_eq!(out.status.code(), Some(2), "announced on a channel, but no --config to send it");
    assert!(stderr(&out).contains("webhook:audit") && stderr(&out).contains("--config"), "{}", stderr(&out));
    assert_eq!(receipts(), before, "a refused override writes nothing");

    // Granted: a new allow of the denied action, its notice delivered.
    let out = over(
        &[&["--by", "cfo@corp.com", "--role", "incident-commander", "--config", "serve.toml"][..], &stated].concat(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let o = json(&out);
    assert_eq!((o["decision"].as_str(), o["reason"]["code"].as_str()), (Some("allow"), Some("override.granted")));
    assert_eq!(o["overrides"], id.as_str());
    assert_eq!(o["expires_at"], "2026-11-24T11:05:00Z");
    assert_eq!(o["action_hash"], denial["action_hash"]);
    assert_eq!(
        o["authority"],
        serde_json::json!({ "by": "cfo@corp.com", "role": "incident-commander",
                            "statements": { "reason": "primary is corrupt", "ticket": "INC-4711" } })
    );
    assert!(stderr(&out).contains("override_granted to webhook:audit: delivered"), "{}", stderr(&out));
    let oid = o["decision_id"].as_str().unwrap().to_string();
    let sent = got.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].to_ascii_lowercase().contains("x-aarm-event: override_granted"), "{}", sent[0]);
    assert!(
        sent[0].contains("INC-4711") && sent[0].contains(&format!("https://aarm.corp.com/v1/reviews/{oid}")),
        "{}",
        sent[0]
    );
    let out = over(
        &[&["--by", "cfo@corp.com", "--role", "incident-commander", "--config", "serve.toml"][..], &stated].concat(),
    );
    assert!(stderr(&out).contains("rejected: override_active"), "{}", stderr(&out));

    // The review: not by its author; a flag is announced where the grant was.
    let review = |verb: &str, args: &[&str]| {
        let base = ["review", verb, oid.as_str(), "--store", "cases.db", "--now", "2026-11-24T10:30:00Z"];
        run(&dir, &[&base[..], args].concat())
    };
    let out = review("accept", &["--by", "CFO@corp.com"]);
    assert!(stderr(&out).contains("rejected: self_review"), "{}", stderr(&out));
    let out = review("flag", &["--by", "security@corp.com", "--note", "no change ticket"]);
    assert_eq!(out.status.code(), Some(2), "the grant was announced, so the flag must be: {}", stderr(&out));
    let out = review("flag", &["--by", "security@corp.com", "--note", "no change ticket", "--config", "serve.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let reviewed = json(&out);
    assert_eq!(
        (reviewed["verdict"]["verdict"].as_str(), reviewed["verdict"]["reviewer"].as_str()),
        (Some("flag"), Some("security@corp.com"))
    );
    let sent = got.lock().unwrap().clone();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(
        sent[1].to_ascii_lowercase().contains("x-aarm-event: override_flagged") && sent[1].contains("no change ticket"),
        "{}",
        sent[1]
    );
    let out = review("accept", &["--by", "ops@corp.com"]);
    assert!(stderr(&out).contains("rejected: already_reviewed"), "{}", stderr(&out));
    let listed = json(&run(&dir, &["review", "list", "--store", "cases.db"]));
    assert_eq!(listed["reviews"], serde_json::json!([]));

    // The denial's, the override's and the review's receipts verify as one chain.
    let out = run(&dir, &["receipts", "export", "--store", "cases.db"]);
    let lines = String::from_utf8_lossy(&out.stdout).to_string();
    let events: Vec<String> = lines
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|r| r["event"].as_str().map(str::to_string))
        .collect();
    assert_eq!(events, ["decide", "override", "review"], "{lines}");
    std::fs::write(dir.join("r.jsonl"), &lines).unwrap();
    assert!(run(&dir, &["receipts", "verify", "r.jsonl"]).status.success());
}
