//! The gateway's config file (`aarm mcp proxy --config FILE`): the upstream servers by name.
//!
//! ```toml
//! [servers.fs]
//! command = ["npx", "-y", "@modelcontextprotocol/server-filesystem", "/srv/data"]
//! ```

use super::proxy::ServerSpec;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    servers: BTreeMap<String, Server>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Server {
    command: Vec<String>,
}

/// The servers of a config file's text, in name order. Names are the namespace of their tools
/// (`NAME__tool`): ASCII letters, digits, `-` and `_`, without `__`.
pub fn parse(text: &str) -> Result<Vec<ServerSpec>, String> {
    let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
    if file.servers.is_empty() {
        return Err("no [servers.NAME] table: name at least one server".into());
    }
    let mut out = Vec::new();
    for (name, server) in file.servers {
        let valid = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && !name.contains("__");
        if !valid {
            return Err(format!(
                "[servers.{name}]: a server name is made of ASCII letters, digits, `-` and `_`, without `__` (it prefixes its tools' names as NAME__tool)"
            ));
        }
        if server.command.is_empty() {
            return Err(format!("[servers.{name}]: `command` is empty; give the program and its arguments"));
        }
        out.push(ServerSpec { name, argv: server.command });
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn servers_by_name() {
        let got = parse("[servers.fs]\ncommand = [\"a\", \"b\"]\n[servers.git]\ncommand = [\"g\"]\n").unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].name, "fs");
        assert_eq!(got[0].argv, ["a", "b"]);
    }

    #[test]
    fn bad_names_empty_commands_and_typos_are_refused() {
        assert!(parse("[servers.a__b]\ncommand = [\"x\"]").unwrap_err().contains("without `__`"));
        assert!(parse("[servers.a]\ncommand = []").unwrap_err().contains("empty"));
        assert!(parse("[servers.a]\ncomand = [\"x\"]").is_err());
        assert!(parse("").is_err());
    }
}
