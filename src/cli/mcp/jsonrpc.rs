//! MCP's stdio framing (one JSON-RPC message per line) and the few message shapes the gateway
//! reads and writes. Every line is untrusted: a line longer than [`MAX_MESSAGE_BYTES`] is skipped
//! without being held in memory, and one that is not a JSON object is reported, never guessed at.

use serde_json::{json, Map, Value};
use std::io::{BufRead, Write};

/// The longest message accepted from the client or an upstream server (the request size limit
/// of the engine, docs/json.md: a longer call could not be decided anyway).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// JSON-RPC error codes the gateway answers with.
pub mod code {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// The upstream server is gone, or its answer could not be used.
    pub const UPSTREAM: i64 = -32000;
}

/// One line read from a peer.
#[derive(Debug)]
pub enum Frame {
    /// A JSON object (not yet checked to be a request, notification or response).
    Message(Map<String, Value>),
    /// Not a JSON object; the text says what is wrong.
    Malformed(String),
    /// Longer than [`MAX_MESSAGE_BYTES`]: skipped up to its end of line.
    TooLong,
}

/// Reads the next line (`None` at end of input). Blank lines are skipped.
pub fn read_frame(reader: &mut impl BufRead) -> std::io::Result<Option<Frame>> {
    loop {
        let mut line = Vec::new();
        let mut too_long = false;
        let mut ended = false;
        loop {
            let buf = reader.fill_buf()?;
            if buf.is_empty() {
                ended = true;
                break;
            }
            let (chunk, found) = match buf.iter().position(|b| *b == b'\n') {
                Some(i) => (buf.get(..i).unwrap_or_default(), Some(i + 1)),
                None => (buf, None),
            };
            if !too_long {
                if line.len() + chunk.len() > MAX_MESSAGE_BYTES {
                    too_long = true;
                    line = Vec::new();
                } else {
                    line.extend_from_slice(chunk);
                }
            }
            let used = found.unwrap_or(buf.len());
            reader.consume(used);
            if found.is_some() {
                break;
            }
        }
        if too_long {
            return Ok(Some(Frame::TooLong));
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            if ended {
                return Ok(None);
            }
            continue;
        }
        return Ok(Some(match serde_json::from_slice::<Value>(&line) {
            Ok(Value::Object(m)) => Frame::Message(m),
            Ok(_) => Frame::Malformed("a JSON-RPC message must be a JSON object (batches are not part of MCP)".into()),
            Err(e) => Frame::Malformed(format!("not JSON: {e}")),
        }));
    }
}

/// Writes one message as one line and flushes it.
pub fn write_message(out: &mut impl Write, message: &Value) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec(message).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    out.write_all(&bytes)?;
    out.flush()
}

/// What a message is, by the JSON-RPC 2.0 rules.
#[derive(Debug, PartialEq)]
pub enum Kind<'a> {
    Request { id: &'a Value, method: &'a str },
    Notification { method: &'a str },
    Response { id: &'a Value },
    Invalid(&'static str),
}

/// A valid id is a string or an integer (MCP forbids `null`).
fn valid_id(id: &Value) -> bool {
    id.is_string() || id.as_i64().is_some() || id.as_u64().is_some()
}

pub fn kind(m: &Map<String, Value>) -> Kind<'_> {
    if m.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Kind::Invalid("`jsonrpc` must be \"2.0\"");
    }
    match (m.get("method"), m.get("id")) {
        (Some(Value::String(method)), Some(id)) if valid_id(id) => Kind::Request { id, method },
        (Some(Value::String(method)), None) => Kind::Notification { method },
        (Some(_), _) => Kind::Invalid("`method` must be a string and `id` a string or an integer"),
        (None, Some(id)) if valid_id(id) && (m.contains_key("result") ^ m.contains_key("error")) => {
            Kind::Response { id }
        }
        (None, _) => Kind::Invalid("a response needs an id and exactly one of `result` and `error`"),
    }
}

pub fn request(id: &Value, method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
}

pub fn notification(method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "method": method, "params": params })
}

pub fn result(id: &Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

pub fn error(id: &Value, code: i64, message: impl Into<String>) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message.into() } })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    fn frames(input: &[u8]) -> Vec<Frame> {
        let mut r = std::io::BufReader::with_capacity(7, input);
        let mut out = Vec::new();
        while let Some(f) = read_frame(&mut r).unwrap() {
            out.push(f);
        }
        out
    }

    #[test]
    fn lines_objects_and_garbage() {
        let got = frames(b"{\"a\":1}\n\n  \n[1]\nnot json\n{\"b\":2}");
        assert!(matches!(&got[0], Frame::Message(m) if m["a"] == 1));
        assert!(matches!(&got[1], Frame::Malformed(m) if m.contains("JSON object")));
        assert!(matches!(&got[2], Frame::Malformed(m) if m.contains("not JSON")));
        assert!(matches!(&got[3], Frame::Message(m) if m["b"] == 2));
        assert_eq!(got.len(), 4);
    }

    #[test]
    fn a_line_past_the_limit_is_skipped_and_the_next_one_read() {
        let mut input = vec![b'x'; MAX_MESSAGE_BYTES + 10];
        input.extend_from_slice(b"\n{\"ok\":true}\n");
        let got = frames(&input);
        assert!(matches!(got[0], Frame::TooLong));
        assert!(matches!(&got[1], Frame::Message(m) if m["ok"] == true));
    }

    #[test]
    fn kinds() {
        let m = |v: Value| v.as_object().unwrap().clone();
        let req = m(json!({"jsonrpc":"2.0","id":1,"method":"tools/call"}));
        assert!(matches!(kind(&req), Kind::Request { method: "tools/call", .. }));
        let note = m(json!({"jsonrpc":"2.0","method":"notifications/cancelled"}));
        assert!(matches!(kind(&note), Kind::Notification { .. }));
        let resp = m(json!({"jsonrpc":"2.0","id":"a","result":{}}));
        assert!(matches!(kind(&resp), Kind::Response { .. }));
        for bad in [
            json!({"id":1,"method":"x"}),
            json!({"jsonrpc":"2.0","id":null,"method":"x"}),
            json!({"jsonrpc":"2.0","id":1.5,"method":"x"}),
            json!({"jsonrpc":"2.0","id":1,"result":{},"error":{}}),
            json!({"jsonrpc":"2.0","method":7}),
        ] {
            assert!(matches!(kind(&m(bad.clone())), Kind::Invalid(_)), "{bad}");
        }
    }
}
