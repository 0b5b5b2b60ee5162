//! The module loader against real directories and in-memory sources.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};

use aarm_compiler::modules::{load, load_sources, LoadError, Loaded, ModuleSource};
use aarm_lang::Code;
use tempfile::TempDir;

/// A fresh directory under the system temp dir (`aarm-modules-NAME-XXXXXX`, no leading dot: the
/// loader skips hidden directories), removed when dropped, also when the test panics.
fn temp_dir(name: &str) -> TempDir {
    tempfile::Builder::new().prefix(&format!("aarm-modules-{name}-")).tempdir().unwrap()
}

/// Writes a file in a test's directory.
trait WriteIn {
    /// Writes `text` to `rel` under the directory (parents created); the file's path.
    fn write(&self, rel: &str, text: impl AsRef<[u8]>) -> PathBuf;
}

impl WriteIn for TempDir {
    fn write(&self, rel: &str, text: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

fn names(loaded: &Loaded) -> Vec<String> {
    loaded.modules.iter().map(|m| loaded.sources.name(m.file).to_string()).collect()
}

/// The loaded modules in load order: a file by its path under `dir`, a standard module by name.
fn relative_names(loaded: &Loaded, dir: &Path) -> Vec<String> {
    loaded
        .modules
        .iter()
        .map(|m| match &m.source {
            ModuleSource::File(p) => p.strip_prefix(dir).unwrap().display().to_string(),
            ModuleSource::Std(n) => n.clone(),
        })
        .collect()
}

fn codes(loaded: &Loaded) -> Vec<&'static str> {
    loaded.diagnostics.iter().map(|d| d.code.as_str()).collect()
}

fn sources(files: &[(&str, &str)]) -> Vec<(String, String)> {
    files.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect()
}

fn slice<'a>(loaded: &'a Loaded, d: &aarm_lang::Diagnostic) -> &'a str {
    loaded.sources.get(d.file).map(|f| f.slice(d.span)).unwrap_or("")
}

fn examples() -> PathBuf {
    // `cargo test` runs in the package directory: a relative path, as a user would type it.
    PathBuf::from("../examples")
}

// ---------------------------------------------------------------------------------------------
// Examples

#[test]
fn every_example_loads_without_diagnostics() {
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(examples()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    assert!(dirs.len() >= 3);
    for dir in dirs {
        let loaded = load(std::slice::from_ref(&dir)).unwrap();
        assert!(loaded.diagnostics.is_empty(), "{}: {:?}", dir.display(), loaded.diagnostics);
        assert!(!loaded.modules.is_empty());
        assert_eq!(loaded.modules.len(), loaded.sources.len());
    }
    let all = load(&[examples()]).unwrap();
    assert!(all.diagnostics.is_empty(), "{:?}", all.diagnostics);
}

#[test]
fn payments_directory_loads_each_file_once_with_relative_names() {
    let loaded = load(&[examples().join("payments")]).unwrap();
    assert_eq!(
        names(&loaded),
        [
            "../examples/payments/common.aarm",
            "../examples/payments/payments.aarm",
            "../examples/payments/payments_test.aarm",
            "std.text",
        ]
    );
    let std_text = loaded.modules.last().unwrap();
    assert_eq!(std_text.source, ModuleSource::Std("text".to_string()));
    assert!(!std_text.ast.items.is_empty());
}

#[test]
fn one_file_pulls_in_what_it_uses() {
    let loaded = load(&[examples().join("payments/payments.aarm")]).unwrap();
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    assert_eq!(names(&loaded), ["../examples/payments/payments.aarm", "std.text", "../examples/payments/common.aarm"]);
    assert_eq!(
        loaded.modules.get(2).unwrap().source,
        ModuleSource::File(PathBuf::from("../examples/payments/common.aarm"))
    );
}

#[test]
fn a_file_given_as_root_and_reached_by_use_is_loaded_once() {
    let payments = examples().join("payments");
    let roots = [
        payments.join("payments.aarm"),
        payments.clone(),
        payments.join("../payments/common.aarm"),
        payments.join("payments.aarm"),
    ];
    let loaded = load(&roots).unwrap();
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    assert_eq!(loaded.modules.len(), 4, "{:?}", names(&loaded));
}

// ---------------------------------------------------------------------------------------------
// Roots

/// The error loading `root` gives; loading it must fail.
fn load_error(root: &Path) -> LoadError {
    match load(std::slice::from_ref(&root.to_path_buf())) {
        Err(e) => e,
        Ok(loaded) => panic!("expected a load error, got {:?}", names(&loaded)),
    }
}

#[test]
fn a_missing_root_is_a_load_error() {
    let dir = temp_dir("missing-root");
    let missing = dir.path().join("nope");
    let e = load_error(&missing);
    assert!(matches!(e, LoadError::NotFound { .. }), "expected NotFound, got {e:?}");
    assert_eq!(e.path(), missing);
    assert!(e.to_string().contains("nope"));
}

#[test]
fn a_directory_without_policy_files_is_a_load_error_not_an_empty_bundle() {
    let dir = temp_dir("no-policy");
    dir.write("README.md", "policies go here");
    // Only hidden and `target/` files, which the walk skips: still nothing to check.
    dir.write(".hidden/h.aarm", "group h = [\"a\"]");
    dir.write("target/t.aarm", "group t = [\"a\"]");
    let root = dir.path().to_path_buf();
    let e = load_error(&root);
    assert!(matches!(e, LoadError::NoPolicyFiles { .. }), "expected NoPolicyFiles, got {e:?}");
    assert_eq!(e.path(), root);
    assert!(e.to_string().contains("no `.aarm` file"), "{e}");
    assert!(e.to_string().contains("help: "), "{e}");
}

#[test]
fn walk_is_sorted_recursive_and_skips_hidden_and_target() {
    let dir = temp_dir("walk");
    // Written out of order on purpose.
    dir.write("z.aarm", "group z = [\"a\"]");
    dir.write("sub/b.aarm", "group b = [\"a\"]");
    dir.write("a.aarm", "group a = [\"a\"]");
    dir.write("sub/a.aarm", "group sa = [\"a\"]");
    dir.write("notes.txt", "not a policy");
    dir.write(".hidden/h.aarm", "this would not parse {");
    dir.write("target/t.aarm", "this would not parse {");
    dir.write(".swap.aarm", "this would not parse {");
    let first = load(&[dir.path().to_path_buf()]).unwrap();
    assert!(first.diagnostics.is_empty(), "{:?}", first.diagnostics);
    assert_eq!(relative_names(&first, dir.path()), ["a.aarm", "sub/a.aarm", "sub/b.aarm", "z.aarm"]);
    let second = load(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(names(&first), names(&second));
}

#[test]
fn a_root_file_is_loaded_whatever_its_extension() {
    let dir = temp_dir("ext");
    let path = dir.write("policy.txt", "use ./other\n");
    dir.write("other.aarm", "group g = [\"x\"]");
    let loaded = load(&[path]).unwrap();
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    assert_eq!(loaded.modules.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// `use`

#[test]
fn a_missing_use_target_is_e0050_at_the_use() {
    let dir = temp_dir("missing-use");
    let a = dir.write("a.aarm", "// x\nuse ./nowhere\n");
    let loaded = load(&[a]).unwrap();
    assert_eq!(codes(&loaded), ["E0050"]);
    let d = loaded.diagnostics.first().unwrap();
    assert_eq!(slice(&loaded, d), "use ./nowhere");
    assert!(d.message.contains("./nowhere"), "{}", d.message);
    assert!(d.message.contains("nowhere.aarm"), "{}", d.message);
    assert!(d.help.is_some());
    assert_eq!(loaded.modules.len(), 1);
}

#[test]
fn a_misspelt_use_target_gets_a_suggestion() {
    let dir = temp_dir("misspelt-use");
    let a = dir.write("a.aarm", "use ./comon\n");
    dir.write("common.aarm", "group g = [\"x\"]");
    let loaded = load(&[a]).unwrap();
    assert_eq!(codes(&loaded), ["E0050"]);
    assert_eq!(loaded.diagnostics.first().unwrap().help.as_deref(), Some("did you mean `use ./common`?"));

    let mem = load_sources(sources(&[("dir/a.aarm", "use ../dir/comon"), ("dir/common.aarm", "")]));
    assert_eq!(codes(&mem), ["E0050"]);
    assert_eq!(mem.diagnostics.first().unwrap().help.as_deref(), Some("did you mean `use ../dir/common`?"));
}

#[test]
fn relative_uses_resolve_from_the_using_files_directory() {
    let dir = temp_dir("relative");
    let a = dir.write("policies/a.aarm", "use ../shared/lib\nuse ./sibling.aarm\n");
    dir.write("policies/sibling.aarm", "use ../shared/lib");
    dir.write("shared/lib.aarm", "use ./deeper/x");
    dir.write("shared/deeper/x.aarm", "group g = [\"x\"]");
    let loaded = load(&[a]).unwrap();
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    assert_eq!(
        relative_names(&loaded, dir.path()),
        ["policies/a.aarm", "shared/lib.aarm", "policies/sibling.aarm", "shared/deeper/x.aarm"]
    );
}

#[test]
fn in_memory_uses_resolve_among_the_given_names() {
    let loaded = load_sources(sources(&[
        ("a.aarm", "use ./sub/b\nuse std.text"),
        ("sub/b.aarm", "use ../c\nuse std.text"),
        ("c.aarm", "group g = [\"x\"]"),
    ]));
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    assert_eq!(names(&loaded), ["a.aarm", "sub/b.aarm", "c.aarm", "std.text"]);
}

#[test]
fn unknown_std_module_suggests_the_closest() {
    let loaded = load_sources(sources(&[("a.aarm", "use std.txet\nuse std.zzzzzzzz")]));
    assert_eq!(codes(&loaded), ["E0050", "E0050"]);
    let first = loaded.diagnostics.first().unwrap();
    assert_eq!(slice(&loaded, first), "use std.txet");
    assert!(first.message.contains("`std.txet`"), "{}", first.message);
    assert_eq!(first.help.as_deref(), Some("did you mean `std.text`?"));
    let second = loaded.diagnostics.get(1).unwrap();
    assert!(second.help.as_deref().unwrap().contains("`std.text`"), "{:?}", second.help);
    assert_eq!(loaded.modules.len(), 1);
}

#[test]
fn std_modules_are_loaded_once_and_named_std_dot() {
    let loaded =
        load_sources(sources(&[("a.aarm", "use std.text\nuse std.net"), ("b.aarm", "use std.text\nuse std.text")]));
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    assert_eq!(names(&loaded), ["a.aarm", "b.aarm", "std.text", "std.net"]);
    for name in aarm_compiler::stdlib::STD_MODULES {
        let loaded = load_sources(sources(&[("a.aarm", &format!("use std.{name}"))]));
        assert!(loaded.diagnostics.is_empty(), "std.{name}: {:?}", loaded.diagnostics);
    }
}

#[test]
fn other_use_forms_are_e0052_with_both_valid_forms() {
    for (text, written) in [("use foo", "use foo"), ("use std", "use std"), ("use std.a.b", "use std.a.b")] {
        let loaded = load_sources(sources(&[("a.aarm", text)]));
        assert_eq!(codes(&loaded), ["E0052"], "{text}");
        let d = loaded.diagnostics.first().unwrap();
        assert_eq!(slice(&loaded, d), written);
        let help = d.help.as_deref().unwrap();
        assert!(help.contains("use std.NAME") && help.contains("use ./FILE"), "{help}");
    }
    // Close to something real: say what was meant.
    let loaded = load_sources(sources(&[("a.aarm", "use text\nuse b"), ("b.aarm", "")]));
    let helps: Vec<_> = loaded.diagnostics.iter().map(|d| d.help.clone().unwrap()).collect();
    assert_eq!(helps, ["did you mean `use std.text`?", "did you mean `use ./b`?"]);
}

// ---------------------------------------------------------------------------------------------
// Cycles

#[test]
fn a_two_cycle_is_reported_once_at_the_closing_use() {
    let loaded = load_sources(sources(&[("a.aarm", "use ./b"), ("b.aarm", "// b\nuse ./a")]));
    assert_eq!(codes(&loaded), ["E0051"]);
    let d = loaded.diagnostics.first().unwrap();
    assert_eq!(d.code, Code::ModuleCycle);
    assert_eq!(loaded.sources.name(d.file), "b.aarm");
    assert_eq!(slice(&loaded, d), "use ./a");
    assert!(d.message.ends_with("a.aarm → b.aarm → a.aarm"), "{}", d.message);
    assert!(d.help.as_deref().unwrap().contains("third file"));
    assert_eq!(d.secondary.len(), 1);
}

#[test]
fn a_three_cycle_on_disk_names_the_cycle_in_order() {
    let dir = temp_dir("cycle3");
    dir.write("a.aarm", "use ./b\n");
    dir.write("b.aarm", "use ./c\n");
    dir.write("c.aarm", "use std.text\nuse ./a\n");
    let loaded = load(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(codes(&loaded), ["E0051"]);
    let d = loaded.diagnostics.first().unwrap();
    let name = |f: &str| dir.path().join(f).display().to_string();
    assert_eq!(loaded.sources.name(d.file), name("c.aarm"));
    assert_eq!(slice(&loaded, d), "use ./a");
    let expected = format!("{} → {} → {} → {}", name("a.aarm"), name("b.aarm"), name("c.aarm"), name("a.aarm"));
    assert!(d.message.ends_with(&expected), "{}", d.message);
    assert_eq!(d.secondary.len(), 2);
}

#[test]
fn a_three_cycle_in_memory_and_a_separate_two_cycle() {
    let loaded = load_sources(sources(&[
        ("x/a.aarm", "use ./b"),
        ("x/b.aarm", "use ./c"),
        ("x/c.aarm", "use ./a\nuse ./b"),
        ("y.aarm", "use ./z"),
        ("z.aarm", "use ./y"),
    ]));
    assert_eq!(codes(&loaded), ["E0051", "E0051"]);
    let messages: Vec<&str> = loaded.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert!(messages.iter().any(|m| m.ends_with("x/a.aarm → x/b.aarm → x/c.aarm → x/a.aarm")), "{messages:?}");
    assert!(messages.iter().any(|m| m.ends_with("y.aarm → z.aarm → y.aarm")), "{messages:?}");
}

#[test]
fn a_file_that_uses_itself_is_a_cycle() {
    let loaded = load_sources(sources(&[("a.aarm", "use ./a\nuse ./a")]));
    assert_eq!(codes(&loaded), ["E0051"]);
    let d = loaded.diagnostics.first().unwrap();
    assert!(d.message.contains("a.aarm → a.aarm"), "{}", d.message);
    assert_eq!(d.span.start, 0);
}

#[test]
fn a_diamond_is_not_a_cycle() {
    let loaded = load_sources(sources(&[
        ("a.aarm", "use ./b\nuse ./c"),
        ("b.aarm", "use ./d"),
        ("c.aarm", "use ./d"),
        ("d.aarm", ""),
    ]));
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
}

// ---------------------------------------------------------------------------------------------
// Bytes

#[test]
fn invalid_utf8_is_e0023_at_the_first_bad_byte_and_not_parsed() {
    let dir = temp_dir("utf8");
    let mut bytes = b"group g = [\"caf\xc3\xa9\"]\n// \xff\xfe then garbage {{{".to_vec();
    bytes.extend_from_slice(b"\n");
    let path = dir.write("bad.aarm", &bytes);
    let loaded = load(&[path]).unwrap();
    assert_eq!(codes(&loaded), ["E0023"]);
    let d = loaded.diagnostics.first().unwrap();
    let expected = bytes.iter().position(|&b| b == 0xff).unwrap();
    assert_eq!(d.span.start as usize, expected);
    assert!(d.message.contains(&format!("offset {expected}")), "{}", d.message);
    // Shown from lossy text; the module is there, empty.
    assert_eq!(slice(&loaded, d), "\u{FFFD}");
    assert_eq!(loaded.modules.len(), 1);
    assert!(loaded.modules.first().unwrap().ast.items.is_empty());
}

#[test]
fn a_used_file_with_invalid_utf8_is_reported_in_that_file() {
    let dir = temp_dir("utf8-used");
    let a = dir.write("a.aarm", "use ./b");
    dir.write("b.aarm", b"\x80");
    let loaded = load(&[a]).unwrap();
    assert_eq!(codes(&loaded), ["E0023"]);
    let d = loaded.diagnostics.first().unwrap();
    assert_eq!(d.span.start, 0);
    assert!(loaded.sources.name(d.file).ends_with("b.aarm"));
}

#[test]
fn a_too_large_file_is_e0022_and_not_parsed() {
    let big = "x".repeat(aarm_lang::limits::MAX_SOURCE_BYTES + 1);
    let loaded = load_sources(vec![("big.aarm".to_string(), big)]);
    assert_eq!(codes(&loaded), ["E0022"]);
    assert!(loaded.modules.first().unwrap().ast.items.is_empty());
}

#[test]
fn a_too_large_file_on_disk_is_e0022() {
    let dir = temp_dir("large");
    let path = dir.write("big.aarm", vec![b' '; aarm_lang::limits::MAX_SOURCE_BYTES + 1]);
    let loaded = load(&[path]).unwrap();
    assert_eq!(codes(&loaded), ["E0022"]);
}

#[test]
fn nul_bytes_go_to_the_parser() {
    let loaded = load_sources(sources(&[("a.aarm", "group g = [\"x\"]\0")]));
    assert!(!loaded.diagnostics.is_empty());
    assert!(!codes(&loaded).contains(&"E0023"));
}

#[test]
fn parse_diagnostics_are_kept() {
    let loaded = load_sources(sources(&[("a.aarm", "tool {"), ("b.aarm", "use ./a")]));
    assert!(loaded.has_errors());
    assert!(loaded.diagnostics.iter().all(|d| loaded.sources.name(d.file) == "a.aarm"));
    assert_eq!(loaded.modules.len(), 2);
}

#[test]
fn an_overlay_replaces_files_under_a_root_and_files_reached_by_use() {
    // An editor's unsaved buffers: the overlay's text is loaded instead of what is on disk, for a
    // root's own file and for a file outside the root that a `use` reaches.
    let dir = temp_dir("overlay");
    let main = dir.write("bundle/main.aarm", "use ../shared/lib\nrule on_disk on * { deny }\n");
    let lib = dir.write("shared/lib.aarm", "group on_disk = [\"a\"]\n");
    let mut overlay = std::collections::HashMap::new();
    overlay.insert(main.canonicalize().unwrap(), "use ../shared/lib\ngroup from_buffer = [\"b\"]\n".to_string());
    overlay.insert(lib.canonicalize().unwrap(), "group lib_buffer = [\"c\"]\n".to_string());
    let loaded = aarm_compiler::load_with_overlay(&[dir.path().join("bundle")], overlay).unwrap();
    let texts: Vec<&str> = loaded.modules.iter().map(|m| loaded.sources.get(m.file).unwrap().text.as_str()).collect();
    assert_eq!(texts, ["use ../shared/lib\ngroup from_buffer = [\"b\"]\n", "group lib_buffer = [\"c\"]\n"]);
    assert!(loaded.diagnostics.is_empty(), "{:?}", codes(&loaded));
    // Without it, the files on disk.
    let loaded = load(&[dir.path().join("bundle")]).unwrap();
    assert!(loaded.sources.get(loaded.modules[1].file).unwrap().text.contains("on_disk"));
}
