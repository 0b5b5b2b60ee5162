//! E-mail over SMTP (lettre): plain text with the whole context (or an override's notice) and
//! its links, to the channel's recipients. The relay is reached without TLS (`host:port`, typically a local MTA
//! that relays onwards); see server/README.md.

use super::message::Message;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::time::Duration;

pub fn build(from: &str, to: &[String], message: &Message) -> Result<lettre::Message, String> {
    let mut builder = lettre::Message::builder()
        .from(from.parse().map_err(|e| format!("from `{from}`: {e}"))?)
        .subject(message.title())
        .header(ContentType::TEXT_PLAIN);
    for addr in to {
        builder = builder.to(addr.parse().map_err(|e| format!("to `{addr}`: {e}"))?);
    }
    builder.body(message.to_text()).map_err(|e| e.to_string())
}

pub async fn send(smtp: &str, from: &str, to: &[String], message: &Message, timeout: Duration) -> Result<(), String> {
    let (host, port) = crate::config::parse_host_port(smtp)?;
    let message = build(from, to, message)?;
    let mailer =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).port(port).timeout(Some(timeout)).build();
    mailer.send(message).await.map(|_| ()).map_err(|e| format!("SMTP {smtp}: {e}"))
}
