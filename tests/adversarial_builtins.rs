//! Adversarial tests of the built-ins that security depends on, through the real `aarm` binary:
//! URLs are read as HTTP clients read them, and a bundle's bytes (and so the hash approvals bind
//! to) do not depend on the path typed to build it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use serde_json::{json, Value};
use std::path::Path;

mod common;
use common::{aarm, root};

fn scratch(name: &str) -> common::Scratch {
    common::scratch("adversarial-builtins", name)
}

/// `aarm eval POLICY --input -` with `request` on stdin, from the repository root: the decision.
fn eval(policy: &str, request: &Value) -> Value {
    let out = common::eval_stdin(policy, request.to_string().as_bytes(), &[]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

fn fetch(url: &str, method: &str) -> Value {
    json!({
        "action": { "tool": "fetch", "params": { "url": url, "method": method } },
        "identity": { "human": "dev@corp.com", "agent": "coding-agent", "session": "s-7" }
    })
}

/// Browsers and HTTP clients (WHATWG) read `\` as `/` in an `https` URL, so this request goes to
/// `evil.example`; a parser that splits at the last `@` thinks it goes to GitHub.
#[test]
fn a_backslash_before_at_does_not_pass_evil_example_off_as_github() {
    for method in ["GET", "POST"] {
        let d = eval("examples/mcp_gateway", &fetch("https://evil.example\\@github.com/upload", method));
        assert_eq!(d["decision"], "deny", "{method}: {d}");
        assert_eq!(d["reason"]["code"], "net.egress", "{method}: {d}");
        assert_eq!(d["reason"]["message"], "evil.example is not on the egress list", "{method}: {d}");
    }
    // The real GitHub is still reachable.
    let d = eval("examples/mcp_gateway", &fetch("https://api.github.com/repos/acme/app", "GET"));
    assert_eq!(d["decision"], "allow", "{d}");
}

/// Hosts a client reaches by other spellings are the hosts the policy sees: a decimal IPv4
/// address is loopback, a final dot does not hide an `.internal` name, and IPv6 loopback, unique
/// local and IPv4-mapped addresses are internal too.
#[test]
fn other_spellings_of_internal_hosts_are_internal() {
    for url in [
        "https://2130706433/admin",
        "https://0x7f.0.0.1/",
        "https://vault.corp.internal./v1/secret",
        "https://[::1]:8443/admin",
        "https://[::ffff:169.254.169.254]/latest/meta-data/",
        "https://[fd00:ec2::254]/latest/meta-data/",
    ] {
        let d = eval("examples/mcp_gateway", &fetch(url, "GET"));
        assert_eq!(d["decision"], "deny", "{url}: {d}");
        assert_eq!(d["reason"]["code"], "net.internal", "{url}: {d}");
    }
}

/// `aarm build PATH -o OUT` run in `cwd`: the bundle's bytes and the hash it printed.
fn build(cwd: &Path, path: &str, out: &Path) -> (Vec<u8>, String) {
    let o = aarm().args(["build", path, "-o"]).arg(out).current_dir(cwd).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "build {path} in {}: {stderr}", cwd.display());
    let hash = stderr.split("sha256:").nth(1).and_then(|h| h.get(..64)).unwrap().to_string();
    (std::fs::read(out).unwrap(), hash)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// Approvals bind to the bundle hash, so the same sources must give the same bytes whatever path
/// is typed and wherever the directory lies.
#[test]
fn the_same_sources_build_to_one_bundle_from_any_path() {
    let dir = scratch("reproducible");
    let examples = root().join("examples");
    let builds = [
        build(&root(), "examples/mcp_gateway", &dir.join("a.aarmb")),
        build(&examples, "mcp_gateway", &dir.join("b.aarmb")),
        build(&examples.join("mcp_gateway"), ".", &dir.join("c.aarmb")),
        build(&examples, "./mcp_gateway/../mcp_gateway/", &dir.join("d.aarmb")),
        build(&examples.join("mcp_gateway"), &examples.join("mcp_gateway").display().to_string(), &dir.join("e.aarmb")),
    ];
    // The same files in another directory.
    let copy = dir.join("elsewhere").join("gateway");
    copy_dir(&examples.join("mcp_gateway"), &copy);
    let moved = build(&dir, "elsewhere/gateway", &dir.join("f.aarmb"));
    let (bytes, hash) = &builds[0];
    for (i, (b, h)) in builds.iter().chain([&moved]).enumerate() {
        assert_eq!(h, hash, "build {i}");
        assert!(b == bytes, "build {i} has other bytes");
    }
}

/// A policy in a scratch directory: `policy.aarm` with `body`.
fn scratch_policy(name: &str, body: &str) -> common::Scratch {
    let dir = scratch(name);
    std::fs::write(dir.join("policy.aarm"), format!("policy p version \"1\"\n\nuse std.time\nuse std.net\n\n{body}"))
        .unwrap();
    dir
}

/// A zone name, a block or a URL that the method cannot read is refused by `aarm check` and
/// `aarm build` with E0211 at the literal, instead of a bundle that denies every request.
#[test]
fn a_literal_the_method_cannot_read_is_refused_at_build_time() {
    let dir = scratch_policy(
        "unreadable-literals",
        "tool pay { ip: String }\n\n\
         rule office_hours on pay {\n  when is_business_hours(context.now, \"Europe/Pari\")\n  allow\n}\n\n\
         rule lan on pay {\n  when ip_in_any(params.ip, [\"10.0.0.0/8\", \"fd00::/300\"])\n  allow\n}\n",
    );
    let o = aarm().args(["check", "--format", "json"]).arg(&dir).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let diags: Vec<Value> =
        String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let codes: Vec<(&str, u64)> =
        diags.iter().map(|d| (d["code"].as_str().unwrap(), d["line"].as_u64().unwrap())).collect();
    assert_eq!(codes, [("E0211", 9), ("E0211", 14)], "{diags:#?}");
    assert!(diags[0]["message"].as_str().unwrap().contains("\"Europe/Pari\""), "{diags:#?}");
    assert!(diags[0]["help"].as_str().unwrap().contains("IANA time zone"), "{diags:#?}");
    let built = aarm().args(["build"]).arg(&dir).arg("-o").arg(dir.join("p.aarmb")).output().unwrap();
    assert_eq!(built.status.code(), Some(1));
    assert!(!dir.join("p.aarmb").exists());
}

/// IANA zones work without the host's zoneinfo and follow daylight saving: 07:30 UTC is 09:30 in
/// Paris in July (open) and 08:30 in November (closed).
#[test]
fn iana_time_zones_follow_daylight_saving() {
    let dir = scratch_policy(
        "zones",
        "tool pay { amount: Int }\n\nrule office_hours on pay {\n  when is_business_hours(context.now, \"Europe/Paris\")\n  allow\n}\n",
    );
    let policy = dir.display().to_string();
    for (now, decision) in [("2026-07-07T07:30:00Z", "allow"), ("2026-11-24T07:30:00Z", "deny")] {
        let d = eval(
            &policy,
            &json!({
                "action": { "tool": "pay", "params": { "amount": 1 } },
                "identity": { "human": "a@corp.com", "agent": "agent", "session": "s" },
                "context": { "now": now }
            }),
        );
        assert_eq!(d["decision"], decision, "{now}: {d}");
    }
}
