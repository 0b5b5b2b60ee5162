//! Accepting connections: at most `[server] max_connections` open at once, each closed when a
//! request head does not arrive within `[server] header_read_timeout_s` (an idle keep-alive
//! connection included), HTTP/1.1 served by hyper.
//!
//! Without these bounds every connection costs a task and a file descriptor for as long as the
//! client keeps it open: thousands of connections that never send a request (no credential is
//! checked before the head arrives) starve the decisions. With them, such a connection is closed
//! after the header timeout, and past the cap new connections wait in the listen backlog until
//! one closes, instead of exhausting the process.

use crate::config::ServerSection;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The hard bound on a request head that the HTTP layer itself enforces (with a bare 431): a
/// multiple of `max_header_bytes`, so that heads between the two get the API's 431 answer
/// (routes/mod.rs) with `{reason, message}`.
const HEAD_SLACK: usize = 4;

/// The HTTP layer's bound on the number of header lines (the API's own is
/// [`MAX_HEADERS`]).
const HARD_MAX_HEADERS: usize = MAX_HEADERS * HEAD_SLACK;

/// Most header lines a request may have (431 beyond).
pub const MAX_HEADERS: usize = 100;

/// The open connections and the cap: what `/healthz` reports.
#[derive(Debug)]
pub struct Connections {
    permits: Arc<Semaphore>,
    max: usize,
}

impl Connections {
    pub fn new(max: usize) -> Connections {
        let max = max.clamp(1, Semaphore::MAX_PERMITS);
        Connections { permits: Arc::new(Semaphore::new(max)), max }
    }

    pub fn open(&self) -> usize {
        self.max.saturating_sub(self.permits.available_permits())
    }

    pub fn max(&self) -> usize {
        self.max
    }
}

/// Serves `router` on `listener` until `stop`, then lets the connections finish their calls in
/// flight (idle ones are closed) and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    connections: &Connections,
    settings: &ServerSection,
    stop: CancellationToken,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(settings.header_read_timeout_s.max(1)))
        .max_headers(HARD_MAX_HEADERS)
        .max_buf_size(settings.max_header_bytes.saturating_mul(HEAD_SLACK).max(8192));
    let tasks = TaskTracker::new();
    loop {
        // A free slot first: at the cap, connections wait in the backlog, not in our memory.
        let permit = tokio::select! {
            p = connections.permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = stop.cancelled() => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors, a connection reset before accept, ...: the next one.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    continue;
                }
            },
            _ = stop.cancelled() => break,
        };
        let service = TowerToHyperService::new(router.clone());
        let conn = http.serve_connection(TokioIo::new(stream), service);
        let stop = stop.clone();
        tasks.spawn(async move {
            let _permit = permit;
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    drop(listener);
    tasks.close();
    tasks.wait().await;
}
