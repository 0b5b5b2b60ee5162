#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! Three `aarm serve` processes on one PostgreSQL database behave as one service: cases opened
//! on one replica are approved on the others, two approvals racing on two replicas resolve a
//! case once (the later one is `case_resolved`), a replica SIGKILLed mid-way and restarted
//! loses nothing acknowledged, and at the end the receipt chain exported from the database
//! verifies and holds every case. A tick that starts from a listing another writer has since
//! made stale never overwrites what that writer resolved.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use std::time::Instant;

#[path = "../cases/tests/common/postgres.rs"]
mod pg;

mod common;
use common::{aarm, build_example, http_json, succeeds, Served, SERVE_BOUND};

/// A scratch directory for the test `name`, with `examples/EXAMPLE` built into it as `bundle`:
/// the directory and the bundle's path.
fn scratch_with_bundle(name: &str, example: &str, bundle: &str) -> (common::Scratch, PathBuf) {
    let dir = common::scratch("replicas", name);
    let bundle = dir.join(bundle);
    build_example(example, &bundle);
    (dir, bundle)
}

/// Starts `aarm serve` on `store` and waits until it logs its address.
fn replica(bundle: &Path, store: &str) -> Served {
    Served::start(
        aarm().args(["serve", "--config", "examples/serve.toml", "--bundle"]).arg(bundle).args(["--store", store]),
    )
}

fn approve(addr: &str, case: &str, token: &str) -> (u16, serde_json::Value) {
    http_json(addr, "POST", &format!("/v1/cases/{case}/approve"), token, "{}")
}

#[test]
fn three_replicas_on_one_database_act_as_one_service() {
    let Some(url) = pg::database() else { return };
    let (dir, bundle) = scratch_with_bundle("three", "quorum_transfer", "treasury.aarmb");
    let request = std::fs::read_to_string("examples/quorum_transfer/request.json").unwrap();
    let mut replicas: Vec<Served> = (0..3).map(|_| replica(&bundle, &url)).collect();

    let mut resolved = Vec::new();
    for round in 0..6usize {
        if round == 3 {
            // SIGKILL replica 1 mid-way (no shutdown at all), and start it again.
            let old = replicas.remove(1);
            let status = Command::new("kill").args(["-KILL", &old.child.id().to_string()]).status().unwrap();
            assert!(status.success());
            drop(old);
            replicas.insert(1, replica(&bundle, &url));
        }
        let addr = |i: usize| replicas[(round + i) % 3].addr.clone();
        // Opened on one replica...
        let (status, opened) = http_json(&addr(0), "POST", "/v1/decide", "agent-token-1", &request);
        assert_eq!(status, 200, "{opened}");
        assert_eq!(opened["decision"], "step_up", "{opened}");
        let case = opened["case"].as_str().unwrap().to_string();
        // ...seen and approved once on another...
        let (status, seen) = http_json(&addr(1), "GET", &format!("/v1/cases/{case}"), "tok-ops", "");
        assert_eq!((status, seen["state"].as_str()), (200, Some("pending_approval")), "{seen}");
        let (status, first) = approve(&addr(1), &case, "tok-cfo");
        assert_eq!(status, 200, "{first}");
        // ...and two more finance approvers race on the other two replicas: the quorum is
        // two, so one resolves the case and the other is refused as `case_resolved`.
        let (a, b) = (addr(2), addr(0));
        let case2 = case.clone();
        let racer = std::thread::spawn(move || approve(&a, &case2, "tok-lead"));
        let other = approve(&b, &case, "tok-controller");
        let one = racer.join().unwrap();
        let mut outcomes = [one, other];
        outcomes.sort_by_key(|(status, _)| *status);
        let [(ok, won), (refused, lost)] = outcomes;
        assert_eq!(ok, 200, "{won}");
        assert_eq!(won["state"], "allowed", "{won}");
        assert_eq!((refused, lost["reason"].as_str()), (409, Some("case_resolved")), "{lost}");
        resolved.push(case);
    }

    // Every acknowledged case is there, resolved, seen alike from every replica.
    for case in &resolved {
        for r in &replicas {
            let (status, c) = http_json(&r.addr, "GET", &format!("/v1/cases/{case}"), "tok-ops", "");
            assert_eq!((status, c["state"].as_str()), (200, Some("allowed")), "{case} on {}: {c}", r.addr);
        }
    }
    drop(replicas);

    // One chain: exported from the database, it verifies and holds every case's receipts.
    let export = succeeds(aarm().args(["receipts", "export", "--store", &url]));
    let file = dir.join("chain.jsonl");
    std::fs::write(&file, &export.stdout).unwrap();
    succeeds(aarm().args(["receipts", "verify"]).arg(&file));
    let text = String::from_utf8(export.stdout).unwrap();
    for case in &resolved {
        let approvals =
            text.lines().filter(|l| l.contains(&format!("\"{case}\"")) && l.contains("\"approve\"")).count();
        assert_eq!(approvals, 2, "{case}: two approvals recorded, the refused third is not");
    }
}

#[test]
fn the_cli_opens_and_lists_cases_in_a_postgres_store() {
    let Some(url) = pg::database() else { return };
    let (_dir, bundle) = scratch_with_bundle("cli", "quorum_transfer", "treasury.aarmb");
    succeeds(
        aarm()
            .args(["case", "open", "--store", &url, "--bundle"])
            .arg(&bundle)
            .args(["--input", "examples/quorum_transfer/request.json"]),
    );
    let list = succeeds(aarm().args(["case", "list", "--store", &url]));
    assert!(String::from_utf8_lossy(&list.stdout).contains("case-000001"));

    // A database that does not exist is an error naming it, never its password.
    let missing = url.replace("postgres@", "postgres:hunter2@").rsplit_once('/').unwrap().0.to_string() + "/nope";
    let out = aarm().args(["case", "list", "--store", &missing]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nope") && !err.contains("hunter2"), "{err}");
}

/// `aarm case stats` reads the resolver's tries from a PostgreSQL store as from SQLite: one
/// deferral whose source cannot be reached, one failed try of `maintenance_api`.
#[test]
fn case_stats_counts_resolver_tries_by_source_in_a_postgres_store() {
    let Some(url) = pg::database() else { return };
    let (dir, bundle) = scratch_with_bundle("stats", "credentials", "credentials.aarmb");
    succeeds(aarm().args(["case", "open", "--store", &url, "--bundle"]).arg(&bundle).args([
        "--input",
        "examples/credentials/request.json",
        "--now",
        "2026-11-24T02:00:00Z",
    ]));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let sources = dir.join("sources.toml");
    std::fs::write(
        &sources,
        format!("[evidence.sources.maintenance_api]\nkind = \"http\"\nurl = \"http://{closed}/facts\"\n"),
    )
    .unwrap();
    succeeds(
        aarm()
            .args(["case", "tick", "--store", &url, "--sources"])
            .arg(&sources)
            .args(["--now", "2026-11-24T02:00:05Z"]),
    );
    let stats = succeeds(aarm().args(["case", "stats", "--store", &url, "--format", "json"]));
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(stats["resolver_attempts"], serde_json::json!({ "maintenance_api": { "failed": 1 } }), "{stats}");
    assert_eq!(stats["deferred"], 1, "{stats}");
}

/// Opens the event stream of `case` on `addr` and reads it until its first event (the case as
/// it is now): from then on the server has subscribed, so no later change can be missed.
fn follow(addr: &str, case: &str, token: &str) -> BufReader<std::net::TcpStream> {
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(SERVE_BOUND)).unwrap();
    write!(
        sock,
        "GET /v1/cases/{case}/events?timeout_s=300 HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut stream = BufReader::new(sock);
    let first = next_event(&mut stream);
    assert_eq!(first["state"], "pending_approval", "{first}");
    stream
}

/// The next `case` event's JSON on an event stream (a read past [`SERVE_BOUND`] fails the test).
fn next_event(stream: &mut BufReader<std::net::TcpStream>) -> serde_json::Value {
    loop {
        let mut line = String::new();
        assert!(stream.read_line(&mut line).unwrap() > 0, "the event stream ended");
        if let Some(data) = line.trim_end().strip_prefix("data:") {
            return serde_json::from_str(data.trim()).unwrap_or_else(|_| panic!("not JSON: {line}"));
        }
    }
}

/// A waiter on replica A is woken by an approval made on replica B (PostgreSQL `LISTEN/NOTIFY`),
/// not by its wait running out: the stream asks for 300 s and the read gives up after
/// [`SERVE_BOUND`], so only a wake delivers the `allowed` event. Prints the approve → woken latency.
#[test]
fn a_wait_on_one_replica_wakes_when_another_resolves_the_case() {
    let Some(url) = pg::database() else { return };
    let (_dir, bundle) = scratch_with_bundle("wake", "quorum_transfer", "treasury.aarmb");
    let request = std::fs::read_to_string("examples/quorum_transfer/request.json").unwrap();
    let (a, b) = (replica(&bundle, &url), replica(&bundle, &url));

    let mut latencies = Vec::new();
    for _ in 0..50 {
        let (status, opened) = http_json(&a.addr, "POST", "/v1/decide", "agent-token-1", &request);
        assert_eq!((status, opened["decision"].as_str()), (200, Some("step_up")), "{opened}");
        let case = opened["case"].as_str().unwrap().to_string();
        let (status, first) = approve(&b.addr, &case, "tok-cfo");
        assert_eq!(status, 200, "{first}");
        // The agent waits on A; the deciding approval is made on B.
        let mut stream = follow(&a.addr, &case, "tok-ops");
        let approved = Instant::now();
        let (status, second) = approve(&b.addr, &case, "tok-lead");
        assert_eq!((status, second["state"].as_str()), (200, Some("allowed")), "{second}");
        // Earlier changes (the first approval) may still wake it on the way: it reads again.
        let woken = loop {
            let event = next_event(&mut stream);
            if event["state"] != "pending_approval" {
                break event;
            }
        };
        latencies.push(approved.elapsed());
        assert_eq!(woken["state"], "allowed", "{woken}");
    }
    latencies.sort();
    let p = |q: usize| latencies[(latencies.len() * q / 100).min(latencies.len() - 1)];
    eprintln!("approve on B -> waiter on A woken, over {} cases: p50 {:?}, p99 {:?}", latencies.len(), p(50), p(99));
}

/// A bundle whose payments above 100 wait for one approver, and are denied after 10 minutes.
fn timeout_bundle() -> Vec<u8> {
    const POLICY: &str = r#"
policy p version "1"
settings { default allow }
tool pay { amount: Int }
rule big on pay priority 10 {
  when params.amount > 100
  step_up { approvers 1 of ["a@corp.com"] timeout 10m -> deny }
}
"#;
    let loaded = aarm::compiler::load_sources(vec![("p.aarm".into(), POLICY.into())]);
    let compiled = aarm::compiler::compile(&loaded);
    let program = compiled.program.unwrap_or_else(|| panic!("{:?}", compiled.checked.diagnostics));
    aarm::runtime::bundle::encode(&program, None).unwrap()
}

/// Each timeout fires once when two replicas' clocks pass it at once: two lifecycles on two
/// handles of one database tick the same due cases concurrently; the store's version check
/// refuses the slower commit, and the retried tick finds nothing due on the timed-out case.
#[test]
fn a_timeout_fires_once_when_two_replicas_tick_past_it() {
    use aarm::cases::lifecycle::identity::NoIdentityService;
    use aarm::cases::lifecycle::service::Lifecycle;
    use aarm::cases::store::any::AnyStore;
    use aarm::cases::store::CaseStore;
    use std::sync::Arc;

    let Some(url) = pg::database() else { return };
    let bytes = timeout_bundle();
    let lifecycle = || {
        let engine = aarm::runtime::engine::Engine::load(&bytes, &[], false).unwrap();
        let store = AnyStore::open(Path::new(&url), true).unwrap();
        let mut lc = Lifecycle::new(store, Box::new(NoIdentityService));
        lc.add_engine(Arc::new(engine), Some(&bytes)).unwrap();
        lc
    };
    let (mut one, mut two) = (lifecycle(), lifecycle());
    let hash = aarm::runtime::engine::Engine::load(&bytes, &[], false).unwrap().bundle_hash().to_string();
    const NOW: i64 = 1_795_514_400;
    let cases: Vec<String> = (0..20)
        .map(|_| one.submit(&hash, r#"{"action": {"tool": "pay", "params": {"amount": 500}}}"#, NOW).unwrap())
        .map(|s| s.case.unwrap().id)
        .collect();

    // Both clocks pass the deadline; both tick at once.
    let later = NOW + 10 * 60 + 1;
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| one.tick(later).unwrap().len());
        let b = scope.spawn(|| two.tick(later).unwrap().len());
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(a + b, cases.len(), "each case timed out by exactly one replica ({a} + {b})");
    for case in &cases {
        let receipts = one.store().receipts(Some(case)).unwrap();
        let timeouts = receipts.iter().filter(|r| r.body.event == "timeout").count();
        assert_eq!(timeouts, 1, "{case}: {receipts:?}");
        assert_eq!(one.store().get(case).unwrap().unwrap().state.as_str(), "denied");
    }
    assert!(two.tick(later + 3600).unwrap().is_empty(), "nothing left to fire");
}

/// A tick starts from the pending cases as the store listed them. When another writer resolved
/// one in between (here: an approval, applied after the listing was taken), the tick's commit is
/// refused by the version check and the tick is retried on the case as it now is: the timeout
/// that was due on the stale copy never overwrites the approval. Deterministic: the store hands
/// the tick a listing taken before the approval.
#[test]
fn a_tick_from_a_stale_listing_never_overwrites_what_another_writer_resolved() {
    use aarm::cases::lifecycle::case::Case;
    use aarm::cases::lifecycle::event::Event;
    use aarm::cases::lifecycle::identity::NoIdentityService;
    use aarm::cases::lifecycle::receipt::{Receipt, ReceiptDraft};
    use aarm::cases::lifecycle::service::Lifecycle;
    use aarm::cases::store::memory::MemoryStore;
    use aarm::cases::store::{CaseStore, StoreError};
    use std::sync::Arc;

    /// A memory store whose `list` answers from a snapshot, when one was taken.
    #[derive(Default)]
    struct StaleListing {
        store: MemoryStore,
        snapshot: Option<Vec<Case>>,
    }
    impl CaseStore for StaleListing {
        fn open(&mut self, case: Case, receipt: ReceiptDraft) -> Result<(Case, Receipt), StoreError> {
            self.store.open(case, receipt)
        }
        fn commit(
            &mut self,
            c: &Case,
            r: Vec<ReceiptDraft>,
            e: Option<&str>,
        ) -> Result<Option<Vec<Receipt>>, StoreError> {
            self.store.commit(c, r, e)
        }
        fn record(&mut self, receipts: Vec<ReceiptDraft>) -> Result<Vec<Receipt>, StoreError> {
            self.store.record(receipts)
        }
        fn applied(&self, case: &str, event_id: &str) -> Result<bool, StoreError> {
            self.store.applied(case, event_id)
        }
        fn get(&self, id: &str) -> Result<Option<Case>, StoreError> {
            self.store.get(id)
        }
        fn list(&self, pending_only: bool) -> Result<Vec<Case>, StoreError> {
            match &self.snapshot {
                Some(cases) => Ok(cases.clone()),
                None => self.store.list(pending_only),
            }
        }
        fn receipts(&self, case: Option<&str>) -> Result<Vec<Receipt>, StoreError> {
            self.store.receipts(case)
        }
        fn chain_head(&self) -> Result<Option<(u64, String)>, StoreError> {
            self.store.chain_head()
        }
        fn last_event_at(&self) -> Result<Option<i64>, StoreError> {
            self.store.last_event_at()
        }
        fn put_bundle(&mut self, hash: &str, bytes: &[u8]) -> Result<(), StoreError> {
            self.store.put_bundle(hash, bytes)
        }
        fn get_bundle(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
            self.store.get_bundle(hash)
        }
    }

    const NOW: i64 = 1_790_000_000;
    let bytes = timeout_bundle();
    let engine = aarm::runtime::engine::Engine::load(&bytes, &[], false).unwrap();
    let hash = engine.bundle_hash().to_string();
    let mut lc = Lifecycle::new(StaleListing::default(), Box::new(NoIdentityService));
    lc.add_engine(Arc::new(engine), Some(&bytes)).unwrap();
    let request = r#"{"action": {"tool": "pay", "params": {"amount": 500}}, "identity": {"human": "bob@corp.com"}}"#;
    let case = lc.submit(&hash, request, NOW).unwrap().case.expect("a step-up opens a case");

    // The listing is taken while the case is pending; then another writer approves it.
    lc.store_mut().snapshot = Some(lc.store().list(true).unwrap());
    let approve = Event::Approve { by: "a@corp.com".into(), roles: vec![], until: None, max: Default::default() };
    let (approved, _) = lc.apply(&case.id, &approve, NOW + 60, None).unwrap();
    assert_eq!(approved.state.as_str(), "allowed");

    // Past the timeout: on the stale copy the timeout is due, on the stored case nothing is.
    let changed = lc.tick(NOW + 10 * 60 + 1).unwrap();
    assert!(changed.is_empty(), "the tick changed {changed:?}");
    let stored = lc.store().get(&case.id).unwrap().unwrap();
    assert_eq!(stored, approved, "the approved case is as the approval left it");
    let receipts = lc.store().receipts(Some(&case.id)).unwrap();
    assert!(receipts.iter().all(|r| r.body.event != "timeout"), "{receipts:?}");
}
