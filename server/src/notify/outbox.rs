//! The outbox: every notification is a row in `serve_deliveries` (in the case store's SQLite
//! file, beside the cases) before anything is sent, so a delivery survives a restart, a failed
//! one is retried with exponential backoff, and each attempt's outcome is recorded. A delivery
//! that fails for good is marked `failed`; the case is never touched by it.
//!
//! Queueing is idempotent: a delivery is keyed by (case, occasion, channel), and occasions are
//! derived from the case's state ([`super::message::Trigger::key`]). So after any transition,
//! and at start-up for every pending case, the service simply asks for the deliveries the case's
//! state calls for: nothing a crash interrupted is lost. Delivery is at least once: a crash
//! between a send and its record sends it again at start-up (receivers deduplicate by
//! `X-Aarm-Delivery`).

use super::message::{ApprovalContext, Trigger};
use crate::clock::Clock;
use crate::config::{email_of_channel, Channel, NotifySection};
use aarm_cases::store::sqlite::{Durability, SqliteStore};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS serve_deliveries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id     TEXT NOT NULL,
    trigger_key TEXT NOT NULL,
    channel     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    payload     TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at_ms  INTEGER NOT NULL,
    last_error  TEXT,
    created_at  INTEGER NOT NULL,
    delivered_at INTEGER,
    UNIQUE (case_id, trigger_key, channel)
);
CREATE INDEX IF NOT EXISTS serve_deliveries_due ON serve_deliveries(state, next_at_ms);
";

/// One recorded delivery, as `GET /v1/cases/{id}/deliveries` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub id: i64,
    pub case: String,
    pub trigger: String,
    pub channel: String,
    pub kind: String,
    /// `pending` (queued or waiting for a retry), `delivered`, or `failed` (gave up).
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

struct Due {
    id: i64,
    channel: String,
    payload: String,
    attempts: u32,
}

pub struct Outbox {
    conn: Mutex<Connection>,
    config: NotifySection,
    http: reqwest::Client,
    wake: Notify,
    /// The service's clock: when a delivery is due and when a retry is, so that backoff follows
    /// the same time as the cases.
    clock: Arc<Clock>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").field("channels", &self.config.channels.len()).finish()
    }
}

fn db<T>(r: rusqlite::Result<T>) -> Result<T, String> {
    r.map_err(|e| format!("outbox: {e}"))
}

impl Outbox {
    /// Opens the outbox tables in the store's database file (the case store has created it).
    pub fn open(store: &SqliteStore, config: NotifySection, clock: Arc<Clock>) -> Result<Outbox, String> {
        // A delivery's record survives a crash of the process but not necessarily a power loss;
        // the worst case is a notification sent again (the state of the case calls for it at
        // start-up), never a lost case: cases and receipts are written by the store's own
        // connection with `synchronous=FULL`. It keeps an fsync per attempt off the async
        // threads that run the deliveries.
        let conn = store.side_connection(Durability::ProcessCrash, SCHEMA).map_err(|e| format!("outbox: {e}"))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.retry.timeout_ms))
            // A webhook answers itself: a redirect elsewhere is not followed.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Outbox { conn: Mutex::new(conn), config, http, wake: Notify::new(), clock })
    }

    fn conn(&self) -> Result<std::sync::MutexGuard<'_, Connection>, String> {
        self.conn.lock().map_err(|_| "outbox: the lock is poisoned".to_string())
    }

    /// Queues `context` to every channel in `channels` (once per case, occasion and channel).
    /// A channel that `serve.toml` does not map is recorded as a failed delivery, so the
    /// mistake is visible. Returns how many deliveries were newly queued.
    pub fn enqueue(
        &self,
        context: &ApprovalContext,
        key: &str,
        channels: &[String],
        now: i64,
    ) -> Result<usize, String> {
        let payload = serde_json::to_string(context).map_err(|e| e.to_string())?;
        let conn = self.conn()?;
        let mut added = 0;
        for name in channels {
            let (kind, state, error) = match self.config.channels.get(name) {
                Some(c) => (c.kind(), "pending", None),
                None => {
                    ("unknown", "failed", Some(format!("channel `{name}` is not in [notify.channels] of serve.toml")))
                }
            };
            added += db(conn.execute(
                "INSERT OR IGNORE INTO serve_deliveries
                    (case_id, trigger_key, channel, kind, payload, state, next_at_ms, last_error, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![context.case, key, name, kind, payload, state, self.clock.now_ms(), error, now],
            ))?;
        }
        drop(conn);
        if added > 0 {
            self.wake.notify_one();
        }
        Ok(added)
    }

    /// Queues what a trigger of `case` calls for.
    pub fn notify_case(
        &self,
        case: &aarm_cases::lifecycle::case::Case,
        trigger: Trigger,
        public_url: &str,
        rule_doc: Option<String>,
        deferral: Option<super::message::DeferralContext>,
        now: i64,
    ) -> Result<usize, String> {
        let Some(s) = case.decision.step_up.as_ref() else { return Ok(0) };
        if s.notify.is_empty() {
            return Ok(0);
        }
        let context = ApprovalContext::new(case, trigger, public_url, rule_doc).with_deferral(deferral);
        self.enqueue(&context, &trigger.key(case), &s.notify, now)
    }

    /// Every delivery recorded for a case, oldest first.
    pub fn list(&self, case: &str) -> Result<Vec<Delivery>, String> {
        let conn = self.conn()?;
        let mut stmt = db(conn.prepare(
            "SELECT id, case_id, trigger_key, channel, kind, state, attempts, last_error, created_at, delivered_at
             FROM serve_deliveries WHERE case_id = ?1 ORDER BY id",
        ))?;
        let rows = db(stmt.query_map([case], |r| {
            Ok(Delivery {
                id: r.get(0)?,
                case: r.get(1)?,
                trigger: r.get(2)?,
                channel: r.get(3)?,
                kind: r.get(4)?,
                state: r.get(5)?,
                attempts: r.get(6)?,
                last_error: r.get(7)?,
                created_at: r.get(8)?,
                delivered_at: r.get(9)?,
            })
        }))?;
        db(rows.collect())
    }

    fn due(&self, limit: i64) -> Result<Vec<Due>, String> {
        let conn = self.conn()?;
        let mut stmt = db(conn.prepare(
            "SELECT id, channel, payload, attempts FROM serve_deliveries
             WHERE state = 'pending' AND next_at_ms <= ?1 ORDER BY next_at_ms LIMIT ?2",
        ))?;
        let rows = db(stmt.query_map(params![self.clock.now_ms(), limit], |r| {
            Ok(Due { id: r.get(0)?, channel: r.get(1)?, payload: r.get(2)?, attempts: r.get(3)? })
        }))?;
        db(rows.collect())
    }

    /// Milliseconds until the next pending delivery is due, if any.
    fn next_due_in(&self) -> Result<Option<i64>, String> {
        let conn = self.conn()?;
        let next: Option<i64> = db(conn
            .query_row("SELECT MIN(next_at_ms) FROM serve_deliveries WHERE state = 'pending'", [], |r| r.get(0))
            .optional())?
        .flatten();
        Ok(next.map(|t| t.saturating_sub(self.clock.now_ms()).max(0)))
    }

    fn backoff_ms(&self, attempts: u32) -> i64 {
        let r = &self.config.retry;
        let factor = 1u64.checked_shl(attempts.saturating_sub(1)).unwrap_or(u64::MAX);
        let wait = r.initial_backoff_ms.saturating_mul(factor).min(r.max_backoff_ms);
        i64::try_from(wait).unwrap_or(i64::MAX)
    }

    fn record(&self, id: i64, attempts: u32, result: &Result<(), String>, now: i64) -> Result<(), String> {
        let conn = self.conn()?;
        match result {
            Ok(()) => db(conn.execute(
                "UPDATE serve_deliveries SET state = 'delivered', attempts = ?2, last_error = NULL, delivered_at = ?3
                 WHERE id = ?1",
                params![id, attempts, now],
            )),
            Err(e) if attempts >= self.config.retry.max_attempts => db(conn.execute(
                "UPDATE serve_deliveries SET state = 'failed', attempts = ?2, last_error = ?3 WHERE id = ?1",
                params![id, attempts, e],
            )),
            Err(e) => db(conn.execute(
                "UPDATE serve_deliveries SET attempts = ?2, last_error = ?3, next_at_ms = ?4 WHERE id = ?1",
                params![id, attempts, e, self.clock.now_ms().saturating_add(self.backoff_ms(attempts))],
            )),
        }
        .map(|_| ())
    }

    async fn attempt(&self, due: &Due, now: i64) -> Result<(), String> {
        let context: ApprovalContext =
            serde_json::from_str(&due.payload).map_err(|e| format!("stored message is not valid: {e}"))?;
        let timeout = Duration::from_millis(self.config.retry.timeout_ms);
        match self.config.channels.get(&due.channel) {
            Some(Channel::Webhook { url, secret }) => {
                super::webhook::send(&self.http, url, secret.as_deref(), &context, due.id, now).await
            }
            Some(Channel::Slack { url }) => super::slack::send(&self.http, url, &context).await,
            Some(Channel::Email { smtp, from, to }) => {
                let to: Vec<String> = if to.is_empty() {
                    email_of_channel(&due.channel).map(|a| vec![a.to_string()]).unwrap_or_default()
                } else {
                    to.clone()
                };
                match tokio::time::timeout(timeout, super::email::send(smtp, from, &to, &context, timeout)).await {
                    Ok(r) => r,
                    Err(_) => Err(format!("SMTP {smtp}: timed out")),
                }
            }
            None => Err(format!("channel `{}` is no longer configured", due.channel)),
        }
    }

    /// Sends what is due, concurrently, and records each outcome. Returns how many were tried.
    pub async fn run_once(&self) -> usize {
        let due = match self.due(32) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "outbox: cannot read due deliveries");
                return 0;
            }
        };
        let tried = due.len();
        let attempts = due.iter().map(|d| async move {
            let result = self.attempt(d, self.clock.now()).await;
            (d, result)
        });
        for (d, result) in futures_util::future::join_all(attempts).await {
            let attempts = d.attempts.saturating_add(1);
            match &result {
                Ok(()) => tracing::info!(delivery = d.id, channel = %d.channel, attempts, "notification delivered"),
                Err(e) => {
                    tracing::warn!(delivery = d.id, channel = %d.channel, attempts, error = %e, "notification failed")
                }
            }
            if let Err(e) = self.record(d.id, attempts, &result, self.clock.now()) {
                tracing::error!(delivery = d.id, error = %e, "outbox: cannot record the attempt");
            }
        }
        tried
    }

    /// The delivery loop: runs until `stop` is cancelled.
    pub async fn run(&self, poll: Duration, stop: tokio_util::sync::CancellationToken) {
        loop {
            let tried = self.run_once().await;
            if tried > 0 {
                continue;
            }
            let wait = match self.next_due_in() {
                Ok(Some(ms)) => Duration::from_millis(u64::try_from(ms).unwrap_or(0)).min(poll),
                _ => poll,
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
