//! Primitive operations on known values: arithmetic, comparison, membership, methods. Shared by
//! the VM and the compiler's reference interpreter; the three-valued logic around them is not
//! (each implements it on its own, and the differential test compares them).

use crate::bytecode::{ArithOp, CmpOp, MethodOp};
use crate::decimal;
use crate::parsed;
use crate::value::Value;
use std::sync::Arc;

pub use crate::eval_error::EvalError;

type R = Result<Value, EvalError>;

fn bad(what: &'static str) -> EvalError {
    EvalError::Malformed(what)
}

/// `Int` → `Decimal`, element-wise on lists.
pub fn widen(v: &Value) -> R {
    match v {
        Value::Int(i) => Ok(Value::Decimal(decimal::from_int(*i))),
        Value::Decimal(_) => Ok(v.clone()),
        Value::List(items) => {
            let out: Result<Vec<Value>, EvalError> = items.iter().map(widen).collect();
            Ok(Value::List(Arc::from(out?)))
        }
        _ => Err(bad("widen of a non-number")),
    }
}

/// `-v` of an `Int`, `Decimal` or `Duration`; overflow is an error, never a wrap.
pub fn neg(v: &Value) -> R {
    match v {
        Value::Int(i) => i.checked_neg().map(Value::Int).ok_or(EvalError::Overflow),
        Value::Decimal(d) => d.checked_neg().map(Value::Decimal).ok_or(EvalError::Overflow),
        Value::Duration(d) => d.checked_neg().map(Value::Duration).ok_or(EvalError::Overflow),
        _ => Err(bad("negation of a non-number")),
    }
}

fn dec_div(a: i128, b: i128) -> Result<i128, EvalError> {
    if b == 0 {
        return Err(EvalError::DivisionByZero);
    }
    decimal::div(a, b).ok_or(EvalError::Overflow)
}

/// A binary arithmetic operation on known operands of the types the operation names; a
/// mismatch means the bundle is malformed. Every overflow and division by zero is an error.
pub fn arith(op: ArithOp, a: &Value, b: &Value) -> R {
    use Value::*;
    let ov = EvalError::Overflow;
    Ok(match (op, a, b) {
        (ArithOp::IntAdd, Int(x), Int(y)) => Int(x.checked_add(*y).ok_or(ov)?),
        (ArithOp::IntSub, Int(x), Int(y)) => Int(x.checked_sub(*y).ok_or(ov)?),
        (ArithOp::IntMul, Int(x), Int(y)) => Int(x.checked_mul(*y).ok_or(ov)?),
        (ArithOp::IntDiv, Int(x), Int(y)) => {
            if *y == 0 {
                return Err(EvalError::DivisionByZero);
            }
            Int(x.checked_div(*y).ok_or(ov)?)
        }
        (ArithOp::DecAdd, Decimal(x), Decimal(y)) => Decimal(decimal::add(*x, *y).ok_or(ov)?),
        (ArithOp::DecSub, Decimal(x), Decimal(y)) => Decimal(decimal::sub(*x, *y).ok_or(ov)?),
        (ArithOp::DecMul, Decimal(x), Decimal(y)) => Decimal(decimal::mul(*x, *y).ok_or(ov)?),
        (ArithOp::DecDiv, Decimal(x), Decimal(y)) => Decimal(dec_div(*x, *y)?),
        (ArithOp::Concat, Str(x), Str(y)) => {
            let mut s = String::with_capacity(x.len() + y.len());
            s.push_str(x);
            s.push_str(y);
            Str(Arc::from(s))
        }
        (ArithOp::TimeAddDur, Time(t), Duration(d)) | (ArithOp::TimeAddDur, Duration(d), Time(t)) => {
            Time(t.checked_add(*d).ok_or(ov)?)
        }
        (ArithOp::TimeSubDur, Time(t), Duration(d)) => Time(t.checked_sub(*d).ok_or(ov)?),
        (ArithOp::TimeSubTime, Time(x), Time(y)) => Duration(x.checked_sub(*y).ok_or(ov)?),
        (ArithOp::DurAdd, Duration(x), Duration(y)) => Duration(x.checked_add(*y).ok_or(ov)?),
        (ArithOp::DurSub, Duration(x), Duration(y)) => Duration(x.checked_sub(*y).ok_or(ov)?),
        (ArithOp::DurMulInt, Duration(d), Int(n)) | (ArithOp::DurMulInt, Int(n), Duration(d)) => {
            Duration(d.checked_mul(*n).ok_or(ov)?)
        }
        (ArithOp::DurDivInt, Duration(d), Int(n)) => {
            if *n == 0 {
                return Err(EvalError::DivisionByZero);
            }
            Duration(d.checked_div(*n).ok_or(ov)?)
        }
        _ => return Err(bad("arithmetic on mismatched operands")),
    })
}

/// `a <op> b` on two known values of one type; a mismatch means the bundle is malformed.
pub fn compare(op: CmpOp, a: &Value, b: &Value) -> Result<bool, EvalError> {
    match op {
        CmpOp::Eq => a.equals(b).ok_or(bad("equality of mismatched operands")),
        CmpOp::Ne => a.equals(b).map(|e| !e).ok_or(bad("equality of mismatched operands")),
        _ => {
            let ord = a.compare(b).ok_or(bad("ordering of mismatched operands"))?;
            Ok(match op {
                CmpOp::Lt => ord.is_lt(),
                CmpOp::Le => ord.is_le(),
                CmpOp::Gt => ord.is_gt(),
                _ => ord.is_ge(),
            })
        }
    }
}

/// `element in collection` (also `xs.contains(x)`).
pub fn contains(collection: &Value, element: &Value) -> Result<bool, EvalError> {
    let Value::List(items) = collection else { return Err(bad("membership in a non-collection")) };
    for item in items.iter() {
        if item.equals(element).ok_or(bad("membership of a mismatched element"))? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `*` matches any run of characters, `?` one character; everything else is literal.
pub(crate) fn glob(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    // Iterative matcher with backtracking to the last `*`: linear in practice, no recursion.
    let (mut ti, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if *c == '?' || Some(c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    while p.get(pi) == Some(&'*') {
        pi += 1;
    }
    pi == p.len()
}

pub(crate) fn as_str(v: &Value) -> Result<&str, EvalError> {
    match v {
        Value::Str(s) => Ok(s),
        _ => Err(bad("string method on a non-string")),
    }
}

fn as_list(v: &Value) -> Result<&Arc<[Value]>, EvalError> {
    match v {
        Value::List(items) => Ok(items),
        _ => Err(bad("collection method on a non-collection")),
    }
}

fn as_int(v: &Value) -> Result<i64, EvalError> {
    match v {
        Value::Int(i) => Ok(*i),
        _ => Err(bad("integer argument of a non-integer")),
    }
}

/// `s.split(sep)`; an empty separator splits between every character.
fn split(s: &str, sep: &str) -> Value {
    let parts: Vec<Value> = if sep.is_empty() {
        s.chars().map(|c| Value::str(c.encode_utf8(&mut [0; 4]))).collect()
    } else {
        s.split(sep).map(Value::str).collect()
    };
    Value::List(Arc::from(parts))
}

/// `xs.at(i)`: `i` from 0, or from the end when negative (-1 is the last element).
fn at(items: &[Value], index: i64) -> R {
    let len = items.len();
    let position = if index < 0 { len.checked_sub(index.unsigned_abs() as usize) } else { usize::try_from(index).ok() };
    position.and_then(|p| items.get(p)).cloned().ok_or(EvalError::IndexOutOfRange { index, len: len as u64 })
}

fn len_value(n: usize) -> R {
    i64::try_from(n).map(Value::Int).map_err(|_| EvalError::Overflow)
}

/// The string tests of one string argument (`starts_with`, `ends_with`, `contains`, `glob`);
/// `None` for any other method. `method` and the fused leaves of `plan.rs` both use it.
pub(crate) fn str_test(op: MethodOp, s: &str, arg: &str) -> Option<bool> {
    match op {
        MethodOp::StartsWith => Some(s.starts_with(arg)),
        MethodOp::EndsWith => Some(s.ends_with(arg)),
        MethodOp::StrContains => Some(s.contains(arg)),
        MethodOp::Glob => Some(glob(s, arg)),
        _ => None,
    }
}

/// A built-in method on known values. `args` has exactly `op.arity()` values.
pub fn method(op: MethodOp, recv: &Value, args: &[Value]) -> R {
    let arg = |i: usize| args.get(i).ok_or(bad("missing method argument"));
    Ok(match op {
        MethodOp::StartsWith | MethodOp::EndsWith | MethodOp::StrContains | MethodOp::Glob => {
            Value::Bool(str_test(op, as_str(recv)?, as_str(arg(0)?)?).ok_or(bad("not a string test"))?)
        }
        MethodOp::Lower => Value::Str(Arc::from(as_str(recv)?.to_lowercase())),
        MethodOp::Upper => Value::Str(Arc::from(as_str(recv)?.to_uppercase())),
        MethodOp::Trim => Value::Str(Arc::from(as_str(recv)?.trim())),
        MethodOp::StrLen => len_value(as_str(recv)?.chars().count())?,
        MethodOp::Len => len_value(as_list(recv)?.len())?,
        MethodOp::Contains => Value::Bool(contains(recv, arg(0)?)?),
        MethodOp::ContainsAny => {
            let wanted = as_list(arg(0)?)?;
            let mut any = false;
            for w in wanted.iter() {
                if contains(recv, w)? {
                    any = true;
                    break;
                }
            }
            Value::Bool(any)
        }
        MethodOp::ContainsAll => {
            let wanted = as_list(arg(0)?)?;
            let mut all = true;
            for w in wanted.iter() {
                if !contains(recv, w)? {
                    all = false;
                    break;
                }
            }
            Value::Bool(all)
        }
        MethodOp::Hour => match recv {
            Value::Time(t) => Value::Int(t.rem_euclid(86_400) / 3600),
            _ => return Err(bad("time method on a non-time")),
        },
        MethodOp::Minute => match recv {
            Value::Time(t) => Value::Int(t.rem_euclid(3600) / 60),
            _ => return Err(bad("time method on a non-time")),
        },
        MethodOp::Weekday => match recv {
            // 1970-01-01 was a Thursday (ISO 4).
            Value::Time(t) => Value::Int((t.div_euclid(86_400) + 3).rem_euclid(7) + 1),
            _ => return Err(bad("time method on a non-time")),
        },
        MethodOp::Seconds => match recv {
            Value::Duration(d) => Value::Int(*d),
            _ => return Err(bad("duration method on a non-duration")),
        },
        MethodOp::Split => split(as_str(recv)?, as_str(arg(0)?)?),
        MethodOp::At => at(as_list(recv)?, as_int(arg(0)?)?)?,
        MethodOp::IndexOf => {
            let wanted = arg(0)?;
            let mut found = -1;
            for (i, item) in as_list(recv)?.iter().enumerate() {
                if item.equals(wanted).ok_or(bad("`index_of` of a mismatched element"))? {
                    found = i64::try_from(i).map_err(|_| EvalError::Overflow)?;
                    break;
                }
            }
            Value::Int(found)
        }
        MethodOp::InCidr => Value::Bool(parsed::in_cidr(as_str(recv)?, as_str(arg(0)?)?)?),
        MethodOp::UtcOffset => Value::Duration(parsed::utc_offset(as_str(recv)?)?),
        MethodOp::UrlScheme => Value::Str(Arc::from(parsed::url_scheme(as_str(recv)?)?)),
        MethodOp::UrlHost => Value::Str(Arc::from(parsed::url_host(as_str(recv)?)?)),
        MethodOp::UrlPort => Value::Int(parsed::url_port(as_str(recv)?)?),
        MethodOp::UrlPath => Value::Str(Arc::from(parsed::url_path(as_str(recv)?)?)),
        MethodOp::UrlQuery => Value::Str(Arc::from(parsed::url_query(as_str(recv)?)?)),
        MethodOp::IsIp => Value::Bool(parsed::is_ip(as_str(recv)?)),
        MethodOp::OffsetIn => match recv {
            Value::Time(t) => Value::Duration(parsed::offset_in(*t, as_str(arg(0)?)?)?),
            _ => return Err(bad("time method on a non-time")),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_arithmetic_rounds_toward_zero_and_checks_overflow() {
        let d = |x: i128| Value::Decimal(x);
        let one = crate::decimal::DECIMAL_SCALE;
        assert!(
            matches!(arith(ArithOp::DecMul, &d(one * 3 / 2), &d(one * 3 / 2)), Ok(Value::Decimal(x)) if x == one * 9 / 4)
        );
        assert!(matches!(arith(ArithOp::DecDiv, &d(one), &d(3 * one)), Ok(Value::Decimal(333_333_333_333_333_333))));
        assert!(matches!(arith(ArithOp::DecDiv, &d(-one), &d(3 * one)), Ok(Value::Decimal(-333_333_333_333_333_333))));
        assert_eq!(arith(ArithOp::DecDiv, &d(1), &d(0)).err(), Some(EvalError::DivisionByZero));
        assert_eq!(arith(ArithOp::IntAdd, &Value::Int(i64::MAX), &Value::Int(1)).err(), Some(EvalError::Overflow));
        assert_eq!(arith(ArithOp::IntDiv, &Value::Int(i64::MIN), &Value::Int(-1)).err(), Some(EvalError::Overflow));
        assert!(
            matches!(widen(&Value::Int(i64::MAX)), Ok(Value::Decimal(x)) if x == i128::from(i64::MAX) * one),
            "every Int widens exactly"
        );
        let big = d(crate::decimal::DECIMAL_LIMIT - 1);
        assert_eq!(arith(ArithOp::DecAdd, &big, &d(1)).err(), Some(EvalError::Overflow));
        assert_eq!(arith(ArithOp::DecMul, &big, &d(2 * one)).err(), Some(EvalError::Overflow));
    }

    #[test]
    fn globs() {
        assert!(glob("build.corp.com", "*.corp.com"));
        assert!(!glob("corp.com.evil", "*.corp.com"));
        assert!(glob("a", "?"));
        assert!(glob("", "*"));
        assert!(glob("abcabd", "*abd"));
        assert!(!glob("ab", "a"));
        assert!(glob("/etc/passwd", "/etc/*"));
    }

    #[test]
    fn times() {
        // 2026-11-24T10:30:00Z is a Tuesday.
        let t = Value::Time(1_795_514_400 + 1800);
        assert!(matches!(method(MethodOp::Hour, &t, &[]), Ok(Value::Int(10))));
        assert!(matches!(method(MethodOp::Minute, &t, &[]), Ok(Value::Int(30))));
        assert!(matches!(method(MethodOp::Weekday, &t, &[]), Ok(Value::Int(2))));
        assert!(matches!(method(MethodOp::Weekday, &Value::Time(-1), &[]), Ok(Value::Int(3))));
    }

    fn text(v: &Value) -> String {
        match v {
            Value::Str(s) => s.to_string(),
            other => panic!("not a string: {other:?}"),
        }
    }

    fn strs(v: &Value) -> Vec<String> {
        match v {
            Value::List(items) => items.iter().map(text).collect(),
            other => panic!("not a list: {other:?}"),
        }
    }

    #[test]
    fn split_at_and_index_of() {
        let s = |x: &str| Value::str(x);
        let parts = method(MethodOp::Split, &s("a@b@c"), &[s("@")]).unwrap();
        assert_eq!(strs(&parts), ["a", "b", "c"]);
        assert_eq!(strs(&method(MethodOp::Split, &s("bob"), &[s("@")]).unwrap()), ["bob"]);
        assert_eq!(strs(&method(MethodOp::Split, &s(""), &[s(",")]).unwrap()), [""]);
        assert_eq!(strs(&method(MethodOp::Split, &s("a,"), &[s(",")]).unwrap()), ["a", ""]);
        // An empty separator splits between characters.
        assert_eq!(strs(&method(MethodOp::Split, &s("hé"), &[s("")]).unwrap()), ["h", "é"]);
        let at = |i: i64| method(MethodOp::At, &parts, &[Value::Int(i)]);
        assert_eq!(text(&at(0).unwrap()), "a");
        assert_eq!(text(&at(-1).unwrap()), "c");
        assert_eq!(text(&at(-3).unwrap()), "a");
        for i in [3, -4, i64::MAX, i64::MIN] {
            assert_eq!(at(i).err(), Some(EvalError::IndexOutOfRange { index: i, len: 3 }), "{i}");
        }
        let index_of = |x: &str| method(MethodOp::IndexOf, &parts, &[s(x)]).unwrap();
        assert!(matches!(index_of("b"), Value::Int(1)));
        assert!(matches!(index_of("z"), Value::Int(-1)));
    }

    #[test]
    fn cidr_blocks() {
        let in_cidr = |ip: &str, block: &str| method(MethodOp::InCidr, &Value::str(ip), &[Value::str(block)]);
        let yes = |ip, block| assert!(matches!(in_cidr(ip, block), Ok(Value::Bool(true))), "{ip} in {block}");
        let no = |ip, block| assert!(matches!(in_cidr(ip, block), Ok(Value::Bool(false))), "{ip} not in {block}");
        yes("10.1.2.3", "10.0.0.0/8");
        no("11.1.2.3", "10.0.0.0/8");
        yes("172.31.255.255", "172.16.0.0/12");
        no("172.32.0.0", "172.16.0.0/12");
        yes("192.168.1.7", "192.168.1.7/32");
        no("192.168.1.8", "192.168.1.7/32");
        yes("8.8.8.8", "0.0.0.0/0");
        // Host bits in the block are ignored.
        yes("10.9.9.9", "10.1.2.3/8");
        for (ip, block) in [
            ("10.0.0.256", "10.0.0.0/8"),
            ("10.0.0", "10.0.0.0/8"),
            ("010.0.0.1", "10.0.0.0/8"),
            (" 10.0.0.1", "10.0.0.0/8"),
            ("host.corp", "10.0.0.0/8"),
            ("10.0.0.1", "10.0.0.0"),
            ("10.0.0.1", "10.0.0.0/33"),
            ("10.0.0.1", "10.0.0.0/+8"),
            ("10.0.0.1", "10.0.0.0/"),
            ("10.0.0.1", "10.0.0.0/8/9"),
            ("10.0.0.1", "10.0.0.0/008"),
        ] {
            assert!(matches!(in_cidr(ip, block), Err(EvalError::Unparsable(_))), "{ip} in {block}");
        }
    }

    #[test]
    fn utc_offsets() {
        let offset = |s: &str| match method(MethodOp::UtcOffset, &Value::str(s), &[]) {
            Ok(Value::Duration(d)) => Some(d),
            Err(EvalError::Unparsable(_)) => None,
            other => panic!("{s}: {other:?}"),
        };
        for (s, seconds) in [
            ("Z", 0),
            ("utc", 0),
            ("GMT", 0),
            ("+05:30", 19_800),
            ("-08:00", -28_800),
            ("+0545", 20_700),
            ("UTC+2", 7_200),
            ("gmt-3:30", -12_600),
            ("-00:30", -1_800),
            ("+23:59", 86_340),
        ] {
            assert_eq!(offset(s), Some(seconds), "{s}");
        }
        for s in
            ["", "+", "05:00", "+24:00", "+05:60", "+5:3", "+123", "+12345", "UTC 2", "+05:30 ", "CET", "−05:00", "+٥"]
        {
            assert_eq!(offset(s), None, "{s:?}");
        }
    }

    #[test]
    fn mismatched_operands_are_errors_not_panics() {
        assert!(matches!(arith(ArithOp::IntAdd, &Value::Bool(true), &Value::Int(1)), Err(EvalError::Malformed(_))));
        assert!(compare(CmpOp::Lt, &Value::Int(1), &Value::str("a")).is_err());
        assert!(method(MethodOp::Lower, &Value::Int(1), &[]).is_err());
        assert!(method(MethodOp::StartsWith, &Value::str("a"), &[]).is_err());
    }
}
