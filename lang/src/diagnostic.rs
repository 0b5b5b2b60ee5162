//! Diagnostics as data: a stable code, a severity, spans and the author-facing wording.
//!
//! Problems are values, not errors: each phase collects them in a list and carries on, so that one
//! run reports everything it can find. Every phase (lexer, parser, module graph, resolver, type
//! checker, analyses) reports through [`Diagnostic`]; rendering (human, JSON, SARIF) lives in
//! [`crate::render`]. The codes are listed once, in [`Code`], with the class each belongs to;
//! `lang/REFERENCE.md` documents them for authors.

use crate::span::{FileId, Span};
use serde::Serialize;

/// How serious a diagnostic is; fixed by its [`Code`] (`E…` codes are errors, `W…` warnings).
/// Outside this crate it is read as [`Diagnostic::is_error`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Severity {
    Error,
    Warning,
}

/// What kind of problem a code reports. The pest/production differential compares only
/// [`Class::Syntax`]: the reference grammar knows nothing of names, types, values or limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// The text does not follow the grammar (`E000x`, `E001x`, and an unknown risk level).
    Syntax,
    /// A resource limit of [`crate::limits`] was exceeded (`E002x`).
    Limit,
    /// A well-formed literal whose value is out of range (`E003x`).
    Value,
    /// `use` declarations and the files of a bundle (`E005x`).
    Module,
    /// A name that is unknown, declared twice or ambiguous (`E01xx`).
    Name,
    /// An expression or declaration of the wrong type (`E02xx`).
    Type,
    /// The clauses of a rule's decision, an override or a `@redact` mark (`E03xx`).
    Clause,
    /// A `test` block that cannot run as written (`E04xx`).
    Test,
    /// Warnings: the policy is valid but probably not what was meant (`W…`).
    Lint,
}

macro_rules! codes {
    ($( $variant:ident = $code:literal, $class:ident, $severity:ident, $title:literal; )*) => {
        /// Every diagnostic code the toolchain emits. Codes are stable: never reuse one.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Code { $( #[doc = concat!("`", $code, "`: ", $title, ".")] $variant, )* }

        impl Code {
            /// Every code, in the order of the table (by number within each class): for
            /// documentation, SARIF rule lists and tests that each code is documented.
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];

            /// The stable code authors see and tools match on, such as `"E0100"`.
            pub fn as_str(self) -> &'static str {
                match self { $( Code::$variant => $code, )* }
            }
            /// The kind of problem the code reports.
            pub fn class(self) -> Class {
                match self { $( Code::$variant => Class::$class, )* }
            }
            /// Whether the code is an error or a warning.
            pub(crate) fn severity(self) -> Severity {
                match self { $( Code::$variant => Severity::$severity, )* }
            }
            /// A short, general title for documentation and SARIF rule lists.
            pub fn title(self) -> &'static str {
                match self { $( Code::$variant => $title, )* }
            }
        }
    };
}

codes! {
    // ---- lexical and syntax
    InvalidCharacter      = "E0001", Syntax, Error, "invalid character";
    UnterminatedString    = "E0002", Syntax, Error, "unterminated string";
    InvalidEscape         = "E0003", Syntax, Error, "invalid escape sequence";
    UnterminatedComment   = "E0004", Syntax, Error, "unterminated block comment";
    MalformedNumber       = "E0005", Syntax, Error, "malformed number or duration";
    UnexpectedToken       = "E0010", Syntax, Error, "unexpected token";
    KeywordAsName         = "E0011", Syntax, Error, "reserved word used as a name";
    ChainedComparison     = "E0012", Syntax, Error, "comparisons cannot be chained";
    HeaderNotFirst        = "E0013", Syntax, Error, "policy header is not the first declaration";
    InvalidInterpolation  = "E0014", Syntax, Error, "invalid interpolation in a reason message";
    // ---- resource limits
    NestingTooDeep        = "E0020", Limit, Error, "expression nested too deeply";
    NameTooLong           = "E0021", Limit, Error, "name too long";
    FileTooLarge          = "E0022", Limit, Error, "file too large";
    InvalidUtf8           = "E0023", Limit, Error, "file is not valid UTF-8";
    TooManyErrors         = "E0024", Limit, Error, "too many errors in one file";
    StringTooLong         = "E0025", Limit, Error, "string literal too long";
    TooManyRules          = "E0026", Limit, Error, "too many rules in one bundle";
    // ---- literal values
    IntegerOutOfRange     = "E0030", Value, Error, "integer literal out of range";
    DecimalPrecision      = "E0031", Value, Error, "decimal literal has too many digits";
    InvalidUnicodeEscape  = "E0032", Value, Error, "invalid unicode escape";
    DurationOutOfRange    = "E0033", Value, Error, "duration out of range";
    // ---- modules
    ModuleNotFound        = "E0050", Module, Error, "module not found";
    ModuleCycle           = "E0051", Module, Error, "modules use each other in a cycle";
    InvalidUse            = "E0052", Module, Error, "invalid `use` path";
    MissingPolicyHeader   = "E0053", Module, Error, "rules without a policy header";
    ConflictingVersion    = "E0054", Module, Error, "one policy with two versions";
    // ---- names
    UnknownTool           = "E0100", Name, Error, "unknown tool";
    UnknownField          = "E0101", Name, Error, "unknown field";
    UnknownName           = "E0102", Name, Error, "unknown name";
    UnknownEvidence       = "E0103", Name, Error, "unknown evidence";
    DuplicateDeclaration  = "E0104", Name, Error, "declared twice";
    UnknownType           = "E0105", Name, Error, "unknown type";
    UnknownGroup          = "E0106", Name, Error, "unknown group";
    UnknownRule           = "E0107", Name, Error, "unknown rule";
    AmbiguousRule         = "E0108", Name, Error, "ambiguous rule name";
    DuplicateSettings     = "E0109", Name, Error, "more than one `settings` block";
    UnknownMethod         = "E0110", Name, Error, "unknown method";
    ParamsUnavailable     = "E0111", Name, Error, "`params` is not available here";
    UnknownFunction       = "E0112", Name, Error, "unknown function";
    FieldNotShared        = "E0113", Name, Error, "field not shared by every target tool";
    // ---- types
    TypeMismatch          = "E0200", Type, Error, "mismatched types";
    UnguardedOptional     = "E0201", Type, Error, "optional value read without an `is set` guard";
    WrongArgumentCount    = "E0202", Type, Error, "wrong number of arguments";
    InvalidOperands       = "E0203", Type, Error, "operator cannot be applied to these types";
    InvalidRegex          = "E0204", Type, Error, "invalid regular expression";
    FnCycle               = "E0205", Type, Error, "functions call each other in a cycle";
    NotOptional           = "E0206", Type, Error, "`is set` on a value that is always set";
    LambdaMisplaced       = "E0207", Type, Error, "a lambda is only allowed as an argument";
    NotConstant           = "E0208", Type, Error, "value must be a constant";
    OptionalEvidence      = "E0209", Type, Error, "evidence cannot be optional";
    NotComparable         = "E0210", Type, Error, "values of this type cannot be compared";
    UnreadableLiteral     = "E0211", Type, Error, "a built-in method cannot read this literal";
    // ---- decision clauses
    QuorumTooLarge        = "E0300", Clause, Error, "quorum larger than the approver set";
    QuorumZero            = "E0301", Clause, Error, "quorum must be at least 1";
    NonPositiveDuration   = "E0302", Clause, Error, "duration must be positive";
    MissingApprovers      = "E0303", Clause, Error, "`step_up` without an `approvers` clause";
    DuplicateClause       = "E0304", Clause, Error, "clause given twice";
    ConfidenceOutOfRange  = "E0305", Clause, Error, "confidence must be between 0 and 1";
    InvalidRiskLevel      = "E0306", Syntax, Error, "unknown risk level";
    ModifyField           = "E0307", Clause, Error, "invalid `modify` assignment";
    AttemptsZero          = "E0308", Clause, Error, "attempts must be at least 1";
    ValidWithoutAllow     = "E0309", Clause, Error, "`valid` on a rule that does not allow";
    UncappableLimit       = "E0310", Clause, Error, "`limits` names a parameter approvers cannot cap";
    UnknownStatement      = "E0320", Clause, Error, "unknown statement in `override ... requires`";
    DuplicateOverride     = "E0321", Clause, Error, "more than one `override` for a tool";
    RedactMisplaced       = "E0322", Clause, Error, "`@redact` where no record of a request reaches";
    RedactedInReason      = "E0323", Clause, Error, "a reason message shows a field marked `@redact`";
    // ---- tests
    InvalidTestStep       = "E0400", Test, Error, "invalid test step";
    UnknownRejection      = "E0401", Test, Error, "unknown rejection reason";
    MissingField          = "E0402", Test, Error, "missing required field";
    TestWithoutExpect     = "E0403", Test, Error, "test checks nothing";
    UnknownReceiptEvent   = "E0404", Test, Error, "unknown receipt event";
    // ---- warnings
    TimeoutAllows         = "W0001", Lint, Warning, "an unanswered request resolves to allow";
    DetachedDocComment    = "W0002", Lint, Warning, "doc comment attached to nothing";
    UndeclaredTestTool    = "W0003", Lint, Warning, "test action uses an undeclared tool";
    DefaultAllow          = "W0004", Lint, Warning, "`default allow`: unmatched actions are allowed";
    // ---- analysis (`aarm analyze`): each proved, never guessed
    UnusedEvidence        = "W0010", Lint, Warning, "evidence that nothing reads";
    ToolWithoutRules      = "W0011", Lint, Warning, "tool that no rule covers";
    UnusedGroup           = "W0012", Lint, Warning, "group that nothing uses";
    UnusedFunction        = "W0013", Lint, Warning, "function that no rule calls";
    UnsatisfiableCondition = "W0014", Lint, Warning, "condition that can never be true";
    ShadowedRule          = "W0015", Lint, Warning, "rule shadowed by a higher-priority rule";
    PriorityConflict      = "W0016", Lint, Warning, "equal-priority rules disagree and can match together";
    LifecycleAllows       = "W0017", Lint, Warning, "a lifecycle path reaches allow without approval";
    EndlessDefer          = "W0018", Lint, Warning, "a deferral that its evidence cannot end";
}

/// A secondary location with its own short message ("first declared here").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// The file of the location; it may differ from the diagnostic's own file.
    pub file: FileId,
    /// Where the label points, in bytes of that file.
    pub span: Span,
    /// The text shown at the location, in the same style as [`Diagnostic::message`].
    pub message: String,
}

/// One problem found in the source: what it is ([`Code`]), where (file and span) and how to say
/// it to the author. Built with [`Diagnostic::new`] and the `with_*` methods; rendered by
/// [`crate::render`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The stable code; it also fixes the severity.
    pub code: Code,
    pub(crate) severity: Severity,
    /// The file the primary span is in.
    pub file: FileId,
    /// The primary location, in bytes; empty where something is missing.
    pub span: Span,
    /// What is wrong, in the author's terms: lowercase, no final period, names in backticks.
    pub message: String,
    /// Text next to the primary span; defaults to nothing.
    pub label: Option<String>,
    /// Further locations that explain the problem, in the order they are shown.
    pub secondary: Vec<Label>,
    /// What to write instead, when we can tell.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with the code's severity and no label, secondary locations or help.
    pub fn new(code: Code, file: FileId, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: code.severity(),
            file,
            span,
            message: message.into(),
            label: None,
            secondary: Vec::new(),
            help: None,
        }
    }

    /// Sets the text shown next to the primary span (the code's title is shown otherwise).
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Sets the help line: what to write instead.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a secondary location with its own message.
    pub fn with_secondary(mut self, file: FileId, span: Span, message: impl Into<String>) -> Self {
        self.secondary.push(Label { file, span, message: message.into() });
        self
    }

    /// Whether this is an error (which makes the file or bundle fail) rather than a warning.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Diagnostics gathered from several sources (files, phases) to be reported together in reading
/// order: [`Diagnostics::extend`] them in, [`Diagnostics::sort`], then [`Diagnostics::into_vec`].
/// It does not cap the count; [`crate::parse`] caps each file.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends diagnostics in the order given.
    pub fn extend(&mut self, ds: impl IntoIterator<Item = Diagnostic>) {
        self.items.extend(ds);
    }

    /// The diagnostics, in their current order.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }

    /// Sorted by file, then position, then code: the order authors read them in.
    pub fn sort(&mut self) {
        self.items.sort_by(|a, b| {
            (a.file, a.span.start, a.span.end, a.code.as_str()).cmp(&(
                b.file,
                b.span.start,
                b.span.end,
                b.code.as_str(),
            ))
        });
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

/// Longest name, in characters, that [`did_you_mean`] measures: names are short, and a longer
/// one (on either side) is never suggested, which keeps the cost bounded on absurd inputs.
const MAX_NAME_CHARS: usize = 256;

/// The candidate closest to a misspelt name, for "did you mean" help lines: at most about one
/// edit per three characters, compared without regard to ASCII case; `None` when nothing is
/// close. On a tie the first candidate wins, so pass candidates in a stable order.
pub fn did_you_mean<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    closest(wrong, candidates.into_iter().map(|c| (c, Lowered::Later)))
}

/// Names asked about again and again (a checker's table between two declarations), each
/// lowercased into characters once: [`Self::did_you_mean`] answers what [`did_you_mean`] over
/// the same names in the same order answers, without decoding every name for every question.
#[derive(Clone, Debug, Default)]
pub struct Candidates {
    /// Each name with its characters lowercased (`None`: too long to be measured).
    names: Vec<(String, Option<Vec<char>>)>,
}

impl Candidates {
    /// `names`, in the order ties are settled in.
    pub fn new(names: Vec<String>) -> Candidates {
        let mut buf = ['\0'; MAX_NAME_CHARS];
        let names = names
            .into_iter()
            .map(|n| {
                let chars = lower_chars(&n, &mut buf).map(<[char]>::to_vec);
                (n, chars)
            })
            .collect();
        Candidates { names }
    }

    /// [`did_you_mean`] over these names.
    pub fn did_you_mean(&self, wrong: &str) -> Option<&str> {
        closest(
            wrong,
            self.names.iter().map(|(n, chars)| (n.as_str(), chars.as_deref().map_or(Lowered::TooLong, Lowered::Ready))),
        )
    }
}

/// A candidate's characters, lowercased: to be decoded when it is measured, decoded already,
/// or too many to measure.
enum Lowered<'a> {
    Later,
    Ready(&'a [char]),
    TooLong,
}

/// [`did_you_mean`]'s search, over candidates lowercased now or before.
fn closest<'a>(wrong: &str, candidates: impl IntoIterator<Item = (&'a str, Lowered<'a>)>) -> Option<&'a str> {
    // The checker asks this of every unknown name against every name in scope, and hostile
    // sources are full of unknown names: nothing here allocates. Both names are decoded into
    // fixed buffers (lowercased), and the distance uses three rows of fixed size.
    let mut wrong_buf = ['\0'; MAX_NAME_CHARS];
    let wrong_chars = lower_chars(wrong, &mut wrong_buf)?;
    let mut cand_buf = ['\0'; MAX_NAME_CHARS];
    let mut rows = [[0usize; MAX_NAME_CHARS + 1]; 3];
    let wrong_bag = Bag::of(wrong_chars);
    let mut scratch = Bag::default();
    let mut best: Option<(usize, &'a str)> = None;
    for (c, lowered) in candidates {
        // Allow about one typo per three characters, and at least one.
        let limit = (wrong.len().max(c.len()) / 3).max(1);
        // Only a strictly closer candidate replaces the best so far (the first wins a tie), so
        // the distance is only measured up to one less than the best; nothing beats zero.
        let bound = match best {
            None => limit,
            Some((0, _)) => break,
            Some((bd, _)) => limit.min(bd - 1),
        };
        // A name of n bytes has between n/4 and n characters: when even those bounds put it
        // past `bound` in length, the test below would skip it, so it is not decoded at all.
        if c.len() + bound < wrong_chars.len() || c.len() > 4 * (wrong_chars.len() + bound) {
            continue;
        }
        let c_chars = match lowered {
            Lowered::Ready(chars) => chars,
            Lowered::TooLong => continue,
            Lowered::Later => match lower_chars(c, &mut cand_buf) {
                Some(chars) => chars,
                None => continue,
            },
        };
        // The distance is at least the difference in length: such a candidate is not measured.
        if wrong_chars.len().abs_diff(c_chars.len()) > bound {
            continue;
        }
        // Another lower bound, cheaper than the distance: most candidates are far off.
        if wrong_bag.distance_to(c_chars, &mut scratch) > bound {
            continue;
        }
        if let Some(d) = edit_distance_within(wrong_chars, c_chars, bound, &mut rows) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// How many characters of a name fall in each of 128 buckets (a character's code modulo 128).
///
/// The bag distance of two names, the larger of "characters of the one not matched in the
/// other" either way round, is at most their edit distance: an insertion, deletion or
/// substitution changes each count by at most one, a transposition changes neither. Counting
/// buckets instead of characters only merges characters, which cannot increase the bag distance.
#[derive(Clone, Copy)]
struct Bag {
    counts: [u16; 128],
    /// The number of characters counted.
    len: usize,
}

impl Default for Bag {
    fn default() -> Self {
        Bag { counts: [0; 128], len: 0 }
    }
}

impl Bag {
    fn bucket(c: char) -> usize {
        (u32::from(c) % 128) as usize
    }

    /// The bag of `chars` (at most [`MAX_NAME_CHARS`] of them, so no count overflows).
    fn of(chars: &[char]) -> Bag {
        let mut bag = Bag::default();
        for &c in chars {
            if let Some(n) = bag.counts.get_mut(Self::bucket(c)) {
                *n = n.saturating_add(1);
                bag.len += 1;
            }
        }
        bag
    }

    /// The bag distance from the name this bag counts to `other`; `scratch` is overwritten.
    fn distance_to(&self, other: &[char], scratch: &mut Bag) -> usize {
        *scratch = *self;
        // Characters of this name not (yet) matched, and characters of `other` left unmatched.
        let (mut unmatched, mut extra) = (self.len, 0usize);
        for &c in other {
            match scratch.counts.get_mut(Self::bucket(c)) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    unmatched = unmatched.saturating_sub(1);
                }
                _ => extra += 1,
            }
        }
        unmatched.max(extra)
    }
}

/// `s`'s characters, ASCII-lowercased, in `buf`; `None` when `s` has more than
/// [`MAX_NAME_CHARS`] characters.
fn lower_chars<'b>(s: &str, buf: &'b mut [char; MAX_NAME_CHARS]) -> Option<&'b [char]> {
    let mut n = 0;
    for ch in s.chars() {
        *buf.get_mut(n)? = ch.to_ascii_lowercase();
        n += 1;
    }
    buf.get(..n)
}

/// Levenshtein distance with transpositions counted as one edit (optimal string alignment)
/// when it is at most `bound`, else `None`. Keeps three rows of the table (a transposition
/// looks two rows back), and stops as soon as no later row can come back within `bound`.
fn edit_distance_within(
    a: &[char],
    b: &[char],
    bound: usize,
    rows: &mut [[usize; MAX_NAME_CHARS + 1]; 3],
) -> Option<usize> {
    // Out-of-range cells read as "far": only reached for inputs longer than the rows, which
    // `lower_chars` refuses.
    const FAR: usize = usize::MAX / 2;
    let [r0, r1, r2] = rows;
    let (mut prev2, mut prev, mut cur) = (r0, r1, r2);
    for (j, x) in prev.iter_mut().take(b.len() + 1).enumerate() {
        *x = j;
    }
    // The smallest cell of the previous row (row 0 holds 0).
    let mut prev_min = 0;
    for (i, &ai) in a.iter().enumerate().map(|(i, c)| (i + 1, c)) {
        let a_before = i.checked_sub(2).and_then(|k| a.get(k)).copied();
        *cur.get_mut(0)? = i;
        let mut row_min = i;
        for (j, &bj) in b.iter().enumerate().map(|(j, c)| (j + 1, c)) {
            let cost = usize::from(ai != bj);
            let up = prev.get(j).copied().unwrap_or(FAR);
            let left = cur.get(j - 1).copied().unwrap_or(FAR);
            let diag = prev.get(j - 1).copied().unwrap_or(FAR);
            let mut v = (up + 1).min(left + 1).min(diag + cost);
            if j > 1 && Some(bj) == a_before && b.get(j - 2) == Some(&ai) {
                v = v.min(prev2.get(j - 2).copied().unwrap_or(FAR) + 1);
            }
            *cur.get_mut(j)? = v;
            row_min = row_min.min(v);
        }
        // A cell of the next row is at least a cell of this row, or a cell of the previous row
        // plus one (a transposition), or its left neighbour plus one (which reduces to the
        // same). When this row is past the bound and the previous one is at least at it, the
        // next row is past it too, and so is every later one: the distance is too.
        if row_min > bound && prev_min >= bound {
            return None;
        }
        prev_min = row_min;
        (prev2, prev, cur) = (prev, cur, prev2);
    }
    prev.get(b.len()).copied().filter(|&d| d <= bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "duplicate code {}", c.as_str());
            let s = c.as_str();
            assert_eq!(s.len(), 5);
            let expected_prefix = if c.severity() == Severity::Error { 'E' } else { 'W' };
            assert!(s.starts_with(expected_prefix), "{s} has the wrong prefix");
        }
    }

    #[test]
    fn every_code_is_documented_in_the_reference() {
        let reference = include_str!("../REFERENCE.md");
        for c in Code::ALL {
            let row = format!("| {} | {} |", c.as_str(), c.title());
            assert!(reference.contains(&row), "lang/REFERENCE.md lacks the row `{row}`");
        }
    }

    #[test]
    fn suggestions_find_close_names_only() {
        let tools = ["transfer_funds", "send_email", "delete_database"];
        assert_eq!(did_you_mean("transfer_fund", tools), Some("transfer_funds"));
        assert_eq!(did_you_mean("sned_email", tools), Some("send_email"));
        assert_eq!(did_you_mean("rotate", tools), None);
        assert_eq!(reference::edit_distance("abc", "acb"), 1);
        assert_eq!(did_you_mean("abc", ["acb"]), Some("acb"));
    }

    /// The former implementation, kept as the reference the allocation-free one must match:
    /// every candidate measured in full, on lowercased copies, over the whole table.
    mod reference {
        pub(super) fn did_you_mean<'a>(wrong: &str, candidates: &[&'a str]) -> Option<&'a str> {
            let wrong_lower = wrong.to_ascii_lowercase();
            let mut best: Option<(usize, &'a str)> = None;
            for &c in candidates {
                let limit = (wrong.len().max(c.len()) / 3).max(1);
                let d = edit_distance(&wrong_lower, &c.to_ascii_lowercase());
                if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
                    best = Some((d, c));
                }
            }
            best.map(|(_, c)| c)
        }

        pub(super) fn edit_distance(a: &str, b: &str) -> usize {
            let a: Vec<char> = a.chars().collect();
            let b: Vec<char> = b.chars().collect();
            if a.len() > 256 || b.len() > 256 {
                return usize::MAX;
            }
            let width = b.len() + 1;
            let mut d = vec![0usize; (a.len() + 1) * width];
            let at = |i: usize, j: usize| i * width + j;
            for i in 0..=a.len() {
                d[at(i, 0)] = i;
            }
            for j in 0..=b.len() {
                d[at(0, j)] = j;
            }
            for i in 1..=a.len() {
                for j in 1..=b.len() {
                    let cost = usize::from(a[i - 1] != b[j - 1]);
                    let mut v = (d[at(i - 1, j)] + 1).min(d[at(i, j - 1)] + 1).min(d[at(i - 1, j - 1)] + cost);
                    if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                        v = v.min(d[at(i - 2, j - 2)] + 1);
                    }
                    d[at(i, j)] = v;
                }
            }
            d[at(a.len(), b.len())]
        }
    }

    /// Skipping candidates by length, bounding the measure and stopping early suggest what
    /// measuring every candidate in full suggests.
    #[test]
    fn the_shortcuts_change_no_suggestion() {
        let long = "a".repeat(300);
        let names =
            ["a", "ab", "abc", "transfer_funds", "send_email", "x1", "é", "éé", "amount", "amounts", "mount", &long];
        let wrongs = ["amout", "tranfser_funds", "snd", "", "ééé", "éa", "Amounts", "b", "abcd", "send_emails_now"];
        for wrong in names.iter().chain(wrongs.iter()) {
            assert_eq!(did_you_mean(wrong, names), reference::did_you_mean(wrong, &names), "{wrong}");
        }
    }

    /// Short names over a small alphabet (so that near misses, transpositions and ties are
    /// common), mixed ASCII case and non-ASCII letters (whose case is not folded); now and then
    /// a name past the measured length.
    fn name() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            8 => "[abAB_éÉß]{0,7}",
            1 => "[abcdefghAB]{0,20}",
            // Three- and four-byte characters: byte lengths far from character counts (the
            // length filter reads bytes before it decodes).
            1 => "[ab€😀]{0,12}",
            1 => "[aA]{250,260}",
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        #[test]
        fn did_you_mean_matches_the_reference(
            wrong in name(),
            candidates in proptest::collection::vec(name(), 0..8),
        ) {
            let cands: Vec<&str> = candidates.iter().map(String::as_str).collect();
            proptest::prop_assert_eq!(
                did_you_mean(&wrong, cands.iter().copied()),
                reference::did_you_mean(&wrong, &cands)
            );
        }

        /// Names lowercased ahead of time give the answers of names lowercased on the way.
        #[test]
        fn prepared_candidates_answer_as_did_you_mean(
            wrongs in proptest::collection::vec(name(), 1..4),
            candidates in proptest::collection::vec(name(), 0..8),
        ) {
            let prepared = Candidates::new(candidates.clone());
            for wrong in &wrongs {
                proptest::prop_assert_eq!(
                    prepared.did_you_mean(wrong),
                    did_you_mean(wrong, candidates.iter().map(String::as_str))
                );
            }
        }

        #[test]
        fn the_bag_distance_never_exceeds_the_distance(a in name(), b in name()) {
            let (mut abuf, mut bbuf) = (['\0'; MAX_NAME_CHARS], ['\0'; MAX_NAME_CHARS]);
            if let (Some(x), Some(y)) = (lower_chars(&a, &mut abuf), lower_chars(&b, &mut bbuf)) {
                let full = reference::edit_distance(&a.to_ascii_lowercase(), &b.to_ascii_lowercase());
                proptest::prop_assert!(Bag::of(x).distance_to(y, &mut Bag::default()) <= full);
            }
        }

        #[test]
        fn bounded_distance_matches_the_reference(a in name(), b in name(), bound in 0usize..12) {
            let full = reference::edit_distance(&a.to_ascii_lowercase(), &b.to_ascii_lowercase());
            let (mut abuf, mut bbuf) = (['\0'; MAX_NAME_CHARS], ['\0'; MAX_NAME_CHARS]);
            let mut rows = [[0usize; MAX_NAME_CHARS + 1]; 3];
            let got = match (lower_chars(&a, &mut abuf), lower_chars(&b, &mut bbuf)) {
                (Some(x), Some(y)) => edit_distance_within(x, y, bound, &mut rows),
                _ => None,
            };
            proptest::prop_assert_eq!(got, Some(full).filter(|&d| d <= bound));
        }
    }
}
