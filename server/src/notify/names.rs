//! How every message names things, in one place: the approval messages, the override notices
//! and each channel's rendering of them name a tool call the same way.

/// A tool as the messages name it: `tool.operation`, or `tool` when the call names no operation.
pub(crate) fn tool_call(tool: &str, operation: &str) -> String {
    if operation.is_empty() {
        tool.to_string()
    } else {
        format!("{tool}.{operation}")
    }
}
