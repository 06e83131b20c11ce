//! Decimal numbers typed into the parameter controls (`0.7`, `.9`, `1e-2`)
//! read without core's general float parser: its code and tables were
//! 14.3 KB of the first load (gzip), for a handful of short numbers a
//! person types.
//!
//! Exact (the same `f64` as `str::parse`) for up to 15 significant
//! digits with a decimal exponent within ±22, which covers anything
//! typed into a control; longer or larger numbers are within a relative
//! 1e-14 (or a subnormal step) of it.

/// Powers of ten that are exact in an `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Significant digits kept; the rest only move the exponent.
const MAX_DIGITS: u32 = 19;

/// Parses `[+-]digits[.digits][(e|E)[+-]digits]`, with at least one digit
/// in the number itself (`5`, `5.`, `.5`). No spaces, no `inf` or `NaN`:
/// `None` for anything else.
pub fn parse(s: &str) -> Option<f64> {
    match s.as_bytes() {
        [b'-', rest @ ..] => parse_unsigned(rest).map(|v| -v),
        [b'+', rest @ ..] => parse_unsigned(rest),
        bytes => parse_unsigned(bytes),
    }
}

fn parse_unsigned(bytes: &[u8]) -> Option<f64> {
    let mut mantissa: u64 = 0;
    let mut digits: u32 = 0; // significant digits in `mantissa`
    let mut exp10: i64 = 0;
    let mut seen_digit = false;
    let mut seen_point = false;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'0'..=b'9' => {
                seen_digit = true;
                let d = u64::from(b - b'0');
                if digits < MAX_DIGITS {
                    if mantissa != 0 || d != 0 {
                        mantissa = mantissa * 10 + d;
                        digits += 1;
                    }
                    if seen_point {
                        exp10 -= 1;
                    }
                } else if !seen_point {
                    // A digit beyond those kept, before the point.
                    exp10 += 1;
                }
            }
            b'.' if !seen_point => seen_point = true,
            b'e' | b'E' => break,
            _ => return None,
        }
        i += 1;
    }
    if !seen_digit {
        return None;
    }
    if i < bytes.len() {
        exp10 = exp10.saturating_add(exponent(&bytes[i + 1..])?);
    }
    Some(scale(mantissa, exp10))
}

/// The digits after `e`: `[+-]digits`, saturating far beyond any `f64`.
fn exponent(bytes: &[u8]) -> Option<i64> {
    let (negative, digits) = match bytes {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, bytes),
    };
    if digits.is_empty() {
        return None;
    }
    let mut e: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        e = (e * 10 + i64::from(b - b'0')).min(100_000);
    }
    Some(if negative { -e } else { e })
}

/// `mantissa × 10^exp10`.
fn scale(mantissa: u64, exp10: i64) -> f64 {
    if mantissa == 0 {
        return 0.0;
    }
    // One correctly rounded operation on two exact values: exact result.
    if mantissa <= 1 << 53 && exp10.unsigned_abs() <= 22 {
        let p = POW10[exp10.unsigned_abs() as usize];
        return if exp10 >= 0 {
            mantissa as f64 * p
        } else {
            mantissa as f64 / p
        };
    }
    // Otherwise one step of the remainder, then steps of 1e22 (exact
    // divisors and factors). Dividing by the remainder first keeps every
    // step but the last out of the subnormal range, where precision is lost.
    let mut v = mantissa as f64;
    let mut e = exp10.unsigned_abs();
    let first = match e % 22 {
        0 => 22,
        r => r,
    };
    let mut step = first.min(e);
    while e > 0 && v != 0.0 && v.is_finite() {
        let p = POW10[step as usize];
        v = if exp10 > 0 { v * p } else { v / p };
        e -= step;
        step = 22;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_forms_a_control_yields() {
        for (s, v) in [
            ("0.7", 0.7),
            ("0.9", 0.9),
            (".5", 0.5),
            ("5.", 5.0),
            ("2", 2.0),
            ("+1.25", 1.25),
            ("-0.1", -0.1),
            ("1e-2", 0.01),
            ("1E3", 1000.0),
            ("2.5e+1", 25.0),
            ("000.0100", 0.01),
            ("32768", 32768.0),
            ("0", 0.0),
        ] {
            assert_eq!(parse(s), Some(v), "{s}");
        }
        assert!(parse("-0").is_some_and(|v| v == 0.0 && v.is_sign_negative()));
    }

    #[test]
    fn anything_else_is_refused() {
        for s in [
            "", "-", "+", ".", "e5", ".e5", "1e", "1e+", "1.2.3", "1,5", " 1", "1 ", "abc", "NaN",
            "inf", "0x10", "1e5x", "--1", "+-1", "١",
        ] {
            assert_eq!(parse(s), None, "{s:?}");
        }
    }

    #[test]
    fn long_and_extreme_numbers_stay_close() {
        let close = |s: &str| {
            let want: f64 = s.parse().unwrap();
            let got = parse(s).unwrap();
            assert!(
                (got - want).abs() <= want.abs() * 1e-14,
                "{s}: {got} vs {want}"
            );
        };
        close("0.70000000000000000000000001");
        close("123456789012345678901234567890");
        close("1e300");
        close("1.7976931348623157e308");
        close("2.2250738585072014e-308");
        assert_eq!(parse("1e400"), Some(f64::INFINITY));
        assert_eq!(parse("1e-400"), Some(0.0));
        assert_eq!(parse("1e99999999999999999999"), Some(f64::INFINITY));
    }

    proptest! {
        #[test]
        fn equals_core_up_to_15_digits(
            m in 0u64..1_000_000_000_000_000,
            point in 0usize..16,
            exp10 in -22i64..=22,
            with_e in any::<bool>(),
            negative in any::<bool>(),
        ) {
            let digits = m.to_string();
            let point = point.min(digits.len());
            let sign = if negative { "-" } else { "" };
            let mut s = format!("{sign}{}.{}", &digits[..point], &digits[point..]);
            if with_e {
                // The exponent written makes the whole number m × 10^exp10.
                s.push_str(&format!("e{}", exp10 + (digits.len() - point) as i64));
            }
            let want: f64 = s.parse().unwrap();
            prop_assert_eq!(parse(&s).map(f64::to_bits), Some(want.to_bits()), "{}", s);
        }

        #[test]
        fn as_f32_equals_core_for_control_values(m in 0u32..10_000_000, places in 0u32..7) {
            let s = format!("{}", f64::from(m) / 10f64.powi(places as i32));
            let want: f32 = s.parse().unwrap();
            prop_assert_eq!(parse(&s).map(|v| (v as f32).to_bits()), Some(want.to_bits()), "{}", s);
        }

        #[test]
        fn never_panics_and_agrees_with_core_on_what_is_a_number(s in "[-+0-9.eE]{0,12}") {
            let ours = parse(&s);
            let core = s.parse::<f64>();
            prop_assert_eq!(ours.is_some(), core.is_ok(), "{}", s);
            if let (Some(a), Ok(b)) = (ours, core) {
                // Within 1e-14, or a few steps of the smallest subnormal.
                prop_assert!(
                    a == b || (a - b).abs() <= b.abs() * 1e-14 + f64::from_bits(4),
                    "{}: {} vs {}", s, a, b
                );
            }
        }
    }
}
