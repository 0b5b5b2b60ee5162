//! `aarm fmt`: the one canonical layout of a `.aarm` file (REFERENCE.md, "Formatting").
//!
//! The formatter pretty-prints the syntax tree; it never reorders declarations and never changes
//! what a file means (the tests reparse the output and compare trees). Literals (numbers,
//! durations, reason messages) are printed as the author wrote them; plain strings are re-escaped
//! canonically.
//!
//! Comments are not part of the tree's shape, so they are put back by position: the printer walks
//! the source tokens in step with what it prints, and before printing a token it emits every
//! comment that came before that token in the source. A comment that shared its line with the
//! token before it stays at the end of that line; any other comment gets a line of its own,
//! indented like what follows it. `///` docs are printed from the tree's `doc` fields.

use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::lexer::{lex, Token};
use crate::parser::Parsed;
use crate::span::{FileId, Span};
use crate::token::Tok;
use std::fmt;

/// Lines are kept under this many columns where the content allows.
pub const MAX_WIDTH: usize = 100;
/// One level of block indentation.
const INDENT: usize = 2;
/// Extra indentation of a continuation line (a broken condition, a comment inside a line).
const CONT: usize = 2;

/// The source has syntax errors: it is not formatted.
#[derive(Debug, Clone)]
pub struct FormatError {
    /// The parser's error diagnostics (file id 0).
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the file has {} syntax error(s) and was not formatted", self.diagnostics.len())
    }
}

impl std::error::Error for FormatError {}

/// Formats one source file. Fails, changing nothing, when the parser reports any error (a tree
/// recovered from errors is missing pieces of the file).
pub fn format(src: &str) -> Result<String, FormatError> {
    format_parsed(src, &crate::parse(FileId(0), src))
}

/// [`format`] for a caller that has already parsed `src` (as `crate::parse(FileId(0), src)`) and
/// needs the tree too, so the text is not parsed twice: a round-trip check that compares the
/// tree before and after. Given the parse of another text, the output is meaningless (but it
/// never panics).
pub fn format_parsed(src: &str, parsed: &Parsed) -> Result<String, FormatError> {
    let errors: Vec<Diagnostic> = parsed.diagnostics.iter().filter(|d| d.is_error()).cloned().collect();
    if !errors.is_empty() {
        return Err(FormatError { diagnostics: errors });
    }
    // The parse's tokens when it kept them (they are the lexer's tokens of the text it parsed,
    // `src` when the caller keeps to the contract), else the text lexed again. Either way the
    // stream ends with its one `Eof` (`Lexed::tokens`), which the printer does without.
    let mut tokens = match &parsed.tokens {
        Some(tokens) => tokens.clone(),
        None => lex(FileId(0), src, 0).tokens,
    };
    if tokens.last().is_some_and(|t| t.kind == Tok::Eof) {
        tokens.pop();
    }
    let mut p = Printer::new(src, tokens, &parsed.file.comments);
    p.file(&parsed.file);
    Ok(p.finish())
}

struct Printer<'a> {
    src: &'a str,
    /// The source tokens (no comments, no end marker) and the next one to print.
    toks: Vec<Token>,
    cur: usize,
    comments: &'a [Comment],
    next_comment: usize,
    /// End of the last source token or comment printed: blank lines are looked for after it.
    prev_end: u32,
    out: String,
    indent: usize,
    /// Line breaks owed before the next text: how many (1, or 2 for a blank line) and the
    /// indentation of the new line.
    pending: Option<(usize, usize)>,
    want_space: bool,
    /// Measuring: never break a construct.
    flat: bool,
    /// The current output line is an own-line comment, or ends in a `//` comment: a further
    /// comment goes on a line of its own.
    comment_line: bool,
}

impl<'a> Printer<'a> {
    fn new(src: &'a str, toks: Vec<Token>, comments: &'a [Comment]) -> Self {
        Printer {
            src,
            toks,
            cur: 0,
            comments,
            next_comment: 0,
            prev_end: 0,
            out: String::new(),
            indent: 0,
            pending: None,
            want_space: false,
            flat: false,
            comment_line: false,
        }
    }

    fn finish(mut self) -> String {
        self.nl();
        self.flush_comments(u32::MAX);
        let mut out = self.out;
        while out.ends_with('\n') {
            out.pop();
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out
    }

    // ---- measuring

    /// What `f` prints on an empty line with no comments and every construct unbroken.
    fn measure(&self, f: impl FnOnce(&mut Printer<'a>)) -> String {
        let mut p = Printer::new(self.src, Vec::new(), &[]);
        p.flat = true;
        f(&mut p);
        p.out
    }

    /// What `f` prints at column 0 with no comments, constructs breaking where they must.
    fn render_alone(&self, f: impl FnOnce(&mut Printer<'a>)) -> String {
        let mut p = Printer::new(self.src, Vec::new(), &[]);
        f(&mut p);
        p.out
    }

    fn column(&self) -> usize {
        match self.pending {
            Some((_, indent)) => indent,
            None => {
                let line = self.out.rsplit('\n').next().unwrap_or("");
                line.chars().count() + usize::from(self.want_space)
            }
        }
    }

    /// Does `text` fit on the current line, and is `span` free of comments?
    fn fits(&self, text: &str, span: Span) -> bool {
        !self.has_comment_in(span) && !text.contains('\n') && self.column() + text.chars().count() <= MAX_WIDTH
    }

    fn has_comment_in(&self, span: Span) -> bool {
        let i = self.comments.partition_point(|c| c.span.start < span.start);
        self.comments.get(i).is_some_and(|c| c.span.start < span.end)
    }

    // ---- writing

    fn space(&mut self) {
        self.want_space = true;
    }

    /// A line break before the next text.
    fn nl(&mut self) {
        let n = self.pending.map_or(1, |(n, _)| n.max(1));
        self.pending = Some((n, self.indent));
    }

    /// A blank line before the next text.
    fn blank(&mut self) {
        self.pending = Some((2, self.indent));
    }

    /// A blank line if the author left one between `prev_end` and `start`, else a line break.
    fn sep(&mut self, prev_end: Option<u32>, start: u32) {
        match prev_end {
            Some(end) if self.blank_in(end, start) => self.blank(),
            _ => self.nl(),
        }
    }

    fn blank_in(&self, start: u32, end: u32) -> bool {
        let text = self.src.get(start as usize..end as usize).unwrap_or("");
        let mut lines = text.split('\n');
        lines.next();
        let mut lines: Vec<&str> = lines.collect();
        // The last piece is the start of the line that holds `end`, not a whole line.
        lines.pop();
        lines.iter().any(|l| l.trim().is_empty())
    }

    fn after_open(&self) -> bool {
        matches!(self.out.trim_end().chars().last(), None | Some('{' | '[' | '('))
    }

    fn materialize(&mut self) {
        if let Some((n, indent)) = self.pending.take() {
            if !self.out.is_empty() {
                let n = if self.after_open() { 1 } else { n };
                for _ in 0..n {
                    self.out.push('\n');
                }
                self.comment_line = false;
                self.out.extend(std::iter::repeat_n(' ', indent));
            }
            self.want_space = false;
        } else if self.want_space {
            if !self.out.is_empty() && !self.out.ends_with([' ', '\n']) {
                self.out.push(' ');
            }
            self.want_space = false;
        }
    }

    fn emit(&mut self, text: &str) {
        self.materialize();
        self.out.push_str(text);
    }

    // ---- comments and the source cursor

    fn is_trailing(&self, start: u32) -> bool {
        let before = self.src.get(..start as usize).unwrap_or("");
        match before.trim_end_matches([' ', '\t', '\r']).chars().last() {
            None | Some('\n') => false,
            Some(_) => true,
        }
    }

    /// Emits every comment that starts before `pos`.
    fn flush_comments(&mut self, pos: u32) {
        while let Some(c) = self.comments.get(self.next_comment) {
            if c.span.start >= pos {
                break;
            }
            self.next_comment += 1;
            let is_line = c.text.starts_with("//");
            if self.is_trailing(c.span.start) && !self.out.is_empty() && !self.comment_line {
                self.out.push(' ');
                self.out.push_str(&c.text);
                if is_line && self.pending.is_none() {
                    self.pending = Some((1, self.indent + CONT));
                }
                self.want_space = true;
            } else {
                let (n, indent) = self.pending.unwrap_or((1, self.indent + CONT));
                let n = if self.blank_in(self.prev_end, c.span.start) { 2 } else { n };
                self.pending = Some((n, indent));
                self.emit(&c.text);
                // The next thing in the source: a comment or the token about to be printed.
                let next = self.comments.get(self.next_comment).map_or(pos, |n| n.span.start.min(pos));
                let closing = matches!(
                    self.src.get(next as usize..).and_then(|s| s.chars().next()),
                    None | Some('}' | ']' | ')')
                );
                let after = if !closing && self.blank_in(c.span.end, next) { 2 } else { 1 };
                self.pending = Some((after, indent));
                self.comment_line = true;
            }
            self.prev_end = c.span.end;
            self.comment_line |= is_line;
        }
    }

    /// Skips source commas and semicolons that are not printed (trailing commas of a list laid
    /// out on one line, `;` in `modify`), unless `text` is one.
    fn skip_dropped(&mut self, text: &str) {
        while let Some(t) = self.toks.get(self.cur) {
            let dropped = (t.kind == Tok::Comma && text != ",") || (t.kind == Tok::Semi && text != ";");
            if !dropped {
                break;
            }
            self.cur += 1;
        }
    }

    /// A keyword or punctuation token, printed as `text`.
    fn kw(&mut self, text: &str) {
        self.skip_dropped(text);
        if let Some(t) = self.toks.get(self.cur).copied() {
            self.flush_comments(t.span.start);
            if text == ">" && t.kind == Tok::GtEq {
                // `List<Int>= x`: the lexer's `>=` is `>` then `=`.
                if let Some(tok) = self.toks.get_mut(self.cur) {
                    tok.kind = Tok::Eq;
                    tok.span.start = tok.span.start.saturating_add(1);
                }
            } else {
                self.cur += 1;
            }
            self.prev_end = t.span.end;
        }
        self.emit(text);
    }

    /// A comma that the layout wants: printed whether or not the author wrote it.
    /// A keyword and the one space after it (`rule `, `timeout `, `-> `).
    fn kw_space(&mut self, text: &str) {
        self.kw(text);
        self.space();
    }

    fn comma(&mut self) {
        if self.toks.get(self.cur).is_some_and(|t| t.kind == Tok::Comma) {
            self.kw(",");
        } else {
            self.emit(",");
        }
    }

    /// A token with a known span, printed as `text`.
    fn atom(&mut self, text: &str, span: Span) {
        self.flush_comments(span.start);
        while self.toks.get(self.cur).is_some_and(|t| t.span.start < span.end) {
            self.cur += 1;
        }
        if !self.toks.is_empty() {
            self.prev_end = self.prev_end.max(span.end);
        }
        self.emit(text);
    }

    /// A token printed exactly as written.
    fn verbatim(&mut self, span: Span) {
        let text = self.src.get(span.range()).unwrap_or("").to_string();
        self.atom(&text, span);
    }

    /// The next source token, exactly as written (used where the tree's span covers more).
    fn next_verbatim(&mut self) {
        self.skip_dropped("");
        if let Some(t) = self.toks.get(self.cur).copied() {
            self.verbatim(t.span);
        }
    }

    fn ident(&mut self, id: &Ident) {
        self.atom(&id.name, id.span);
    }

    fn string(&mut self, s: &StrLit) {
        self.atom(&escape(&s.value), s.span);
    }

    /// `///` lines before a declaration or field.
    fn doc(&mut self, doc: &Option<Doc>) {
        let Some(doc) = doc else { return };
        self.flush_comments(doc.span.start);
        for line in doc.text.split('\n') {
            if line.is_empty() {
                self.emit("///");
            } else {
                self.emit(&format!("/// {line}"));
            }
            self.nl();
        }
        if !self.toks.is_empty() {
            self.prev_end = self.prev_end.max(doc.span.end);
        }
    }

    // ---- files and declarations

    fn file(&mut self, file: &File) {
        let mut prev: Option<(&Item, bool)> = None;
        if let Some(h) = &file.header {
            self.nl();
            self.doc(&h.doc);
            self.kw_space("policy");
            self.ident(&h.name);
            self.space();
            self.kw_space("version");
            self.string(&h.version);
        }
        for item in &file.items {
            let compact = self.is_compact(item);
            let start = item.doc.as_ref().map_or(item.span.start, |d| d.span.start);
            match prev {
                Some((p, p_compact))
                    if compact && p_compact && same_kind(&p.kind, &item.kind) && !self.blank_in(p.span.end, start) =>
                {
                    self.nl()
                }
                None if file.header.is_none() => self.nl(),
                _ => self.blank(),
            }
            self.item(item);
            prev = Some((item, compact));
        }
    }

    /// A one-line declaration that may sit right under one of its kind (`use`, `evidence`,
    /// `group`, `tool`, `fn`).
    fn is_compact(&self, item: &Item) -> bool {
        let kind_ok = matches!(
            item.kind,
            ItemKind::Use(_)
                | ItemKind::Evidence(_)
                | ItemKind::Group(_)
                | ItemKind::Tool(_)
                | ItemKind::Fn(_)
                | ItemKind::Override(_)
        );
        if !kind_ok || item.doc.is_some() || self.has_comment_in(item.span) {
            return false;
        }
        let text = self.render_alone(|p| p.item(item));
        !text.trim_start().contains('\n') && text.trim().chars().count() <= MAX_WIDTH
    }

    fn item(&mut self, item: &Item) {
        self.doc(&item.doc);
        match &item.kind {
            ItemKind::Use(u) => {
                self.kw_space("use");
                match u {
                    UseDecl::Path(parts) => {
                        for (i, part) in parts.iter().enumerate() {
                            if i > 0 {
                                self.kw(".");
                            }
                            self.ident(part);
                        }
                    }
                    UseDecl::Relative(path) => self.atom(&path.value, path.span),
                }
            }
            ItemKind::Settings(s) => self.settings(s, item.span),
            ItemKind::Tool(t) => {
                self.kw_space("tool");
                self.ident(&t.name);
                self.space();
                self.fields_block(&t.fields, item.span);
            }
            ItemKind::Context(c) => {
                self.kw_space("context");
                self.fields_block(&c.fields, item.span);
            }
            ItemKind::Evidence(e) => {
                self.kw_space("evidence");
                self.ident(&e.name);
                self.kw_space(":");
                self.type_expr(&e.ty);
                if let Some(source) = &e.source {
                    self.space();
                    self.kw_space("from");
                    self.string(source);
                }
            }
            ItemKind::Group(g) => {
                self.kw_space("group");
                self.ident(&g.name);
                self.space();
                self.kw_space("=");
                self.string_list(&g.members, g.members_span);
            }
            ItemKind::Fn(f) => self.fn_decl(f),
            ItemKind::Rule(r) => self.rule(r, item.span),
            ItemKind::Test(t) => self.test(t, item.span),
            ItemKind::Override(o) => self.override_decl(o),
        }
    }

    /// `override on a, b by role "R" for 1h requires reason, ticket notify "c"`, on one line.
    fn override_decl(&mut self, o: &OverrideDecl) {
        self.kw_space("override");
        self.kw_space("on");
        for (i, t) in o.tools.iter().enumerate() {
            if i > 0 {
                self.kw_space(",");
            }
            self.ident(t);
        }
        self.space();
        self.kw_space("by");
        self.approver_set(&o.by);
        self.space();
        self.kw_space("for");
        self.verbatim(o.valid.span);
        if !o.requires.is_empty() {
            self.space();
            self.kw_space("requires");
            for (i, r) in o.requires.iter().enumerate() {
                if i > 0 {
                    self.kw_space(",");
                }
                self.ident(r);
            }
        }
        if !o.notify.is_empty() {
            self.space();
            self.kw("notify");
            for (i, ch) in o.notify.iter().enumerate() {
                if i > 0 {
                    self.kw(",");
                }
                self.space();
                self.string(ch);
            }
        }
    }

    /// `{ a: T, b: U }` on one line when it fits and nothing is documented or commented;
    /// otherwise one field per line with trailing commas.
    /// Opens a block with `{`; an empty one (no items, no comments inside) closes at once and
    /// returns false.
    fn open_block(&mut self, empty: bool, span: Span) -> bool {
        self.kw("{");
        if empty && !self.has_comment_in(span) {
            self.kw("}");
            return false;
        }
        true
    }

    /// Inside an opened block: one item per line, indented one level, keeping the author's blank
    /// lines between items (`span_of` says where each starts and ends). Returns where the last
    /// item ends; the block stays indented until [`Printer::close_block`].
    fn item_lines<T>(
        &mut self,
        items: &[T],
        span_of: impl Fn(&T) -> Span,
        mut each: impl FnMut(&mut Self, &T),
    ) -> Option<u32> {
        self.indent += INDENT;
        let mut prev_end = None;
        for x in items {
            let span = span_of(x);
            self.sep(prev_end, span.start);
            each(self, x);
            prev_end = Some(span.end);
        }
        prev_end
    }

    /// Ends a block [`Printer::item_lines`] indented: `}` on its own line. `brace` is the closing
    /// brace's place in the source, when comments before it must stay inside the block.
    fn close_block(&mut self, brace: Option<Span>) {
        self.indent -= INDENT;
        self.nl();
        match brace {
            Some(span) => self.atom("}", span),
            None => self.kw("}"),
        }
    }

    fn fields_block(&mut self, fields: &[FieldDecl], span: Span) {
        if fields.is_empty() && !self.has_comment_in(span) {
            self.kw("{");
            self.kw("}");
            return;
        }
        let documented = fields.iter().any(|f| f.doc.is_some());
        let flat = self.measure(|p| p.fields_flat(fields));
        if self.flat || (!documented && self.fits(&flat, span)) {
            self.fields_flat(fields);
            return;
        }
        self.kw("{");
        let span_of = |f: &FieldDecl| Span::new(f.doc.as_ref().map_or(f.span.start, |d| d.span.start), f.span.end);
        self.item_lines(fields, span_of, |p, f| {
            p.doc(&f.doc);
            p.field(f);
            p.comma();
        });
        self.close_block(None);
    }

    fn fields_flat(&mut self, fields: &[FieldDecl]) {
        self.braced_flat(fields, Self::field);
    }

    /// `{ a, b }` on one line (`{}` when empty): tool fields, record types and record values.
    fn braced_flat<T>(&mut self, items: &[T], mut item: impl FnMut(&mut Self, &T)) {
        self.kw("{");
        if items.is_empty() {
            self.kw("}");
            return;
        }
        self.space();
        for (i, x) in items.iter().enumerate() {
            if i > 0 {
                self.kw_space(",");
            }
            item(self, x);
        }
        self.space();
        self.kw("}");
    }

    fn field(&mut self, f: &FieldDecl) {
        self.ident(&f.name);
        self.kw_space(":");
        self.type_expr(&f.ty);
        if f.redact.is_some() {
            self.space();
            self.kw("@redact");
        }
    }

    fn type_expr(&mut self, ty: &TypeExpr) {
        match &ty.kind {
            TypeExprKind::Named { name, arg } => {
                self.ident(name);
                if let Some(arg) = arg {
                    self.kw("<");
                    self.type_expr(arg);
                    self.kw(">");
                }
            }
            TypeExprKind::Record(fields) => self.fields_block(fields, ty.span),
        }
        if ty.optional {
            self.kw("?");
        }
    }

    /// `["a", "b"]`, or one string per line when that does not fit.
    fn string_list(&mut self, items: &[StrLit], span: Span) {
        let flat = self.measure(|p| p.string_list_flat(items));
        if self.flat || items.is_empty() || self.fits(&flat, span) {
            self.string_list_flat(items);
            return;
        }
        self.kw("[");
        self.one_per_line(items, Self::string);
        self.kw("]");
    }

    fn string_list_flat(&mut self, items: &[StrLit]) {
        self.kw("[");
        for (i, s) in items.iter().enumerate() {
            if i > 0 {
                self.kw_space(",");
            }
            self.string(s);
        }
        self.kw("]");
    }

    fn fn_decl(&mut self, f: &FnDecl) {
        self.kw_space("fn");
        self.ident(&f.name);
        self.kw("(");
        for (i, param) in f.params.iter().enumerate() {
            if i > 0 {
                self.kw_space(",");
            }
            self.ident(&param.name);
            self.kw_space(":");
            self.type_expr(&param.ty);
        }
        self.kw_space(")");
        self.kw_space("->");
        self.type_expr(&f.ret);
        self.space();
        self.kw("=");
        let body = self.measure(|p| p.expr(&f.body));
        if self.flat || self.column() + 1 + body.chars().count() <= MAX_WIDTH || self.has_comment_in(f.body.span) {
            self.space();
            self.expr(&f.body);
        } else {
            self.indent += INDENT;
            self.nl();
            self.expr(&f.body);
            self.indent -= INDENT;
        }
    }

    fn settings(&mut self, s: &SettingsDecl, span: Span) {
        self.kw_space("settings");
        if !self.open_block(s.entries.is_empty(), span) {
            return;
        }
        self.item_lines(&s.entries, |e| e.span, |p, e| p.setting(e));
        self.close_block(None);
    }

    fn setting(&mut self, e: &Setting) {
        match &e.kind {
            SettingKind::Default(effect) => {
                self.kw_space("default");
                self.kw(match effect {
                    Effect::Allow => "allow",
                    Effect::Deny => "deny",
                });
            }
            SettingKind::Conflict(mode) => {
                self.kw_space("conflict");
                self.kw(match mode {
                    ConflictMode::Restrictive => "restrictive",
                    ConflictMode::Defer => "defer",
                });
            }
            SettingKind::MinConfidence(d) => {
                self.kw_space("min_confidence");
                self.verbatim(d.span);
            }
            SettingKind::Defer(limits) => {
                self.kw("defer");
                for (i, l) in limits.iter().enumerate() {
                    if i > 0 {
                        self.kw(",");
                    }
                    self.space();
                    self.limit(l);
                }
            }
            SettingKind::StepUpTimeout(l) => {
                self.kw_space("step_up");
                self.limit(l);
            }
            SettingKind::AllowValid(d) => {
                self.kw_space("allow_valid");
                self.verbatim(d.span);
            }
            SettingKind::Review(s) => {
                self.kw_space("review");
                self.string(s);
            }
            SettingKind::ActionHashIgnores(paths, span) => {
                self.kw_space("action_hash_ignores");
                self.string_list(paths, *span);
            }
        }
    }

    // ---- rules

    fn rule(&mut self, r: &RuleDecl, span: Span) {
        self.kw_space("rule");
        self.ident(&r.name);
        self.space();
        self.kw_space("on");
        match &r.targets {
            Targets::All(s) => self.atom("*", *s),
            Targets::Tools(tools) => {
                for (i, t) in tools.iter().enumerate() {
                    if i > 0 {
                        self.kw_space(",");
                    }
                    self.ident(t);
                }
            }
        }
        if let Some(p) = &r.priority {
            self.space();
            self.kw_space("priority");
            if p.value < 0 || self.src.get(p.span.range()).is_some_and(|t| t.starts_with('-')) {
                self.kw("-");
            }
            if self.toks.is_empty() {
                // Measuring: no source cursor.
                let text = self.src.get(p.span.range()).unwrap_or("");
                self.emit(text.trim_start_matches('-').trim_start());
            } else {
                self.next_verbatim();
            }
        }
        self.space();
        self.kw("{");
        let span_of = |c: &RuleClause| match c {
            RuleClause::When(e) => e.span,
            RuleClause::Risk(l) => l.span,
            RuleClause::Confidence(d) => d.span,
            RuleClause::Valid(d) => d.span,
        };
        let prev_end = self.item_lines(&r.clauses, span_of, |p, c| p.rule_clause(c));
        self.sep(prev_end, r.decision.span.start);
        self.decision(&r.decision);
        if let Some(reason) = &r.reason {
            self.sep(Some(r.decision.span.end), reason.span.start);
            self.kw_space("reason");
            self.string(&reason.code);
            let msg = self.src.get(reason.message.span.range()).unwrap_or("");
            if self.column() + 1 + msg.chars().count() > MAX_WIDTH && !self.flat {
                self.indent += CONT;
                self.nl();
                self.verbatim(reason.message.span);
                self.indent -= CONT;
            } else {
                self.space();
                self.verbatim(reason.message.span);
            }
        }
        self.close_block(Some(Span::new(span.end.saturating_sub(1), span.end)));
    }

    fn rule_clause(&mut self, c: &RuleClause) {
        match c {
            RuleClause::When(e) => {
                self.kw_space("when");
                self.expr(e);
            }
            RuleClause::Risk(l) => {
                self.kw_space("risk");
                self.atom(l.level.as_str(), l.span);
            }
            RuleClause::Confidence(d) => {
                self.kw_space("confidence");
                self.verbatim(d.span);
            }
            RuleClause::Valid(d) => {
                self.kw_space("valid");
                self.verbatim(d.span);
            }
        }
    }

    fn decision(&mut self, d: &Decision) {
        match &d.kind {
            DecisionKind::Allow => self.kw("allow"),
            DecisionKind::Deny => self.kw("deny"),
            DecisionKind::Modify(assignments) => {
                self.kw_space("modify");
                if !self.open_block(assignments.is_empty(), d.span) {
                    return;
                }
                self.item_lines(
                    assignments,
                    |a| a.span,
                    |p, a| {
                        p.kw("params");
                        p.kw(".");
                        p.ident(&a.field);
                        p.space();
                        p.kw_space("=");
                        p.expr(&a.value);
                    },
                );
                self.close_block(None);
            }
            DecisionKind::StepUp(b) => {
                self.kw_space("step_up");
                self.step_up_block(b);
            }
            DecisionKind::Defer(b) => {
                self.kw_space("defer");
                if !self.open_block(b.clauses.is_empty(), b.span) {
                    return;
                }
                let span_of = |c: &DeferClause| match c {
                    DeferClause::Need(_, span) => *span,
                    DeferClause::Limit(l) => l.span,
                };
                self.item_lines(&b.clauses, span_of, |p, c| match c {
                    DeferClause::Need(names, _) => {
                        p.kw("need");
                        for (i, n) in names.iter().enumerate() {
                            if i > 0 {
                                p.kw(",");
                            }
                            p.space();
                            p.ident(n);
                        }
                    }
                    DeferClause::Limit(l) => p.limit(l),
                });
                self.close_block(None);
            }
        }
    }

    fn step_up_block(&mut self, b: &StepUpBlock) {
        if !self.open_block(b.clauses.is_empty(), b.span) {
            return;
        }
        self.item_lines(&b.clauses, |c| c.span, |p, c| p.step_up_clause(c));
        self.close_block(None);
    }

    fn step_up_clause(&mut self, c: &StepUpClause) {
        match &c.kind {
            StepUpClauseKind::Approvers { quorum, from } => {
                self.kw_space("approvers");
                self.verbatim(quorum.span);
                self.space();
                self.kw_space("of");
                self.approver_set(from);
            }
            StepUpClauseKind::Timeout(l) => self.limit(l),
            StepUpClauseKind::Escalate { after, to } => {
                self.kw_space("escalate");
                self.kw_space("after");
                self.verbatim(after.span);
                self.space();
                self.kw_space("to");
                self.approver_set(to);
            }
            StepUpClauseKind::Veto(true) => self.kw("veto"),
            StepUpClauseKind::Veto(false) => {
                self.kw_space("no");
                self.kw("veto");
            }
            StepUpClauseKind::SelfApproval => self.kw("self_approval"),
            StepUpClauseKind::Risk(l) => {
                self.kw_space("risk");
                self.atom(l.level.as_str(), l.span);
            }
            StepUpClauseKind::Notify(channels) => {
                self.kw("notify");
                for (i, ch) in channels.iter().enumerate() {
                    if i > 0 {
                        self.kw(",");
                    }
                    self.space();
                    self.string(ch);
                }
            }
            StepUpClauseKind::Valid(d) => {
                self.kw_space("valid");
                self.verbatim(d.span);
            }
            StepUpClauseKind::Limits(fields) => {
                self.kw("limits");
                for (i, f) in fields.iter().enumerate() {
                    if i > 0 {
                        self.kw(",");
                    }
                    self.space();
                    self.ident(f);
                }
            }
        }
    }

    fn approver_set(&mut self, set: &ApproverSet) {
        match set {
            ApproverSet::Group(g) => self.ident(g),
            ApproverSet::List { members, span } => self.string_list(members, *span),
            ApproverSet::Role(r) => {
                self.kw_space("role");
                self.string(r);
            }
        }
    }

    fn limit(&mut self, l: &Limit) {
        match &l.kind {
            LimitKind::Timeout(d) => {
                self.kw_space("timeout");
                self.verbatim(d.span);
            }
            LimitKind::Attempts(n) => {
                self.kw_space("attempts");
                self.verbatim(n.span);
            }
        }
        self.space();
        self.kw_space("->");
        match &l.outcome.kind {
            OutcomeKind::Allow => self.kw("allow"),
            OutcomeKind::Deny => self.kw("deny"),
            OutcomeKind::Cancel => self.kw("cancel"),
            OutcomeKind::StepUp(b) => {
                self.kw_space("step_up");
                self.step_up_block(b);
            }
        }
    }

    // ---- tests

    fn test(&mut self, t: &TestDecl, span: Span) {
        self.kw_space("test");
        self.string(&t.name);
        self.space();
        if !self.open_block(t.steps.is_empty(), span) {
            return;
        }
        self.item_lines(&t.steps, |s| s.span, Self::step);
        self.close_block(Some(Span::new(span.end.saturating_sub(1), span.end)));
    }

    fn step(&mut self, s: &TestStep) {
        match &s.kind {
            TestStepKind::Action { tool, operation, fields } => {
                self.kw_space("action");
                self.ident(tool);
                self.space();
                if let Some(op) = operation {
                    self.kw_space("operation");
                    self.string(op);
                    self.space();
                }
                self.record(fields, s.span);
            }
            TestStepKind::Identity(fields) => {
                self.kw_space("identity");
                self.record(fields, s.span);
            }
            TestStepKind::Context(fields) => {
                self.kw_space("context");
                self.record(fields, s.span);
            }
            TestStepKind::Evidence(fields) => {
                self.kw_space("evidence");
                self.record(fields, s.span);
            }
            TestStepKind::Approve { by, roles } => {
                self.kw_space("approve");
                self.kw_space("by");
                self.string(by);
                if let Some(roles) = roles {
                    self.space();
                    self.kw_space("roles");
                    self.expr(roles);
                }
            }
            TestStepKind::Deny { by, why, roles } => {
                self.kw_space("deny");
                self.kw_space("by");
                self.string(by);
                if let Some(why) = why {
                    self.space();
                    self.string(why);
                }
                if let Some(roles) = roles {
                    self.space();
                    self.kw_space("roles");
                    self.expr(roles);
                }
            }
            TestStepKind::Provide { name, value } => {
                self.kw_space("provide");
                self.ident(name);
                self.space();
                self.kw_space("=");
                self.expr(value);
            }
            TestStepKind::Wait(d) => {
                self.kw_space("wait");
                self.verbatim(d.span);
            }
            TestStepKind::Cancel => self.kw("cancel"),
            TestStepKind::Expect(e) => {
                self.kw_space("expect");
                match e {
                    Expectation::Pending => self.kw("pending"),
                    Expectation::Rejected(why) => {
                        self.kw_space("rejected");
                        self.string(why);
                    }
                    Expectation::Cancelled => self.kw("cancel"),
                    Expectation::Receipts(events) => {
                        self.kw_space("receipts");
                        self.expr(events);
                    }
                    Expectation::Decision { decision, params, rule, reason } => {
                        self.kw(decision.as_str());
                        if let Some(fields) = params {
                            self.space();
                            self.record(fields, s.span);
                        }
                        if let Some(path) = rule {
                            self.space();
                            self.kw_space("rule");
                            for (i, part) in path.iter().enumerate() {
                                if i > 0 {
                                    self.kw(".");
                                }
                                self.ident(part);
                            }
                        }
                        if let Some(reason) = reason {
                            self.space();
                            self.kw_space("reason");
                            self.string(reason);
                        }
                    }
                }
            }
        }
    }

    // ---- expressions

    /// `{ k: v, ... }` on one line if it fits, else one field per line.
    fn record(&mut self, fields: &[RecordField], span: Span) {
        let body_span = match (fields.first(), fields.last()) {
            (Some(a), Some(b)) => a.name.span.to(b.value.span),
            _ => span,
        };
        let flat = self.measure(|p| p.record_flat(fields));
        if self.flat || fields.is_empty() || self.fits(&flat, body_span) {
            self.record_flat(fields);
            return;
        }
        self.kw("{");
        self.one_per_line(fields, Self::record_field);
        self.kw("}");
    }

    fn record_flat(&mut self, fields: &[RecordField]) {
        self.braced_flat(fields, Self::record_field);
    }

    /// Inside the caller's delimiters: one item per line, each followed by a comma, indented one
    /// level, and the closing delimiter on its own line.
    fn one_per_line<T>(&mut self, items: &[T], mut item: impl FnMut(&mut Self, &T)) {
        self.indent += INDENT;
        for x in items {
            self.nl();
            item(self, x);
            self.comma();
        }
        self.indent -= INDENT;
        self.nl();
    }

    fn record_field(&mut self, f: &RecordField) {
        self.ident(&f.name);
        self.kw_space(":");
        self.expr(&f.value);
    }

    fn expr(&mut self, e: &Expr) {
        let brk = !self.flat && {
            let flat = self.measure(|p| p.expr(e));
            !self.fits(&flat, e.span)
        };
        self.expr_layout(e, brk);
    }

    /// Prints `e`; `brk` lets its own top-level construct take several lines.
    fn expr_layout(&mut self, e: &Expr, brk: bool) {
        match &e.kind {
            ExprKind::Bool(b) => self.atom(if *b { "true" } else { "false" }, e.span),
            ExprKind::Int(_) | ExprKind::Decimal(_) | ExprKind::Duration(_) => self.verbatim(e.span),
            ExprKind::Str(s) => self.atom(&escape(s), e.span),
            ExprKind::List(items) => self.seq("[", items, "]", brk),
            ExprKind::Record(fields) => self.record(fields, e.span),
            ExprKind::Name(id) => self.ident(id),
            ExprKind::Root(r) => self.atom(r.as_str(), e.span),
            ExprKind::Field { base, field } => {
                self.expr(base);
                self.kw(".");
                self.ident(field);
            }
            ExprKind::Method { .. } if brk && method_chain(e).1.len() > 1 => self.chain(e),
            ExprKind::Method { receiver, method, args } => {
                self.expr(receiver);
                self.kw(".");
                self.ident(method);
                self.seq("(", args, ")", brk);
            }
            ExprKind::Call { callee, args } => {
                self.ident(callee);
                self.seq("(", args, ")", brk);
            }
            ExprKind::Neg(inner) => {
                self.kw("-");
                self.expr(inner);
            }
            ExprKind::Not(inner) => {
                self.kw_space("not");
                self.expr(inner);
            }
            ExprKind::Binary { op, lhs, rhs } => {
                self.expr(lhs);
                self.space();
                self.kw(op.as_str());
                self.space();
                self.expr(rhs);
            }
            ExprKind::Logic { op, operands } => {
                let word = match op {
                    LogicOp::And => "and",
                    LogicOp::Or => "or",
                };
                self.indent += CONT;
                for (i, operand) in operands.iter().enumerate() {
                    if i > 0 {
                        if brk {
                            self.nl();
                        } else {
                            self.space();
                        }
                        self.kw(word);
                        self.space();
                    }
                    self.expr(operand);
                }
                self.indent -= CONT;
            }
            ExprKind::In { element, collection } => {
                self.expr(element);
                self.space();
                self.kw_space("in");
                self.expr(collection);
            }
            ExprKind::IsSet { value, negated } => {
                self.expr(value);
                self.space();
                self.kw_space("is");
                if *negated {
                    self.kw_space("not");
                }
                self.kw("set");
            }
            ExprKind::Quantifier { kind, var, collection, body } => {
                self.kw(kind.as_str());
                self.space();
                self.ident(var);
                self.space();
                self.kw_space("in");
                self.expr(collection);
                self.kw_space(":");
                self.expr(body);
            }
            ExprKind::Lambda { param, body } => {
                self.ident(param);
                self.space();
                self.kw_space("=>");
                self.expr(body);
            }
            ExprKind::Paren(inner) => {
                self.kw("(");
                self.expr(inner);
                self.kw(")");
            }
            ExprKind::Error => {}
        }
    }

    /// A chain of method calls that does not fit: the receiver, then each `.method(args)` on a
    /// line of its own, indented (arguments broken only where one call alone does not fit).
    fn chain(&mut self, e: &Expr) {
        let (base, links) = method_chain(e);
        self.expr(base);
        self.indent += CONT;
        for (method, args, end) in links {
            self.nl();
            self.kw(".");
            self.ident(method);
            let flat = self.measure(|p| p.seq("(", args, ")", false));
            let brk = !self.fits(&flat, Span::new(method.span.end, end));
            self.seq("(", args, ")", brk);
        }
        self.indent -= CONT;
    }

    /// `open a, b close`, or one element per line (with a trailing comma) when broken.
    fn seq(&mut self, open: &str, items: &[Expr], close: &str, brk: bool) {
        self.kw(open);
        let literals = items.len() > 4
            && items.iter().all(|i| {
                matches!(
                    i.kind,
                    ExprKind::Str(_)
                        | ExprKind::Int(_)
                        | ExprKind::Decimal(_)
                        | ExprKind::Duration(_)
                        | ExprKind::Bool(_)
                )
            });
        if brk && literals {
            // A long list of literals: as many per line as fit.
            self.indent += INDENT;
            self.nl();
            for item in items {
                let text = self.measure(|p| p.expr(item));
                if self.pending.is_none() && self.column() + 1 + text.chars().count() + 1 > MAX_WIDTH {
                    self.nl();
                } else {
                    self.space();
                }
                self.expr(item);
                self.comma();
            }
            self.indent -= INDENT;
            self.nl();
        } else if brk && !items.is_empty() {
            self.one_per_line(items, Self::expr);
        } else {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    self.kw_space(",");
                }
                self.expr(item);
            }
        }
        self.kw(close);
    }
}

/// One call of a method chain: the method's name, its arguments, and where the call ends.
type Link<'e> = (&'e Ident, &'e [Expr], u32);

/// The innermost receiver of a chain of method calls, and the calls from the first on.
fn method_chain(e: &Expr) -> (&Expr, Vec<Link<'_>>) {
    let mut links = Vec::new();
    let mut cur = e;
    while let ExprKind::Method { receiver, method, args } = &cur.kind {
        links.push((method, args.as_slice(), cur.span.end));
        cur = receiver;
    }
    links.reverse();
    (cur, links)
}

fn same_kind(a: &ItemKind, b: &ItemKind) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// A string literal with canonical escapes. Runs of characters that need no escape are copied
/// whole, found eight bytes at a time ([`plain_prefix`]); the others are escaped one by one.
pub(crate) fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    let mut rest = value;
    loop {
        // A plain prefix ends before an ASCII byte or a 0xC2 lead byte: a character boundary.
        let (plain, tail) = rest.split_at_checked(plain_prefix(rest.as_bytes())).unwrap_or(("", rest));
        out.push_str(plain);
        let mut chars = tail.chars();
        let Some(c) = chars.next() else { break };
        escape_char(c, &mut out);
        rest = chars.as_str();
    }
    out.push('"');
    out
}

/// One character of a string literal, escaped as the formatter writes it.
fn escape_char(c: char, out: &mut String) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        c if c.is_control() => out.push_str(&format!("\\u{{{:X}}}", c as u32)),
        c => out.push(c),
    }
}

/// How many leading bytes of `bytes` [`escape`] copies as they are: bytes other than the ASCII
/// controls (below 0x20, and 0x7F), `"`, `\` and 0xC2, which leads the other controls
/// (U+0080 to U+009F) as well as other characters (those go through [`escape_char`], which keeps
/// them). Eight bytes at a time: for the lowest byte flagged by a test "below n" or "equal to c"
/// written as `(w - n) & !w & 0x80…` the flag is exact (a borrow only leaves a byte that is
/// flagged itself), so the lowest flag of all the tests is the first byte to stop at.
fn plain_prefix(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const TOPS: u64 = 0x8080_8080_8080_8080;
    let below = |w: u64, n: u64| w.wrapping_sub(n * ONES) & !w & TOPS;
    let equal = |w: u64, c: u64| below(w ^ (c * ONES), 1);
    let mut n = 0;
    while let Some(block) = bytes.get(n..n + 8) {
        let Ok(word) = <[u8; 8]>::try_from(block) else { break };
        let w = u64::from_le_bytes(word);
        let special =
            below(w, 0x20) | equal(w, u64::from(b'"')) | equal(w, u64::from(b'\\')) | equal(w, 0x7f) | equal(w, 0xc2);
        if special != 0 {
            return n + (special.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    n + bytes.get(n..).unwrap_or_default().iter().take_while(|&&b| !special_byte(b)).count()
}

/// The byte test of [`plain_prefix`].
fn special_byte(b: u8) -> bool {
    b < 0x20 || matches!(b, b'"' | b'\\' | 0x7f | 0xc2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Formatting with the tokens the parse kept gives what formatting with the text lexed again
    /// (as before they were kept) gives, on the repository's policies, the formatter's test
    /// files and texts where the parser splits a `>=`.
    #[test]
    fn the_parses_tokens_format_as_the_text_lexed_again() {
        let mut texts: Vec<String> = Vec::new();
        for dir in ["../examples", "../stdlib", "tests/format"] {
            let mut stack = vec![std::path::PathBuf::from(dir)];
            while let Some(path) = stack.pop() {
                if path.is_dir() {
                    stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                } else if path.extension().is_some_and(|e| e == "aarm") {
                    texts.push(std::fs::read_to_string(&path).unwrap());
                }
            }
        }
        assert!(texts.len() > 10, "the policies were found");
        texts.push("fn f(xs: List<Int>)-> List<Int>= xs\n".to_string());
        texts.push("fn f() -> List<Int>=[1]\n// c\n".to_string());
        texts.push("tool t { a: Int, }\nrule r on t { when params.a >= 1 deny }\n".to_string());
        let split = texts.iter().filter(|t| crate::parse(FileId(0), t).tokens.is_none()).count();
        assert!(split >= 2, "the parser split the two `>=` at least");
        for text in &texts {
            let kept = crate::parse(FileId(0), text);
            let relexed = crate::parse(FileId(0), text);
            let relexed = Parsed { tokens: None, ..relexed };
            assert_eq!(
                format_parsed(text, &kept).map_err(|e| e.diagnostics.len()),
                format_parsed(text, &relexed).map_err(|e| e.diagnostics.len()),
                "{text}"
            );
        }
    }

    /// The former `escape`, one character at a time: the reference.
    fn escape_by_chars(value: &str) -> String {
        let mut out = String::with_capacity(value.len() + 2);
        out.push('"');
        for c in value.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if c.is_control() => out.push_str(&format!("\\u{{{:X}}}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    /// Every byte in every position of a block, after every kind of byte: the word-at-a-time
    /// prefix is the byte-by-byte one.
    #[test]
    fn plain_prefix_is_the_byte_test() {
        for b in 0..=255u8 {
            for at in 0..10 {
                for fill in [b'a', b'~', 0x1f, b'"', 0x80, 0xc3, 0xff, 0xc2] {
                    let mut bytes = [fill; 10];
                    bytes[at] = b;
                    let want = bytes.iter().take_while(|&&x| !special_byte(x)).count();
                    assert_eq!(plain_prefix(&bytes), want, "{bytes:?}");
                }
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Text of every kind of character a literal may hold, controls among them.
        #[test]
        fn escape_is_the_one_by_characters(value in "([a-z \"\\\\\n\t\r\u{0}-\u{1f}\u{7f}-\u{a3}é€😀]|[a-z]{8,20}){0,24}") {
            proptest::prop_assert_eq!(escape(&value), escape_by_chars(&value));
        }

        #[test]
        fn escape_of_any_string_is_the_one_by_characters(value in proptest::prelude::any::<String>()) {
            proptest::prop_assert_eq!(escape(&value), escape_by_chars(&value));
        }
    }

    fn fmt(src: &str) -> String {
        match format(src) {
            Ok(s) => s,
            Err(e) => panic!("{e}: {:?}", e.diagnostics),
        }
    }

    #[test]
    fn short_tool_stays_on_one_line() {
        assert_eq!(fmt("tool  t {\n  q: String,\n}\n"), "tool t { q: String }\n");
    }

    #[test]
    fn redact_marks_are_kept_after_their_type() {
        let src = "tool pay {pin:String  @ redact, card: { number: String@redact, brand: String }?}\ncontext { ssn: String? @redact }\n";
        let out = fmt(src);
        assert_eq!(
            out,
            "tool pay { pin: String @redact, card: { number: String @redact, brand: String }? }\n\ncontext { ssn: String? @redact }\n"
        );
        assert_eq!(fmt(&out), out, "idempotent");
    }

    #[test]
    fn rule_clauses_one_per_line() {
        let src = "rule r on t priority -5 { when a  and b risk high deny reason \"c\" \"m {params.x}\" }";
        assert_eq!(
            fmt(src),
            "rule r on t priority -5 {\n  when a and b\n  risk high\n  deny\n  reason \"c\" \"m {params.x}\"\n}\n"
        );
    }

    #[test]
    fn comments_stay_in_place() {
        let src = "// head\nrule r on t { // after brace\n  when a // trailing\n  // own line\n  deny\n}\n// tail\n";
        assert_eq!(
            fmt(src),
            "// head\nrule r on t { // after brace\n  when a // trailing\n  // own line\n  deny\n}\n// tail\n"
        );
    }

    #[test]
    fn long_conditions_break_one_operand_per_line() {
        let cond = (0..12).map(|i| format!("params.field_{i} > {i}")).collect::<Vec<_>>().join(" and ");
        let out = fmt(&format!("rule r on t {{ when {cond} deny }}"));
        assert!(out.contains("\n    and params.field_1 > 1\n"), "{out}");
        assert!(out.lines().all(|l| l.len() <= MAX_WIDTH), "{out}");
    }

    #[test]
    fn strings_are_re_escaped() {
        assert_eq!(fmt("group g = [\"\\u{41}\\{\"]"), "group g = [\"A{\"]\n");
    }

    #[test]
    fn syntax_errors_are_refused() {
        assert!(format("rule r on t {").is_err());
    }

    #[test]
    fn long_literal_lists_fill_lines() {
        let items = (0..40).map(|i| format!("\"user{i}@corp.com\"")).collect::<Vec<_>>().join(", ");
        let src = format!("test \"t\" {{ action a {{ to: [{items}] }} }}");
        let out = fmt(&src);
        assert!(out.lines().count() < 15, "{out}");
        assert!(out.lines().all(|l| l.len() <= MAX_WIDTH), "{out}");
        assert_eq!(fmt(&out), out);
        // With comments between the elements.
        let commented = src
            .replace("\"user3@corp.com\",", "\"user3@corp.com\", // three\n")
            .replace("\"user9@corp.com\"", "/* nine */ \"user9@corp.com\"");
        let out = fmt(&commented);
        assert!(out.contains("// three") && out.contains("/* nine */"), "{out}");
        assert_eq!(fmt(&out), out);
    }

    #[test]
    fn long_method_chains_break_before_each_call() {
        let src = "fn host(url: String) -> String = url.split(\"://\").at(1).split(\"/\").at(0).split(\"?\").at(0).split(\"#\").at(0).split(\"@\").at(-1).lower()\n";
        assert_eq!(
            fmt(src),
            "fn host(url: String) -> String =\n  url\n    .split(\"://\")\n    .at(1)\n    .split(\"/\")\n    .at(0)\n    .split(\"?\")\n    .at(0)\n    .split(\"#\")\n    .at(0)\n    .split(\"@\")\n    .at(-1)\n    .lower()\n"
        );
        // A chain that fits stays on its line.
        assert_eq!(
            fmt("fn f(s: String) -> String = s.trim().lower()\n"),
            "fn f(s: String) -> String = s.trim().lower()\n"
        );
    }

    #[test]
    fn split_greater_equal_after_type() {
        assert_eq!(fmt("fn f() -> List<Int>= x"), "fn f() -> List<Int> = x\n");
    }
}
