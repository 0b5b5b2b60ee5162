//! The std modules' function bodies checked once per process (`check/std_bodies.rs`) against
//! checking them in every bundle from scratch (`check_from_scratch`, the former code): the same
//! diagnostics, bundle, editor index and generated program, on the examples, the std modules'
//! own tests, hand-picked collisions and generated bundles.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use aarm_compiler::check::check_from_scratch;
use aarm_compiler::modules::{load, load_sources, Loaded};
use aarm_compiler::{check, codegen};
use proptest::prelude::*;
use std::path::Path;

fn same(loaded: &Loaded, what: &str) {
    let cached = check(loaded);
    let fresh = check_from_scratch(loaded);
    assert_eq!(format!("{:?}", cached.diagnostics), format!("{:?}", fresh.diagnostics), "diagnostics of {what}");
    assert_eq!(format!("{:?}", cached.bundle), format!("{:?}", fresh.bundle), "bundle of {what}");
    assert_eq!(format!("{:?}", cached.index), format!("{:?}", fresh.index), "index of {what}");
    if let (Some(a), Some(b)) = (&cached.bundle, &fresh.bundle) {
        assert_eq!(codegen::generate(a, loaded), codegen::generate(b, loaded), "program of {what}");
    }
}

fn same_text(src: &str) {
    same(&load_sources(aarm_testkit::files(src)), src);
}

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

#[test]
fn examples_and_std_tests_check_the_same() {
    let mut n = 0;
    for dir in std::fs::read_dir(root().join("examples")).unwrap() {
        let dir = dir.unwrap().path();
        if dir.is_dir() {
            same(&load(std::slice::from_ref(&dir)).unwrap(), &dir.display().to_string());
            n += 1;
        }
    }
    for file in std::fs::read_dir(root().join("stdlib")).unwrap() {
        let file = file.unwrap().path();
        if file.to_string_lossy().ends_with("_test.aarm") {
            same(&load(std::slice::from_ref(&file)).unwrap(), &file.display().to_string());
            n += 1;
        }
    }
    assert!(n > 8, "{n} bundles");
}

/// A user declaration of a std function's name (before or after the module, in one or several
/// files), std modules used twice or by each other's users, names the bodies could misread.
#[test]
fn collisions_check_the_same() {
    let cases = [
        "use std.risk\nfn classification_levels() -> List<String> = [\"A\"]\n",
        "fn classification_levels() -> Int = 3\nuse std.risk\n",
        "fn is_classification(label: Int) -> Bool = label > 1\nuse std.risk\nuse std.text\n",
        "use std.text\nuse std.text\nuse std.net\nuse std.time\nuse std.risk\n",
        "policy p version \"1\"\nuse std.net\ngroup addr = [\"a\"]\ngroup domains = [\"x\"]\ncontext { addr: String, domains: List<String> }\nrule r on * { when is_external_address(context.addr, context.domains) deny reason \"x\" \"y\" }\n",
        "//// file a.aarm\nuse ./b\nfn host_in(h: String, d: List<String>) -> Bool = true\nuse std.net\n//// file b.aarm\nuse std.net\nfn email_domain(a: String) -> String = a\n",
        "//// file a.aarm\nuse std.time\nuse ./b\n//// file b.aarm\nfn within(d: Duration, l: Duration) -> Bool = true\nfn weekday_in(t: Time) -> Bool = true\n",
        "use std.time\nfn is_weekend(t: Time, zone: String) -> Bool = is_weekend(t, zone)\n",
        "use std.risk\nfn f(x: Int) -> Bool = classified_at_least([\"PII\"], x)\n",
        "use std.nope\nuse std.text\nfn words(s: String) -> Int = 1\n",
        "policy p version \"1\"\nuse std.net\nuse std.time\nrule r on * { when ip_in_cidr(\"1.2.3.4\", \"10.0.0.0/33\") or ip_in_any(\"1.1.1.1\", [\"fc00::/77\"]) or is_weekend(context.now, \"Europe/Pari\") deny reason \"x\" \"y\" }\n",
        "use std.time\nfn a(t: Time) -> Bool = b(t) or is_weekend(t, \"Mars/Base\")\nfn b(t: Time) -> Bool = a(t) and within(1h, 2h)\n",
        "use std.net\nfn is_ipv4(s: String) -> Bool = is_ipv4(s)\nfn c(s: String) -> Bool = ip_in_cidr(s, \"x/1\")\n",
    ];
    let mut codes = Vec::new();
    for src in cases {
        same_text(src);
        let checked = check(&load_sources(aarm_testkit::files(src)));
        codes.extend(checked.diagnostics.iter().map(|d| d.code.as_str()));
    }
    // The passes that pass spliced bodies by still see the literals and cycles around them.
    for code in ["E0211", "E0205", "E0104"] {
        assert!(codes.contains(&code), "no {code} among {codes:?}");
    }
}

/// A std module reached before a file that declares one of its functions' names again (the std
/// function is the one the name refers to, so its bodies are spliced; the file's is the
/// duplicate), and a file that calls them both ways.
#[test]
fn a_std_module_before_a_duplicate_checks_the_same() {
    let dir = std::env::temp_dir().join(format!("aarm-std-bodies-{}", std::process::id()));
    let root = dir.join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("a.aarm"),
        "policy p version \"1\"\nuse std.time\nuse std.risk\nuse ../b\nrule r on * { when within(1h, 2h) and weekday_in(context.now, \"UTC\", 1, 5) deny reason \"x\" \"y\" }\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("b.aarm"),
        "fn within(d: Duration, l: Duration) -> Bool = false\nfn at_least(a: Int) -> Bool = a > 1\nfn c() -> Bool = is_weekend(context.now, \"Nowhere/Zone\")\n",
    )
    .unwrap();
    let loaded = load(std::slice::from_ref(&root)).unwrap();
    let order: Vec<&str> = loaded.modules.iter().map(|m| loaded.sources.name(m.file)).collect();
    assert!(order.len() == 4 && order[3].ends_with("b.aarm"), "{order:?}");
    same(&loaded, "std before a duplicate");
    let codes: Vec<&str> = check(&loaded).diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert!(codes.contains(&"E0104") && codes.contains(&"E0211"), "{codes:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

const USES: [&str; 5] = ["use std.net\n", "use std.risk\n", "use std.text\n", "use std.time\n", "use std.nope\n"];
const NAMES: [&str; 10] = [
    "words",
    "first_word",
    "classification_levels",
    "is_classification",
    "host_in",
    "email_domain",
    "within",
    "weekday_in",
    "f",
    "g",
];
const BODIES: [&str; 8] = [
    "true",
    "1",
    "words(s)",
    "is_classification(s)",
    "within(s, s)",
    "g(s)",
    "ip_in_cidr(s, \"10.0.0.0/33\") or is_internal_ip(\"::1\")",
    "f(s) or is_weekend(context.now, \"Europe/Pari\")",
];

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        (0..USES.len()).prop_map(|i| USES[i].to_string()),
        (0..NAMES.len(), 0..BODIES.len(), any::<bool>()).prop_map(|(n, b, int)| {
            let ty = if int { "Int" } else { "String" };
            format!("fn {}(s: {ty}) -> Bool = {}\n", NAMES[n], BODIES[b])
        }),
        (0..NAMES.len()).prop_map(|n| format!("group {} = [\"a\"]\n", NAMES[n])),
        Just("policy p version \"1\"\nrule r on * { when is_blank(\"x\") or words(\"a b\").count() > 1 deny reason \"x\" \"y\" }\n".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Bundles of std uses, user functions and groups named like std functions (and like their
    /// parameters), in any order, over one or two files.
    #[test]
    fn generated_bundles_check_the_same(a in prop::collection::vec(piece(), 0..8), b in prop::collection::vec(piece(), 0..5), two in any::<bool>()) {
        let src = if two {
            format!("//// file a.aarm\nuse ./b\n{}//// file b.aarm\n{}", a.concat(), b.concat())
        } else {
            a.concat()
        };
        same_text(&src);
    }
}
