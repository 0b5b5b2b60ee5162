//! Canonical JSON: the one text of a JSON value that receipt hashes, action hashes and export heads
//! are computed over.
//!
//! [`canonical_json`] follows RFC 8785 (JCS): object members sorted by the UTF-16 code units of
//! their names, no whitespace, strings escaped minimally (`\"`, `\\`, `\b \t \n \f \r`, other
//! controls below U+0020 as `\u00xx` with lowercase hex, everything else — including `/`, U+007F,
//! U+2028 and non-ASCII — literally, as UTF-8), floats in ECMAScript `Number.prototype.toString`
//! form (`1e+21`, `0.000001`, `1e-7`, `-0` as `0`). One deliberate difference: JSON integers that
//! serde_json holds as `i64`/`u64` are printed exactly, in decimal; JCS would first round them to
//! the nearest IEEE double. The two agree for every integer of magnitude up to 2^53, which covers
//! every number a receipt holds in practice (`seq`, `at`, counts); above that, this encoding keeps
//! the exact value instead of losing digits.
//!
//! Floats: without serde_json's `float_roundtrip` feature, parsing a float's text may give a value
//! one ULP off the one that was printed, so a receipt whose `detail` or `identity` held such a
//! float would fail verification after an export and import. The workspace turns the feature on.
//!
//!
//! # Two writers, one text
//!
//! [`canonical_json`] writes a `serde_json::Value`. [`to_canonical_json`] writes any `Serialize`
//! value straight from serde's calls, without building the `Value` first (receipts are hashed on
//! every write and on every verification, and the tree was most of that cost). It writes exactly
//! the text `canonical_json(&serde_json::to_value(v)?)` writes (a property test below holds it to
//! that on arbitrary values): each object's members are written as they come, then put in order.
//! Where the two paths could part — an `f32`, a map key that is not a string, an integer or a
//! unit variant, an integer beyond `i64`/`u64` — it returns an error instead, and its callers
//! take the `Value` path.

use serde::ser::{self, Serialize};
use serde_json::{Number, Value};
use std::fmt::Display;

/// RFC 8785-style canonical JSON of a value (see the module documentation for the one deliberate
/// difference, exact integers).
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

pub(crate) fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|(a, _), (b, _)| utf16_order(a, b));
            out.push('{');
            for (i, (k, val)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_canonical(val, out);
            }
            out.push('}');
        }
    }
}

/// The order of `a` and `b` by their UTF-16 code units, as RFC 8785 sorts member names.
///
/// UTF-8 byte order is code point order, and UTF-16 order differs from it only between a
/// character of U+E000..=U+FFFF (UTF-8 lead byte 0xEE or 0xEF) and one above U+FFFF (lead byte
/// 0xF0 or more), which UTF-16 puts first (its surrogates are below U+E000). Names compare
/// bytewise, then, unless their first difference involves such a byte; receipts hash on every
/// write, and their names are ASCII.
fn utf16_order(a: &str, b: &str) -> std::cmp::Ordering {
    let first_difference = a.bytes().zip(b.bytes()).find(|(x, y)| x != y);
    match first_difference {
        Some((x, y)) if x >= 0xEE || y >= 0xEE => a.encode_utf16().cmp(b.encode_utf16()),
        Some((x, y)) => x.cmp(&y),
        // One is a prefix of the other: the shorter comes first in both orders.
        None => a.len().cmp(&b.len()),
    }
}

/// The escape of one byte of a string, when it needs one (RFC 8785: `"`, `\\` and the controls
/// below U+0020; every other character is written as is).
fn escape(byte: u8) -> Option<&'static str> {
    const CONTROLS: [&str; 32] = [
        "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007", "\\u0008", "\\u0009",
        "\\u000a", "\\u000b", "\\u000c", "\\u000d", "\\u000e", "\\u000f", "\\u0010", "\\u0011", "\\u0012", "\\u0013",
        "\\u0014", "\\u0015", "\\u0016", "\\u0017", "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d",
        "\\u001e", "\\u001f",
    ];
    match byte {
        b'"' => Some("\\\""),
        b'\\' => Some("\\\\"),
        0x08 => Some("\\b"),
        b'\t' => Some("\\t"),
        b'\n' => Some("\\n"),
        0x0c => Some("\\f"),
        b'\r' => Some("\\r"),
        0..=0x1f => CONTROLS.get(usize::from(byte)).copied(),
        _ => None,
    }
}

/// A JSON string, escaped as RFC 8785 says; the runs between escapes are copied whole (every
/// byte that needs an escape is ASCII, so a run never splits a character).
///
/// Eight bytes at a time are tested for an escape at once ([`word_needs_escape`]): the text hashed
/// is mostly hashes, ids and names with nothing to escape, and a test per byte was most of the cost
/// of hashing a receipt (several times more under the fuzzers' comparison tracing).
pub(crate) fn write_string(s: &str, out: &mut String) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut run_start = 0;
    for (k, chunk) in bytes.chunks(8).enumerate() {
        // A short last chunk is padded with spaces, which need no escape.
        let mut word = [b' '; 8];
        if let Some(head) = word.get_mut(..chunk.len()) {
            head.copy_from_slice(chunk);
        }
        if !word_needs_escape(u64::from_le_bytes(word)) {
            continue;
        }
        let offset = k.saturating_mul(8);
        for (j, &byte) in chunk.iter().enumerate() {
            if let Some(escaped) = escape(byte) {
                let at = offset.saturating_add(j);
                out.push_str(s.get(run_start..at).unwrap_or_default());
                out.push_str(escaped);
                run_start = at.saturating_add(1);
            }
        }
    }
    out.push_str(s.get(run_start..).unwrap_or_default());
    out.push('"');
}

/// Whether any of the eight bytes of `word` needs an escape: a control (below 0x20), `"` or `\`.
/// The usual bit tricks, exact for "is there any": `(x - 0x01…) & !x & 0x80…` has a high bit set
/// for some byte exactly when some byte of `x` is zero, and `(x - n·0x01…) & !x & 0x80…` when some
/// byte is below `n` (for `n` ≤ 0x80).
fn word_needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u8| x.wrapping_sub(ONES.wrapping_mul(u64::from(n))) & !x & HIGHS;
    let control = below(word, 0x20);
    let quote = below(word ^ ONES.wrapping_mul(u64::from(b'"')), 1);
    let backslash = below(word ^ ONES.wrapping_mul(u64::from(b'\\')), 1);
    control | quote | backslash != 0
}

fn write_number(n: &Number, out: &mut String) {
    if let Some(u) = n.as_u64() {
        out.push_str(&u.to_string());
    } else if let Some(i) = n.as_i64() {
        out.push_str(&i.to_string());
    } else if let Some(f) = n.as_f64() {
        out.push_str(&ecmascript_number(f));
    } else {
        // Only reachable with serde_json's arbitrary_precision: keep its text.
        out.push_str(&n.to_string());
    }
}

/// ECMAScript `Number.prototype.toString(x)` for a finite double (ECMA-262, Number::toString):
/// the shortest digits that round-trip, placed by the exponent rules. Non-finite values (which a
/// `serde_json::Value` cannot hold) print as `null`, as `JSON.stringify` does.
fn ecmascript_number(x: f64) -> String {
    if !x.is_finite() {
        return "null".to_string();
    }
    if x == 0.0 {
        return "0".to_string();
    }
    let Some((digits, e)) = shortest_digits(x.abs()) else { return x.to_string() };
    let digits = digits.as_str();
    // x = 0.d1 d2 … dk × 10^n, with k digits.
    let k = i64::try_from(digits.len()).unwrap_or(i64::MAX);
    let n = e.saturating_add(1);
    let mut s = String::new();
    if x < 0.0 {
        s.push('-');
    }
    if k <= n && n <= 21 {
        s.push_str(digits);
        for _ in 0..(n - k) {
            s.push('0');
        }
    } else if 0 < n && n <= 21 {
        let split = usize::try_from(n).unwrap_or(0);
        let (int_part, frac_part) = digits.split_at(split.min(digits.len()));
        s.push_str(int_part);
        s.push('.');
        s.push_str(frac_part);
    } else if -6 < n && n <= 0 {
        s.push_str("0.");
        for _ in 0..(-n) {
            s.push('0');
        }
        s.push_str(digits);
    } else {
        let mut chars = digits.chars();
        if let Some(first) = chars.next() {
            s.push(first);
        }
        let rest = chars.as_str();
        if !rest.is_empty() {
            s.push('.');
            s.push_str(rest);
        }
        let e = n - 1;
        s.push('e');
        s.push(if e < 0 { '-' } else { '+' });
        s.push_str(&e.unsigned_abs().to_string());
    }
    s
}

/// Splits `{:e}`-style text (`d[.ddd]e[-]N`) into its significant digits (trailing zeros
/// dropped, at least one digit) and its decimal exponent.
fn split_scientific(sci: &str) -> Option<(String, i64)> {
    let (mantissa, exp) = sci.split_once('e')?;
    let e = exp.parse::<i64>().ok()?;
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let trimmed = digits.trim_end_matches('0');
    Some((if trimmed.is_empty() { "0".to_string() } else { trimmed.to_string() }, e))
}

/// Whether `digits` × 10^(e + 1 − len) parses back to exactly `x`.
fn round_trips(digits: &str, e: i64, x: f64) -> bool {
    let mut chars = digits.chars();
    let first = chars.next().unwrap_or('0');
    format!("{first}.{}e{e}", chars.as_str()).parse::<f64>().is_ok_and(|y| y == x)
}

/// `digits` plus one in the last place, unless that carries into a new digit.
fn increment_last(digits: &str) -> Option<String> {
    let mut bytes = digits.as_bytes().to_vec();
    for b in bytes.iter_mut().rev() {
        if *b == b'9' {
            *b = b'0';
        } else {
            *b += 1;
            return String::from_utf8(bytes).ok();
        }
    }
    None
}

/// The shortest significant digits `s` (k of them) that round-trip to the positive finite `x`,
/// and the decimal exponent of the first: x ≈ s₁.s₂…s_k × 10^e. Rust's `{:e}` gives the
/// shortest digits; when two k-digit candidates are exactly equally close to `x`, ECMAScript
/// takes the even one (ECMA-262 Number::toString, note 2), while Rust's choice may be odd: that
/// tie is detected on the exact decimal expansion (a double has at most 767 significant digits).
fn shortest_digits(x: f64) -> Option<(String, i64)> {
    let (digits, e) = split_scientific(&format!("{x:e}"))?;
    let k = digits.len();
    let last_is_odd = digits.bytes().last().is_some_and(|b| b % 2 == 1);
    if !last_is_odd {
        return Some((digits, e));
    }
    let exact = format!("{x:.780e}");
    let (mantissa, exp) = exact.split_once('e')?;
    if exp.parse::<i64>().ok()? != e {
        return Some((digits, e));
    }
    let all: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let (Some(head), Some(tie_digit), Some(rest)) =
        (all.get(..k), all.get(k..k.saturating_add(1)), all.get(k.saturating_add(1)..))
    else {
        return Some((digits, e));
    };
    if tie_digit != "5" || !rest.bytes().all(|b| b == b'0') {
        return Some((digits, e));
    }
    // x is exactly halfway between `head` and `head + 1` (in the last place); `digits` is one of
    // them, and odd: take the other when it round-trips too.
    let other = if head == digits { increment_last(head) } else { Some(head.to_string()) };
    match other {
        Some(o) if o.len() == k && round_trips(&o, e, x) => Some((o, e)),
        _ => Some((digits, e)),
    }
}

// ---------------------------------------------------------------------------------------------
// Straight from serde
// ---------------------------------------------------------------------------------------------

/// Why a value has no canonical text on the direct path (the `Value` path decides for it).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CanonicalError(String);

impl ser::Error for CanonicalError {
    fn custom<T: Display>(msg: T) -> Self {
        CanonicalError(msg.to_string())
    }
}

fn unsupported(what: &str) -> CanonicalError {
    CanonicalError(format!("{what} has no direct canonical form"))
}

/// The canonical JSON of any serializable value, without an intermediate `serde_json::Value`: the
/// text `canonical_json(&serde_json::to_value(value)?)` gives, or an error where the two could
/// differ (see the module documentation).
pub fn to_canonical_json<T: Serialize + ?Sized>(value: &T) -> Result<String, CanonicalError> {
    to_canonical_json_omitting(value, &[])
}

/// [`to_canonical_json`] with the members named in `omit` left out of the outermost object (a
/// receipt's `hash` and `signature`, which its hash cannot cover).
pub fn to_canonical_json_omitting<T: Serialize + ?Sized>(value: &T, omit: &[&str]) -> Result<String, CanonicalError> {
    let mut writer = Writer { out: String::with_capacity(512), omit, depth: 0 };
    value.serialize(&mut writer)?;
    Ok(writer.out)
}

/// The newtype name serde_json gives a `RawValue` when serializing it.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

struct Writer<'o> {
    out: String,
    /// Member names left out of the outermost object.
    omit: &'o [&'o str],
    /// How many arrays and objects are open.
    depth: usize,
}

/// A member name: a struct's field names are `'static`, a map's keys are written out.
enum Key {
    Field(&'static str),
    Written(String),
}

impl Key {
    fn as_str(&self) -> &str {
        match self {
            Key::Field(s) => s,
            Key::Written(s) => s,
        }
    }
}

/// A member written to the output: its name, and where its `"name":value` text lies.
struct Member {
    key: Key,
    start: usize,
    end: usize,
}

/// `{"Variant":` written around an enum variant's value, closed after it.
struct VariantWrapper {
    start: usize,
    outermost: bool,
    variant: &'static str,
}

/// An object being written: its members go to the output in the order they come, and
/// [`Writer::end_object`] puts them in canonical order.
struct Object<'w, 'o> {
    writer: &'w mut Writer<'o>,
    /// Where the first member starts (just after `{`).
    start: usize,
    /// Whether this is the outermost object, whose members named in `omit` are left out.
    outermost: bool,
    members: Vec<Member>,
    /// A map's key, between `serialize_key` and `serialize_value`.
    pending: Option<Key>,
    /// For a struct variant, the `{"Variant":` around it.
    variant: Option<VariantWrapper>,
}

/// An array being written.
struct Array<'w, 'o> {
    writer: &'w mut Writer<'o>,
    first: bool,
    /// For a tuple variant, the `{"Variant":` around it.
    variant: Option<VariantWrapper>,
}

impl<'o> Writer<'o> {
    /// Opens an object: where its first member starts, and whether it is the outermost.
    fn begin_object(&mut self) -> (usize, bool) {
        let outermost = self.depth == 0 && !self.omit.is_empty();
        self.depth = self.depth.saturating_add(1);
        self.out.push('{');
        (self.out.len(), outermost)
    }

    fn object<'w>(&'w mut self, variant: Option<VariantWrapper>) -> Object<'w, 'o> {
        let (start, outermost) = self.begin_object();
        Object { writer: self, start, outermost, members: Vec::new(), pending: None, variant }
    }

    /// Writes one member, `"key":value`, after a comma when it is not the first. A member the
    /// outermost object omits is written and taken back, so that an error in its value still
    /// counts (as it does on the `Value` path).
    fn member<T: Serialize + ?Sized>(
        &mut self,
        members: &mut Vec<Member>,
        outermost: bool,
        key: Key,
        value: &T,
    ) -> Result<(), CanonicalError> {
        let before = self.out.len();
        if !members.is_empty() {
            self.out.push(',');
        }
        let start = self.out.len();
        write_string(key.as_str(), &mut self.out);
        self.out.push(':');
        value.serialize(&mut *self)?;
        if outermost && self.omit.contains(&key.as_str()) {
            self.out.truncate(before);
        } else {
            members.push(Member { key, start, end: self.out.len() });
        }
        Ok(())
    }

    /// Closes an object: its members in UTF-16 order of their names, a repeated name keeping its
    /// last value (as a `serde_json::Map` does). Members that came in order stay where they are.
    fn end_object(&mut self, start: usize, mut members: Vec<Member>) {
        self.depth = self.depth.saturating_sub(1);
        let in_order = members
            .windows(2)
            .all(|pair| matches!(pair, [a, b] if utf16_order(a.key.as_str(), b.key.as_str()).is_lt()));
        if !in_order {
            // A stable sort keeps a repeated name's values in the order they came.
            members.sort_by(|a, b| utf16_order(a.key.as_str(), b.key.as_str()));
            let written = self.out.split_off(start);
            let mut first = true;
            for (i, m) in members.iter().enumerate() {
                let superseded =
                    members.get(i.saturating_add(1)).is_some_and(|next| next.key.as_str() == m.key.as_str());
                if superseded {
                    continue;
                }
                if !first {
                    self.out.push(',');
                }
                first = false;
                let text = written.get(m.start.saturating_sub(start)..m.end.saturating_sub(start)).unwrap_or_default();
                self.out.push_str(text);
            }
        }
        self.out.push('}');
    }

    fn begin_array(&mut self, variant: Option<VariantWrapper>) -> Array<'_, 'o> {
        self.depth = self.depth.saturating_add(1);
        self.out.push('[');
        Array { writer: self, first: true, variant }
    }

    /// `{"variant":`, for an enum variant written as an object of one member.
    fn open_variant(&mut self, variant: &'static str) -> VariantWrapper {
        let (start, outermost) = self.begin_object();
        write_string(variant, &mut self.out);
        self.out.push(':');
        VariantWrapper { start, outermost, variant }
    }

    /// Closes `{"variant":…}` (the outermost object leaves the member out if it is omitted).
    fn close_variant(&mut self, wrapper: VariantWrapper) {
        let members = if wrapper.outermost && self.omit.contains(&wrapper.variant) {
            self.out.truncate(wrapper.start);
            Vec::new()
        } else {
            vec![Member { key: Key::Field(wrapper.variant), start: wrapper.start, end: self.out.len() }]
        };
        self.end_object(wrapper.start, members);
    }

    fn integer(&mut self, n: impl itoa::Integer) {
        self.out.push_str(itoa::Buffer::new().format(n));
    }
}

/// Integers in decimal, exactly (as a `Value` keeps every `i64` and `u64`).
macro_rules! integers {
    ($($method:ident : $t:ty),*) => {$(
        fn $method(self, v: $t) -> Result<(), CanonicalError> {
            self.integer(v);
            Ok(())
        }
    )*};
}

/// Integer map keys in decimal, as `serde_json::to_value` writes them.
macro_rules! key_integers {
    ($($method:ident : $t:ty),*) => {$(
        fn $method(self, v: $t) -> Result<String, CanonicalError> {
            Ok(itoa::Buffer::new().format(v).to_string())
        }
    )*};
}

impl<'w, 'o> ser::Serializer for &'w mut Writer<'o> {
    type Ok = ();
    type Error = CanonicalError;
    type SerializeSeq = Array<'w, 'o>;
    type SerializeTuple = Array<'w, 'o>;
    type SerializeTupleStruct = Array<'w, 'o>;
    type SerializeTupleVariant = Array<'w, 'o>;
    type SerializeMap = Object<'w, 'o>;
    type SerializeStruct = Object<'w, 'o>;
    type SerializeStructVariant = Object<'w, 'o>;

    fn serialize_bool(self, v: bool) -> Result<(), CanonicalError> {
        self.out.push_str(if v { "true" } else { "false" });
        Ok(())
    }
    integers!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64);
    integers!(serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64);

    fn serialize_i128(self, v: i128) -> Result<(), CanonicalError> {
        // serde_json keeps an i128 only when it fits an i64 or u64.
        match (i64::try_from(v), u64::try_from(v)) {
            (Ok(i), _) => self.integer(i),
            (_, Ok(u)) => self.integer(u),
            _ => return Err(unsupported("an integer beyond 64 bits")),
        }
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<(), CanonicalError> {
        let u = u64::try_from(v).map_err(|_| unsupported("an integer beyond 64 bits"))?;
        self.integer(u);
        Ok(())
    }
    fn serialize_f32(self, _: f32) -> Result<(), CanonicalError> {
        Err(unsupported("an f32"))
    }
    fn serialize_f64(self, v: f64) -> Result<(), CanonicalError> {
        // A non-finite float becomes `null` in a `Value`; ecmascript_number prints it so.
        self.out.push_str(&ecmascript_number(v));
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), CanonicalError> {
        write_string(v.encode_utf8(&mut [0; 4]), &mut self.out);
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), CanonicalError> {
        write_string(v, &mut self.out);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), CanonicalError> {
        // As a `Value` holds them: an array of numbers.
        let mut array = self.begin_array(None);
        for byte in v {
            ser::SerializeSeq::serialize_element(&mut array, byte)?;
        }
        ser::SerializeSeq::end(array)
    }
    fn serialize_none(self) -> Result<(), CanonicalError> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), CanonicalError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), CanonicalError> {
        self.out.push_str("null");
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), CanonicalError> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<(), CanonicalError> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), CanonicalError> {
        // serde_json's `RawValue` (its `raw_value` feature is on in the workspace) passes its
        // text this way, and `to_value` parses it: left to that path.
        if name == RAW_VALUE_TOKEN {
            return Err(unsupported("a serde_json RawValue"));
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), CanonicalError> {
        let wrapper = self.open_variant(variant);
        value.serialize(&mut *self)?;
        self.close_variant(wrapper);
        Ok(())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Array<'w, 'o>, CanonicalError> {
        Ok(self.begin_array(None))
    }
    fn serialize_tuple(self, _: usize) -> Result<Array<'w, 'o>, CanonicalError> {
        Ok(self.begin_array(None))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Array<'w, 'o>, CanonicalError> {
        Ok(self.begin_array(None))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Array<'w, 'o>, CanonicalError> {
        let wrapper = self.open_variant(variant);
        Ok(self.begin_array(Some(wrapper)))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Object<'w, 'o>, CanonicalError> {
        Ok(self.object(None))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Object<'w, 'o>, CanonicalError> {
        Ok(self.object(None))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Object<'w, 'o>, CanonicalError> {
        let wrapper = self.open_variant(variant);
        Ok(self.object(Some(wrapper)))
    }
}

impl Array<'_, '_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CanonicalError> {
        if !self.first {
            self.writer.out.push(',');
        }
        self.first = false;
        value.serialize(&mut *self.writer)
    }

    fn finish(self) -> Result<(), CanonicalError> {
        self.writer.depth = self.writer.depth.saturating_sub(1);
        self.writer.out.push(']');
        if let Some(wrapper) = self.variant {
            self.writer.close_variant(wrapper);
        }
        Ok(())
    }
}

/// serde's four array-like compound traits: each element, then the end, the same way.
macro_rules! array_like {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Array<'_, '_> {
            type Ok = ();
            type Error = CanonicalError;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CanonicalError> {
                self.element(value)
            }
            fn end(self) -> Result<(), CanonicalError> {
                self.finish()
            }
        }
    )*};
}

array_like!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl Object<'_, '_> {
    fn field<T: Serialize + ?Sized>(&mut self, key: Key, value: &T) -> Result<(), CanonicalError> {
        self.writer.member(&mut self.members, self.outermost, key, value)
    }

    fn finish(self) -> Result<(), CanonicalError> {
        if self.pending.is_some() {
            return Err(unsupported("a map key without its value"));
        }
        self.writer.end_object(self.start, self.members);
        if let Some(wrapper) = self.variant {
            self.writer.close_variant(wrapper);
        }
        Ok(())
    }
}

impl ser::SerializeMap for Object<'_, '_> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), CanonicalError> {
        self.pending = Some(Key::Written(key.serialize(KeyWriter)?));
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CanonicalError> {
        let key = self.pending.take().ok_or_else(|| unsupported("a map value without its key"))?;
        self.field(key, value)
    }
    fn end(self) -> Result<(), CanonicalError> {
        self.finish()
    }
}

/// A struct and a struct variant: named fields, the same way.
macro_rules! struct_like {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Object<'_, '_> {
            type Ok = ();
            type Error = CanonicalError;
            fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), CanonicalError> {
                self.field(Key::Field(key), value)
            }
            fn end(self) -> Result<(), CanonicalError> {
                self.finish()
            }
        }
    )*};
}

struct_like!(SerializeStruct, SerializeStructVariant);

/// A map key's text: a string, a char, an integer or a unit variant, as `serde_json::to_value`
/// makes them; anything else is left to the `Value` path.
struct KeyWriter;

impl ser::Serializer for KeyWriter {
    type Ok = String;
    type Error = CanonicalError;
    type SerializeSeq = ser::Impossible<String, CanonicalError>;
    type SerializeTuple = ser::Impossible<String, CanonicalError>;
    type SerializeTupleStruct = ser::Impossible<String, CanonicalError>;
    type SerializeTupleVariant = ser::Impossible<String, CanonicalError>;
    type SerializeMap = ser::Impossible<String, CanonicalError>;
    type SerializeStruct = ser::Impossible<String, CanonicalError>;
    type SerializeStructVariant = ser::Impossible<String, CanonicalError>;

    fn serialize_str(self, v: &str) -> Result<String, CanonicalError> {
        Ok(v.to_string())
    }
    fn serialize_char(self, v: char) -> Result<String, CanonicalError> {
        Ok(v.to_string())
    }
    key_integers!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64);
    key_integers!(serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64);

    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<String, CanonicalError> {
        Ok(variant.to_string())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<String, CanonicalError> {
        value.serialize(self)
    }

    fn serialize_bool(self, _: bool) -> Result<String, CanonicalError> {
        Err(unsupported("a boolean map key"))
    }
    fn serialize_i128(self, _: i128) -> Result<String, CanonicalError> {
        Err(unsupported("a 128-bit map key"))
    }
    fn serialize_u128(self, _: u128) -> Result<String, CanonicalError> {
        Err(unsupported("a 128-bit map key"))
    }
    fn serialize_f32(self, _: f32) -> Result<String, CanonicalError> {
        Err(unsupported("a float map key"))
    }
    fn serialize_f64(self, _: f64) -> Result<String, CanonicalError> {
        Err(unsupported("a float map key"))
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<String, CanonicalError> {
        Err(unsupported("a bytes map key"))
    }
    fn serialize_none(self) -> Result<String, CanonicalError> {
        Err(unsupported("a null map key"))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<String, CanonicalError> {
        Err(unsupported("an optional map key"))
    }
    fn serialize_unit(self) -> Result<String, CanonicalError> {
        Err(unsupported("a unit map key"))
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<String, CanonicalError> {
        Err(unsupported("a unit map key"))
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<String, CanonicalError> {
        Err(unsupported("a variant map key"))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, CanonicalError> {
        Err(unsupported("an array map key"))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, CanonicalError> {
        Err(unsupported("an array map key"))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, CanonicalError> {
        Err(unsupported("an array map key"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, CanonicalError> {
        Err(unsupported("a variant map key"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, CanonicalError> {
        Err(unsupported("an object map key"))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, CanonicalError> {
        Err(unsupported("an object map key"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, CanonicalError> {
        Err(unsupported("a variant map key"))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Serialize;

    /// The writer as first written, character by character: the reference for the byte-run one.
    fn write_string_by_char(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\u{8}' => out.push_str("\\b"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\u{c}' => out.push_str("\\f"),
                '\r' => out.push_str("\\r"),
                c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    /// Strings that mix ASCII, every control, and characters on both sides of the UTF-16 order's
    /// one disagreement with byte order (U+E000..=U+FFFF against those above U+FFFF).
    pub(crate) fn text() -> impl Strategy<Value = String> {
        let char = prop_oneof![0u32..0x80, Just(0x7f), 0x80u32..0x800, 0xe000u32..0x1_0000, 0x1_0000u32..0x11_0000,]
            .prop_filter_map("a scalar value", char::from_u32);
        proptest::collection::vec(char, 0..8).prop_map(|cs| cs.into_iter().collect())
    }

    /// JSON values of every kind: names and strings from [`text`], integers across the `i64` and
    /// `u64` ranges, floats of every magnitude, objects whose names may repeat case for case.
    pub(crate) fn json() -> impl Strategy<Value = Value> {
        let number = prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_filter_map("a finite float", |x| Number::from_f64(x).map(Value::Number)),
            (-1000i32..1000, -30i32..30).prop_map(|(m, e)| Value::from(f64::from(m) * 10f64.powi(e))),
        ];
        let leaf =
            prop_oneof![Just(Value::Null), any::<bool>().prop_map(Value::Bool), number, text().prop_map(Value::String)];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec((text(), inner), 0..6)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    /// The shapes serde gives the direct writer beyond what a `Value` holds: structs, a flattened
    /// map (whose names may repeat the struct's), every kind of enum variant, options, bytes,
    /// tuples, maps with integer and variant keys, chars.
    #[derive(Debug, Clone, Serialize)]
    enum Shape {
        Unit,
        Newtype(Value),
        Tuple(i64, String),
        Struct { zeta: Option<u32>, alpha: Value },
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
    enum Label {
        First,
        Second,
    }

    #[derive(Debug, Clone, Serialize)]
    struct Record {
        seq: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        case_seq: Option<u64>,
        name: String,
        initial: char,
        shapes: Vec<Shape>,
        #[serde(with = "serde_bytes_as_seq")]
        bytes: Vec<u8>,
        pair: (i32, bool),
        by_number: std::collections::BTreeMap<i16, Value>,
        by_label: std::collections::BTreeMap<Label, u8>,
        ratio: f64,
        #[serde(flatten)]
        extra: serde_json::Map<String, Value>,
    }

    /// `serialize_bytes`, which a `Vec<u8>` does not call by itself.
    mod serde_bytes_as_seq {
        pub fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(bytes)
        }
    }

    fn shape() -> impl Strategy<Value = Shape> {
        prop_oneof![
            Just(Shape::Unit),
            json().prop_map(Shape::Newtype),
            (any::<i64>(), text()).prop_map(|(n, s)| Shape::Tuple(n, s)),
            (proptest::option::of(any::<u32>()), json()).prop_map(|(zeta, alpha)| Shape::Struct { zeta, alpha }),
        ]
    }

    fn record() -> impl Strategy<Value = Record> {
        let names = prop_oneof![Just("seq".to_string()), Just("name".to_string()), Just("hash".to_string()), text()];
        (
            (any::<u64>(), proptest::option::of(any::<u64>()), text(), any::<char>()),
            proptest::collection::vec(shape(), 0..4),
            (proptest::collection::vec(any::<u8>(), 0..6), any::<(i32, bool)>()),
            proptest::collection::btree_map(any::<i16>(), json(), 0..4),
            proptest::collection::btree_map(prop_oneof![Just(Label::First), Just(Label::Second)], any::<u8>(), 0..2),
            any::<f64>(),
            proptest::collection::vec((names, json()), 0..4),
        )
            .prop_map(
                |((seq, case_seq, name, initial), shapes, (bytes, pair), by_number, by_label, ratio, extra)| Record {
                    seq,
                    case_seq,
                    name,
                    initial,
                    shapes,
                    bytes,
                    pair,
                    by_number,
                    by_label,
                    ratio,
                    extra: extra.into_iter().collect(),
                },
            )
    }

    /// What serde_json's `RawValue` hands a serializer (the feature that defines it is on only in
    /// some builds of the workspace): its text as a newtype of a reserved name.
    struct RawText(&'static str);

    impl Serialize for RawText {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_newtype_struct(RAW_VALUE_TOKEN, self.0)
        }
    }

    /// Nesting as deep as a request may carry it, and deeper: written directly as through the
    /// tree, objects and arrays alternating.
    #[test]
    fn deep_nesting_is_written_as_through_the_tree() {
        for depth in [1usize, 64, 128, 512] {
            let mut v = serde_json::json!({"z": 1, "a": "\u{10000}"});
            for i in 0..depth {
                v = if i % 2 == 0 { serde_json::json!([v, i]) } else { serde_json::json!({"\u{ffff}": v, "b": null}) };
            }
            assert_eq!(to_canonical_json(&v).ok(), Some(canonical_json(&v)), "depth {depth}");
        }
    }

    #[test]
    fn raw_json_text_is_left_to_the_tree() {
        // Written directly it would be a string; `to_value` parses it instead.
        assert!(to_canonical_json(&RawText("{\"b\":1,\"a\":2}")).is_err());
        assert!(to_canonical_json(&vec![RawText("1")]).is_err());
    }

    /// The reference: through a `Value`, with the outermost object's `omit` members removed.
    fn by_value<T: Serialize>(value: &T, omit: &[&str]) -> Option<String> {
        let mut v = serde_json::to_value(value).ok()?;
        if let Value::Object(map) = &mut v {
            for name in omit {
                map.remove(*name);
            }
        }
        Some(canonical_json(&v))
    }

    proptest! {
        #[test]
        fn a_value_is_written_directly_as_through_the_tree(v in json()) {
            prop_assert_eq!(to_canonical_json(&v).ok(), Some(canonical_json(&v)));
        }

        #[test]
        fn any_shape_is_written_directly_as_through_the_tree(r in record(), omit_hash in any::<bool>()) {
            let omit: &[&str] = if omit_hash { &["hash", "name"] } else { &[] };
            prop_assert_eq!(to_canonical_json_omitting(&r, omit).ok(), by_value(&r, omit));
        }

        #[test]
        fn strings_are_escaped_as_by_the_reference(s in text()) {
            let mut out = String::new();
            write_string(&s, &mut out);
            prop_assert_eq!(out, write_string_by_char(&s));
        }

        /// Long enough for several eight-byte words, with escapes landing anywhere in them.
        #[test]
        fn long_strings_are_escaped_as_by_the_reference(parts in proptest::collection::vec(text(), 0..8)) {
            let s = parts.concat();
            let mut out = String::new();
            write_string(&s, &mut out);
            prop_assert_eq!(out, write_string_by_char(&s));
        }

        #[test]
        fn a_word_needs_an_escape_when_one_of_its_bytes_does(word in any::<u64>(), at in 0usize..8, byte in any::<u8>()) {
            let mut bytes = word.to_le_bytes();
            if let Some(b) = bytes.get_mut(at) {
                *b = byte;
            }
            let expected = bytes.iter().any(|b| escape(*b).is_some());
            prop_assert_eq!(word_needs_escape(u64::from_le_bytes(bytes)), expected);
        }

        #[test]
        fn names_sort_by_utf16_code_units(a in text(), b in text()) {
            prop_assert_eq!(utf16_order(&a, &b), a.encode_utf16().cmp(b.encode_utf16()));
            // A shared prefix makes the first difference fall inside the strings.
            let (pa, pb) = (format!("{a}{b}"), format!("{a}{a}"));
            prop_assert_eq!(utf16_order(&pa, &pb), pa.encode_utf16().cmp(pb.encode_utf16()));
        }
    }
}
