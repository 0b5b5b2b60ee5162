//! Target (6): the formatter (`aarm_lang::format::format`, `aarm fmt`) on arbitrary bytes
//! (through `String::from_utf8_lossy`). A source the parser rejects must be refused; a source it
//! accepts must format, the output must reparse to the same tree (spans aside, compared as in
//! `lang/tests/format.rs`), keep the same comments, and formatting it again changes nothing.
#![no_main]

use aarm_lang::format::format;
use aarm_lang::FileId;
use libfuzzer_sys::fuzz_target;

/// The tree as a string with every span replaced by `Span`.
fn shape(src: &str) -> Option<String> {
    let parsed = aarm_lang::parse(FileId(0), src);
    if parsed.has_errors() {
        return None;
    }
    let debug = format!("{:?}", parsed.file);
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug.as_str();
    while let Some(i) = rest.find("Span { start: ") {
        out.push_str(&rest[..i]);
        out.push_str("Span");
        let after = &rest[i..];
        let end = after.find(" }").expect("a span ends with ` }`");
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Some(out)
}

fn comments(src: &str) -> Vec<String> {
    let mut texts: Vec<String> =
        aarm_lang::parse(FileId(0), src).file.comments.iter().map(|c| c.text.clone()).collect();
    texts.sort();
    texts
}

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    let Some(before) = shape(&src) else {
        assert!(format(&src).is_err(), "a source with syntax errors was formatted");
        return;
    };
    let once = format(&src).unwrap_or_else(|e| panic!("a source that parses did not format: {e}"));
    let after = shape(&once).unwrap_or_else(|| panic!("the formatted output does not parse:\n{once}"));
    assert_eq!(before, after, "the tree changed\n--- input\n{src}\n--- output\n{once}");
    assert_eq!(comments(&src), comments(&once), "comments changed\n--- input\n{src}\n--- output\n{once}");
    let twice = format(&once).unwrap_or_else(|e| panic!("the output did not format again: {e}"));
    assert_eq!(once, twice, "not idempotent\n--- input\n{src}");
});
