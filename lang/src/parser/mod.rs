//! The production parser: hand-written recursive descent over the token stream.
//!
//! It follows `lang/aarm.pest` rule for rule (the differential test holds it to that), recovers
//! from errors at declaration boundaries so that one run reports many errors, and never recurses
//! deeper than [`crate::limits::MAX_NESTING`] levels of nesting.
//!
//! - `mod.rs`: the cursor, error reporting and recovery, files and declarations
//! - `expr.rs`: expressions by precedence level
//! - `rule.rs`: rules and their decisions (`modify`, `step_up`, `defer`), settings limits
//! - `test_block.rs`: `test "..." { ... }` steps
//! - `literal.rs`: decoding strings, numbers and durations
//! - `template.rs`: `{expr}` interpolation in reason messages

mod expr;
mod literal;
mod rule;
mod template;
mod test_block;

pub use literal::{DECIMAL_DIGITS, DECIMAL_LIMIT, DECIMAL_SCALE};

use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic};
use crate::lexer::{lex, RawComment, Token};
use crate::limits::{MAX_DIAGNOSTICS_PER_FILE, MAX_NESTING};
use crate::span::{FileId, Span};
use crate::token::Tok;

/// The result of parsing one file: always a tree (possibly partial) and its diagnostics.
pub struct Parsed {
    /// The tree. When there are errors it is partial: it holds every declaration that parsed,
    /// and a declaration with a syntax error is left out whole.
    pub file: File,
    /// The lexer's diagnostics, then the parser's (syntax, literal values, limits, and the
    /// `W0002` warning for a detached `///`); not sorted by position. At most
    /// [`MAX_DIAGNOSTICS_PER_FILE`] of them, plus one `E0024` that says the rest were skipped.
    pub diagnostics: Vec<Diagnostic>,
    /// The lexer's tokens of the text, kept for the formatter ([`crate::format::format_parsed`])
    /// so that it need not lex the text again; `None` when the parser split a token (`>=` after
    /// a type argument), since the formatter reads the tokens as the lexer made them.
    pub(crate) tokens: Option<Vec<Token>>,
}

/// As `#[derive(Debug)]` wrote it before the tokens were kept: the tree and the diagnostics.
impl std::fmt::Debug for Parsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parsed").field("file", &self.file).field("diagnostics", &self.diagnostics).finish()
    }
}

impl Parsed {
    /// Whether any diagnostic is an error (warnings alone leave the tree complete).
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses one source file. `file` is the id the diagnostics will carry (the text's place in the
/// caller's [`crate::SourceMap`]); spans are byte offsets into `src`. Never panics and never
/// stops at the first error: it skips to the next declaration and keeps going.
pub fn parse(file: FileId, src: &str) -> Parsed {
    let lexed = lex(file, src, 0);
    let mut p = Parser::new(file, src, lexed.tokens, lexed.comments, 0);
    p.diags = lexed.diagnostics;
    let tree = p.parse_file();
    let mut diagnostics = p.diags;
    if diagnostics.len() > MAX_DIAGNOSTICS_PER_FILE {
        diagnostics.truncate(MAX_DIAGNOSTICS_PER_FILE);
        let span = diagnostics.last().map(|d| d.span).unwrap_or_default();
        diagnostics.push(
            Diagnostic::new(
                Code::TooManyErrors,
                file,
                span,
                format!("more than {MAX_DIAGNOSTICS_PER_FILE} problems; the rest of the file was not checked"),
            )
            .with_help("is this really a `.aarm` policy file?"),
        );
    }
    let tokens = if p.split { None } else { Some(p.tokens) };
    Parsed { file: tree, diagnostics, tokens }
}

/// The token at `pos`; past the end, the last one (the lexer ends every stream with `Eof`).
fn current(tokens: &[Token], pos: usize) -> Token {
    tokens.get(pos).or_else(|| tokens.last()).copied().unwrap_or(Token { kind: Tok::Eof, span: Span::default() })
}

/// An error was reported and the current construct is abandoned; recovery happens at the nearest
/// declaration boundary.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fail;

pub(crate) type PResult<T> = Result<T, Fail>;

pub(crate) struct Parser<'src> {
    file: FileId,
    src: &'src str,
    /// Offset of `src` within the file (non-zero when parsing text inside a string literal).
    base: u32,
    tokens: Vec<Token>,
    pos: usize,
    /// `tokens[pos]` (the last token, `Eof`, once past the end): the token the parser looks at
    /// most, kept at hand rather than looked up at every `at`.
    cur: Token,
    comments: Vec<RawComment>,
    /// Which doc comments a declaration took; the others get a warning.
    doc_used: Vec<bool>,
    /// Where [`Self::take_doc`] last started looking: the offset it was given (`after`) and the
    /// number of comments that start before it. Declarations come in source order, so the next
    /// search starts there and walks forward rather than bisecting every comment of the file
    /// again (a binary search of a fuzzed text's hundreds of comments for each of its
    /// declarations was 2.5 % of `format_roundtrip`).
    doc_cursor: (u32, usize),
    pub(crate) diags: Vec<Diagnostic>,
    depth: usize,
    /// Parsing the `{expr}` of a reason message: its end is the closing `}`.
    interpolation: bool,
    /// Whether [`Self::split_token`] changed the lexer's tokens.
    split: bool,
}

impl<'src> Parser<'src> {
    pub(crate) fn new(file: FileId, src: &'src str, tokens: Vec<Token>, comments: Vec<RawComment>, base: u32) -> Self {
        let doc_used = vec![false; comments.len()];
        let cur = current(&tokens, 0);
        Parser {
            file,
            src,
            base,
            tokens,
            pos: 0,
            cur,
            comments,
            doc_used,
            doc_cursor: (0, 0),
            diags: Vec::new(),
            depth: 0,
            interpolation: false,
            split: false,
        }
    }

    // ---- cursor

    fn tok(&self) -> Token {
        // The unit tests (the proptest below among them) hold the cache to the lookup it replaces.
        #[cfg(test)]
        assert_eq!(self.cur, self.nth(0), "the current token is the token at the cursor");
        self.cur
    }

    fn nth(&self, n: usize) -> Token {
        current(&self.tokens, self.pos + n)
    }

    fn kind(&self) -> Tok {
        self.tok().kind
    }

    fn at(&self, kind: Tok) -> bool {
        self.kind() == kind
    }

    fn bump(&mut self) -> Token {
        let t = self.tok();
        if t.kind != Tok::Eof {
            self.pos += 1;
            self.cur = current(&self.tokens, self.pos);
        }
        t
    }

    fn eat(&mut self, kind: Tok) -> Option<Token> {
        if self.at(kind) {
            Some(self.bump())
        } else {
            None
        }
    }

    /// End of the previous token: where a missing token is reported.
    fn prev_end(&self) -> Span {
        match self.pos.checked_sub(1).and_then(|i| self.tokens.get(i)) {
            Some(t) => t.span.end_point(),
            None => Span::new(self.base, self.base),
        }
    }

    fn text(&self, span: Span) -> &'src str {
        let start = span.start.saturating_sub(self.base) as usize;
        let end = span.end.saturating_sub(self.base) as usize;
        self.src.get(start..end).unwrap_or("")
    }

    /// Is the current token the contextual word `word`?
    fn at_word(&self, word: &str) -> bool {
        self.at(Tok::Ident) && self.text(self.tok().span) == word
    }

    fn eat_word(&mut self, word: &str) -> Option<Token> {
        if self.at_word(word) {
            Some(self.bump())
        } else {
            None
        }
    }

    // ---- errors

    pub(crate) fn report(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn found(&self) -> String {
        let t = self.tok();
        match t.kind {
            Tok::Ident => format!("`{}`", truncate(self.text(t.span))),
            Tok::Int | Tok::Decimal | Tok::Duration | Tok::Str => {
                format!("{} `{}`", t.kind.describe(), truncate(self.text(t.span)))
            }
            Tok::Eof if self.interpolation => "`}`".to_string(),
            k => k.describe().to_string(),
        }
    }

    /// Reports "expected X, found Y" at the current token.
    fn unexpected(&mut self, expected: &str) -> Fail {
        let t = self.tok();
        if t.kind == Tok::Error {
            // The lexer already reported these characters.
            return Fail;
        }
        let found = self.found();
        let span = if t.kind == Tok::Eof { self.prev_end() } else { t.span };
        let d = Diagnostic::new(Code::UnexpectedToken, self.file, span, format!("expected {expected}, found {found}"))
            .with_label(format!("expected {expected}"));
        let d = match self.help_for_unexpected(expected) {
            Some(h) => d.with_help(h),
            None => d,
        };
        self.report(d);
        Fail
    }

    fn help_for_unexpected(&self, expected: &str) -> Option<String> {
        let t = self.tok();
        match t.kind {
            Tok::Eq if expected.contains("decision") || expected.contains("operator") => {
                Some("compare with `==`".into())
            }
            Tok::Semi => Some("statements are not separated by `;` in this language".into()),
            Tok::RBrace if expected.contains("decision") => {
                Some("every rule ends with a decision: `allow`, `deny`, `modify { ... }`, `step_up { ... }` or `defer { ... }`".into())
            }
            _ => None,
        }
    }

    fn expect(&mut self, kind: Tok) -> PResult<Token> {
        match self.eat(kind) {
            Some(t) => Ok(t),
            None => Err(self.unexpected(kind.describe())),
        }
    }

    fn expect_word(&mut self, word: &str) -> PResult<Token> {
        match self.eat_word(word) {
            Some(t) => Ok(t),
            None => Err(self.unexpected(&format!("`{word}`"))),
        }
    }

    /// A declared name: an identifier that is not a reserved word.
    fn expect_ident(&mut self, what: &str) -> PResult<Ident> {
        let t = self.tok();
        if t.kind == Tok::Ident {
            self.bump();
            return Ok(Ident { name: self.text(t.span).to_string(), span: t.span });
        }
        if t.kind.is_keyword() {
            let word = self.text(t.span).to_string();
            self.report(
                Diagnostic::new(
                    Code::KeywordAsName,
                    self.file,
                    t.span,
                    format!("`{word}` is a reserved word and cannot be used as {what}"),
                )
                .with_help(format!("choose another name, e.g. `{word}_`")),
            );
            // When what follows belongs to the name (`tool: String` as a parameter, `fn rule(`),
            // take the word as the name and go on, so that one misnamed parameter is one error;
            // otherwise the word may begin the next declaration (`fn` then `rule r on …`), where
            // recovery picks up.
            if matches!(self.nth(1).kind, Tok::Colon | Tok::LParen | Tok::LBrace | Tok::Eq) {
                self.bump();
                return Ok(Ident { name: word, span: t.span });
            }
            return Err(Fail);
        }
        Err(self.unexpected(what))
    }

    /// A field name or record key: any word, reserved or not.
    fn expect_name(&mut self, what: &str) -> PResult<Ident> {
        let t = self.tok();
        if t.kind == Tok::Ident || t.kind.is_keyword() {
            self.bump();
            return Ok(Ident { name: self.text(t.span).to_string(), span: t.span });
        }
        Err(self.unexpected(what))
    }

    fn expect_string(&mut self, what: &str) -> PResult<StrLit> {
        match self.eat(Tok::Str) {
            Some(t) => Ok(self.decode_string(t.span)),
            None => Err(self.unexpected(what)),
        }
    }

    fn expect_int(&mut self, what: &str) -> PResult<IntLit> {
        match self.eat(Tok::Int) {
            Some(t) => Ok(self.int_value(t.span)),
            None => Err(self.unexpected(what)),
        }
    }

    fn expect_duration(&mut self) -> PResult<DurLit> {
        match self.eat(Tok::Duration) {
            Some(t) => Ok(self.duration_value(t.span)),
            None => {
                let f = self.unexpected("a duration");
                if let Some(d) = self.diags.last_mut() {
                    d.help = Some("durations are written like `30s`, `15m`, `2h`, `1d` or `1h30m`".into());
                }
                Err(f)
            }
        }
    }

    /// Splits the current two-character token into two one-character tokens.
    fn split_token(&mut self, first: Tok, second: Tok) {
        let pos = self.pos;
        let Some(t) = self.tokens.get_mut(pos) else { return };
        self.split = true;
        let mid = t.span.start.saturating_add(1);
        let end = t.span.end;
        *t = Token { kind: first, span: Span::new(t.span.start, mid) };
        self.tokens.insert(pos + 1, Token { kind: second, span: Span::new(mid, end) });
        self.cur = current(&self.tokens, pos);
    }

    /// Enters one level of nesting; fails with a limit error past [`MAX_NESTING`].
    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            let span = self.tok().span;
            self.report(
                Diagnostic::new(
                    Code::NestingTooDeep,
                    self.file,
                    span,
                    format!("expression nested more than {MAX_NESTING} levels deep"),
                )
                .with_help("split the condition into smaller `fn`s or several `when` lines"),
            );
            self.depth -= 1;
            return Err(Fail);
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn too_many_errors(&self) -> bool {
        self.diags.len() > MAX_DIAGNOSTICS_PER_FILE
    }

    /// Skips to the next token that can start a declaration outside any braces, or that starts a
    /// line in column one (so that a missing `}` does not swallow the rest of the file).
    /// `item_start` is the token position where the failed declaration began: the braces it
    /// opened count, and when the error came after its first token, the current token may itself
    /// start the next declaration (`fn f() -> Int = x +` followed by `rule ...`).
    fn recover_to_item(&mut self, item_start: usize) {
        let mut depth: i64 = self
            .tokens
            .get(item_start..self.pos)
            .map_or(0, |consumed| consumed.iter().map(|t| t.kind.brace_delta()).sum());
        // Always make progress.
        if self.pos <= item_start && !self.at(Tok::Eof) {
            let t = self.bump();
            depth += t.kind.brace_delta();
        }
        // Every token skipped passes these tests: the kind's are table lookups, not comparisons
        // (under the fuzzer a comparison is a tracing callback, and recovery is most of what
        // parsing a fuzzed text does).
        loop {
            let t = self.tok();
            if t.kind.stops_recovery() {
                if t.kind == Tok::Eof {
                    return;
                }
                if self.at_line_start(t.span) || (depth <= 0 && self.declaration_follows()) {
                    return;
                }
            }
            // `override` is a contextual word: it begins a declaration only as `override on`.
            // A name first (`at_override` is false for any other token), then the line test: it
            // is cheap, and `at_override` compares the word's text.
            if t.kind.is_ident() && depth <= 0 && self.at_line_start(t.span) && self.at_override() {
                return;
            }
            depth += t.kind.brace_delta();
            self.bump();
        }
    }

    /// Outside braces, mid-line: does the declaration keyword here begin a declaration (a name,
    /// a string, a block or a path follows it, or a declaration just ended)? In `a.tool == tool`
    /// the words are parts of an expression, not the next declaration.
    fn declaration_follows(&self) -> bool {
        let ended = self.pos.checked_sub(1).and_then(|i| self.tokens.get(i)).is_some_and(|t| t.kind == Tok::RBrace);
        ended || matches!(self.nth(1).kind, Tok::Ident | Tok::Str | Tok::LBrace | Tok::RelPath)
    }

    fn at_line_start(&self, span: Span) -> bool {
        let start = span.start.saturating_sub(self.base) as usize;
        start == 0 || self.src.as_bytes().get(start.wrapping_sub(1)) == Some(&b'\n')
    }

    // ---- doc comments

    /// The `///` comments between the previous token and the current one.
    fn take_doc(&mut self) -> Option<Doc> {
        let before = self.tok().span.start;
        let after = self.prev_end().start;
        // The lines joined by `\n` as they are found (a string per line, then their join, was
        // most of the cost of a documented declaration).
        let mut text = String::new();
        let mut span: Option<Span> = None;
        // Comments are in source order: start at the first one after the previous token, so that
        // a file of many documented declarations is not quadratic.
        let first = self.first_comment_from(after);
        for (i, c) in self.comments.iter().enumerate().skip(first) {
            if c.span.start >= before {
                break;
            }
            if c.doc && c.span.start >= after && c.span.end <= before {
                if let Some(used) = self.doc_used.get_mut(i) {
                    *used = true;
                }
                let comment = self.text(c.span);
                let line = comment.strip_prefix("///").unwrap_or(comment);
                if span.is_some() {
                    text.push('\n');
                }
                text.push_str(line.strip_prefix(' ').unwrap_or(line).trim_end());
                span = Some(span.map_or(c.span, |s| s.to(c.span)));
            }
        }
        span.map(|span| Doc { text, span })
    }

    /// The number of comments that start before `after`: the first that may follow the previous
    /// token. What `self.comments.partition_point(|c| c.span.start < after)` gives (the comments
    /// are in source order), found by walking on from the last answer when `after` has not moved
    /// back, and by that binary search when it has.
    fn first_comment_from(&mut self, after: u32) -> usize {
        let (last_after, mut first) = self.doc_cursor;
        if after < last_after {
            first = self.comments.partition_point(|c| c.span.start < after);
        } else {
            while self.comments.get(first).is_some_and(|c| c.span.start < after) {
                first += 1;
            }
        }
        self.doc_cursor = (after, first);
        first
    }

    // ---- files and declarations

    fn parse_file(&mut self) -> File {
        let mut file = File::default();
        if self.at(Tok::Policy) {
            let doc = self.take_doc();
            let item_start = self.pos;
            match self.parse_header(doc) {
                Ok(h) => file.header = Some(h),
                Err(Fail) => self.recover_to_item(item_start),
            }
        }
        while !self.at(Tok::Eof) && !self.too_many_errors() {
            let doc = self.take_doc();
            let start = self.tok().span;
            let item_start = self.pos;
            if self.at(Tok::Policy) {
                let what = if file.header.is_some() { "a second policy header" } else { "the policy header" };
                self.report(
                    Diagnostic::new(
                        Code::HeaderNotFirst,
                        self.file,
                        start,
                        format!("{what} must be the first declaration of the file"),
                    )
                    .with_help("move `policy NAME version \"...\"` to the top of the file; one file holds one policy"),
                );
                self.recover_to_item(item_start);
                continue;
            }
            match self.parse_item() {
                Ok(kind) => {
                    let span = start.to(self.prev_end());
                    file.items.push(Item { doc, kind, span });
                }
                Err(Fail) => self.recover_to_item(item_start),
            }
        }
        for (i, c) in self.comments.iter().enumerate() {
            let used = self.doc_used.get(i).copied().unwrap_or(false);
            if c.doc && !used {
                self.diags.push(
                    Diagnostic::new(
                        Code::DetachedDocComment,
                        self.file,
                        c.span,
                        "doc comment is not attached to a declaration",
                    )
                    .with_help("`///` documents the declaration right after it; use `//` for other comments"),
                );
            }
            if !c.doc || !used {
                file.comments.push(Comment { text: self.text(c.span).to_string(), span: c.span });
            }
        }
        file
    }

    fn parse_header(&mut self, doc: Option<Doc>) -> PResult<PolicyHeader> {
        let start = self.expect(Tok::Policy)?.span;
        let name = self.expect_ident("a policy name")?;
        self.expect_word("version")?;
        let version = self.expect_string("the version string, e.g. \"1.0.0\"")?;
        Ok(PolicyHeader { doc, name, version, span: start.to(self.prev_end()) })
    }

    fn parse_item(&mut self) -> PResult<ItemKind> {
        match self.kind() {
            Tok::Use => self.parse_use().map(ItemKind::Use),
            Tok::Settings => self.parse_settings().map(ItemKind::Settings),
            Tok::Tool => {
                self.bump();
                let name = self.expect_ident("a tool name")?;
                self.expect(Tok::LBrace)?;
                let fields = self.parse_fields(Tok::RBrace)?;
                self.expect(Tok::RBrace)?;
                Ok(ItemKind::Tool(ToolDecl { name, fields }))
            }
            Tok::Context => {
                self.bump();
                self.expect(Tok::LBrace)?;
                let fields = self.parse_fields(Tok::RBrace)?;
                self.expect(Tok::RBrace)?;
                Ok(ItemKind::Context(ContextDecl { fields }))
            }
            Tok::Evidence => {
                self.bump();
                let name = self.expect_ident("an evidence name")?;
                self.expect(Tok::Colon)?;
                let ty = self.parse_type()?;
                let source = match self.eat_word("from") {
                    Some(_) => Some(self.expect_string("the evidence source, e.g. \"maintenance_api\"")?),
                    None => None,
                };
                Ok(ItemKind::Evidence(EvidenceDecl { name, ty, source }))
            }
            Tok::Group => {
                self.bump();
                let name = self.expect_ident("a group name")?;
                self.expect(Tok::Eq)?;
                let (members, members_span) = self.parse_string_list()?;
                Ok(ItemKind::Group(GroupDecl { name, members, members_span }))
            }
            Tok::Fn => self.parse_fn().map(ItemKind::Fn),
            Tok::Rule => self.parse_rule().map(ItemKind::Rule),
            Tok::Test => self.parse_test().map(ItemKind::Test),
            Tok::Ident if self.at_override() => self.parse_override().map(ItemKind::Override),
            _ => Err(self.unexpected(
                "a declaration (`rule`, `tool`, `context`, `evidence`, `group`, `fn`, `settings`, `use`, `override` or `test`)",
            )),
        }
    }

    /// `override on …`: the contextual word `override` begins a declaration only when `on`
    /// follows it (elsewhere it is an ordinary name).
    fn at_override(&self) -> bool {
        self.at_word("override") && self.nth(1).kind == Tok::On
    }

    fn parse_override(&mut self) -> PResult<OverrideDecl> {
        self.expect_word("override")?;
        self.expect(Tok::On)?;
        let mut tools = vec![self.expect_ident("a tool name")?];
        while self.eat(Tok::Comma).is_some() {
            tools.push(self.expect_ident("a tool name")?);
        }
        if self.eat_word("by").is_none() {
            let f = self.unexpected("`by`");
            if let Some(d) = self.diags.last_mut() {
                d.help =
                    Some("write who may override: `by role \"ROLE\"`, `by GROUP` or `by [\"a@corp.com\", ...]`".into());
            }
            return Err(f);
        }
        // As in `approvers N of role "R"`: `role` followed by a string names a role.
        let by = if self.at_word("role") && self.nth(1).kind == Tok::Str {
            self.bump();
            ApproverSet::Role(self.expect_string("a role name")?)
        } else {
            self.parse_approver_set()?
        };
        if self.eat_word("for").is_none() {
            let f = self.unexpected("`for`");
            if let Some(d) = self.diags.last_mut() {
                d.help = Some("say how long an override may be acted on, e.g. `for 1h`".into());
            }
            return Err(f);
        }
        let valid = self.expect_duration()?;
        let mut requires = Vec::new();
        if self.eat_word("requires").is_some() {
            requires.push(self.expect_name("a statement the overrider must give (`reason`, `ticket`)")?);
            while self.eat(Tok::Comma).is_some() {
                requires.push(self.expect_name("a statement the overrider must give (`reason`, `ticket`)")?);
            }
        }
        let mut notify = Vec::new();
        if self.eat_word("notify").is_some() {
            notify.push(self.expect_string("a channel name, e.g. \"slack:#security\"")?);
            while self.eat(Tok::Comma).is_some() {
                notify.push(self.expect_string("a channel name")?);
            }
        }
        Ok(OverrideDecl { tools, by, valid, requires, notify })
    }

    fn parse_use(&mut self) -> PResult<UseDecl> {
        self.expect(Tok::Use)?;
        if let Some(t) = self.eat(Tok::RelPath) {
            return Ok(UseDecl::Relative(StrLit { value: self.text(t.span).to_string(), span: t.span }));
        }
        let mut path = vec![self.expect_ident("a module path (`std.text` or `./file`)")?];
        while self.eat(Tok::Dot).is_some() {
            path.push(self.expect_name("a module name")?);
        }
        Ok(UseDecl::Path(path))
    }

    /// `name: Type, ...` up to (not including) `close`; trailing comma allowed.
    fn parse_fields(&mut self, close: Tok) -> PResult<Vec<FieldDecl>> {
        let mut fields = Vec::new();
        while !self.at(close) {
            let doc = self.take_doc();
            let name = self.expect_name("a field name")?;
            self.expect(Tok::Colon)?;
            let ty = self.parse_type()?;
            let redact = self.parse_redact_mark()?;
            let span = name.span.to(redact.unwrap_or(ty.span));
            fields.push(FieldDecl { doc, name, ty, span, redact });
            if self.eat(Tok::Comma).is_none() {
                break;
            }
        }
        Ok(fields)
    }

    /// `@redact` after a field's type: the value is shown as a keyed hash outside the evaluator.
    fn parse_redact_mark(&mut self) -> PResult<Option<Span>> {
        let Some(at) = self.eat(Tok::At) else { return Ok(None) };
        let word = self.expect_word("redact")?;
        Ok(Some(at.span.to(word.span)))
    }

    fn parse_type(&mut self) -> PResult<TypeExpr> {
        self.enter()?;
        let r = self.parse_type_inner();
        self.leave();
        r
    }

    fn parse_type_inner(&mut self) -> PResult<TypeExpr> {
        let start = self.tok().span;
        let kind = if self.eat(Tok::LBrace).is_some() {
            let fields = self.parse_fields(Tok::RBrace)?;
            self.expect(Tok::RBrace)?;
            TypeExprKind::Record(fields)
        } else {
            let name = self
                .expect_ident("a type (`Bool`, `Int`, `Decimal`, `String`, `Duration`, `Time`, `List<T>`, `Set<T>`)")?;
            let arg = if self.eat(Tok::Lt).is_some() {
                let arg = self.parse_type()?;
                // `List<Int>= x` (a `fn` whose return type ends the signature) lexes `>=` as
                // one token; after a type argument it is `>` followed by `=`.
                if self.at(Tok::GtEq) {
                    self.split_token(Tok::Gt, Tok::Eq);
                }
                self.expect(Tok::Gt)?;
                Some(Box::new(arg))
            } else {
                None
            };
            TypeExprKind::Named { name, arg }
        };
        let optional = self.eat(Tok::Question).is_some();
        Ok(TypeExpr { kind, optional, span: start.to(self.prev_end()) })
    }

    /// `["a", "b"]`: a list of string literals.
    fn parse_string_list(&mut self) -> PResult<(Vec<StrLit>, Span)> {
        let start = self.expect(Tok::LBracket)?.span;
        let mut items = Vec::new();
        while !self.at(Tok::RBracket) {
            items.push(self.expect_string("a string")?);
            if self.eat(Tok::Comma).is_none() {
                break;
            }
        }
        let end = self.expect(Tok::RBracket)?.span;
        Ok((items, start.to(end)))
    }

    fn parse_fn(&mut self) -> PResult<FnDecl> {
        self.expect(Tok::Fn)?;
        let name = self.expect_ident("a function name")?;
        self.expect(Tok::LParen)?;
        let mut params = Vec::new();
        while !self.at(Tok::RParen) {
            let pname = self.expect_ident("a parameter name")?;
            self.expect(Tok::Colon)?;
            let ty = self.parse_type()?;
            params.push(FnParam { name: pname, ty });
            if self.eat(Tok::Comma).is_none() {
                break;
            }
        }
        self.expect(Tok::RParen)?;
        self.expect(Tok::Arrow)?;
        let ret = self.parse_type()?;
        self.expect(Tok::Eq)?;
        let body = self.parse_expr()?;
        Ok(FnDecl { name, params, ret, body })
    }

    fn parse_settings(&mut self) -> PResult<SettingsDecl> {
        self.expect(Tok::Settings)?;
        self.expect(Tok::LBrace)?;
        let mut entries = Vec::new();
        while !self.at(Tok::RBrace) {
            let start = self.tok().span;
            let kind = if self.eat_word("default").is_some() {
                if self.eat(Tok::Allow).is_some() {
                    SettingKind::Default(Effect::Allow)
                } else if self.eat(Tok::Deny).is_some() {
                    SettingKind::Default(Effect::Deny)
                } else {
                    return Err(self.unexpected("`allow` or `deny`"));
                }
            } else if self.eat_word("conflict").is_some() {
                if self.eat_word("restrictive").is_some() {
                    SettingKind::Conflict(ConflictMode::Restrictive)
                } else if self.eat(Tok::Defer).is_some() {
                    SettingKind::Conflict(ConflictMode::Defer)
                } else {
                    return Err(self.unexpected("`restrictive` or `defer`"));
                }
            } else if self.eat_word("min_confidence").is_some() {
                SettingKind::MinConfidence(self.parse_number("a confidence between 0 and 1")?)
            } else if self.eat(Tok::Defer).is_some() {
                let mut limits = vec![self.parse_limit()?];
                while self.eat(Tok::Comma).is_some() {
                    limits.push(self.parse_limit()?);
                }
                SettingKind::Defer(limits)
            } else if self.eat(Tok::StepUp).is_some() {
                if !self.at_word("timeout") {
                    return Err(self.unexpected("`timeout`"));
                }
                SettingKind::StepUpTimeout(self.parse_limit()?)
            } else if self.eat_word("allow_valid").is_some() {
                SettingKind::AllowValid(self.expect_duration()?)
            } else if self.eat_word("review").is_some() {
                SettingKind::Review(self.expect_string("the reviewer, a string such as \"security-team\"")?)
            } else if self.eat_word("action_hash_ignores").is_some() {
                let (paths, span) = self.parse_string_list()?;
                SettingKind::ActionHashIgnores(paths, span)
            } else {
                return Err(self.unexpected(
                    "a setting (`default`, `conflict`, `min_confidence`, `defer`, `step_up`, `allow_valid`, `review`, `action_hash_ignores`) or `}`",
                ));
            };
            entries.push(Setting { kind, span: start.to(self.prev_end()) });
        }
        self.expect(Tok::RBrace)?;
        Ok(SettingsDecl { entries })
    }

    /// A decimal or an integer literal, in units of 10^-18.
    fn parse_number(&mut self, what: &str) -> PResult<DecLit> {
        match self.kind() {
            Tok::Int | Tok::Decimal => {
                let t = self.bump();
                Ok(self.decimal_value(t.span))
            }
            _ => Err(self.unexpected(what)),
        }
    }
}

fn truncate(s: &str) -> String {
    if s.chars().count() > 40 {
        let mut t: String = s.chars().take(40).collect();
        t.push('…');
        t
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod cursor_tests {
    use super::*;
    use proptest::strategy::Strategy;

    /// Sources of declaration and expression fragments in any order, broken and not, with the
    /// `>=` that closes a type argument (the one token the parser splits).
    fn fragments() -> impl Strategy<Value = String> {
        let piece = proptest::sample::select(vec![
            "policy p version \"1\"\n",
            "tool t { a: Int, b: List<String>? }\n",
            "rule r on t {",
            "when",
            "deny",
            "allow",
            "}",
            "{",
            "(",
            ")",
            "params.a",
            ">=",
            "<",
            ">",
            "1",
            "1.5",
            "5m",
            "\"s\"",
            "and",
            "or",
            "not",
            "x",
            "fn f(a: List<Int>)-> Bool = a.len() > 0\n",
            "test \"t\" {",
            "expect deny",
            "group g = [\"a\"]\n",
            "evidence e: Bool from \"s\"\n",
            "settings {",
            "reason \"{params.a}\"",
            ",",
            ":",
            "=",
            "\n",
            "/// d\n",
            "// c\n",
            "any y in [1]:",
            "List<Set<Int>>=",
            "fn g() -> List<Int>= [1]\n",
            "fn h() -> Set<List<Int>>= x\n",
            "@",
            "!",
            "use std.text\n",
            "override on t {",
        ]);
        proptest::collection::vec(piece, 0..40).prop_map(|p| p.join(" "))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1500))]

        /// A declaration's doc is its `///` lines, prefix and one space off and trailing blanks
        /// trimmed, joined by line breaks: what joining a string per line gave.
        #[test]
        fn doc_text_is_the_joined_lines(lines in proptest::collection::vec("(/// ?|////|// )[a-z \t\\/é]{0,12}", 1..6)) {
            let src = format!("{}\ntool t {{ a: Int }}\n", lines.join("\n"));
            let parsed = parse(FileId(0), &src);
            let doc = parsed.file.items.first().and_then(|i| i.doc.as_ref()).map(|d| d.text.clone());
            let joined: Vec<String> = lines
                .iter()
                .filter(|l| l.starts_with("///") && !l.starts_with("////"))
                .map(|l| {
                    let line = l.strip_prefix("///").unwrap_or(l);
                    line.strip_prefix(' ').unwrap_or(line).trim_end().to_string()
                })
                .collect();
            let expected = if joined.is_empty() { None } else { Some(joined.join("\n")) };
            proptest::prop_assert_eq!(doc, expected);
        }

        /// Parsing never lets the kept current token drift from the token at the cursor (the
        /// assertion in `tok` fails if it does).
        #[test]
        fn the_current_token_is_always_the_one_at_the_cursor(src in fragments()) {
            let _ = parse(FileId(0), &src);
        }
    }
}

#[cfg(test)]
mod doc_cursor_tests {
    use super::Parser;
    use crate::lexer::RawComment;
    use crate::span::{FileId, Span};

    /// `first_comment_from` is the binary search it replaced (`partition_point` over the
    /// comments' starts), for every sequence of offsets: rising (as declarations come), falling
    /// back, repeated, past the end; on files of no comment, one, and many at random places.
    #[test]
    fn the_cursor_finds_what_bisecting_finds() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..2_000 {
            let n = match round % 4 {
                0 => 0,
                1 => 1,
                _ => (next() % 60) as usize,
            };
            let mut starts: Vec<u32> = (0..n).map(|_| (next() % 500) as u32).collect();
            starts.sort_unstable();
            let comments: Vec<RawComment> =
                starts.iter().map(|&s| RawComment { span: Span::new(s, s + 3), doc: next() % 2 == 0 }).collect();
            let mut p = Parser::new(FileId(0), "", Vec::new(), comments.clone(), 0);
            let mut after = 0u32;
            for _ in 0..40 {
                after = match next() % 5 {
                    0 => after.saturating_sub((next() % 100) as u32),
                    1 => after,
                    2 => starts.get((next() % (n as u64 + 1)) as usize).copied().unwrap_or(600),
                    _ => after + (next() % 80) as u32,
                };
                let expected = comments.partition_point(|c| c.span.start < after);
                assert_eq!(p.first_comment_from(after), expected, "{starts:?} at {after}");
            }
        }
    }
}
