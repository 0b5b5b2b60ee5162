//! Runtime values. Cheap to clone (strings and lists are reference counted), so that evaluating a
//! converted request does not allocate on the allow/deny path.

use std::cmp::Ordering;
use std::sync::Arc;

pub use crate::decimal::{format_decimal, DECIMAL_SCALE};

/// A set of evidence facts, by evidence index (a bundle declares at most 128).
pub type EvidenceMask = u128;

/// Most evidence declarations a bundle may have (one bit each in an [`EvidenceMask`]).
pub const MAX_EVIDENCE: usize = 128;

/// A runtime value. A declared type maps to one variant (a `Set` is a `List` without
/// duplicates); `Absent` and `Unknown` are the two ways a value can be missing, and they mean
/// different things: absent is known to be unset, unknown is not known yet.
#[derive(Clone, Debug)]
pub enum Value {
    /// A `Bool`.
    Bool(bool),
    /// An `Int`.
    Int(i64),
    /// Fixed point: units of 10^-18 (`crate::decimal`).
    Decimal(i128),
    /// A `String`.
    Str(Arc<str>),
    /// Seconds.
    Duration(i64),
    /// Seconds since the Unix epoch, UTC.
    Time(i64),
    /// A list or a set (sets hold no duplicates).
    List(Arc<[Value]>),
    /// Field values in the order of the record type.
    Record(Arc<[Value]>),
    /// An optional value that is not set.
    Absent,
    /// Not known yet: depends on the evidence facts in the mask (docs/language.md, "Evidence and three-valued logic").
    Unknown(EvidenceMask),
}

impl Value {
    /// A `String` value.
    pub fn str(s: &str) -> Value {
        Value::Str(Arc::from(s))
    }

    /// A list (or set) value of `items`, in order.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Arc::from(items))
    }

    /// The empty list.
    pub fn empty_list() -> Value {
        Value::List(Arc::from(Vec::new()))
    }

    /// Structural equality of two known values of one type. `None` when the types differ.
    pub fn equals(&self, other: &Value) -> Option<bool> {
        Some(match (self, other) {
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b))
            | (Value::Duration(a), Value::Duration(b))
            | (Value::Time(a), Value::Time(b)) => a == b,
            (Value::Decimal(a), Value::Decimal(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => Arc::ptr_eq(a, b) || a == b,
            (Value::List(a), Value::List(b)) | (Value::Record(a), Value::Record(b)) => {
                if a.len() != b.len() {
                    return Some(false);
                }
                for (x, y) in a.iter().zip(b.iter()) {
                    if !x.equals(y)? {
                        return Some(false);
                    }
                }
                true
            }
            (Value::Absent, Value::Absent) => true,
            _ => return None,
        })
    }

    /// Order of two values of one ordered type. `None` when not comparable.
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        Some(match (self, other) {
            (Value::Int(a), Value::Int(b))
            | (Value::Duration(a), Value::Duration(b))
            | (Value::Time(a), Value::Time(b)) => a.cmp(b),
            (Value::Decimal(a), Value::Decimal(b)) => a.cmp(b),
            // UTF-8 byte order is code point order.
            (Value::Str(a), Value::Str(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            _ => return None,
        })
    }

    /// How the value reads in a reason message.
    pub fn display(&self) -> String {
        match self {
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Decimal(d) => format_decimal(*d),
            Value::Str(s) => s.to_string(),
            Value::Duration(d) => format_duration(*d),
            Value::Time(t) => format_time(*t),
            Value::List(items) => {
                let parts: Vec<String> = items.iter().map(Value::display).collect();
                format!("[{}]", parts.join(", "))
            }
            Value::Record(fields) => {
                let parts: Vec<String> = fields.iter().map(Value::display).collect();
                format!("{{{}}}", parts.join(", "))
            }
            Value::Absent => "(not set)".to_string(),
            Value::Unknown(_) => "(unknown)".to_string(),
        }
    }
}

/// `1h30m`, `45s`, `0s`.
pub fn format_duration(secs: i64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    if secs < 0 {
        out.push('-');
    }
    let mut rest = secs.unsigned_abs();
    for (unit, size) in [("d", 86_400u64), ("h", 3_600), ("m", 60), ("s", 1)] {
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out
}

/// RFC 3339 in UTC: `2026-11-24T10:00:00Z`.
pub fn format_time(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    // Every decision carries two times: written digit by digit, not through `format!`'s
    // padding machinery (a tenth of a decision's cost). Years outside 0..=9999 take `format!`.
    if !(0..=9999).contains(&y) {
        return format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z");
    }
    // Each part is 0..=99 here (the year in two halves); one division each.
    let two = |n: i64| -> [u8; 2] {
        let n = u8::try_from(n).unwrap_or(0);
        [b'0' + n / 10, b'0' + n % 10]
    };
    let ([c1, c2], [y1, y2], [m1, m2], [d1, d2]) = (two(y / 100), two(y % 100), two(m), two(d));
    let ([h1, h2], [i1, i2], [s1, s2]) = (two(hh), two(mm), two(ss));
    let text = [c1, c2, y1, y2, b'-', m1, m2, b'-', d1, d2, b'T', h1, h2, b':', i1, i2, b':', s1, s2, b'Z'];
    // ASCII digits and separators: always UTF-8, so the empty fallback never happens.
    String::from_utf8(text.to_vec()).unwrap_or_default()
}

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS[.f](Z|±HH:MM)`.
pub fn parse_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    if b.len() < 20
        || b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !matches!(b.get(10), Some(b'T' | b't' | b' '))
    {
        return None;
    }
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && b.get(i + 3) == Some(&b':') => {
            let v = num(i + 1, 2)? * 3600 + num(i + 4, 2)? * 60;
            if *sign == b'+' {
                v
            } else {
                -v
            }
        }
        _ => return None,
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let max_day = *days_in_month.get(usize::try_from(month - 1).ok()?)?;
    if !(1..=12).contains(&month) || day < 1 || day > max_day || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_and_durations_print_as_authors_write_them() {
        assert_eq!(format_decimal(10_000 * DECIMAL_SCALE), "10000");
        assert_eq!(format_decimal(125 * DECIMAL_SCALE / 10), "12.5");
        assert_eq!(format_decimal(-1), "-0.000000000000000001");
        assert_eq!(format_duration(5400), "1h30m");
        assert_eq!(format_duration(45), "45s");
    }

    #[test]
    fn time_round_trips() {
        for t in [0i64, 1_795_514_400, -86_400, 951_782_400] {
            assert_eq!(parse_time(&format_time(t)), Some(t));
        }
        assert_eq!(parse_time("2026-11-24T11:00:00+01:00"), Some(1_795_514_400));
        assert_eq!(parse_time("2026-02-30T00:00:00Z"), None);
    }

    /// The digit-by-digit writer prints what `format!` printed, at the edges of its years too.
    #[test]
    fn times_print_as_format_did() {
        let reference = |t: i64| {
            let (y, m, d) = civil_from_days(t.div_euclid(86_400));
            let s = t.rem_euclid(86_400);
            format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, (s % 3600) / 60, s % 60)
        };
        let edges = [-62_167_219_200i64, -62_167_219_201, 253_402_300_799, 253_402_300_800, 0, -1, 1_795_514_399];
        let mut t: i64 = -70_000_000_000;
        let mut times = edges.to_vec();
        while t < 260_000_000_000 {
            times.push(t);
            t += 7_777_777;
        }
        for t in times {
            assert_eq!(format_time(t), reference(t), "{t}");
        }
    }

    /// Every day of years 1 to 9999 (each leap day among them), at a second of the day that
    /// moves with the day, and both ends of each day: the byte writer prints what `format!` does.
    #[test]
    fn every_day_of_the_four_digit_years_prints_as_format_does() {
        let reference = |t: i64| {
            let (y, m, d) = civil_from_days(t.div_euclid(86_400));
            let s = t.rem_euclid(86_400);
            format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, (s % 3600) / 60, s % 60)
        };
        let first = parse_time("0001-01-01T00:00:00Z").unwrap_or(0) / 86_400;
        let last = parse_time("9999-12-31T00:00:00Z").unwrap_or(0) / 86_400;
        let mut leap_days = 0;
        for day in first..=last {
            for s in [0, (day * 7_919).rem_euclid(86_400), 86_399] {
                let t = day * 86_400 + s;
                let text = format_time(t);
                assert_eq!(text, reference(t), "{t}");
                assert_eq!(parse_time(&text), Some(t), "{text}");
            }
            leap_days += i32::from(format_time(day * 86_400).get(4..10) == Some("-02-29"));
        }
        // 2 424 leap years in 1..=9999: 2 499 fourth years, less 99 hundredths, plus 24 four-hundredths.
        assert_eq!(leap_days, 2_424);
    }
}
