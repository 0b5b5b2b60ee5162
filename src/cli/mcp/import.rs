//! `aarm mcp import [--url URL] [-- COMMAND ARGS…]`: a server's `tools/list` as `tool`
//! declarations (README.md, "MCP gateway").

use super::names::tool_name;
use super::schema;
use super::session::Session;
use serde_json::{json, Value};
use std::fmt::Write as _;

/// At most this many `tools/list` pages are read (a server that keeps paging is refused).
const MAX_PAGES: usize = 100;

/// Every tool the server lists, following `nextCursor`.
pub fn list_tools(session: &mut Session) -> Result<Vec<Value>, String> {
    let mut tools = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let params = match &cursor {
            Some(c) => json!({ "cursor": c }),
            None => json!({}),
        };
        let page = session.request("tools/list", params).map_err(|e| e.to_string())?;
        match page.get("tools") {
            Some(Value::Array(t)) => tools.extend(t.iter().cloned()),
            _ => return Err("the server's `tools/list` answer has no `tools` array".into()),
        }
        match page.get("nextCursor").and_then(Value::as_str) {
            Some(c) if !c.is_empty() => cursor = Some(c.to_string()),
            _ => return Ok(tools),
        }
    }
    Err(format!("the server's `tools/list` goes on past {MAX_PAGES} pages"))
}

/// A documentation comment's text, one line per line, with no control characters.
fn doc_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>().trim_end().to_string())
        .collect()
}

/// The `.aarm` text for `tools` (as `tools/list` gives them); `source` says where they came from.
/// An error when a tool has no name or two tools map to one aarm name. Notes (what has no exact
/// aarm type) are in the text as comments and returned for the terminal too.
pub fn declarations(tools: &[Value], server: &Value, source: &str) -> Result<(String, Vec<String>), String> {
    let mut out = String::new();
    let mut all_notes = Vec::new();
    let info = server.get("serverInfo");
    let server_name = info.and_then(|i| i.get("name")).and_then(Value::as_str).unwrap_or("(unnamed)");
    let version = info.and_then(|i| i.get("version")).and_then(Value::as_str).unwrap_or("");
    let _ = writeln!(out, "// The tools of the MCP server {server_name:?} {version:?}, written by `aarm mcp import`");
    let _ = writeln!(out, "// from `{}`.", source.replace(['\n', '\r'], " "));
    let _ =
        writeln!(out, "// Names follow the gateway's rule (README.md, \"MCP gateway\"): regenerate rather than edit.");
    let mut seen: Vec<(String, String)> = Vec::new();
    for tool in tools {
        let name = tool.get("name").and_then(Value::as_str).ok_or("a tool in `tools/list` has no name")?;
        let aarm = tool_name(name);
        if let Some((other, _)) = seen.iter().find(|(_, a)| *a == aarm) {
            return Err(format!(
                "the tools `{other}` and `{name}` both become `{aarm}`: the policy could not tell them apart"
            ));
        }
        seen.push((name.to_string(), aarm.clone()));
        let schema_value = tool.get("inputSchema").cloned().unwrap_or(json!({}));
        let (params, notes) = schema::params(&schema_value).map_err(|e| format!("tool `{name}`: {e}"))?;
        out.push('\n');
        if let Some(d) = tool.get("description").and_then(Value::as_str) {
            for line in doc_lines(d) {
                let _ = writeln!(out, "///{}{line}", if line.is_empty() { "" } else { " " });
            }
        }
        if aarm != name {
            let _ = writeln!(out, "// `{}` in MCP", name.replace(['\n', '\r'], " "));
        }
        for n in &notes {
            let line = n.replace(['\n', '\r'], " ");
            let _ = writeln!(out, "// note: {line}");
            all_notes.push(format!("{aarm}: {line}"));
        }
        if params.is_empty() {
            let _ = writeln!(out, "tool {aarm} {{}}");
        } else {
            let _ = writeln!(out, "tool {aarm} {{");
            for (n, t) in &params {
                let _ = writeln!(out, "  {n}: {t},");
            }
            let _ = writeln!(out, "}}");
        }
    }
    Ok((out, all_notes))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn colliding_tool_names_are_refused() {
        let tools = [json!({"name": "a-b"}), json!({"name": "a_b"})];
        assert!(declarations(&tools, &json!({}), "x").unwrap_err().contains("both become `a_b`"));
    }

    #[test]
    fn a_description_cannot_end_the_comment() {
        let tools = [json!({"name": "t", "description": "line\n}\ntool evil {}\r\u{2028}x"})];
        let (text, _) = declarations(&tools, &json!({}), "x").unwrap();
        assert!(text.lines().filter(|l| l.starts_with("tool ")).count() == 1, "{text}");
    }
}
