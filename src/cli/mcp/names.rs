//! How MCP names become aarm names, in one place: `aarm mcp import` writes declarations with
//! them and `aarm mcp proxy` decides calls with them, so the two always agree.
//!
//! The rule (README.md, "MCP gateway"): every character that is not an ASCII letter, digit or
//! `_` becomes `_`; a name that would start with a digit (or is empty) gets a leading `_`; a tool
//! name that is a reserved word gets a trailing `_` (parameter names may be reserved words, as
//! any field name may). `read-file` → `read_file`, `2fa.check` → `_2fa_check`, `test` → `test_`.

use aarm_lang::token::RESERVED_WORDS;

/// A parameter (or record field) name.
pub fn field_name(mcp: &str) -> String {
    let mut out: String = mcp.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        out.insert(0, '_');
    }
    out
}

/// A tool name.
pub fn tool_name(mcp: &str) -> String {
    let mut out = field_name(mcp);
    if RESERVED_WORDS.contains(&out.as_str()) {
        out.push('_');
    }
    out
}

/// The name a tool of server `server` has in a namespaced (`--config`) gateway, for the client
/// and for the policy alike: `NAME__tool`.
pub fn namespaced(server: &str, tool: &str) -> String {
    format!("{server}__{tool}")
}

/// Splits a namespaced name into its server and the tool's own name.
pub fn split_namespaced(name: &str) -> Option<(&str, &str)> {
    name.split_once("__")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_examples() {
        assert_eq!(tool_name("read-file"), "read_file");
        assert_eq!(tool_name("2fa.check"), "_2fa_check");
        assert_eq!(tool_name("test"), "test_");
        assert_eq!(field_name("test"), "test");
        assert_eq!(field_name(""), "_");
        assert_eq!(tool_name("résumé"), "r_sum_");
        assert_eq!(split_namespaced(&namespaced("fs", "read__x")), Some(("fs", "read__x")));
    }
}
