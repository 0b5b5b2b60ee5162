//! Helpers shared by the fuzz targets: the fixed bundles they run against, built from source at
//! startup with the real compiler (so they always match the current bytecode format).

use aarm_runtime::engine::Engine;
use sha2::{Digest, Sha256};

/// The fuzz binaries' allocator when they are built without a sanitizer: mimalloc, in place of
/// glibc's malloc, whose `_int_malloc`/`_int_free` and the rest were 12 % of `differential`'s
/// instructions (the code under test allocates a great deal: trees, IR, bytecode, decisions).
/// Nothing a target asserts depends on the allocator. Under a sanitizer (`build.rs` sets
/// `aarm_fuzz_sanitizer`) the system allocator stays, so that AddressSanitizer sees every heap
/// allocation. Targets that use nothing else from this crate name it (`use aarm_fuzz as _`) so
/// that it is linked.
#[cfg(not(aarm_fuzz_sanitizer))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `examples/payments`, as files for [`load_sources`].
pub fn payments_files() -> Vec<(String, String)> {
    vec![
        ("common.aarm".to_string(), include_str!("../../examples/payments/common.aarm").to_string()),
        ("payments.aarm".to_string(), include_str!("../../examples/payments/payments.aarm").to_string()),
        ("payments_test.aarm".to_string(), include_str!("../../examples/payments/payments_test.aarm").to_string()),
    ]
}

/// `examples/payments/request.json`.
pub const PAYMENTS_REQUEST: &str = include_str!("../../examples/payments/request.json");

pub use aarm_testkit::Built;

pub use aarm_testkit::indexed::{POLICY as INDEXED_POLICY, REQUESTS as INDEXED_REQUESTS};

/// Compiles `files` (`aarm_testkit::build_files`); panics (at startup, not inside the fuzz loop)
/// when they do not compile.
pub fn build(files: Vec<(String, String)>) -> Built {
    aarm_testkit::build_files(files).unwrap_or_else(|e| panic!("fuzz fixture: {e}"))
}

/// The engine of a built bundle, loaded from its bytes as a host would.
pub fn load(built: &Built) -> Engine {
    built.engine().unwrap_or_else(|e| panic!("fuzz fixture: {e}"))
}

/// An unsigned bundle split into the hashed header prefix (magic through compiler version and
/// signature flag; the payload length and digest are left out) and the payload.
pub struct Parts<'a> {
    pub prefix: &'a [u8],
    pub payload: &'a [u8],
}

/// Splits an unsigned bundle (the layout of `runtime/src/bundle.rs`, format version 1).
pub fn split_unsigned(bytes: &[u8]) -> Parts<'_> {
    let n = u16::from_le_bytes([bytes[10], bytes[11]]) as usize;
    let flag_at = 12 + n;
    assert_eq!(bytes[flag_at], 0, "fixture bundle is unsigned");
    let prefix_len = flag_at + 1;
    let payload_start = prefix_len + 8 + 32;
    Parts { prefix: &bytes[..prefix_len], payload: &bytes[payload_start..] }
}

/// Reassembles an unsigned bundle with the payload length and SHA-256 recomputed, so that a
/// changed payload reaches the decoder and the bytecode verifier instead of `HashMismatch`.
pub fn reassemble_unsigned(prefix: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + 40 + payload.len());
    out.extend_from_slice(prefix);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    let mut hasher = Sha256::new();
    hasher.update(&out);
    hasher.update(payload);
    let digest: [u8; 32] = hasher.finalize().into();
    out.extend_from_slice(&digest);
    out.extend_from_slice(payload);
    out
}

/// Applies the fuzzer's bytes as mutations: 4 bytes each, `[kind, pos_lo, pos_hi, value]`, the
/// position taken modulo the current length; kind % 4 = 0 xor (value, 0 counts as 0xff), 1
/// insert, 2 delete, 3 overwrite.
pub fn mutate(target: &mut Vec<u8>, ops: &[u8]) {
    for op in ops.chunks_exact(4) {
        let (kind, value) = (op[0] % 4, op[3]);
        let pos = u16::from_le_bytes([op[1], op[2]]) as usize;
        let len = target.len();
        match kind {
            0 if len > 0 => target[pos % len] ^= if value == 0 { 0xff } else { value },
            1 => target.insert(pos % (len + 1), value),
            2 if len > 0 => {
                target.remove(pos % len);
            }
            3 if len > 0 => target[pos % len] = value,
            _ => {}
        }
    }
}

/// The fuzzer's bytes as text: `String::from_utf8_lossy(data)`, the same `Cow`, built from
/// `str::from_utf8` (the standard library's word-at-a-time check) run from one invalid sequence
/// to the next, rather than by `from_utf8_lossy`'s chunk iterator, which walked every byte (1.3 %
/// of `check_source`, whose corpus is mostly not UTF-8). Each invalid sequence becomes one
/// U+FFFD, as there: `Utf8Error::error_len` is the length of the chunk iterator's invalid part,
/// and `None` (a sequence cut short by the end) the rest of the input.
pub fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    let mut out = match std::str::from_utf8(data) {
        Ok(s) => return std::borrow::Cow::Borrowed(s),
        Err(_) => String::with_capacity(data.len() + 16),
    };
    let mut rest = data;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                break;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                out.push(char::REPLACEMENT_CHARACTER);
                match e.error_len() {
                    Some(n) => rest = after.get(n..).unwrap_or_default(),
                    None => break,
                }
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A syntax tree as a string with every span replaced by `Span` (`format_roundtrip` compares a
/// text's tree with its formatted output's this way, spans aside). The spans are found with a
/// `memmem::Finder` built once (vectorized; `str::find`, instrumented for comparison tracing, made
/// this search a tenth of the target's time, and `memmem::find` built a searcher for every span,
/// 14 % of it), and a span's end is its `}` (`Span { start: N, end: M }` has no other).
pub fn shape(file: &aarm_lang::ast::File) -> String {
    static SPAN: std::sync::OnceLock<memchr::memmem::Finder<'static>> = std::sync::OnceLock::new();
    let span = SPAN.get_or_init(|| memchr::memmem::Finder::new(b"Span { start: "));
    let debug = format!("{file:?}");
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug.as_str();
    while let Some(i) = span.find(rest.as_bytes()) {
        out.push_str(&rest[..i]);
        out.push_str("Span");
        let after = &rest[i..];
        let end = memchr::memchr(b'}', after.as_bytes()).expect("a span ends with ` }`");
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Whether two trees have the same [`shape`]: `shape(a) == shape(b)`, without building either
/// shape when the trees are equal spans and all (every AST type's `PartialEq` and `Debug` are
/// derived, so equal trees have equal `Debug` texts). A formatted text that moved nothing (every
/// already formatted input) reparses to an equal tree, and the two shapes, each a `Debug` text of
/// the whole tree, were 12 % of `format_roundtrip`.
pub fn same_shape(a: &aarm_lang::ast::File, b: &aarm_lang::ast::File) -> bool {
    a == b || shape(a) == shape(b)
}

#[cfg(test)]
mod tests {
    /// The text of every `.aarm` file of `examples/` and `stdlib/`.
    fn repository_policies() -> Vec<String> {
        let mut texts = Vec::new();
        for dir in ["../examples", "../stdlib"] {
            let mut stack = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/")).join(dir)];
            while let Some(p) = stack.pop() {
                if p.is_dir() {
                    stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
                } else if p.extension().is_some_and(|e| e == "aarm") {
                    texts.push(std::fs::read_to_string(&p).unwrap());
                }
            }
        }
        texts
    }

    /// `same_shape` is the comparison of the two shapes, on pairs of the repository's policies
    /// and the texts of `shape_is_the_former_one`: each with itself, with its formatted text
    /// (equal trees where the formatter moved nothing, the same shape with other spans where it
    /// did), and with every other text (other shapes).
    #[test]
    fn same_shape_is_comparing_shapes() {
        let mut texts: Vec<String> = vec![
            "tool t { x: { a: Int } }\nrule r on t { when params.x.a > 1 deny }\n".to_string(),
            "tool t {x:{a:Int}}\n\n\nrule r on t {when params.x.a>1 deny}".to_string(),
            "rule r on t { when params.s == \"Span { start: 1, end: 2 }\" deny }\n".to_string(),
            "rule { when".to_string(),
        ];
        texts.extend(repository_policies());
        let mut files = Vec::new();
        for text in &texts {
            let parsed = aarm_lang::parse(aarm_lang::FileId(0), text);
            if let Ok(formatted) = aarm_lang::format::format_parsed(text, &parsed) {
                files.push(aarm_lang::parse(aarm_lang::FileId(0), &formatted).file);
            }
            files.push(parsed.file);
        }
        let (mut equal_trees, mut moved, mut different) = (0, 0, 0);
        for a in &files {
            for b in &files {
                let expected = super::shape(a) == super::shape(b);
                assert_eq!(super::same_shape(a, b), expected);
                match (a == b, expected) {
                    (true, _) => equal_trees += 1,
                    (false, true) => moved += 1,
                    (false, false) => different += 1,
                }
            }
        }
        assert!(equal_trees > 20 && moved >= 2 && different > 100, "{equal_trees} {moved} {different}");
    }

    /// The former `shape`: a searcher per span, and the span's end found as ` }`.
    fn shape_before(file: &aarm_lang::ast::File) -> String {
        let debug = format!("{file:?}");
        let mut out = String::with_capacity(debug.len());
        let mut rest = debug.as_str();
        while let Some(i) = memchr::memmem::find(rest.as_bytes(), b"Span { start: ") {
            out.push_str(&rest[..i]);
            out.push_str("Span");
            let after = &rest[i..];
            let end = memchr::memmem::find(after.as_bytes(), b" }").expect("a span ends with ` }`");
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        out
    }

    /// `shape` is the former one on the repository's policies and on texts with braces,
    /// strings that look like spans, and syntax errors.
    #[test]
    fn shape_is_the_former_one() {
        let mut texts: Vec<String> = vec![
            "tool t { x: { a: Int } }\nrule r on t { when params.x.a > 1 deny }\n".to_string(),
            "rule r on t { when params.s == \"Span { start: 1, end: 2 }\" deny }\n".to_string(),
            "test \"t\" { action t { x: { a: 1 } } expect deny }\n".to_string(),
            "rule { when".to_string(),
        ];
        texts.extend(repository_policies());
        assert!(texts.len() > 20, "{} texts", texts.len());
        for text in &texts {
            let parsed = aarm_lang::parse(aarm_lang::FileId(0), text);
            let (ours, before) = (super::shape(&parsed.file), shape_before(&parsed.file));
            assert_eq!(ours, before);
            assert!(!ours.contains("start:"), "{ours}");
        }
    }
    /// `text` is `from_utf8_lossy`, borrowed or not as it is, on valid and invalid UTF-8.
    #[test]
    fn text_is_from_utf8_lossy() {
        let cases: [&[u8]; 8] = [
            b"",
            b"policy p version \"1\"\n",
            "r\u{e9}gle \u{201c}x\u{201d} \u{1f600}".as_bytes(),
            b"\xff",
            b"abc\xc3",
            b"\xe2\x80x\xf0\x9f\x98",
            b"ok\x00\xc0\xafend",
            b"\xed\xa0\x80 surrogate",
        ];
        for bytes in cases {
            let (ours, std) = (super::text(bytes), String::from_utf8_lossy(bytes));
            assert_eq!(ours, std, "{bytes:?}");
            assert_eq!(matches!(ours, std::borrow::Cow::Borrowed(_)), matches!(std, std::borrow::Cow::Borrowed(_)));
        }
        for n in 0..=255u8 {
            let bytes = [b'a', n, b'z'];
            assert_eq!(super::text(&bytes), String::from_utf8_lossy(&bytes));
        }
        // Every pair and every prefix/suffix pair of bytes around a multi-byte character, and
        // pseudo-random runs that mix the bytes UTF-8 gives meaning to.
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                for bytes in [vec![a, b], vec![a, 0xe2, 0x82, b], vec![0xf0, a, b, 0x80, b'x']] {
                    assert_eq!(super::text(&bytes), String::from_utf8_lossy(&bytes), "{bytes:?}");
                }
            }
        }
        let alphabet = [b'a', b' ', 0x80, 0xbf, 0xc2, 0xc0, 0xe0, 0xe2, 0xed, 0xa0, 0xf0, 0xf4, 0xf5, 0x9f, 0xff];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 12) as usize;
            let bytes: Vec<u8> = (0..len).map(|i| alphabet[((state >> (i * 4 + 8)) % 15) as usize]).collect();
            assert_eq!(super::text(&bytes), String::from_utf8_lossy(&bytes), "{bytes:?}");
        }
    }
}
