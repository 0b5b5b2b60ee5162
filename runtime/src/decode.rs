//! The fast reader of a request's JSON text: one pass over the bytes, straight into the
//! [`Request`]'s slots, without first building a `serde_json::Value` of the whole document.
//!
//! It is an optimization of [`crate::convert::convert_str`], never a second definition of what a
//! request is: it either produces exactly the `Request` the reference reader
//! ([`crate::convert::read_tree`]: scan, [`crate::json::parse`], then the tree's conversion)
//! would produce, or it declines (`None`) and `convert_str` asks the reference reader, which then
//! accepts the text or names what is wrong with it. So every refusal and every message stays in
//! one place, and this reader only has to recognize the requests it is sure of.
//!
//! It declines at the first thing it does not accept: a syntax error, a repeated key, a key or
//! type the schema does not allow, a limit reached ([`Limits`]), and a few valid inputs it leaves
//! to the reference reader because their exact value needs serde_json's own judgement: integers
//! of more than 18 digits and numbers with a fraction or an exponent whose digits a 64-bit float
//! might not keep (more than 15 significant digits, or an extreme magnitude).
//!
//! What it builds without the tree: the top-level object, `action`, `identity`, `context` and
//! `evidence` are read key by key (a bit per known key catches a repeat), strings are borrowed
//! from the text unless they hold an escape, `roles`, `data_classes` and `prior_actions` become
//! values directly. What it still builds as JSON values are the parts whose conversion the
//! reference reader defines on JSON (the typed conversion both readers share, `input::Conv`): the
//! params (which the request keeps as given anyway, `Request::params_json`), declared context
//! fields, evidence values, `semantic_distance` and `now`. Those go through the same conversion
//! code as the reference reader's, so a type rule lives in one place. A declared tool's params that
//! come after `tool` are read against its declaration: each value converted into its slot as it
//! is read, without looking the fields up in the params object afterwards.
//!
//! It imports nothing from [`crate::convert`] (which calls it) nor from [`crate::json`]: what the
//! two readers share is in the crate's `input` module.
//!
//! `runtime/tests/decode.rs` checks on generated valid, invalid and hostile texts that a request
//! this reader produces is the reference reader's, and that it declines whatever the reference
//! reader refuses.
#![deny(missing_docs)]

use crate::input::{dedup, empty_list, empty_str, Conv, Limits, Path, CONTEXT_BUILTINS, PRIOR_ACTION_KEYS};
use crate::record::MAX_REQUEST_ID_BYTES;
use crate::recurring::recurring;
use crate::request::{Context, Given, Identity, Params, Request};
use crate::schema::{FieldSchema, Schema, ValueType};
use crate::value::Value;
use serde_json::{Map, Number, Value as Json};
use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

/// The request in `text`, or `None` when this reader declines it (see the module doc): the
/// caller then reads it with [`crate::convert::read_tree`].
pub fn request(schema: &Schema, text: &str, now: i64, limits: &Limits) -> Option<Request> {
    if text.len() > limits.max_request_bytes {
        return None;
    }
    let mut r = Reader { text, pos: 0, depth: 0, max_depth: limits.max_depth.min(MAX_DEPTH), limits };
    let request = r.top(schema, now)?;
    r.ws();
    (r.pos == text.len()).then_some(request)
}

/// Deeper documents are left to the reference reader, whose JSON parser has its own recursion
/// limit near [`crate::convert::MAX_DEPTH_CEILING`].
const MAX_DEPTH: usize = 100;

/// The high bit of each byte of `word` that is `"`, `\\` or below 0x20 (a byte that ends a run of
/// plain string text), as far as the first such byte: the lowest set bit marks the first one
/// exactly. (The zero-byte test `(x - 0x01..) & !x & 0x80..` can mark a byte wrongly only above a
/// byte that really is zero, through the borrow; the same holds for the "below 0x20" test.)
fn special(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let control = word.wrapping_sub(ONES.wrapping_mul(0x20)) & !word & HIGH;
    zero(word ^ ONES.wrapping_mul(u64::from(b'"'))) | zero(word ^ ONES.wrapping_mul(u64::from(b'\\'))) | control
}

/// Sets of at most this many strings are deduplicated as they are read (see `string_set`).
const SMALL_SET: usize = 8;

/// `None` is "decline": the reference reader takes over.
type Read<T> = Option<T>;

struct Reader<'t> {
    text: &'t str,
    pos: usize,
    /// Open arrays and objects; the top-level object is depth 1.
    depth: usize,
    max_depth: usize,
    limits: &'t Limits,
}

/// The parts of the top level, gathered in any order and assembled at the end.
#[derive(Default)]
struct Top<'t> {
    request_id: Option<Arc<str>>,
    tool: Option<Cow<'t, str>>,
    /// The index of `tool` in the schema, found once when the tool is read.
    tool_index: Option<usize>,
    operation: Option<Arc<str>>,
    params: Option<Params>,
    /// The params already converted into the declared tool's slots, when `params` came after
    /// `tool` (see `Reader::declared_params`).
    slots: Option<Vec<Value>>,
    identity: Option<Identity>,
    context: Option<Context>,
    evidence: Option<Vec<Option<Value>>>,
}

impl<'t> Reader<'t> {
    fn bytes(&self) -> &'t [u8] {
        self.text.as_bytes()
    }

    fn ws(&mut self) {
        while matches!(self.bytes().get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.bytes().get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let here = self.peek() == Some(b);
        if here {
            self.pos += 1;
        }
        here
    }

    fn expect(&mut self, b: u8) -> Read<()> {
        self.eat(b).then_some(())
    }

    fn open(&mut self, b: u8) -> Read<()> {
        self.expect(b)?;
        self.depth += 1;
        (self.depth <= self.max_depth).then_some(())
    }

    /// `null`, consumed; `false` (nothing consumed) for anything else.
    fn null(&mut self) -> bool {
        let here = self.peek() == Some(b'n');
        if here {
            return self.literal("null");
        }
        false
    }

    fn literal(&mut self, word: &str) -> bool {
        let end = self.pos + word.len();
        let here = self.text.get(self.pos..end) == Some(word);
        if here {
            self.pos = end;
        }
        here
    }

    /// The members of an object, each value read by `member`.
    fn object(&mut self, mut member: impl FnMut(&mut Self, Cow<'t, str>) -> Read<()>) -> Read<()> {
        self.open(b'{')?;
        if !self.eat(b'}') {
            loop {
                let key = self.string()?;
                self.expect(b':')?;
                member(self, key)?;
                if self.eat(b',') {
                    continue;
                }
                self.expect(b'}')?;
                break;
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// The elements of an array, each read by `element`.
    fn array(&mut self, mut element: impl FnMut(&mut Self) -> Read<()>) -> Read<()> {
        self.open(b'[')?;
        let mut n = 0usize;
        if !self.eat(b']') {
            loop {
                n += 1;
                if n > self.limits.max_list_len {
                    return None;
                }
                element(self)?;
                if self.eat(b',') {
                    continue;
                }
                self.expect(b']')?;
                break;
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// A string (or key), borrowed from the text when it holds no escape.
    fn string(&mut self) -> Read<Cow<'t, str>> {
        self.expect(b'"')?;
        let start = self.pos;
        let bytes = self.bytes();
        // Eight bytes at a time to the first `"`, `\\` or control character; byte by byte in the
        // last seven bytes of the text.
        loop {
            if let Some(chunk) = bytes.get(self.pos..self.pos + 8) {
                let mask = special(u64::from_le_bytes(chunk.try_into().ok()?));
                if mask == 0 {
                    self.pos += 8;
                    continue;
                }
                self.pos += (mask.trailing_zeros() / 8) as usize;
            } else {
                while bytes.get(self.pos).is_some_and(|c| *c != b'"' && *c != b'\\' && *c >= 0x20) {
                    self.pos += 1;
                }
            }
            break;
        }
        match *bytes.get(self.pos)? {
            b'"' => {}
            b'\\' => return self.escaped(start),
            _ => return None,
        }
        let s = self.text.get(start..self.pos)?;
        self.pos += 1;
        (s.len() <= self.limits.max_string_bytes).then_some(Cow::Borrowed(s))
    }

    /// The rest of a string that holds an escape, from its first byte at `start`.
    fn escaped(&mut self, start: usize) -> Read<Cow<'t, str>> {
        let mut out = String::from(self.text.get(start..self.pos)?);
        let bytes = self.bytes();
        loop {
            let run = self.pos;
            while bytes.get(self.pos).is_some_and(|c| *c != b'"' && *c != b'\\' && *c >= 0x20) {
                self.pos += 1;
            }
            out.push_str(self.text.get(run..self.pos)?);
            match *bytes.get(self.pos)? {
                b'"' => break,
                b'\\' => {
                    let c = match *bytes.get(self.pos + 1)? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            self.pos += 2;
                            let c = self.unicode_escape()?;
                            out.push(c);
                            continue;
                        }
                        _ => return None,
                    };
                    out.push(c);
                    self.pos += 2;
                }
                _ => return None,
            }
        }
        self.pos += 1;
        (out.len() <= self.limits.max_string_bytes).then_some(Cow::Owned(out))
    }

    /// The character of `XXXX` (after `\u`), or of a surrogate pair `XXXX\uYYYY`; a lone
    /// surrogate is refused, as serde_json refuses it.
    fn unicode_escape(&mut self) -> Read<char> {
        let first = self.hex4()?;
        if (0xDC00..0xE000).contains(&first) {
            return None;
        }
        if (0xD800..0xDC00).contains(&first) {
            if !self.literal("\\u") {
                return None;
            }
            let second = self.hex4()?;
            if !(0xDC00..0xE000).contains(&second) {
                return None;
            }
            return char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00));
        }
        char::from_u32(first)
    }

    fn hex4(&mut self) -> Read<u32> {
        let digits = self.text.get(self.pos..self.pos + 4)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.pos += 4;
        u32::from_str_radix(digits, 16).ok()
    }

    /// A number as serde_json reads it, for the numbers whose value is certain (module doc).
    fn number(&mut self) -> Read<Number> {
        self.ws();
        let bytes = self.bytes();
        let start = self.pos;
        let negative = bytes.get(self.pos) == Some(&b'-');
        if negative {
            self.pos += 1;
        }
        let int_start = self.pos;
        match bytes.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return None,
        }
        let int_digits = self.pos - int_start;
        let mut exact_int = true;
        if bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if !bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
                return None;
            }
            self.digits();
            exact_int = false;
        }
        if matches!(bytes.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(bytes.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            let exp_start = self.pos;
            if !bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
                return None;
            }
            self.digits();
            // Extreme magnitudes are left to serde_json (out of range, or beyond a float).
            if self.pos - exp_start > 3 {
                return None;
            }
            exact_int = false;
        }
        // A digit right after a leading zero ("01") is a syntax error.
        if bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        let token = self.text.get(start..self.pos)?;
        if exact_int {
            if int_digits > 18 {
                return None;
            }
            let i: i64 = token.parse().ok()?;
            // serde_json reads `-0` as the float -0.0.
            return if negative && i == 0 { Number::from_f64(-0.0) } else { Some(Number::from(i)) };
        }
        // Up to 15 significant digits in the normal range survive a 64-bit float exactly, so the
        // reference reader's check for digits the float dropped would pass.
        let mantissa = token.split(['e', 'E']).next()?;
        let digits = mantissa.bytes().filter(u8::is_ascii_digit);
        let leading = digits.clone().take_while(|b| *b == b'0').count();
        let trailing = digits.clone().rev().take_while(|b| *b == b'0').count();
        let significant = digits.count().saturating_sub(leading).saturating_sub(trailing);
        if significant > 15 || mantissa.len() > 40 {
            return None;
        }
        let f: f64 = token.parse().ok()?;
        // Zero only when written as zero; otherwise a normal float (not one that under- or
        // overflowed, which the reference reader refuses or reports).
        if !(f.is_normal() || (f == 0.0 && significant == 0)) {
            return None;
        }
        Number::from_f64(f)
    }

    fn digits(&mut self) {
        while self.bytes().get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
    }

    /// Any JSON value, as serde_json (and [`crate::json::parse`]) would build it.
    fn json(&mut self) -> Read<Json> {
        match self.peek()? {
            b'{' => self.json_object().map(Json::Object),
            b'[' => {
                let mut items = Vec::new();
                self.array(|r| {
                    items.push(r.json()?);
                    Some(())
                })?;
                Some(Json::Array(items))
            }
            b'"' => self.string().map(|s| Json::String(s.into_owned())),
            b't' => self.literal("true").then_some(Json::Bool(true)),
            b'f' => self.literal("false").then_some(Json::Bool(false)),
            b'n' => self.literal("null").then_some(Json::Null),
            _ => self.number().map(Json::Number),
        }
    }

    fn json_object(&mut self) -> Read<Map<String, Json>> {
        let mut map = Map::new();
        self.object(|r, key| {
            let value = r.json()?;
            if map.contains_key(key.as_ref()) {
                return None;
            }
            map.insert(key.into_owned(), value);
            Some(())
        })?;
        Some(map)
    }

    /// A string, or `null` (read as `""`).
    fn opt_string(&mut self) -> Read<Arc<str>> {
        self.opt_string_as(|s| Arc::from(s))
    }

    /// [`Self::opt_string`] for a name that recurs from call to call (the operation, who is
    /// asking): shared through [`recurring`] rather than copied each time.
    fn opt_name(&mut self) -> Read<Arc<str>> {
        self.opt_string_as(recurring)
    }

    fn opt_string_as(&mut self, make: impl FnOnce(&str) -> Arc<str>) -> Read<Arc<str>> {
        if self.null() {
            return Some(empty_str());
        }
        self.string().map(|s| make(&s))
    }

    /// `null` (the empty list) or an array of strings, duplicates removed (first kept). The
    /// strings are names (roles, data classes), shared through [`recurring`].
    fn string_set(&mut self) -> Read<Value> {
        if self.null() {
            return Some(empty_list());
        }
        // A few elements (roles, data classes) are deduplicated as they come, pairwise; a longer
        // list goes through `dedup` at the end, which keeps the same first occurrences.
        let mut items: Vec<Value> = Vec::new();
        self.array(|r| {
            let s = r.string()?;
            if items.len() > SMALL_SET || !items.iter().any(|v| matches!(v, Value::Str(o) if **o == *s)) {
                items.push(Value::Str(recurring(&s)));
            }
            Some(())
        })?;
        if items.is_empty() {
            return Some(empty_list());
        }
        Some(Value::list(if items.len() > SMALL_SET { dedup(items) } else { items }))
    }

    /// Marks key `i` of an object as seen; a repeated key declines.
    fn first_time(seen: &mut u64, i: usize) -> Read<()> {
        let bit = 1u64.checked_shl(u32::try_from(i).ok()?)?;
        if *seen & bit != 0 {
            return None;
        }
        *seen |= bit;
        Some(())
    }

    fn top(&mut self, schema: &Schema, now: i64) -> Read<Request> {
        let conv = Conv { lossy: &HashSet::new() };
        let mut top = Top::default();
        let mut seen = 0u64;
        if self.peek()? != b'{' {
            return None;
        }
        self.object(|r, key| match key.as_ref() {
            "request_id" => {
                Self::first_time(&mut seen, 0)?;
                top.request_id = r.request_id()?;
                Some(())
            }
            "action" => {
                Self::first_time(&mut seen, 1)?;
                r.action(schema, &conv, &mut top)
            }
            "identity" => {
                Self::first_time(&mut seen, 2)?;
                top.identity = r.identity()?;
                Some(())
            }
            "context" => {
                Self::first_time(&mut seen, 3)?;
                top.context = r.context(schema, &conv, now)?;
                Some(())
            }
            "evidence" => {
                Self::first_time(&mut seen, 4)?;
                top.evidence = Some(r.evidence(schema, &conv)?);
                Some(())
            }
            _ => None,
        })?;
        // `action` is required, and so is its `tool`.
        let tool = top.tool?;
        let params_json = top.params.unwrap_or_default();
        let tool_index = top.tool_index;
        let params = match (top.slots, tool_index.and_then(|i| schema.tools.get(i))) {
            (Some(slots), _) => slots,
            (None, Some(decl)) => {
                let path = Path::Root;
                let (action, params) = (path.key("action"), "params");
                conv.fields(&decl.fields, &params_json.to_map()?, &action.key(params), "parameter").ok()?
            }
            (None, None) => Vec::new(),
        };
        let identity = match top.identity {
            Some(i) => i,
            None => Identity {
                human: empty_str(),
                service: empty_str(),
                agent: empty_str(),
                session: empty_str(),
                roles: empty_list(),
            },
        };
        let context = match top.context {
            Some(c) => c,
            None => Self::no_context(schema, &conv, now)?,
        };
        let evidence = top.evidence.unwrap_or_else(|| vec![None; schema.evidence.len()]);
        Some(Request {
            request_id: top.request_id,
            // A name every call of the tool repeats: shared, not copied.
            tool: recurring(tool.as_ref()),
            tool_index,
            operation: top.operation.unwrap_or_else(empty_str),
            params,
            params_json,
            identity,
            context,
            evidence,
        })
    }

    /// `null`, or 1 to [`MAX_REQUEST_ID_BYTES`] printable ASCII characters without spaces.
    fn request_id(&mut self) -> Read<Option<Arc<str>>> {
        if self.null() {
            return Some(None);
        }
        let s = self.string()?;
        let fits = !s.is_empty() && s.len() <= MAX_REQUEST_ID_BYTES && s.bytes().all(|b| b.is_ascii_graphic());
        fits.then(|| Some(Arc::from(s.as_ref())))
    }

    fn action(&mut self, schema: &Schema, conv: &Conv<'_>, top: &mut Top<'t>) -> Read<()> {
        let mut seen = 0u64;
        self.object(|r, key| match key.as_ref() {
            "tool" => {
                Self::first_time(&mut seen, 0)?;
                let tool = r.string()?;
                top.tool_index = schema.tool_index(&tool);
                top.tool = Some(tool);
                Some(())
            }
            "operation" => {
                Self::first_time(&mut seen, 1)?;
                top.operation = Some(r.opt_name()?);
                Some(())
            }
            "params" => {
                Self::first_time(&mut seen, 2)?;
                if r.null() {
                    return Some(());
                }
                let decl = top.tool_index.and_then(|i| schema.tools.get(i));
                match decl {
                    Some(decl) if decl.fields.len() <= 64 => {
                        let (params, slots) = r.declared_params(&decl.fields, conv)?;
                        top.params = Some(params);
                        top.slots = Some(slots);
                    }
                    _ => top.params = Some(Params::from(r.json_object()?)),
                }
                Some(())
            }
            _ => None,
        })
    }

    /// The params object of a declared tool (at most 64 fields), read against its declaration:
    /// each key found among `fields` by name, each value converted straight into its slot (see
    /// `param`) and kept for `Request::params_json` as that value when it is its own JSON, else as
    /// the span of the text it was read from (`request::Given`).
    /// An unknown or repeated key, a value of the wrong type or a required field missing
    /// declines, as [`Conv::fields`] would refuse them.
    fn declared_params(&mut self, fields: &[FieldSchema], conv: &Conv<'_>) -> Read<(Params, Vec<Value>)> {
        let mut given = Vec::with_capacity(fields.len());
        let mut slots = vec![Value::Absent; fields.len()];
        let mut seen = 0u64;
        self.ws();
        let start = self.pos;
        self.object(|r, key| {
            let i = fields.iter().position(|f| *f.name == *key)?;
            Self::first_time(&mut seen, i)?;
            let field = fields.get(i)?;
            r.ws();
            let from = u32::try_from(r.pos - start).ok()?;
            let value = r.param(&field.ty, conv)?;
            let kept = match value {
                Value::Str(_) | Value::Int(_) | Value::Bool(_) | Value::Absent => Given::Value(value.clone()),
                _ => Given::Span(from, u32::try_from(r.pos - start).ok()?),
            };
            *slots.get_mut(i)? = value;
            given.push((Arc::clone(&field.name), kept));
            Some(())
        })?;
        for (i, f) in fields.iter().enumerate() {
            let bit = 1u64.checked_shl(u32::try_from(i).ok()?)?;
            if seen & bit == 0 && !matches!(f.ty, ValueType::Optional(_)) {
                return None;
            }
        }
        Some((Params::from_text(self.text.get(start..self.pos)?, given), slots))
    }

    /// One parameter's value as a value of type `ty`: a string of a `String` parameter straight
    /// from the text (no JSON value in between), anything else through its JSON value and the
    /// conversion the reference reader uses, so each type's rule stays in one place. An error is
    /// not worded here: declining hands the text to the reference reader, which words it.
    fn param(&mut self, ty: &ValueType, conv: &Conv<'_>) -> Read<Value> {
        match (ty, self.peek()?) {
            (ValueType::Optional(_), b'n') => self.null().then_some(Value::Absent),
            (ValueType::Optional(inner), _) => self.param(inner, conv),
            (ValueType::String, b'"') => self.string().map(|s| Value::str(&s)),
            _ => {
                let value = self.json()?;
                conv.convert(&value, ty, &Path::Root).ok()
            }
        }
    }

    fn identity(&mut self) -> Read<Option<Identity>> {
        if self.null() {
            return Some(None);
        }
        let mut id = Identity {
            human: empty_str(),
            service: empty_str(),
            agent: empty_str(),
            session: empty_str(),
            roles: empty_list(),
        };
        let mut seen = 0u64;
        self.object(|r, key| {
            match key.as_ref() {
                "human" => {
                    Self::first_time(&mut seen, 0)?;
                    id.human = r.opt_name()?;
                }
                "service" => {
                    Self::first_time(&mut seen, 1)?;
                    id.service = r.opt_name()?;
                }
                "agent" => {
                    Self::first_time(&mut seen, 2)?;
                    id.agent = r.opt_name()?;
                }
                "session" => {
                    Self::first_time(&mut seen, 3)?;
                    id.session = r.opt_name()?;
                }
                "roles" => {
                    Self::first_time(&mut seen, 4)?;
                    id.roles = r.string_set()?;
                }
                _ => return None,
            }
            Some(())
        })?;
        Some(Some(id))
    }

    /// The context of a request that gives none: every built-in at its default, and the
    /// declared fields all absent (a required one declines).
    fn no_context(schema: &Schema, conv: &Conv<'_>, now: i64) -> Read<Context> {
        let path = Path::Root;
        let declared = conv.declared(&schema.context, &Map::new(), &path.key("context"), "context field").ok()?;
        Some(Context {
            original_request: Value::Str(empty_str()),
            prior_actions: empty_list(),
            data_classes: empty_list(),
            semantic_distance: Value::Absent,
            now: Value::Time(now),
            declared,
        })
    }

    fn context(&mut self, schema: &Schema, conv: &Conv<'_>, now: i64) -> Read<Option<Context>> {
        if self.null() {
            return Some(None);
        }
        let mut original_request = empty_str();
        let mut prior = Vec::new();
        let mut data_classes = empty_list();
        let mut semantic_distance = Json::Null;
        let mut at = Json::Null;
        let mut declared = Map::new();
        let mut seen = 0u64;
        self.object(|r, key| {
            let builtin = CONTEXT_BUILTINS.iter().position(|b| *b == key.as_ref());
            if let Some(i) = builtin {
                // A declared field named like a built-in is read by both: left to the reference.
                if schema.context.iter().any(|f| *f.name == *key) {
                    return None;
                }
                Self::first_time(&mut seen, i)?;
            }
            match builtin {
                Some(0) => original_request = r.opt_string()?,
                Some(1) => prior = r.prior_actions()?,
                Some(2) => data_classes = r.string_set()?,
                Some(3) => semantic_distance = r.json()?,
                Some(4) => at = r.json()?,
                _ if schema.context.iter().any(|f| *f.name == *key) => {
                    let value = r.json()?;
                    if declared.contains_key(key.as_ref()) {
                        return None;
                    }
                    declared.insert(key.into_owned(), value);
                }
                _ => return None,
            }
            Some(())
        })?;
        let path = Path::Root;
        let path = path.key("context");
        let semantic_distance = match semantic_distance {
            Json::Null => Value::Absent,
            v => conv.convert(&v, &ValueType::Decimal, &path.key("semantic_distance")).ok()?,
        };
        let now = match at {
            Json::Null => Value::Time(now),
            v => conv.convert(&v, &ValueType::Time, &path.key("now")).ok()?,
        };
        let declared = conv.declared(&schema.context, &declared, &path, "context field").ok()?;
        Some(Some(Context {
            original_request: Value::Str(original_request),
            prior_actions: Value::list(prior),
            data_classes,
            semantic_distance,
            now,
            declared,
        }))
    }

    /// `null`, or an array of `{ "tool": String, "decision": String }` records.
    fn prior_actions(&mut self) -> Read<Vec<Value>> {
        let mut prior = Vec::new();
        if self.null() {
            return Some(prior);
        }
        self.array(|r| {
            let mut fields: [Option<Value>; 2] = [None, None];
            r.object(|r, key| {
                let i = PRIOR_ACTION_KEYS.iter().position(|k| *k == key.as_ref())?;
                let slot = fields.get_mut(i)?;
                if slot.is_some() {
                    return None;
                }
                *slot = Some(Value::str(&r.string()?));
                Some(())
            })?;
            let [Some(tool), Some(decision)] = fields else {
                return None;
            };
            prior.push(Value::Record(Arc::from(vec![tool, decision])));
            Some(())
        })?;
        Some(prior)
    }

    fn evidence(&mut self, schema: &Schema, conv: &Conv<'_>) -> Read<Vec<Option<Value>>> {
        let mut out: Vec<Option<Value>> = vec![None; schema.evidence.len()];
        if self.null() {
            return Some(out);
        }
        let mut seen = vec![false; schema.evidence.len()];
        self.object(|r, key| {
            let i = schema.evidence.iter().position(|e| e.name == key.as_ref())?;
            if std::mem::replace(seen.get_mut(i)?, true) {
                return None;
            }
            let value = r.json()?;
            if value.is_null() {
                return Some(());
            }
            let path = Path::Root;
            let path = path.key("evidence");
            let ty = &schema.evidence.get(i)?.ty;
            *out.get_mut(i)? = Some(conv.convert(&value, ty, &path.key(&key)).ok()?);
            Some(())
        })?;
        Some(out)
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::special;

    fn is_special(b: u8) -> bool {
        b == b'"' || b == b'\\' || b < 0x20
    }

    /// The first special byte of a word found by the mask is the one a byte-by-byte scan finds,
    /// for every byte value at every position, behind plain ASCII and behind UTF-8 bytes, and
    /// with a second special byte after it.
    #[test]
    fn the_mask_finds_the_first_special_byte() {
        for fill in [b'a', 0xC3, 0x20, 0x7F, 0xFF] {
            for at in 0..8usize {
                for b in 0..=255u8 {
                    for later in [None, Some(0u8), Some(b'"')] {
                        let mut bytes = [fill; 8];
                        bytes[at] = b;
                        if let Some(l) = later {
                            if at < 7 {
                                bytes[7] = l;
                            }
                        }
                        let first = bytes.iter().position(|c| is_special(*c));
                        let mask = special(u64::from_le_bytes(bytes));
                        let found = (mask != 0).then(|| (mask.trailing_zeros() / 8) as usize);
                        assert_eq!(found, first, "{bytes:?}");
                    }
                }
            }
        }
    }
}
