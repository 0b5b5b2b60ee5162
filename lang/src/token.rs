//! The tokens of the language, as recognised by the logos lexer. The token type is internal to the
//! crate; what other crates need is [`RESERVED_WORDS`].
//!
//! Reserved words are tokens of their own; contextual words (`timeout`, `approvers`, `of`, ...) are
//! plain identifiers that the parser recognises where they appear, so that they stay available as
//! names elsewhere. The set of reserved words must match `keyword` in `lang/aarm.pest`.

use logos::Logos;

/// The reserved words as text, in the token type's order: what tools that name things (the MCP
/// import, the language server's rename and completion) must not use as a new name. The test below
/// holds this list to the lexer: each word lexes as one token that `Tok::is_keyword`, and no other
/// token is a keyword.
pub const RESERVED_WORDS: &[&str] = &[
    "policy",
    "use",
    "settings",
    "tool",
    "context",
    "evidence",
    "group",
    "fn",
    "rule",
    "test",
    "on",
    "priority",
    "when",
    "risk",
    "confidence",
    "reason",
    "allow",
    "deny",
    "modify",
    "step_up",
    "defer",
    "and",
    "or",
    "not",
    "in",
    "is",
    "set",
    "any",
    "all",
    "count",
    "true",
    "false",
    "params",
    "action",
    "identity",
];

#[derive(Logos, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[logos(skip r"[ \t\r\n\x0C]+")]
pub(crate) enum Tok {
    // ---- reserved words: read by [`word`] (after `Ident`'s first character), not by patterns
    Policy,
    Use,
    Settings,
    Tool,
    Context,
    Evidence,
    Group,
    Fn,
    Rule,
    Test,
    On,
    Priority,
    When,
    Risk,
    Confidence,
    Reason,
    Allow,
    Deny,
    Modify,
    StepUp,
    Defer,
    And,
    Or,
    Not,
    In,
    Is,
    Set,
    Any,
    All,
    Count,
    True,
    False,
    Params,
    Action,
    Identity,

    // ---- words, numbers, text
    /// `[A-Za-z_][A-Za-z0-9_]*` that is not a reserved word: read by [`word`] after its first
    /// character.
    #[regex("[A-Za-z_]", word)]
    Ident,
    #[regex("[0-9][0-9_]*")]
    Int,
    #[regex(r"[0-9][0-9_]*\.[0-9][0-9_]*")]
    Decimal,
    #[regex("[0-9]+[dhms]([0-9]+[dhms])*")]
    Duration,
    /// Digits glued to letters that do not form a duration (`10ms`, `3x`, `1.5h`): one bad token
    /// rather than a number followed by a name.
    #[regex(r"[0-9][0-9_]*(\.[0-9][0-9_]*)?[A-Za-z_][A-Za-z0-9_]*", priority = 1)]
    BadNumber,
    /// `"([^"\\\n]|\\[^\n])*"`: read by [`string`] after its `"`.
    #[token("\"", string)]
    Str,
    /// A string that reaches the end of its line without a closing quote:
    /// `"([^"\\\n]|\\[^\n])*` not followed by `"` (also [`string`]).
    UnterminatedStr,
    /// `./common`, `../lib/x`. The first character after the `/` is not a `/`, so that
    /// `params.// comment` is a field access followed by a comment.
    #[regex(r"\.\.?/[A-Za-z0-9_\-.][A-Za-z0-9_\-./]*")]
    RelPath,

    // ---- comments (kept as tokens so the parser can attach `///` docs and the formatter can
    // keep every comment; the parser's cursor skips them)
    /// `//[^\n]*`: read by [`line_comment`] after its `//`.
    #[token("//", line_comment)]
    LineComment,
    #[token("/*", block_comment)]
    BlockComment,

    // ---- punctuation
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token(",")]
    Comma,
    #[token(";")]
    Semi,
    #[token(":")]
    Colon,
    #[token(".")]
    Dot,
    #[token("?")]
    Question,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("->")]
    Arrow,
    #[token("=>")]
    FatArrow,
    #[token("=")]
    Eq,
    #[token("==")]
    EqEq,
    #[token("!=")]
    NotEq,
    #[token("<")]
    Lt,
    #[token("<=")]
    LtEq,
    #[token(">")]
    Gt,
    #[token(">=")]
    GtEq,
    /// `@`, which starts a field annotation (`@redact`).
    #[token("@")]
    At,

    /// An unterminated `/* ...` comment: it runs to the end of the file.
    UnterminatedComment,
    /// Characters that start no token. Produced by the lexer wrapper, never by logos itself.
    Error,
    /// End of input.
    Eof,
}

/// Consumes a word after its first character (`[A-Za-z_]`, matched by logos): the rest of
/// `[A-Za-z0-9_]*`, read with a table in a pointer loop, then the reserved word it is, if any,
/// looked up in a perfect hash table ([`KEYWORDS`]) by the word packed into a `u128`. In place
/// of the state machine's patterns (`Ident`'s regex and a `#[token]` per reserved word), which
/// compared every byte of every word, once per trie state, each comparison a tracing callback
/// under the fuzzer. Every byte read is ASCII, so the bump ends on a character boundary.
fn word(lex: &mut logos::Lexer<Tok>) -> Tok {
    let rest = lex.remainder().as_bytes().iter().take_while(|&&b| byte_is(&WORD_BYTES, b)).count();
    lex.bump(rest);
    keyword(lex.slice().as_bytes()).unwrap_or(Tok::Ident)
}

/// The reserved word `word` is, by its table slot ([`keyword_slot`]) and packed bytes.
fn keyword(word: &[u8]) -> Option<Tok> {
    let key = pack(word)?;
    let (want, tok) = KEYWORDS.get(keyword_slot(key, word.len()))?;
    (*want == key).then_some(*tok)
}

/// The word's bytes in a `u128`, first byte lowest, zero-padded: `None` past 16 bytes (longer
/// than any reserved word). Words hold no zero byte, so the padding tells lengths apart.
fn pack(word: &[u8]) -> Option<u128> {
    let mut bytes = [0u8; 16];
    bytes.get_mut(..word.len())?.copy_from_slice(word);
    Some(u128::from_le_bytes(bytes))
}

/// The slot of a packed word of `len` bytes: a hash of its first, second and last bytes and its
/// length that puts each reserved word in a slot of its own (checked when [`KEYWORDS`] is
/// built). Arithmetic only, no comparison.
const fn keyword_slot(key: u128, len: usize) -> usize {
    let first = key as u8 as usize;
    let second = (key >> 8) as u8 as usize;
    let last = (key >> ((len.wrapping_sub(1) & 15) * 8)) as u8 as usize;
    (first.wrapping_mul(8).wrapping_add(last.wrapping_mul(62)).wrapping_add(len.wrapping_mul(14)).wrapping_add(second))
        & 63
}

/// The reserved words and their tokens ([`RESERVED_WORDS`]' order).
const RESERVED: &[(&[u8], Tok)] = &[
    (b"policy", Tok::Policy),
    (b"use", Tok::Use),
    (b"settings", Tok::Settings),
    (b"tool", Tok::Tool),
    (b"context", Tok::Context),
    (b"evidence", Tok::Evidence),
    (b"group", Tok::Group),
    (b"fn", Tok::Fn),
    (b"rule", Tok::Rule),
    (b"test", Tok::Test),
    (b"on", Tok::On),
    (b"priority", Tok::Priority),
    (b"when", Tok::When),
    (b"risk", Tok::Risk),
    (b"confidence", Tok::Confidence),
    (b"reason", Tok::Reason),
    (b"allow", Tok::Allow),
    (b"deny", Tok::Deny),
    (b"modify", Tok::Modify),
    (b"step_up", Tok::StepUp),
    (b"defer", Tok::Defer),
    (b"and", Tok::And),
    (b"or", Tok::Or),
    (b"not", Tok::Not),
    (b"in", Tok::In),
    (b"is", Tok::Is),
    (b"set", Tok::Set),
    (b"any", Tok::Any),
    (b"all", Tok::All),
    (b"count", Tok::Count),
    (b"true", Tok::True),
    (b"false", Tok::False),
    (b"params", Tok::Params),
    (b"action", Tok::Action),
    (b"identity", Tok::Identity),
];

/// [`RESERVED`] by [`keyword_slot`]: (packed word, token), `(0, Ident)` in an empty slot (no
/// word packs to 0). Built at compile time; two words in one slot is a compile error.
#[allow(clippy::indexing_slicing)] // compile-time indices: a word's bytes (< 16), slots (< 64)
static KEYWORDS: [(u128, Tok); 64] = {
    let mut table = [(0u128, Tok::Ident); 64];
    let mut i = 0;
    while i < RESERVED.len() {
        let (word, tok) = RESERVED[i];
        let mut key = 0u128;
        let mut j = 0;
        while j < word.len() {
            key |= (word[j] as u128) << (8 * j);
            j += 1;
        }
        let slot = keyword_slot(key, word.len());
        assert!(table[slot].0 == 0, "two reserved words share a slot: change keyword_slot");
        table[slot] = (key, tok);
        i += 1;
    }
    table
};

/// The bytes of a word after its first: `[A-Za-z0-9_]`.
static WORD_BYTES: [bool; 256] = byte_table(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");

/// A lookup, not a comparison: a `u8` index is below 256, so the bounds check is optimized away.
fn byte_is(table: &[bool; 256], byte: u8) -> bool {
    table.get(usize::from(byte)).copied().unwrap_or(false)
}

/// Consumes a block comment after its `/*`. Block comments do not nest.
fn block_comment(lex: &mut logos::Lexer<Tok>) -> Tok {
    let rest = lex.remainder();
    match rest.find("*/") {
        Some(end) => {
            lex.bump(end + 2);
            Tok::BlockComment
        }
        None => {
            lex.bump(rest.len());
            Tok::UnterminatedComment
        }
    }
}

/// Consumes a line comment after its `//`: the rest of the line, without the `\n`. Found with
/// `memchr` rather than by the state machine's pattern `//[^\n]*`, which under the fuzzer's
/// comparison tracing sent a callback for every byte (a `\n` is one byte, so the comment ends
/// on a character boundary).
fn line_comment(lex: &mut logos::Lexer<Tok>) -> Tok {
    let rest = lex.remainder();
    lex.bump(memchr::memchr(b'\n', rest.as_bytes()).unwrap_or(rest.len()));
    Tok::LineComment
}

/// Consumes a string after its opening `"`: what the patterns `"([^"\\\n]|\\[^\n])*"` ([`Tok::Str`])
/// and, failing that, `"([^"\\\n]|\\[^\n])*` ([`Tok::UnterminatedStr`]) matched, longest first. A
/// `\` takes the next character with it unless that is a line break or the end, where the
/// unterminated string stops before the `\`. The next `"`, `\` or line break is found with a
/// table ([`string_stop`]) rather than by the state machine's comparison per byte (a traced
/// callback each under the fuzzer; `memchr3`, vectorized, was slower still on the short
/// strings policies hold); every place it stops is an ASCII byte, so every bump ends on a
/// character boundary.
fn string(lex: &mut logos::Lexer<Tok>) -> Tok {
    let rest = lex.remainder();
    let bytes = rest.as_bytes();
    let mut at = 0;
    loop {
        let Some(found) = bytes.get(at..).and_then(|tail| tail.iter().position(|&b| string_stop(b))) else {
            lex.bump(rest.len());
            return Tok::UnterminatedStr;
        };
        let stop = at + found;
        match bytes.get(stop) {
            Some(b'"') => {
                lex.bump(stop + 1);
                return Tok::Str;
            }
            Some(b'\\') => match rest.get(stop + 1..).and_then(|after| after.chars().next()) {
                Some(c) if c != '\n' => at = stop + 1 + c.len_utf8(),
                _ => {
                    lex.bump(stop);
                    return Tok::UnterminatedStr;
                }
            },
            _ => {
                lex.bump(stop);
                return Tok::UnterminatedStr;
            }
        }
    }
}

/// The bytes a string's body stops at: `"`, `\\` and line feed.
static STRING_STOPS: [bool; 256] = byte_table(b"\"\\\n");

/// A table over the byte values: `true` for `bytes`. Built at compile time, where an index out of
/// range would be a compile error (a `u8` is always below 256).
#[allow(clippy::indexing_slicing)]
const fn byte_table(bytes: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        table[bytes[i] as usize] = true;
        i += 1;
    }
    table
}

/// A lookup, not a comparison: the index is below 256, so the bounds check is optimized away,
/// and the `bool` is a branch that comparison tracing does not see.
fn string_stop(byte: u8) -> bool {
    STRING_STOPS.get(usize::from(byte)).copied().unwrap_or(false)
}

impl Tok {
    /// Reserved words. After a `.`, in a field declaration and as a record key they are
    /// ordinary names.
    pub(crate) fn is_keyword(self) -> bool {
        use Tok::*;
        matches!(
            self,
            Policy
                | Use
                | Settings
                | Tool
                | Context
                | Evidence
                | Group
                | Fn
                | Rule
                | Test
                | On
                | Priority
                | When
                | Risk
                | Confidence
                | Reason
                | Allow
                | Deny
                | Modify
                | StepUp
                | Defer
                | And
                | Or
                | Not
                | In
                | Is
                | Set
                | Any
                | All
                | Count
                | True
                | False
                | Params
                | Action
                | Identity
        )
    }

    /// Tokens that start a top-level declaration: where error recovery resumes. The reference of
    /// [`Tok::stops_recovery`]'s table, which recovery reads.
    #[cfg(test)]
    pub(crate) fn starts_item(self) -> bool {
        use Tok::*;
        matches!(self, Policy | Use | Settings | Tool | Context | Evidence | Group | Fn | Rule | Test)
    }

    /// A token that starts a top-level declaration (where error recovery resumes), or
    /// [`Tok::Eof`]: where recovery must look closer. A table
    /// lookup (as are the next two): under the fuzzer a `matches!` is a tracing callback per
    /// comparison, and recovery asks this of every token it skips.
    pub(crate) fn stops_recovery(self) -> bool {
        kind_is(&STOPS_RECOVERY, self)
    }

    /// `self == Tok::Ident`, by table.
    pub(crate) fn is_ident(self) -> bool {
        kind_is(&IDENT, self)
    }

    /// +1 for `{`, -1 for `}`, 0 for any other token, by table.
    pub(crate) fn brace_delta(self) -> i64 {
        i64::from(BRACE_DELTA.get(self as usize).copied().unwrap_or(0))
    }

    /// How the token is named in "expected ..., found ..." messages.
    pub(crate) fn describe(self) -> &'static str {
        use Tok::*;
        match self {
            Policy => "`policy`",
            Use => "`use`",
            Settings => "`settings`",
            Tool => "`tool`",
            Context => "`context`",
            Evidence => "`evidence`",
            Group => "`group`",
            Fn => "`fn`",
            Rule => "`rule`",
            Test => "`test`",
            On => "`on`",
            Priority => "`priority`",
            When => "`when`",
            Risk => "`risk`",
            Confidence => "`confidence`",
            Reason => "`reason`",
            Allow => "`allow`",
            Deny => "`deny`",
            Modify => "`modify`",
            StepUp => "`step_up`",
            Defer => "`defer`",
            And => "`and`",
            Or => "`or`",
            Not => "`not`",
            In => "`in`",
            Is => "`is`",
            Set => "`set`",
            Any => "`any`",
            All => "`all`",
            Count => "`count`",
            True => "`true`",
            False => "`false`",
            Params => "`params`",
            Action => "`action`",
            Identity => "`identity`",
            Ident => "a name",
            Int => "an integer",
            Decimal => "a decimal",
            Duration => "a duration",
            BadNumber => "a malformed number",
            Str | UnterminatedStr => "a string",
            RelPath => "a relative path",
            LineComment | BlockComment | UnterminatedComment => "a comment",
            LBrace => "`{`",
            RBrace => "`}`",
            LParen => "`(`",
            RParen => "`)`",
            LBracket => "`[`",
            RBracket => "`]`",
            Comma => "`,`",
            Semi => "`;`",
            Colon => "`:`",
            Dot => "`.`",
            Question => "`?`",
            Star => "`*`",
            Slash => "`/`",
            Plus => "`+`",
            Minus => "`-`",
            Arrow => "`->`",
            FatArrow => "`=>`",
            Eq => "`=`",
            EqEq => "`==`",
            NotEq => "`!=`",
            Lt => "`<`",
            LtEq => "`<=`",
            Gt => "`>`",
            GtEq => "`>=`",
            At => "`@`",
            Error => "an invalid character",
            Eof => "the end of the file",
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod reserved_words_tests {
    use super::*;

    #[test]
    fn reserved_words_are_exactly_the_keyword_tokens() {
        let mut keyword_tokens = Vec::new();
        for w in RESERVED_WORDS {
            let toks: Vec<Tok> = Tok::lexer(w).map(|t| t.unwrap()).collect();
            assert_eq!(toks.len(), 1, "{w} is one token");
            assert!(toks[0].is_keyword(), "{w} lexes as a reserved word");
            keyword_tokens.push(toks[0]);
        }
        keyword_tokens.dedup();
        assert_eq!(keyword_tokens.len(), RESERVED_WORDS.len(), "each word is its own token");
        // A keyword token the list leaves out would lex some word to a keyword the list does not
        // name: every identifier-shaped word the lexer calls a keyword is in the list.
        let source = include_str!("token.rs");
        for word in source.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.is_empty() || !word.starts_with(|c: char| c.is_ascii_lowercase()) {
                continue;
            }
            let toks: Vec<Tok> = Tok::lexer(word).filter_map(Result::ok).collect();
            if toks.len() == 1 && toks[0].is_keyword() {
                assert!(RESERVED_WORDS.contains(&word), "{word} is a keyword missing from RESERVED_WORDS");
            }
        }
    }
}

/// A table over the token kinds (`Tok as usize`; there are fewer than 256): `true` for `kinds`.
/// Built at compile time, where an index out of range would be a compile error.
#[allow(clippy::indexing_slicing)]
const fn kind_table(kinds: &[Tok]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < kinds.len() {
        table[kinds[i] as usize] = true;
        i += 1;
    }
    table
}

/// A lookup: the index is below 256, so the bounds check is optimized away, and a `bool` read
/// from a table is a branch, not a comparison.
fn kind_is(table: &[bool; 256], kind: Tok) -> bool {
    table.get(kind as usize).copied().unwrap_or(false)
}

static STOPS_RECOVERY: [bool; 256] = {
    use Tok::*;
    kind_table(&[Policy, Use, Settings, Tool, Context, Evidence, Group, Fn, Rule, Test, Eof])
};

static IDENT: [bool; 256] = kind_table(&[Tok::Ident]);

#[allow(clippy::indexing_slicing)] // constant indices below 256
static BRACE_DELTA: [i8; 256] = {
    let mut table = [0i8; 256];
    table[Tok::LBrace as usize] = 1;
    table[Tok::RBrace as usize] = -1;
    table
};

/// The token patterns as they were before strings and line comments got callbacks, kept to test
/// the callbacks against: the two lexers must give the same tokens and spans on every text.
#[cfg(test)]
#[allow(dead_code)] // `Error` and `Eof`, never produced by logos, as in `Tok`
mod former {
    use logos::Logos;

    #[derive(Logos, Clone, Copy, Debug, PartialEq, Eq, Hash)]
    #[logos(skip r"[ \t\r\n\x0C]+")]
    pub(super) enum Tok {
        // ---- reserved words
        #[token("policy")]
        Policy,
        #[token("use")]
        Use,
        #[token("settings")]
        Settings,
        #[token("tool")]
        Tool,
        #[token("context")]
        Context,
        #[token("evidence")]
        Evidence,
        #[token("group")]
        Group,
        #[token("fn")]
        Fn,
        #[token("rule")]
        Rule,
        #[token("test")]
        Test,
        #[token("on")]
        On,
        #[token("priority")]
        Priority,
        #[token("when")]
        When,
        #[token("risk")]
        Risk,
        #[token("confidence")]
        Confidence,
        #[token("reason")]
        Reason,
        #[token("allow")]
        Allow,
        #[token("deny")]
        Deny,
        #[token("modify")]
        Modify,
        #[token("step_up")]
        StepUp,
        #[token("defer")]
        Defer,
        #[token("and")]
        And,
        #[token("or")]
        Or,
        #[token("not")]
        Not,
        #[token("in")]
        In,
        #[token("is")]
        Is,
        #[token("set")]
        Set,
        #[token("any")]
        Any,
        #[token("all")]
        All,
        #[token("count")]
        Count,
        #[token("true")]
        True,
        #[token("false")]
        False,
        #[token("params")]
        Params,
        #[token("action")]
        Action,
        #[token("identity")]
        Identity,

        // ---- words, numbers, text
        #[regex("[A-Za-z_][A-Za-z0-9_]*")]
        Ident,
        #[regex("[0-9][0-9_]*")]
        Int,
        #[regex(r"[0-9][0-9_]*\.[0-9][0-9_]*")]
        Decimal,
        #[regex("[0-9]+[dhms]([0-9]+[dhms])*")]
        Duration,
        /// Digits glued to letters that do not form a duration (`10ms`, `3x`, `1.5h`): one bad token
        /// rather than a number followed by a name.
        #[regex(r"[0-9][0-9_]*(\.[0-9][0-9_]*)?[A-Za-z_][A-Za-z0-9_]*", priority = 1)]
        BadNumber,
        #[regex(r#""([^"\\\n]|\\[^\n])*""#)]
        Str,
        /// A string that reaches the end of its line without a closing quote.
        #[regex(r#""([^"\\\n]|\\[^\n])*"#, priority = 1)]
        UnterminatedStr,
        /// `./common`, `../lib/x`. The first character after the `/` is not a `/`, so that
        /// `params.// comment` is a field access followed by a comment.
        #[regex(r"\.\.?/[A-Za-z0-9_\-.][A-Za-z0-9_\-./]*")]
        RelPath,

        // ---- comments (kept as tokens so the parser can attach `///` docs and the formatter can
        // keep every comment; the parser's cursor skips them)
        #[regex(r"//[^\n]*", allow_greedy = true)]
        LineComment,
        #[token("/*", block_comment)]
        BlockComment,

        // ---- punctuation
        #[token("{")]
        LBrace,
        #[token("}")]
        RBrace,
        #[token("(")]
        LParen,
        #[token(")")]
        RParen,
        #[token("[")]
        LBracket,
        #[token("]")]
        RBracket,
        #[token(",")]
        Comma,
        #[token(";")]
        Semi,
        #[token(":")]
        Colon,
        #[token(".")]
        Dot,
        #[token("?")]
        Question,
        #[token("*")]
        Star,
        #[token("/")]
        Slash,
        #[token("+")]
        Plus,
        #[token("-")]
        Minus,
        #[token("->")]
        Arrow,
        #[token("=>")]
        FatArrow,
        #[token("=")]
        Eq,
        #[token("==")]
        EqEq,
        #[token("!=")]
        NotEq,
        #[token("<")]
        Lt,
        #[token("<=")]
        LtEq,
        #[token(">")]
        Gt,
        #[token(">=")]
        GtEq,
        /// `@`, which starts a field annotation (`@redact`).
        #[token("@")]
        At,

        /// An unterminated `/* ...` comment: it runs to the end of the file.
        UnterminatedComment,
        /// Characters that start no token. Produced by the lexer wrapper, never by logos itself.
        Error,
        /// End of input.
        Eof,
    }

    /// Consumes a block comment after its `/*`. Block comments do not nest.
    pub(super) fn block_comment(lex: &mut logos::Lexer<Tok>) -> Tok {
        let rest = lex.remainder();
        match rest.find("*/") {
            Some(end) => {
                lex.bump(end + 2);
                Tok::BlockComment
            }
            None => {
                lex.bump(rest.len());
                Tok::UnterminatedComment
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod callback_tests {
    use super::*;
    use proptest::prelude::*;

    /// Each token's kind (by name, or the error) and span.
    type Stream = Vec<(String, std::ops::Range<usize>)>;

    /// The stream of the current lexer and of the former patterns.
    fn both(src: &str) -> (Stream, Stream) {
        let mut now = Vec::new();
        let mut lexer = Tok::lexer(src);
        while let Some(t) = lexer.next() {
            now.push((format!("{t:?}"), lexer.span()));
        }
        let mut before = Vec::new();
        let mut lexer = former::Tok::lexer(src);
        while let Some(t) = lexer.next() {
            before.push((format!("{t:?}"), lexer.span()));
        }
        (now, before)
    }

    #[test]
    fn strings_and_line_comments_lex_as_the_former_patterns_did() {
        for src in [
            "",
            "\"",
            "\"abc\"",
            "\"a\\\"b\" x",
            "\"a\\",
            "\"a\\\nb\"",
            "\"open\nnext \"",
            "\"\\é\" \"é\\\"",
            "// c\n//\n/// d\r\n//// e",
            "a // b \"c\" \n d",
            "x //",
            "//* not a block\n/* b */ / //",
            "\"\\\\\" \"\\n\\t\"",
            "in int i in_ _in policy policyx Policy step_up step_upx confidence confidences a1 _ __ x.in",
            &RESERVED_WORDS.join(" "),
            &RESERVED_WORDS.join("_"),
            &RESERVED_WORDS.concat(),
            "abcdefghijklmnopq abcdefghijklmnop 0in 1rule",
            include_str!("../../examples/payments/payments.aarm"),
        ] {
            let (now, before) = both(src);
            assert_eq!(now, before, "{src:?}");
        }
    }

    /// The tables answer as the comparisons they replace, for every kind: lexed from a text
    /// with every token (`Error` from an invalid character, `UnterminatedComment`, `Eof`).
    /// The table of reserved words holds each, in `RESERVED_WORDS`' order.
    #[test]
    fn the_reserved_table_is_the_reserved_words() {
        let words: Vec<&str> = RESERVED.iter().map(|(w, _)| std::str::from_utf8(w).unwrap()).collect();
        assert_eq!(words, RESERVED_WORDS);
        for (word, tok) in RESERVED {
            assert_eq!(keyword(word), Some(*tok));
        }
    }

    #[test]
    fn the_kind_tables_are_the_comparisons() {
        let text = format!(
            "{} x 1 1.5 1h 1x \"s\" ./p // c\n/* b */ {{ }} ( ) [ ] , ; : . ? * / + - -> => = == != < <= > >= @ \"u",
            RESERVED_WORDS.join(" ")
        );
        let mut kinds: Vec<Tok> =
            crate::lexer::lex(crate::span::FileId(0), &text, 0).tokens.iter().map(|t| t.kind).collect();
        kinds.push(Tok::UnterminatedStr);
        kinds.push(Tok::LineComment);
        kinds.push(Tok::BlockComment);
        kinds.push(Tok::BadNumber);
        kinds.extend(crate::lexer::lex(crate::span::FileId(0), "\u{0} /* x", 0).tokens.iter().map(|t| t.kind));
        kinds.push(Tok::UnterminatedComment);
        let mut seen = [false; 256];
        for kind in kinds {
            seen[kind as usize] = true;
            assert_eq!(kind.stops_recovery(), kind.starts_item() || kind == Tok::Eof, "{kind:?}");
            assert_eq!(kind.is_ident(), kind == Tok::Ident, "{kind:?}");
            let delta = match kind {
                Tok::LBrace => 1,
                Tok::RBrace => -1,
                _ => 0,
            };
            assert_eq!(kind.brace_delta(), delta, "{kind:?}");
        }
        // Every kind was tried: the discriminants run from 0 to `Eof`, the last.
        assert!(seen.iter().take(Tok::Eof as usize + 1).all(|&s| s), "every kind");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]
        #[test]
        fn any_text_lexes_as_the_former_patterns_did(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("\""), Just("\\"), Just("\n"), Just("/"), Just("//"), Just("*"), Just(" "),
                    Just("a"), Just("rule"), Just("1"), Just("é"), Just("\r"), Just("."), Just("{"), Just("\u{0}"),
                    Just("in"), Just("_"), Just("Z"), Just("step_up"), Just("confidence"), Just("or"), Just("9"),
                ],
                0..40,
            )
        ) {
            let src: String = parts.concat();
            let (now, before) = both(&src);
            prop_assert_eq!(now, before, "{:?}", src);
        }
    }
}
