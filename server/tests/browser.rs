#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! The approver inbox in a real headless Chromium (Debian's `chromium` and `chromium-driver`),
//! driven over WebDriver: sign in as an approver, see the cases highest risk first with their
//! context, deny one with a reason, approve the other, and the agent's wait returns allow.
//!
//! Without a browser the test skips loudly, unless `AARM_REQUIRE_BROWSER=1` (which `.ci/run`
//! sets): then a missing browser fails it.

mod common;

use common::{tool, transfer, Deployment, TempDir};
use fantoccini::{ClientBuilder, Locator};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Finds and clicks, again if the page re-rendered the element meanwhile.
async fn click(client: &fantoccini::Client, css: &str) {
    let start = Instant::now();
    loop {
        match client.find(Locator::Css(css)).await {
            Ok(el) => match el.click().await {
                Ok(()) => return,
                Err(e) if start.elapsed() < common::WAIT_BOUND => {
                    let _ = e;
                }
                Err(e) => panic!("cannot click {css}: {e}"),
            },
            Err(e) if start.elapsed() < common::WAIT_BOUND => {
                let _ = e;
            }
            Err(e) => panic!("no {css}: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn text_of(client: &fantoccini::Client, css: &str) -> String {
    client.find(Locator::Css(css)).await.unwrap().text().await.unwrap()
}

/// Waits until the element's text contains `needle`.
async fn wait_text(client: &fantoccini::Client, css: &str, needle: &str) -> String {
    let start = Instant::now();
    loop {
        if let Ok(el) = client.find(Locator::Css(css)).await {
            if let Ok(t) = el.text().await {
                if t.contains(needle) {
                    return t;
                }
                if start.elapsed() > common::WAIT_BOUND {
                    panic!("{css} says {t:?}, expected {needle:?}");
                }
            }
        }
        assert!(start.elapsed() < common::WAIT_BOUND, "{css} never appeared");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approver_approves_in_the_inbox_and_the_agent_is_released() {
    let required = std::env::var("AARM_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    let (Some(chromium), Some(chromedriver)) =
        (tool_path("AARM_CHROMIUM", "/usr/bin/chromium"), tool_path("AARM_CHROMEDRIVER", "/usr/bin/chromedriver"))
    else {
        assert!(
            !required,
            "AARM_REQUIRE_BROWSER=1 but chromium or chromedriver is missing (apt-get install chromium chromium-driver)"
        );
        eprintln!("\n!!! SKIPPED the inbox browser test: /usr/bin/chromium or /usr/bin/chromedriver is missing !!!\n");
        return;
    };

    let d = Deployment::start("browser").await;
    let high = d.decide(transfer(5000)).await["case"].as_str().unwrap().to_string();
    let critical = d.decide(tool("payout", 9000)).await["case"].as_str().unwrap().to_string();
    let waiter = {
        let (http, base, id) = (d.http.clone(), d.base.clone(), high.clone());
        tokio::spawn(async move {
            let r = http
                .get(format!("{base}/v1/cases/{id}/wait?timeout_s=300"))
                .bearer_auth("agent-token")
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()
        })
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
    let profile = TempDir::new("chromium-profile");
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", format!("--user-data-dir={}", profile.0.display()),
            ],
        },
    });
    let mut builder = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
    builder.capabilities(caps.as_object().unwrap().clone());
    let start = Instant::now();
    let client = loop {
        match builder.connect(&format!("http://127.0.0.1:{port}")).await {
            Ok(c) => break c,
            Err(e) if start.elapsed() < common::WAIT_BOUND => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("no WebDriver session: {e}"),
        }
    };

    // Sign in.
    client.goto(&format!("{}/inbox?case={high}", d.base)).await.unwrap();
    client.find(Locator::Id("token")).await.unwrap().send_keys("tok-cfo").await.unwrap();
    client.find(Locator::Id("login-button")).await.unwrap().click().await.unwrap();
    wait_text(&client, "#who", "Signed in as cfo@corp.com").await;

    // Both cases, highest risk first, with the context an approver needs.
    client.wait().for_element(Locator::Css(&format!("li[data-case='{high}']"))).await.unwrap();
    let items = client.find_all(Locator::Css("#cases > li")).await.unwrap();
    let mut order = Vec::new();
    for li in &items {
        order.push(li.attr("data-case").await.unwrap().unwrap());
    }
    assert_eq!(order, [critical.clone(), high.clone()], "critical before high");
    let card = text_of(&client, &format!("li[data-case='{high}']")).await;
    for needle in [
        "pay the acme invoice",
        "\"amount\": 5000",
        "PII",
        "0.7",
        "may have drifted",
        "high",
        "90%",
        "alice@corp.com",
        "svc-payments",
        "finance-agent",
        "pay.big",
        "Large transfers need a finance approver.",
        "direct step-up",
    ] {
        assert!(card.contains(needle), "the card lacks {needle:?}:\n{card}");
    }

    // To look at the page: AARM_INBOX_SCREENSHOT=inbox.png cargo test -p aarm-server --test browser
    if let Ok(path) = std::env::var("AARM_INBOX_SCREENSHOT") {
        std::fs::write(path, client.screenshot().await.unwrap()).unwrap();
    }

    // Deny the critical one: the reason is required before it can be confirmed.
    let crit = format!("li[data-case='{critical}']");
    click(&client, &format!("{crit} button.deny")).await;
    let confirm = client.find(Locator::Css(&format!("{crit} button.confirm-deny"))).await.unwrap();
    assert!(!confirm.is_enabled().await.unwrap(), "no reason, no deny");
    client
        .find(Locator::Css(&format!("{crit} textarea.why")))
        .await
        .unwrap()
        .send_keys("not this quarter")
        .await
        .unwrap();
    confirm.click().await.unwrap();
    wait_text(&client, "#status", &format!("{critical} denied: denied")).await;

    // Approve the transfer.
    click(&client, &format!("li[data-case='{high}'] button.approve")).await;
    wait_text(&client, "#status", &format!("{high} approved: allowed")).await;
    wait_text(&client, "#empty", "Nothing waits for you").await;
    client.close().await.unwrap();
    drop(driver);

    let released = waiter.await.unwrap();
    assert_eq!(released["state"], "allowed");
    assert_eq!(released["outcome"]["decision"], "allow");
    let (_, denied) = d.get(&format!("/v1/cases/{critical}"), "tok-ops").await;
    assert_eq!(denied["denials"][0]["why"], "not this quarter");
    assert_eq!(denied["denials"][0]["verified_by"], "bearer");
    d.verified_chain().await;
}
