//! Resource limits of the front end. Source text is untrusted: each limit turns what would be a
//! crash or a runaway into one clear diagnostic. Documented in `docs/language.md` ("Limits").

/// Largest source file accepted, in bytes (also keeps every span within `u32`).
pub const MAX_SOURCE_BYTES: usize = 16 * 1024 * 1024;
/// Deepest nesting of expressions (parentheses, `not`, unary minus, operands of chained `+`,
/// method chains, lists, records, quantifiers) and of type expressions.
///
/// Sized for the stack, measured (`tests/limits.rs`): in a debug build the costliest construct,
/// nested calls `f(f(f(...)))`, takes about 5.7 KiB of parser stack per level, so 128 levels stay
/// under 0.8 MiB of a 2 MiB thread and leave room for the compiler passes that walk the same
/// tree recursively. (256 needed about 1.5 MiB; before the parser's frames were slimmed, 3.6 MiB.)
pub const MAX_NESTING: usize = 128;
/// Longest identifier, in bytes.
pub const MAX_NAME_BYTES: usize = 256;
/// Longest string literal, in bytes.
pub const MAX_STRING_BYTES: usize = 64 * 1024;
/// Diagnostics reported for one file before the rest is skipped.
pub const MAX_DIAGNOSTICS_PER_FILE: usize = 200;
/// Rules in one bundle. Compiling 10 000 rules takes about a quarter of a second; this keeps a
/// runaway generator from exhausting memory at build or load time.
pub const MAX_RULES: usize = 100_000;
