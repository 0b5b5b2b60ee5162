//! An upstream MCP server on stdio: the child process, a writer for its standard input, and a
//! thread that reads its standard output frame by frame into a channel.

use super::jsonrpc::{read_frame, write_message, Frame};
use serde_json::Value;
use std::io::BufReader;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

/// What an upstream's reader thread sends.
#[derive(Debug)]
pub enum FromUpstream {
    Frame(usize, Frame),
    /// Its standard output closed (it exited, or closed it): nothing more will come.
    Closed(usize),
}

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot start `{command}`: {source}")]
    Spawn { command: String, source: std::io::Error },
    #[error("the upstream server `{0}` has exited or closed its input")]
    Gone(String),
}

/// A running upstream server. Dropping it kills the process (the gateway owns its upstreams).
pub struct Upstream {
    pub name: String,
    child: Child,
    stdin: Arc<Mutex<ChildStdin>>,
}

impl Upstream {
    /// Starts `argv` (program first); its frames arrive on `tx` tagged with `index`. The server's
    /// standard error is the gateway's: servers log there.
    pub fn spawn(
        name: &str,
        argv: &[String],
        index: usize,
        tx: Sender<FromUpstream>,
    ) -> Result<Upstream, UpstreamError> {
        let shown = argv.join(" ");
        let (program, args) = argv.split_first().ok_or_else(|| UpstreamError::Spawn {
            command: shown.clone(),
            source: std::io::Error::other("no command"),
        })?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| UpstreamError::Spawn { command: shown.clone(), source })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err(UpstreamError::Spawn { command: shown, source: std::io::Error::other("no pipes") });
        };
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Ok(Some(frame)) = read_frame(&mut reader) {
                if tx.send(FromUpstream::Frame(index, frame)).is_err() {
                    return;
                }
            }
            let _ = tx.send(FromUpstream::Closed(index));
        });
        Ok(Upstream { name: name.to_string(), child, stdin: Arc::new(Mutex::new(stdin)) })
    }

    /// A handle that writes to the server from any thread.
    pub fn writer(&self) -> UpstreamWriter {
        UpstreamWriter { name: self.name.clone(), stdin: self.stdin.clone() }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone)]
pub struct UpstreamWriter {
    name: String,
    stdin: Arc<Mutex<ChildStdin>>,
}

impl UpstreamWriter {
    pub fn send(&self, message: &Value) -> Result<(), UpstreamError> {
        let mut stdin = self.stdin.lock().map_err(|_| UpstreamError::Gone(self.name.clone()))?;
        write_message(&mut *stdin, message).map_err(|_| UpstreamError::Gone(self.name.clone()))
    }
}
