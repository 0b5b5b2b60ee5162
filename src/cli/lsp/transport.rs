//! The base protocol's framing (`Content-Length` headers, then a JSON body) on any reader.
//!
//! `lsp-server` gives the message types; the framing is here because its own reader allocates
//! whatever `Content-Length` claims and stops at the first malformed message. Here a body is
//! bounded, and a message that cannot be read is answered with a JSON-RPC error and skipped:
//! an editor's bug or a hostile peer must not take the server down.

use lsp_server::Message;
use std::io::{self, BufRead, Read, Write};

/// The largest body accepted: a source file at its limit, with every byte escaped in JSON
/// (`\u00xx`, 6 bytes), and room for the rest of the message.
pub const MAX_BODY: usize = aarm_lang::limits::MAX_SOURCE_BYTES * 6 + 64 * 1024;

/// The longest header line accepted.
const MAX_HEADER_LINE: u64 = 1024;

/// What one read from the peer gave.
pub enum Incoming {
    Message(Message),
    /// A message that could not be used, and why (answered with an error, then skipped).
    Malformed(String),
    /// The peer closed its end.
    Closed,
}

/// Reads the next message. `Err` only for an I/O error or framing that cannot be resynchronised.
pub fn read(r: &mut impl BufRead) -> io::Result<Incoming> {
    let mut length: Option<usize> = None;
    let mut bad_header: Option<String> = None;
    let mut any = false;
    loop {
        let mut line = Vec::new();
        let n = r.by_ref().take(MAX_HEADER_LINE).read_until(b'\n', &mut line)?;
        if n == 0 {
            return if any {
                Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the stream ended inside a header"))
            } else {
                Ok(Incoming::Closed)
            };
        }
        any = true;
        if !line.ends_with(b"\n") {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "a header line is too long"));
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            break;
        }
        match text.split_once(':') {
            Some((name, value)) if name.trim().eq_ignore_ascii_case("content-length") => {
                match value.trim().parse::<usize>() {
                    Ok(n) => length = Some(n),
                    Err(_) => bad_header = Some(format!("Content-Length `{}` is not a number", value.trim())),
                }
            }
            Some(_) => {}
            None => bad_header = Some(format!("malformed header line `{text}`")),
        }
    }
    let Some(length) = length else {
        // Without a length the body cannot be found: nothing after this can be trusted.
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            bad_header.unwrap_or_else(|| "a message without Content-Length".into()),
        ));
    };
    if length > MAX_BODY {
        io::copy(&mut r.by_ref().take(length as u64), &mut io::sink())?;
        return Ok(Incoming::Malformed(format!("a message of {length} bytes is larger than the limit of {MAX_BODY}")));
    }
    let mut body = vec![0u8; length];
    r.read_exact(&mut body)?;
    if let Some(why) = bad_header {
        return Ok(Incoming::Malformed(why));
    }
    match serde_json::from_slice::<Message>(&body) {
        Ok(m) => Ok(Incoming::Message(m)),
        Err(e) => Ok(Incoming::Malformed(format!("not a JSON-RPC message: {e}"))),
    }
}

/// Writes one framed JSON value (for the answer to a malformed message, whose id is `null`,
/// which `lsp-server`'s `RequestId` cannot hold).
pub fn write_value(w: &mut impl Write, v: &serde_json::Value) -> io::Result<()> {
    let body = v.to_string();
    write!(w, "Content-Length: {}\r\n\r\n{body}", body.len())?;
    w.flush()
}
