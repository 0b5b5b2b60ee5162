//! Target (6): the formatter (`aarm_lang::format::format`, `aarm fmt`) on arbitrary bytes
//! (through `String::from_utf8_lossy`). A source the parser rejects must be refused; a source it
//! accepts must format, the output must reparse to the same tree (spans aside, compared as in
//! `lang/tests/format.rs`), keep the same comments, and formatting it again changes nothing.
#![no_main]

use aarm_fuzz::{same_shape, shape};
use aarm_lang::ast::File;
use aarm_lang::format::format_parsed;
use aarm_lang::{parse, FileId};
use libfuzzer_sys::fuzz_target;

fn comments(file: &File) -> Vec<&str> {
    let mut texts: Vec<&str> = file.comments.iter().map(|c| c.text.as_str()).collect();
    texts.sort_unstable();
    texts
}

// Each text is parsed once and its parse serves the tree comparison, the comments and the
// formatter (`format_parsed`): calling `format` and `parse` separately parsed every text three
// times.
fuzz_target!(|data: &[u8]| {
    let src = aarm_fuzz::text(data);
    let parsed = parse(FileId(0), &src);
    let formatted = format_parsed(&src, &parsed);
    if parsed.has_errors() {
        assert!(formatted.is_err(), "a source with syntax errors was formatted");
        return;
    }
    let once = formatted.unwrap_or_else(|e| panic!("a source that parses did not format: {e}"));
    let reparsed = parse(FileId(0), &once);
    assert!(!reparsed.has_errors(), "the formatted output does not parse:\n{once}");
    // Equal trees have equal shapes: the two shapes are built only when the formatter moved
    // something (and again for the message, if they differ).
    if !same_shape(&parsed.file, &reparsed.file) {
        assert_eq!(
            shape(&parsed.file),
            shape(&reparsed.file),
            "the tree changed\n--- input\n{src}\n--- output\n{once}"
        );
    }
    assert_eq!(
        comments(&parsed.file),
        comments(&reparsed.file),
        "comments changed\n--- input\n{src}\n--- output\n{once}"
    );
    let twice = format_parsed(&once, &reparsed).unwrap_or_else(|e| panic!("the output did not format again: {e}"));
    assert_eq!(once, twice, "not idempotent\n--- input\n{src}");
});
