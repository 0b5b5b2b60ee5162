#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! The approver inbox in a real headless Chromium (Debian's `chromium` and `chromium-driver`),
//! driven over WebDriver against the real server on loopback, as two approvers would use it, at
//! a desktop width and at a phone's 390 px. Each numbered finding of issue 22 has its checks
//! (marked `(N)` below); every wait is on a DOM condition, bounded by 30 s, never a fixed sleep.
//!
//! Without a browser the tests skip loudly, unless `AARM_REQUIRE_BROWSER=1` (which `.ci/run`
//! sets): then a missing browser, or a missing axe-core (`npm ci --prefix
//! server/tests/inbox-a11y`), fails them.
//!
//! To look at the page: `AARM_INBOX_SCREENSHOTS=/tmp/shots cargo test -p aarm-server --test
//! browser` writes PNGs of each step there.

mod common;

use common::{Deployment, TempDir};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Upper bound of every wait on the page.
const PATIENCE: Duration = Duration::from_secs(30);

const POLICY: &str = r#"
policy pay version "1"
tool transfer { amount: Int, to: String, memo: String }
tool payout { amount: Int, to: String }
tool rotate { env: String }
evidence window_ok: Bool from "maintenance_api"
group finance = ["cfo@corp.com", "controller@corp.com"]

/// Large transfers need two finance approvers.
rule big on transfer priority 90 {
  when params.amount > 1000
  risk high
  confidence 0.4
  step_up {
    approvers 2 of finance
    timeout 1h -> step_up { approvers 1 of ["ceo@corp.com"]  timeout 1h -> deny }
  }
  reason "transfer.big" "Transfer of {params.amount} to {params.to} needs two approvals"
}
rule small on transfer { allow }

/// Payouts over 1000 need one finance approver.
rule payout_big on payout priority 90 {
  when params.amount > 1000
  risk critical
  confidence 0.95
  step_up { approvers 1 of finance  timeout 1h -> deny }
  reason "payout.big" "Payout of {params.amount} USD to {params.to} needs finance"
}

/// Rotation in prod waits for a maintenance window, then asks finance.
rule rotate_prod on rotate priority 60 {
  when params.env == "prod" and evidence.window_ok is not set
  risk high
  defer {
    need window_ok
    timeout 1s -> step_up { approvers 1 of finance  timeout 1h -> deny }
  }
  reason "rotate.window" "Rotation in prod needs a maintenance window"
}
rule rotate_ok on rotate { allow }
"#;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tool_path(var: &str, default: &str) -> Option<String> {
    let p = std::env::var(var).unwrap_or_else(|_| default.to_string());
    Path::new(&p).exists().then_some(p)
}

fn required() -> bool {
    std::env::var("AARM_REQUIRE_BROWSER").is_ok_and(|v| v == "1")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A Chromium session at a given window width; `None` (the test skips) without a browser.
struct Browser {
    client: Client,
    _driver: Driver,
    _profile: TempDir,
    shots: Option<PathBuf>,
    width: u32,
}

impl Drop for Browser {
    /// Ends the WebDriver session before the fields go (chromedriver killed, then the profile
    /// removed), also when the test failed: chromedriver then quits Chromium and waits for it.
    /// Killing chromedriver alone left Chromium running, writing into its profile after the
    /// profile directory was removed, so the directory came back and stayed in the temp dir.
    fn drop(&mut self) {
        let client = self.client.clone();
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async {
                let _ = tokio::time::timeout(PATIENCE, client.close()).await;
            });
        });
    }
}

impl Browser {
    async fn open(width: u32) -> Option<Browser> {
        let (Some(chromium), Some(chromedriver)) =
            (tool_path("AARM_CHROMIUM", "/usr/bin/chromium"), tool_path("AARM_CHROMEDRIVER", "/usr/bin/chromedriver"))
        else {
            assert!(
                !required(),
                "AARM_REQUIRE_BROWSER=1 but chromium or chromedriver is missing (apt-get install chromium chromium-driver)"
            );
            eprintln!(
                "\n!!! SKIPPED the inbox browser test: /usr/bin/chromium or /usr/bin/chromedriver is missing !!!\n"
            );
            return None;
        };
        let port = free_port();
        let driver = Driver(
            Command::new(&chromedriver)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver starts"),
        );
        let profile = common::temp_dir("chromium-profile");
        let mut caps = json!({
            "browserName": "chrome",
            "goog:loggingPrefs": { "browser": "ALL" },
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--hide-scrollbars", format!("--window-size={width},900"),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        if width < 500 {
            // Chromium's windows are at least 500 px wide: a phone's viewport is emulated.
            caps["goog:chromeOptions"]["mobileEmulation"] =
                json!({ "deviceMetrics": { "width": width, "height": 844, "pixelRatio": 1.0, "touch": true } });
        }
        let mut builder = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(caps.as_object().unwrap().clone());
        let start = Instant::now();
        let client = loop {
            match builder.connect(&format!("http://127.0.0.1:{port}")).await {
                Ok(c) => break c,
                Err(e) if start.elapsed() < PATIENCE => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("no WebDriver session: {e}"),
            }
        };
        let shots = std::env::var("AARM_INBOX_SCREENSHOTS").ok().map(PathBuf::from);
        if let Some(dir) = &shots {
            std::fs::create_dir_all(dir).unwrap();
        }
        Some(Browser { client, _driver: driver, _profile: profile, shots, width })
    }

    async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until `expr` (a JavaScript expression) is truthy, then answers its value.
    async fn until(&self, expr: &str, what: &str) -> Value {
        let start = Instant::now();
        loop {
            let v = self.client.execute(&format!("return ({expr});"), vec![]).await.unwrap_or(Value::Null);
            if !(v.is_null() || v == json!(false) || v == json!("") || v == json!(0)) {
                return v;
            }
            if start.elapsed() > PATIENCE {
                let body = self.js("return document.body.innerText.slice(0, 4000)").await;
                panic!("[{} px] waited 30 s for {what} ({expr}); the page says:\n{body}", self.width);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until an element matches `css` (a selector without double quotes).
    async fn until_shown(&self, css: &str, what: &str) {
        self.until(&format!("document.querySelector(\"{css}\")"), what).await;
    }

    async fn text(&self, css: &str) -> String {
        let css = serde_json::to_string(css).unwrap();
        self.js(&format!("const e = document.querySelector({css}); return e ? e.innerText : null;"))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Signs in on the page's form with `token`.
    async fn sign_in(&self, token: &str) {
        self.client.find(Locator::Id("token")).await.unwrap().send_keys(token).await.unwrap();
        self.click("#login-button").await;
    }

    async fn click(&self, css: &str) {
        let q = serde_json::to_string(css).unwrap();
        self.until(&format!("document.querySelector({q}) && !document.querySelector({q}).disabled"), css).await;
        self.client.find(Locator::Css(css)).await.unwrap().click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    async fn shot(&self, name: &str) {
        if let Some(dir) = &self.shots {
            let png = self.client.screenshot().await.unwrap();
            std::fs::write(dir.join(format!("{}-{name}.png", self.width)), png).unwrap();
        }
    }

    /// axe-core's violations on the page as it is now (empty: none), or `None` without axe-core.
    async fn axe(&self) -> Option<Vec<Value>> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/inbox-a11y/node_modules/axe-core/axe.min.js");
        let Ok(source) = std::fs::read_to_string(&path) else {
            assert!(
                !required(),
                "AARM_REQUIRE_BROWSER=1 but {} is missing: npm ci --prefix server/tests/inbox-a11y",
                path.display()
            );
            eprintln!("\n!!! SKIPPED the accessibility check: run `npm ci --prefix server/tests/inbox-a11y` !!!\n");
            return None;
        };
        self.js(&format!("{source}\n;return typeof axe;")).await;
        let out = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] })
                   .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                       nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary) }))))
                   .catch(e => done([{ id: 'axe-failed', help: String(e) }]));",
                vec![],
            )
            .await
            .unwrap();
        Some(out.as_array().cloned().unwrap_or_default())
    }

    async fn assert_accessible(&self, page: &str) {
        if let Some(violations) = self.axe().await {
            assert!(
                violations.is_empty(),
                "[{} px] axe-core finds violations on the {page} page:\n{}",
                self.width,
                serde_json::to_string_pretty(&violations).unwrap()
            );
        }
    }

    /// (1, 9) Nothing is wider than the window.
    async fn assert_no_horizontal_overflow(&self, when: &str) {
        let v = self.js("return [document.documentElement.scrollWidth, window.innerWidth];").await;
        let (scroll, inner) = (v[0].as_i64().unwrap(), v[1].as_i64().unwrap());
        assert!(scroll <= inner, "[{} px] {when}: the page is {scroll} px wide in a {inner} px window", self.width);
    }
}

/// Asserts that `text` (what the page shows of `what`) says every one of `needles`.
fn assert_says(text: &str, what: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "{what} lacks {needle:?}:\n{text}");
    }
}

fn card(id: &str) -> String {
    format!("li[data-case='{id}']")
}

async fn decide(d: &Deployment, request: Value) -> String {
    common::case_id(&d.decide(request).await)
}

fn payout(amount: i64) -> Value {
    json!({ "action": { "tool": "payout", "params": { "amount": amount, "to": "acme-holdings" } },
            "identity": { "human": "alice@corp.com", "service": "svc-payments", "agent": "finance-agent" },
            "context": { "original_request": "pay out the acme settlement", "data_classes": ["financial"] } })
}

fn transfer(amount: i64, memo: &str) -> Value {
    json!({ "action": { "tool": "transfer", "params": { "amount": amount, "to": "acme", "memo": memo } },
            "identity": { "human": "alice@corp.com", "service": "svc-payments", "agent": "finance-agent" },
            "context": { "original_request": "pay the acme invoice", "data_classes": ["PII"], "semantic_distance": 0.7 } })
}

/// The whole walk through the inbox at one window width.
async fn walk(width: u32) {
    let Some(b) = Browser::open(width).await else { return };
    let mut d = Deployment::start_with(&format!("browser-{width}"), POLICY, |_| {}).await;

    // The cases: a critical payout, a high transfer with a 2 400-character memo (two approvals
    // needed, 40 % confidence), a transfer with hostile text, and a deferral that escalates.
    let critical = decide(&d, payout(990_000)).await;
    let memo = "X".repeat(2400);
    let long = decide(&d, transfer(5000, &memo)).await;
    let mut hostile_req = transfer(7000, "<img src=x onerror=\"window.__pwned=1\">");
    hostile_req["context"]["original_request"] = json!("<script>window.__pwned=2</script> pay <b>now</b>");
    let hostile = decide(&d, hostile_req).await;
    let deferred = decide(
        &d,
        json!({ "action": { "tool": "rotate", "params": { "env": "prod" } },
        "identity": { "human": "bob@corp.com", "agent": "finance-agent" } }),
    )
    .await;
    // The deferral's 1 s timeout escalates it to finance: the test's clock moves past it and ticks.
    d.advance(Duration::from_secs(2)).await;
    let c = d.case_until(&deferred, |c| c["state"] == "pending_approval").await;
    assert_eq!(c["state"], "pending_approval", "the deferral escalated: {c}");

    // (10) The sign-in page: a main landmark, no axe violations; (11) an icon, not a 404.
    b.client.goto(&format!("{}/inbox?case={long}", d.base)).await.unwrap();
    b.until("document.querySelector('main #login-form')", "the sign-in form inside main").await;
    assert_eq!(b.js("return window.innerWidth;").await, json!(width), "the viewport is {width} px wide");
    b.shot("1-sign-in").await;
    b.assert_accessible("sign-in").await;
    let icon = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const href = document.querySelector('link[rel=icon]').href;
             fetch(href).then(r => done(r.status)).catch(e => done(String(e)));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(icon, json!(200), "the page's icon loads");

    b.sign_in("tok-cfo").await;
    b.until("document.querySelector('#who').textContent.includes('cfo@corp.com')", "signed in").await;
    b.until_shown(&card(&deferred), "the escalated deferral's card").await;

    // Order: critical first, then the high ones; the escalated deferral is high like its rule (5).
    let order = b.js("return [...document.querySelectorAll('#cases > li')].map(li => li.dataset.case);").await;
    assert_eq!(order[0], json!(critical), "critical first: {order}");
    let order: Vec<&str> = order.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(order.len(), 4, "{order:?}");
    assert!(order[1..].contains(&deferred.as_str()), "the escalated deferral sorts with the high cases: {order:?}");
    let defer_card = b.text(&card(&deferred)).await;
    let needles = [
        "risk high",
        "escalated deferral",
        "Evidence awaited",
        "window_ok",
        "Nobody supplied window_ok before the deferral's time limit",
        "Attempts",
        "Rotation in prod waits for a maintenance window",
    ];
    assert_says(&defer_card, &format!("[{width} px] (5) the escalated deferral"), &needles);

    // (6) Risk at a glance: counts per level, distinct colours, low confidence flagged.
    let counts = b.text("#counts").await;
    assert!(counts.contains("1 critical") && counts.contains("3 high"), "(6) counts: {counts}");
    let colours = b
        .js(&format!(
            "const bg = s => getComputedStyle(document.querySelector(s)).backgroundColor;
             return [bg(\"{} .badge.risk\"), bg(\"{} .badge.risk\")];",
            card(&critical),
            card(&long)
        ))
        .await;
    assert_ne!(colours[0], colours[1], "(6) critical and high badges look the same: {colours}");
    let luminance = |rgb: &Value| -> f64 {
        let n: Vec<f64> = rgb
            .as_str()
            .unwrap()
            .trim_start_matches("rgb(")
            .trim_end_matches(')')
            .split(',')
            .map(|x| x.trim().parse().unwrap())
            .collect();
        0.2126 * n[0] + 0.7152 * n[1] + 0.0722 * n[2]
    };
    assert!(luminance(&colours[0]) < luminance(&colours[1]), "(6) critical is the stronger (darker) badge: {colours}");
    assert_ne!(colours[1], json!("rgb(238, 238, 238)"), "(6) not the old grey");
    let long_card = b.text(&card(&long)).await;
    assert!(long_card.contains("low confidence 40%"), "(6) the 40 % confidence is flagged:\n{long_card}");

    // (11) Plain words: opened-at and age, a relative deadline, who comes next, no raw outcomes.
    let needles = ["Opened", " ago)", "(in ", "then it goes to ceo@corp.com", "needs two approvals"];
    assert_says(&long_card, "(11) the card", &needles);
    assert!(!long_card.contains("(then step_up)"), "(11) jargon in:\n{long_card}");

    // (1) The 2 400-character memo wraps inside the card, folded behind "Show all".
    b.assert_no_horizontal_overflow("with a 2 400-character parameter").await;
    assert!(!long_card.contains(&memo), "(1) the long value starts folded");
    b.click(&format!("{} button.more", card(&long))).await;
    b.until(
        &format!("document.querySelector(\"{} pre.value\").textContent.includes('{memo}')", card(&long)),
        "the memo unfolded",
    )
    .await;
    b.assert_no_horizontal_overflow("with the 2 400-character parameter unfolded").await;
    let fits = b
        .js(&format!(
            "const c = document.querySelector(\"{0}\").getBoundingClientRect();
             const p = document.querySelector(\"{0} pre.value\").getBoundingClientRect();
             return p.right <= c.right + 0.5;",
            card(&long)
        ))
        .await;
    assert_eq!(fits, json!(true), "(1) the value stays inside its card");
    b.shot("2-list-unfolded").await;
    b.click(&format!("{} button.more", card(&long))).await;

    // Hostile text is shown as text and never runs.
    let hostile_card = b.text(&card(&hostile)).await;
    assert!(hostile_card.contains("<script>window.__pwned=2</script> pay <b>now</b>"), "{hostile_card}");
    assert!(hostile_card.contains("onerror"), "{hostile_card}");
    assert_eq!(
        b.js("return window.__pwned === undefined && !document.querySelector('#cases img, #cases script, #cases b');")
            .await,
        json!(true)
    );

    // (9) Phones: labels above values, touch targets of 44 px at least.
    if width <= 400 {
        let stacked = b
            .js(&format!(
                "const dt = document.querySelector(\"{0} dt\").getBoundingClientRect();
                 const dd = document.querySelector(\"{0} dd\").getBoundingClientRect();
                 return dd.top >= dt.bottom - 0.5 && dd.width > window.innerWidth * 0.6;",
                card(&long)
            ))
            .await;
        assert_eq!(stacked, json!(true), "(9) labels stack above full-width values at {width} px");
    }
    let small = b
        .js("return [...document.querySelectorAll('button')].filter(x => x.offsetParent !== null)
               .map(x => x.getBoundingClientRect()).filter(r => r.height < 44 || r.width < 44).length;")
        .await;
    assert_eq!(small, json!(0), "(9) every visible button is at least 44x44 px");

    // (10) Accessible names carry the case; the signed-in page passes axe.
    let named = b.text(&format!("{} button.approve", card(&critical))).await;
    assert!(named.contains(&critical), "(10) the approve button's name names the case: {named:?}");
    b.assert_accessible("signed-in").await;

    // (7, 3) Live updates in place keep focus, scroll and typed text; Escape closes the box.
    b.click(&format!("{} button.deny", card(&hostile))).await;
    let why = format!("{} textarea.why", card(&hostile));
    b.client.find(Locator::Css(&why)).await.unwrap().send_keys("half typed").await.unwrap();
    b.js(&format!("document.querySelector(\"{why}\").setSelectionRange(2, 6); document.querySelector(\"{why}\").scrollIntoView({{ block: 'center' }});")).await;
    let top = format!("return Math.round(document.querySelector(\"{why}\").getBoundingClientRect().top);");
    let top_before = b.js(&top).await;
    let label = b.js(&format!("return document.querySelector(\"{why}\").labels[0].textContent;")).await;
    assert!(label.as_str().unwrap().contains("Why do you deny it?"), "(10) the reason has a label: {label}");
    // Another approver approves the long transfer (1 of 2), and a new case opens.
    let (status, _) = d.post(&format!("/v1/cases/{long}/approve"), "tok-controller", json!({})).await;
    assert_eq!(status, 200);
    let newer = decide(&d, payout(2500)).await;
    b.until_shown(&card(&newer), "the new case, without a reload").await;
    b.until(
        &format!("document.querySelector(\"{}\").innerText.includes('controller@corp.com at')", card(&long)),
        "the other approver's approval, in place",
    )
    .await;
    let kept = b
        .js(&format!(
            "const t = document.querySelector(\"{why}\");
             return [document.activeElement === t, t.value, t.selectionStart, t.selectionEnd, !t.closest('.deny-form').hidden];"
        ))
        .await;
    assert_eq!(kept, json!([true, "half typed", 2, 6, true]), "(7) focus, typed text and selection survive an update");
    let top_after = b.js(&top).await;
    let moved = (top_after.as_i64().unwrap() - top_before.as_i64().unwrap()).abs();
    assert!(moved <= 2, "(7) the box being typed in moved on screen: {top_before} -> {top_after}");
    b.shot("3-typing-during-update").await;
    b.client.find(Locator::Css(&why)).await.unwrap().send_keys("\u{e00c}").await.unwrap(); // Escape
    b.until(
        &format!("document.querySelector(\"{}\").closest('.deny-form').hidden", why),
        "(3) Escape closes the deny box",
    )
    .await;
    b.click(&format!("{} button.deny", card(&hostile))).await;
    b.click(&format!("{} .deny-form button.cancel", card(&hostile))).await;
    b.until(
        &format!("document.querySelector(\"{}\").closest('.deny-form').hidden", why),
        "(3) Cancel closes the deny box",
    )
    .await;

    // (7) A text selection in a card survives an update of the list.
    let selected = b
        .js(&format!(
            "const dt = [...document.querySelectorAll(\"{} dt\")].find(x => x.textContent === 'Evidence awaited');
             const r = document.createRange(); r.selectNodeContents(dt.nextElementSibling);
             const s = getSelection(); s.removeAllRanges(); s.addRange(r); return s.toString();",
            card(&deferred)
        ))
        .await;
    assert_eq!(selected, json!("window_ok"));
    let another = decide(&d, transfer(8000, "rent")).await;
    b.until_shown(&card(&another), "another new case").await;
    assert_eq!(b.js("return getSelection().toString();").await, selected, "(7) the selection survives an update");

    // (3) Someone else closes a case while this approver has its deny box open: the card says
    // who did what and when, and the box is gone, before anything is sent.
    b.click(&format!("{} button.deny", card(&newer))).await;
    let (status, _) = d.post(&format!("/v1/cases/{newer}/approve"), "tok-controller", json!({})).await;
    assert_eq!(status, 200);
    let note = b
        .until(
            &format!("document.querySelector(\"{} .note\").innerText.includes('controller@corp.com approved this at') && document.querySelector(\"{0} .note\").innerText", card(&newer)),
            "(3) the late case's outcome in its card",
        )
        .await;
    assert!(note.as_str().unwrap().contains("Closed: approved"), "{note}");
    assert_eq!(
        b.js(&format!("return document.querySelector(\"{} .deny-form\").hidden;", card(&newer))).await,
        json!(true)
    );

    // (4) Approve states its effect first. One of two: "waiting for others", no second approval.
    let hostile_approve = format!("{} button.approve", card(&hostile));
    b.click(&hostile_approve).await;
    let effect = b.text(&format!("{} .confirm .effect", card(&hostile))).await;
    assert!(effect.contains("Your approval is 1 of 2"), "(4) {effect}");
    b.shot("4-confirm-1-of-2").await;
    b.click(&format!("{} button.confirm-approve", card(&hostile))).await;
    b.until(
        &format!("document.querySelector(\"{} .waiting\").innerText.includes('Waiting for others')", card(&hostile)),
        "(4) waiting for others",
    )
    .await;
    assert_eq!(
        b.js(&format!("return document.querySelector(\"{hostile_approve}\").hidden;")).await,
        json!(true),
        "(4) no second approval"
    );
    let result = b.text(&format!("{} .result", card(&hostile))).await;
    assert!(result.contains("Your approval is recorded"), "(4) the result is next to the case: {result}");

    // (4) The critical 990 000 USD payout: the confirmation says it releases the payout now.
    b.click(&format!("{} button.approve", card(&critical))).await;
    let effect = b.text(&format!("{} .confirm .effect", card(&critical))).await;
    assert!(effect.contains("Your approval releases payout (amount 990,000, to acme-holdings) now"), "(4) {effect}");
    b.shot("5-confirm-release").await;
    assert_eq!(
        d.get(&format!("/v1/cases/{critical}"), "tok-ops").await.1["state"],
        "pending_approval",
        "(4) nothing happens before the confirmation"
    );

    // (2) The service goes away: the page says so, and Confirm answers with an error.
    let addr = d.server.as_ref().unwrap().addr;
    d.stop().await;
    b.until(
        "document.querySelector('#conn').innerText.includes('Connection lost — retrying')",
        "(2) the connection-lost state",
    )
    .await;
    b.click(&format!("{} button.confirm-approve", card(&critical))).await;
    let err = b
        .until(
            &format!("document.querySelector(\"{} .result.error\") && document.querySelector(\"{0} .result.error\").innerText", card(&critical)),
            "(2) an error next to the case",
        )
        .await;
    assert!(err.as_str().unwrap().contains("Not recorded. The approval service cannot be reached"), "{err}");
    assert_eq!(
        b.js(&format!("return document.querySelector(\"{} .result\").getAttribute('role');", card(&critical))).await,
        json!("alert")
    );
    b.shot("6-connection-lost").await;

    // Back on the same address: the page reconnects by itself; this time the approval lands.
    d.boot(|o| o.listen = addr).await;
    b.until("document.querySelector('#conn').innerText === ''", "(2) the connection is back").await;
    b.click(&format!("{} button.confirm-approve", card(&critical))).await;
    b.until(
        &format!(
            "document.querySelector(\"{} .result\").innerText.includes('You approved it: payout is released')",
            card(&critical)
        ),
        "(4) the result in words",
    )
    .await;
    b.until(
        &format!(
            "document.querySelector(\"{} .note\").innerText.includes('cfo@corp.com approved this')",
            card(&critical)
        ),
        "(4) the closed card",
    )
    .await;
    let gone = b
        .js(&format!("return [...document.querySelectorAll(\"{} button.approve, {0} button.deny\")].every(x => x.offsetParent === null);", card(&critical)))
        .await;
    assert_eq!(gone, json!(true), "(4) a closed case offers no Approve or Deny");
    let (_, c) = d.get(&format!("/v1/cases/{critical}"), "tok-ops").await;
    assert_eq!(c["state"], "allowed");
    assert_eq!(c["outcome_summary"]["by"], json!(["cfo@corp.com"]));
    b.shot("7-approved").await;

    // Deny with a reason: it is required, recorded with the approver's verified method, and
    // the card says so.
    let dcard = card(&deferred);
    b.click(&format!("{dcard} button.deny")).await;
    assert_eq!(
        b.js(&format!("return document.querySelector(\"{dcard} button.confirm-deny\").disabled;")).await,
        json!(true),
        "no reason, no deny"
    );
    let effect = b.text(&format!("{dcard} .deny-form .effect")).await;
    assert!(effect.contains("Your denial blocks rotate (env prod) now"), "{effect}");
    b.client
        .find(Locator::Css(&format!("{dcard} textarea.why")))
        .await
        .unwrap()
        .send_keys("no window tonight")
        .await
        .unwrap();
    b.click(&format!("{dcard} button.confirm-deny")).await;
    b.until(
        &format!(
            "document.querySelector(\"{dcard} .result\").innerText.includes('You denied it: rotate will not run.')"
        ),
        "the denial's result",
    )
    .await;
    let (_, c) = d.get(&format!("/v1/cases/{deferred}"), "tok-ops").await;
    assert_eq!(c["state"], "denied");
    assert_eq!(c["denials"][0]["why"], "no window tonight");
    assert_eq!(c["denials"][0]["verified_by"], "bearer");

    // (3) A late action: another approver closes a case and this page has not heard of it yet
    // (its live updates are held back here). Confirm reads the case first and says who acted
    // and when, and sends nothing.
    let late = decide(&d, payout(3000)).await;
    b.until_shown(&card(&late), "the late case").await;
    b.js("window.render = () => {};").await;
    let (status, _) = d.post(&format!("/v1/cases/{late}/approve"), "tok-controller", json!({})).await;
    assert_eq!(status, 200);
    b.click(&format!("{} button.approve", card(&late))).await;
    b.click(&format!("{} button.confirm-approve", card(&late))).await;
    let said = b
        .until(
            &format!(
                "document.querySelector(\"{} .result\").innerText.includes('Not sent:') && document.querySelector(\"{0} .result\").innerText",
                card(&late)
            ),
            "(3) the late action's answer",
        )
        .await;
    assert!(said.as_str().unwrap().contains("nothing was recorded in your name"), "(3) {said}");
    // The note is written after the answer (the page renders the case it read): wait for it.
    b.until(
        &format!(
            "document.querySelector(\"{} .note\").innerText.includes('Closed: approved. controller@corp.com approved this at')",
            card(&late)
        ),
        "(3) the late case's note says who closed it",
    )
    .await;
    let (_, c) = d.get(&format!("/v1/cases/{late}"), "tok-ops").await;
    assert_eq!(c["outcome_summary"]["by"], json!(["controller@corp.com"]), "(3) nothing sent in cfo's name");
    b.shot("8-late-action").await;

    // (8) A link to a resolved case shows its outcome: decision, who, when, reason.
    b.client.goto(&format!("{}/inbox?case={critical}", d.base)).await.unwrap();
    let outcome = b
        .until(
            "!document.querySelector('#outcome').hidden && document.querySelector('#outcome').innerText",
            "(8) the outcome view",
        )
        .await;
    let outcome = outcome.as_str().unwrap();
    assert_says(
        outcome,
        "(8) the outcome",
        &["Closed: approved", "cfo@corp.com", "Decided by", "When", " ago)", "Reason"],
    );
    b.shot("9-outcome").await;
    b.assert_no_horizontal_overflow("the outcome view").await;

    b.client.clone().close().await.unwrap();
    d.verified_chain().await;
}

const QUESTION_POLICY: &str = r#"
policy ops version "1"
tool purge { records: Int, table: String }
tool payout { amount: Int, to: String }
evidence sure: Bool from "requester"

rule purge_ask on purge priority 60 {
  when evidence.sure is not set
  defer { need sure  timeout 1h -> deny }
  reason "purge.ask" "Delete {params.records} records from {params.table}?"
}
rule purge_declined on purge priority 50 {
  when not evidence.sure
  deny
}
rule purge_ok on purge { allow }

rule payout_big on payout priority 90 {
  when params.amount > 1000
  step_up { approvers 1 of ["controller@corp.com"]  timeout 1h -> deny }
}
rule payout_ok on payout { allow }
"#;

fn question(id: &str) -> String {
    format!("li[data-question='{id}']")
}

/// A deferral asking the requester (a `confirm` source): its question in that person's inbox
/// only, answered with Confirm or Decline from the page, gone once answered or ended.
async fn questions_walk(width: u32) {
    let Some(b) = Browser::open(width).await else { return };
    let mut d = Deployment::start_with(&format!("browser-questions-{width}"), QUESTION_POLICY, |_| {}).await;
    d.reconfigure(|text| text + "\n[evidence.sources.requester]\nkind = \"confirm\"\n").await;
    let purge = |human: &str, records: i64, table: &str| {
        json!({ "action": { "tool": "purge", "params": { "records": records, "table": table } },
                "identity": { "human": human, "agent": "finance-agent" },
                "context": { "original_request": "clean up the old customers" } })
    };
    let mine = decide(&d, purge("cfo@corp.com", 47, "customers")).await;
    let hostile = decide(&d, purge("cfo@corp.com", 3, "<img src=x onerror=\"window.__pwned=1\">")).await;
    let someone_elses = decide(&d, purge("controller@corp.com", 9, "orders")).await;
    // A case cfo may not approve (only the controller): the page lists questions even with no case.
    decide(
        &d,
        json!({ "action": { "tool": "payout", "params": { "amount": 5000, "to": "acme" } },
                        "identity": { "human": "alice@corp.com", "agent": "finance-agent" } }),
    )
    .await;

    // A link from the question's message opens the inbox on it, the answer it names focused.
    b.client.goto(&format!("{}/inbox?case={mine}&action=confirm", d.base)).await.unwrap();
    b.until("document.querySelector('main #login-form')", "the sign-in form").await;
    b.sign_in("tok-cfo").await;
    b.until_shown(&question(&mine), "the question's card").await;
    b.until_shown(&question(&hostile), "the second question").await;
    let card = b.text(&question(&mine)).await;
    let needles = [
        "Delete 47 records from customers?",
        "purge (records 47, table customers)",
        "finance-agent",
        "acting for you",
        "then it is denied",
        "Confirm",
        "Decline",
    ];
    assert_says(&card, &format!("[{width} px] the question"), &needles);
    let focused = b.js("return document.activeElement && document.activeElement.dataset.answer;").await;
    assert_eq!(focused, json!("confirm"), "the link focuses Confirm, and answers nothing by itself");
    assert_eq!(d.get(&format!("/v1/cases/{mine}"), "tok-ops").await.1["state"], "pending_evidence");
    // Nobody else's question, and hostile text stays text.
    assert_eq!(
        b.js(&format!("return document.querySelector(\"{}\") === null;", question(&someone_elses))).await,
        json!(true)
    );
    assert!(b.text(&question(&hostile)).await.contains("onerror"), "the table name is shown as text");
    assert_eq!(
        b.js("return window.__pwned === undefined && !document.querySelector('#questions img');").await,
        json!(true)
    );
    assert_eq!(b.text("#questions-title").await, "Questions for you");
    assert!(
        b.js("return document.querySelector('#empty').hidden;").await == json!(true),
        "not 'nothing waits for you'"
    );
    b.assert_no_horizontal_overflow("with questions").await;
    let small = b
        .js("return [...document.querySelectorAll('#questions button')].filter(x => x.offsetParent !== null)
               .map(x => x.getBoundingClientRect()).filter(r => r.height < 44 || r.width < 44).length;")
        .await;
    assert_eq!(small, json!(0), "every answer button is at least 44x44 px");
    b.shot("q1-questions").await;
    b.assert_accessible("questions").await;

    // Confirm: the answer is recorded, the case allowed, the question gone from the page.
    b.click(&format!("{} button.confirm-answer", question(&mine))).await;
    b.until(
        "document.querySelector('#answered').innerText.includes('You confirmed purge (records 47, table customers)')",
        "the answer's result",
    )
    .await;
    b.until(&format!("document.querySelector(\"{}\") === null", question(&mine)), "the answered question leaves").await;
    assert_eq!(d.get(&format!("/v1/cases/{mine}"), "tok-ops").await.1["state"], "allowed");
    b.shot("q2-confirmed").await;

    // A question that closes while the page is not listening (the agent cancels): Decline is
    // refused, said in the card, and nothing is recorded.
    b.js("window.render = () => {};").await;
    let (status, body) = d.post(&format!("/v1/cases/{hostile}/cancel"), "agent-token", json!({})).await;
    assert_eq!(status, 200, "{body}");
    b.click(&format!("{} button.decline-answer", question(&hostile))).await;
    let err = b
        .until(
            &format!("document.querySelector(\"{} .result.error\") && document.querySelector(\"{0} .result.error\").innerText", question(&hostile)),
            "the refused answer",
        )
        .await;
    assert!(err.as_str().unwrap().contains("Not recorded. This question is closed"), "{err}");
    assert_eq!(d.get(&format!("/v1/cases/{hostile}"), "tok-ops").await.1["state"], "cancelled");
    b.shot("q3-closed-meanwhile").await;

    // Live again: a new question appears, is declined, and the case is denied by the policy.
    b.client.goto(&format!("{}/inbox", d.base)).await.unwrap();
    let late = decide(&d, purge("cfo@corp.com", 5, "sessions")).await;
    b.until_shown(&question(&late), "a new question, live").await;
    assert_eq!(
        b.js(&format!("return document.querySelector(\"{}\") === null;", question(&hostile))).await,
        json!(true),
        "the cancelled case's question is gone"
    );
    b.click(&format!("{} button.decline-answer", question(&late))).await;
    b.until(
        "document.querySelector('#answered').innerText.includes('You declined purge (records 5, table sessions)')",
        "the decline's result",
    )
    .await;
    assert_eq!(d.get(&format!("/v1/cases/{late}"), "tok-ops").await.1["state"], "denied");
    b.until("document.querySelector('#questions-box').hidden", "no question left").await;
    b.shot("q4-declined").await;

    b.client.clone().close().await.unwrap();
    d.verified_chain().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn questions_for_the_requester_at_desktop_width() {
    questions_walk(1280).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn questions_for_the_requester_on_a_390_px_phone() {
    questions_walk(390).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_at_desktop_width() {
    walk(1280).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_on_a_390_px_phone() {
    walk(390).await;
}
