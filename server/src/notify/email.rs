//! E-mail over SMTP (lettre): plain text with the whole context and the inbox links, to the
//! channel's recipients. The relay is reached without TLS (`host:port`, typically a local MTA
//! that relays onwards); see server/README.md.

use super::message::ApprovalContext;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

pub fn build(from: &str, to: &[String], context: &ApprovalContext) -> Result<Message, String> {
    let mut builder = Message::builder()
        .from(from.parse().map_err(|e| format!("from `{from}`: {e}"))?)
        .subject(context.title())
        .header(ContentType::TEXT_PLAIN);
    for addr in to {
        builder = builder.to(addr.parse().map_err(|e| format!("to `{addr}`: {e}"))?);
    }
    builder.body(context.to_text()).map_err(|e| e.to_string())
}

pub async fn send(
    smtp: &str,
    from: &str,
    to: &[String],
    context: &ApprovalContext,
    timeout: Duration,
) -> Result<(), String> {
    let (host, port) = crate::config::parse_host_port(smtp)?;
    let message = build(from, to, context)?;
    let mailer =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).port(port).timeout(Some(timeout)).build();
    mailer.send(message).await.map(|_| ()).map_err(|e| format!("SMTP {smtp}: {e}"))
}
