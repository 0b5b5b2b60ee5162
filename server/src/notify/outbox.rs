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

use super::message::{ApprovalContext, Message, Trigger};
use super::override_notice::OverrideNotice;
use crate::clock::Clock;
use crate::config::{email_of_channel, Channel, NotifySection};
use crate::metrics::DeliveryResult;
use aarm_cases::store::service::{AttemptOutcome, DeliveryStore, DueDelivery, Queued};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

pub use aarm_cases::store::service::Delivery;

/// The notification outbox: queues deliveries in the store and sends them, with retries.
pub struct Outbox {
    store: Box<dyn DeliveryStore>,
    config: NotifySection,
    http: reqwest::Client,
    wake: Notify,
    /// The service's clock: when a delivery is due and when a retry is, so that backoff follows
    /// the same time as the cases.
    clock: Arc<Clock>,
    /// Each attempt's result is counted (`aarm_notification_deliveries_total`).
    metrics: Arc<crate::metrics::Metrics>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").field("channels", &self.config.channels.len()).finish()
    }
}

fn db<T>(r: Result<T, aarm_cases::store::StoreError>) -> Result<T, String> {
    r.map_err(|e| e.to_string())
}

impl Outbox {
    /// The outbox over the store's deliveries (`serve_deliveries` beside the cases). Their
    /// records survive a crash of the process but not necessarily a power loss; the worst case
    /// is a notification sent again (the state of the case calls for it at start-up), never a
    /// lost case: cases and receipts are written by the store's own connection with
    /// `synchronous=FULL`. It keeps an fsync per attempt off the async threads that run the
    /// deliveries.
    pub fn new(
        store: Box<dyn DeliveryStore>,
        config: NotifySection,
        clock: Arc<Clock>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Result<Outbox, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.retry.timeout_ms))
            // A webhook answers itself: a redirect elsewhere is not followed.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Outbox { store, config, http, wake: Notify::new(), clock, metrics })
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
        self.queue(&Message::Approval(Box::new(context.clone())), key, channels, now)
    }

    /// Queues an override's notice to `channels` (its declaration's `notify`), once per
    /// override, occasion (granted, flagged) and channel; filed under the override's id.
    pub fn enqueue_override(&self, notice: &OverrideNotice, channels: &[String], now: i64) -> Result<usize, String> {
        self.queue(&Message::Override(Box::new(notice.clone())), notice.event.key(), channels, now)
    }

    fn queue(&self, message: &Message, key: &str, channels: &[String], now: i64) -> Result<usize, String> {
        if channels.is_empty() {
            return Ok(0);
        }
        let payload = serde_json::to_string(message).map_err(|e| e.to_string())?;
        let queued: Vec<Queued> = channels
            .iter()
            .map(|name| match self.config.channels.get(name) {
                Some(c) => Queued { channel: name.clone(), kind: c.kind().to_string(), refused: None },
                None => Queued {
                    channel: name.clone(),
                    kind: "unknown".into(),
                    refused: Some(format!("channel `{name}` is not in [notify.channels] of serve.toml")),
                },
            })
            .collect();
        let added = db(self.store.queue(message.subject(), key, &payload, &queued, self.clock.now_ms(), now))?;
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

    /// Every delivery recorded for a case (or an override), oldest first.
    pub fn list(&self, case: &str) -> Result<Vec<Delivery>, String> {
        db(self.store.deliveries(case))
    }

    fn due(&self, limit: i64) -> Result<Vec<DueDelivery>, String> {
        db(self.store.due(self.clock.now_ms(), limit))
    }

    /// Milliseconds until the next pending delivery is due, if any.
    fn next_due_in(&self) -> Result<Option<i64>, String> {
        let next = db(self.store.next_due_ms())?;
        Ok(next.map(|t| t.saturating_sub(self.clock.now_ms()).max(0)))
    }

    fn backoff_ms(&self, attempts: u32) -> i64 {
        let r = &self.config.retry;
        let factor = 1u64.checked_shl(attempts.saturating_sub(1)).unwrap_or(u64::MAX);
        let wait = r.initial_backoff_ms.saturating_mul(factor).min(r.max_backoff_ms);
        i64::try_from(wait).unwrap_or(i64::MAX)
    }

    fn record(&self, id: i64, attempts: u32, result: &Result<(), String>, now: i64) -> Result<(), String> {
        let outcome = match result {
            Ok(()) => AttemptOutcome::Delivered { at: now },
            Err(e) if attempts >= self.config.retry.max_attempts => AttemptOutcome::GaveUp { error: e },
            Err(e) => AttemptOutcome::Retry {
                error: e,
                next_at_ms: self.clock.now_ms().saturating_add(self.backoff_ms(attempts)),
            },
        };
        db(self.store.record(id, attempts, outcome))
    }

    async fn attempt(&self, due: &DueDelivery, now: i64) -> Result<(), String> {
        let message: Message =
            serde_json::from_str(&due.payload).map_err(|e| format!("stored message is not valid: {e}"))?;
        let timeout = Duration::from_millis(self.config.retry.timeout_ms);
        match self.config.channels.get(&due.channel) {
            Some(Channel::Webhook { url, secret }) => {
                super::webhook::send(&self.http, url, secret.as_deref(), &message, due.id, now).await
            }
            Some(Channel::Slack { url }) => super::slack::send(&self.http, url, &message).await,
            Some(Channel::Email { smtp, from, to }) => {
                let to: Vec<String> = if to.is_empty() {
                    email_of_channel(&due.channel).map(|a| vec![a.to_string()]).unwrap_or_default()
                } else {
                    to.clone()
                };
                match tokio::time::timeout(timeout, super::email::send(smtp, from, &to, &message, timeout)).await {
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
            let counted = match &result {
                Ok(()) => DeliveryResult::Delivered,
                Err(_) if attempts >= self.config.retry.max_attempts => DeliveryResult::Failed,
                Err(_) => DeliveryResult::Retry,
            };
            self.metrics.delivery(&d.channel, self.config.channels.contains_key(&d.channel), counted);
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
