//! A generic webhook: the approval context (or an override's notice) as a JSON POST, signed so
//! the receiver can tell it came from this service and was not replayed.
//!
//! Headers: `X-Aarm-Event` (`approval_requested` | `escalated` | `confirm_requested` |
//! `override_granted` | `override_flagged`), `X-Aarm-Delivery` (the
//! delivery id; retries repeat it), `X-Aarm-Timestamp` (seconds since the epoch) and
//! `X-Aarm-Signature: sha256=HEX`, the HMAC-SHA256 with the channel's `secret` over
//! `TIMESTAMP.BODY`. A receiver recomputes it, compares in constant time, and refuses old
//! timestamps.

use super::message::Message;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `sha256=HEX` of HMAC-SHA256(secret, "{timestamp}.{body}").
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `header` is the signature of `body` at `timestamp` (for receivers and tests).
pub fn verify(secret: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.strip_prefix("sha256=") else { return false };
    let Ok(sig) = hex::decode(hex_sig) else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return false };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// `{"event", "delivery", "case": {…}}` for an approval request or question,
/// `{"event", "delivery", "override": {…}}` for an override's notice.
pub fn body(message: &Message, delivery: i64) -> Vec<u8> {
    let event = message.event();
    let body = match message {
        Message::Approval(context) => serde_json::json!({ "event": event, "delivery": delivery, "case": context }),
        Message::Override(notice) => serde_json::json!({ "event": event, "delivery": delivery, "override": notice }),
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

pub(crate) async fn send(
    http: &reqwest::Client,
    url: &str,
    secret: Option<&str>,
    message: &Message,
    delivery: i64,
    now: i64,
) -> Result<(), String> {
    let body = body(message, delivery);
    let mut req = http
        .post(url)
        .header("content-type", "application/json")
        .header("x-aarm-event", message.event())
        .header("x-aarm-delivery", delivery.to_string())
        .header("x-aarm-timestamp", now.to_string());
    if let Some(secret) = secret {
        req = req.header("x-aarm-signature", signature(secret, now, &body));
    }
    let response = req.body(body).send().await.map_err(|e| format!("POST {url}: {e}"))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("POST {url}: HTTP {}", response.status()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_bind_body_and_time() {
        let s = signature("k", 100, b"{}");
        assert!(s.starts_with("sha256=") && s.len() == 7 + 64);
        assert!(verify("k", 100, b"{}", &s));
        assert!(!verify("k", 101, b"{}", &s), "another timestamp");
        assert!(!verify("k", 100, b"{ }", &s), "another body");
        assert!(!verify("other", 100, b"{}", &s), "another secret");
        assert!(!verify("k", 100, b"{}", "sha256=zz"));
    }
}
