//! The standard library: the `.aarm` modules under `stdlib/` at the workspace root, embedded in
//! the compiler so that `use std.NAME` works without any files next to the policy.
//!
//! A module is loaded (and shown in diagnostics) as `std.NAME`; see [`crate::modules`].

use std::sync::{Arc, OnceLock};

/// The names of the standard library modules, sorted: `use std.NAME` accepts exactly these.
pub const STD_MODULES: &[&str] = &["net", "risk", "text", "time"];

/// The source text of the standard library module `NAME` (as in `use std.NAME`), if it exists.
pub(crate) fn std_module(name: &str) -> Option<&'static str> {
    match name {
        "net" => Some(include_str!("../../stdlib/net.aarm")),
        "risk" => Some(include_str!("../../stdlib/risk.aarm")),
        "text" => Some(include_str!("../../stdlib/text.aarm")),
        "time" => Some(include_str!("../../stdlib/time.aarm")),
        _ => None,
    }
}

/// The syntax tree of the standard library module `NAME`, when it parses without any
/// diagnostic (as every module does; a test says so). Each is parsed once per process and
/// shared from then on: every bundle that uses a std module would otherwise lex and parse the
/// same text again. The tree holds no file id (only spans, offsets into the text), so it is the
/// tree a parse under the bundle's own id gives; a module with diagnostics (which name a file)
/// is not kept, and the caller parses it as any file.
pub(crate) fn std_module_ast(name: &str) -> Option<Arc<aarm_lang::ast::File>> {
    type Memo = OnceLock<Option<Arc<aarm_lang::ast::File>>>;
    static MEMO: [Memo; STD_MODULES.len()] = [const { OnceLock::new() }; STD_MODULES.len()];
    let i = STD_MODULES.iter().position(|m| *m == name)?;
    let text = std_module(name)?;
    MEMO.get(i)?
        .get_or_init(|| {
            let parsed = aarm_lang::parse(aarm_lang::FileId(0), text);
            parsed.diagnostics.is_empty().then(|| Arc::new(parsed.file))
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_module_exists_and_the_list_is_sorted() {
        for name in STD_MODULES {
            assert!(std_module(name).is_some(), "std.{name} is listed but not embedded");
        }
        let mut sorted = STD_MODULES.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, STD_MODULES);
        assert_eq!(std_module("nope"), None);
        assert_eq!(std_module(""), None);
        assert_eq!(std_module_ast("nope"), None);
    }

    /// The remembered tree is the tree a fresh parse gives, under any file id.
    #[test]
    fn the_remembered_tree_is_a_fresh_parse() {
        for name in STD_MODULES {
            let text = std_module(name).unwrap_or_default();
            let fresh = aarm_lang::parse(aarm_lang::FileId(7), text);
            assert!(fresh.diagnostics.is_empty());
            assert_eq!(std_module_ast(name).as_deref(), Some(&fresh.file), "std.{name}");
            assert_eq!(std_module_ast(name).as_deref(), Some(&fresh.file), "std.{name}, second use");
        }
    }

    #[test]
    fn every_module_parses_cleanly() {
        for name in STD_MODULES {
            let text = std_module(name).unwrap_or_default();
            let parsed = aarm_lang::parse(aarm_lang::FileId(0), text);
            assert!(parsed.diagnostics.is_empty(), "std.{name}: {:?}", parsed.diagnostics);
            assert!(!parsed.file.items.is_empty(), "std.{name} is empty");
            // A library module holds declarations only: no header, no rules, no tests.
            assert!(parsed.file.header.is_none(), "std.{name} has a policy header");
        }
    }

    #[test]
    fn every_stdlib_file_is_embedded_and_tested() {
        // `stdlib/NAME.aarm` is a module; `stdlib/NAME_test.aarm` its tests (a policy that `use`s
        // it by path, run by `aarm test stdlib/`), never embedded.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../stdlib");
        let mut modules = Vec::new();
        let mut tests = Vec::new();
        for name in std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()) {
            let name = name.file_name().to_string_lossy().to_string();
            let Some(stem) = name.strip_suffix(".aarm") else { continue };
            match stem.strip_suffix("_test") {
                Some(module) => tests.push(module.to_string()),
                None => modules.push(stem.to_string()),
            }
        }
        modules.sort();
        tests.sort();
        assert_eq!(modules, STD_MODULES, "stdlib/ and STD_MODULES differ");
        assert_eq!(tests, STD_MODULES, "every module has its NAME_test.aarm");
    }
}
