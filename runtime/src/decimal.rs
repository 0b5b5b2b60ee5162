//! `Decimal`: exact fixed point with 18 fractional digits and at most 20 integer digits.
//!
//! A value is an `i128` count of 10^-18 units whose magnitude stays below 10^38, so
//! `|x| < 10^20` (one hundred quintillion). Every `Int` widens exactly (`i64::MAX` is below
//! 10^19), 18 fractional digits hold a crypto amount in its smallest unit (`0.000000000000000001`
//! ETH is one wei) or any FX rate, and equality, ordering and hashing stay plain integer
//! operations on the hot path. Addition and subtraction are exact; multiplication and division
//! round toward zero to 18 digits (through a 256-bit intermediate, so no product overflows before
//! it is rounded). A result out of range is an error, never a wrapped or saturated value.

use ethnum::I256;

/// Digits after the point a `Decimal` keeps.
pub const FRACTION_DIGITS: u32 = 18;

/// Units (10^-18) per one.
pub const DECIMAL_SCALE: i128 = 1_000_000_000_000_000_000;

/// Magnitudes of scaled values must stay below this: 10^38, i.e. `|x| < 10^20`.
pub const DECIMAL_LIMIT: i128 = 100_000_000_000_000_000_000_000_000_000_000_000_000;

/// The value when it is in range.
#[inline]
pub(crate) fn in_range(scaled: i128) -> Option<i128> {
    (scaled > -DECIMAL_LIMIT && scaled < DECIMAL_LIMIT).then_some(scaled)
}

/// An `Int` as a `Decimal` (always in range).
#[inline]
pub fn from_int(i: i64) -> i128 {
    i128::from(i) * DECIMAL_SCALE
}

/// `a + b`, exact; `None` when the sum leaves the `Decimal` range.
pub fn add(a: i128, b: i128) -> Option<i128> {
    a.checked_add(b).and_then(in_range)
}

/// `a - b`, exact; `None` when the difference leaves the `Decimal` range.
pub fn sub(a: i128, b: i128) -> Option<i128> {
    a.checked_sub(b).and_then(in_range)
}

/// `a * b`, rounded toward zero to 18 fractional digits.
pub fn mul(a: i128, b: i128) -> Option<i128> {
    if let Some(p) = a.checked_mul(b) {
        return in_range(p / DECIMAL_SCALE);
    }
    let p = I256::from(a) * I256::from(b) / I256::from(DECIMAL_SCALE);
    i128::try_from(p).ok().and_then(in_range)
}

/// `a / b`, rounded toward zero to 18 fractional digits. `None` when `b` is zero or the quotient
/// is out of range.
pub fn div(a: i128, b: i128) -> Option<i128> {
    if b == 0 {
        return None;
    }
    let q = I256::from(a) * I256::from(DECIMAL_SCALE) / I256::from(b);
    i128::try_from(q).ok().and_then(in_range)
}

/// `12.5`, `-0.000000000000000001`, `10000`: no trailing zeros, no exponent.
pub fn format_decimal(d: i128) -> String {
    let sign = if d < 0 { "-" } else { "" };
    let abs = d.unsigned_abs();
    let scale = DECIMAL_SCALE.unsigned_abs();
    let (whole, frac) = (abs / scale, abs % scale);
    if frac == 0 {
        return format!("{sign}{whole}");
    }
    let mut f = format!("{frac:018}");
    while f.ends_with('0') {
        f.pop();
    }
    format!("{sign}{whole}.{f}")
}

/// Why a decimal text is not a `Decimal`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DecimalTextError {
    /// More than 18 fractional digits that are not zeros.
    TooPrecise,
    /// `|x| >= 10^20`.
    OutOfRange,
}

/// The exact value of a number given as its significant digits (most significant first, no
/// leading zeros) times `10^exp10`. Never rounds.
pub(crate) fn from_digits(negative: bool, digits: &[u8], exp10: i64) -> Result<i128, DecimalTextError> {
    if digits.is_empty() {
        return Ok(0);
    }
    let scale_exp = exp10.saturating_add(i64::from(FRACTION_DIGITS));
    if scale_exp < 0 {
        return Err(DecimalTextError::TooPrecise);
    }
    // At most 38 digits in units: anything longer is at least 10^38.
    let total = i64::try_from(digits.len()).unwrap_or(i64::MAX).saturating_add(scale_exp);
    if total > 38 {
        return Err(DecimalTextError::OutOfRange);
    }
    let mut v: i128 = 0;
    for d in digits {
        v = v.checked_mul(10).and_then(|v| v.checked_add(i128::from(*d))).ok_or(DecimalTextError::OutOfRange)?;
    }
    for _ in 0..scale_exp {
        v = v.checked_mul(10).ok_or(DecimalTextError::OutOfRange)?;
    }
    in_range(if negative { -v } else { v }).ok_or(DecimalTextError::OutOfRange)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_agree() {
        assert_eq!(DECIMAL_SCALE, 10i128.pow(FRACTION_DIGITS));
        assert_eq!(DECIMAL_LIMIT, 10i128.pow(38));
        assert!(in_range(from_int(i64::MIN)).is_some() && in_range(from_int(i64::MAX)).is_some());
    }

    /// A 128-bit decimal costs no space: `Unknown`'s 128-bit evidence mask already sized `Value`.
    #[test]
    fn value_stays_32_bytes() {
        assert_eq!(std::mem::size_of::<crate::value::Value>(), 32);
    }

    #[test]
    fn prints_as_authors_write() {
        assert_eq!(format_decimal(from_int(10_000)), "10000");
        assert_eq!(format_decimal(12 * DECIMAL_SCALE + DECIMAL_SCALE / 2), "12.5");
        assert_eq!(format_decimal(-1), "-0.000000000000000001");
        assert_eq!(format_decimal(DECIMAL_LIMIT - 1), "99999999999999999999.999999999999999999");
    }

    #[test]
    fn mul_and_div_round_toward_zero_and_check_range() {
        let one = DECIMAL_SCALE;
        assert_eq!(mul(one + 1, one + 1), Some(one + 2), "1.000000000000000001² keeps 18 digits");
        assert_eq!(mul(-(one + 1), one + 1), Some(-(one + 2)));
        assert_eq!(div(one, 3 * one), Some(333_333_333_333_333_333));
        assert_eq!(div(-one, 3 * one), Some(-333_333_333_333_333_333));
        assert_eq!(div(one, 0), None);
        // 10^19 × 10^19 does not fit: an error, whatever the 256-bit product.
        assert_eq!(mul(from_int(10_000_000_000_000_000), from_int(10_000_000_000_000_000)), None);
        assert_eq!(mul(DECIMAL_LIMIT - 1, DECIMAL_LIMIT - 1), None);
        assert_eq!(div(DECIMAL_LIMIT - 1, 1), None);
        assert_eq!(add(DECIMAL_LIMIT - 1, 1), None);
        assert_eq!(sub(-(DECIMAL_LIMIT - 1), 1), None);
    }
}
