//! Decimal numbers with a fraction, read and written with integer arithmetic.
//!
//! A few options take or print such numbers (`-m statistic --probability`, the rates and times of
//! `rateest` and `RATEEST`). The standard library's float reading and printing would do, but in the web
//! app's wasm they are some 20 KB gzip of code and tables, for a handful of numbers; these two functions
//! give the same results (host tests compare them with the standard library's) in a fraction of that.

use std::fmt::Write;

/// A decimal number as `text.parse::<f64>()` reads it, without its `inf` and `nan` words: an optional
/// sign, digits with an optional point (`1`, `1.`, `.5`, `1.5`), an optional exponent (`e-3`, `E+2`); the
/// nearest `f64`, ties to even, infinite beyond the largest. `None` for anything else.
pub fn parse(text: &str) -> Option<f64> {
    fast(text).or_else(|| exact(text))
}

/// The common case without any allocation (Clinger's fast path): at most 19 significant digits whose
/// value fits in 53 bits, times a power of ten from 10^-22 to 10^22, both exact in an `f64`, so one
/// correctly rounded multiplication or division gives the nearest `f64`. `None` when the text is not
/// such a number (then [`exact`] decides).
fn fast(text: &str) -> Option<f64> {
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
        1e20, 1e21, 1e22,
    ];
    let b = text.as_bytes();
    let negative = b.first() == Some(&b'-');
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let (mut m, mut n, mut exp, mut seen, mut point) = (0u64, 0u32, 0i32, false, false);
    while let Some(&c) = b.get(i) {
        if c == b'.' && !point {
            point = true;
        } else if c.is_ascii_digit() {
            seen = true;
            exp -= i32::from(point);
            if m != 0 || c != b'0' {
                n += 1;
                if n > 19 {
                    return None;
                }
                m = m * 10 + u64::from(c - b'0');
            }
        } else {
            return None;
        }
        i += 1;
    }
    if !seen || m > 1 << 53 || exp < -22 {
        return None;
    }
    let v = m as f64 / POW10[exp.unsigned_abs() as usize];
    Some(if negative { -v } else { v })
}

/// Any number [`parse`] reads, exactly.
fn exact(text: &str) -> Option<f64> {
    /// Significant digits kept; the rest only say whether they are all zero. 767 would be enough for every
    /// `f64` to round right.
    const KEEP: usize = 800;
    let b = text.as_bytes();
    let negative = b.first() == Some(&b'-');
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    // The value is `digits` (a decimal integer) times 10^`exp`.
    let mut digits: Vec<u8> = Vec::new();
    let mut exp: i64 = 0;
    let mut dropped_nonzero = false;
    let mut seen = false;
    let mut point = false;
    while let Some(&c) = b.get(i) {
        if c == b'.' && !point {
            point = true;
        } else if c.is_ascii_digit() {
            seen = true;
            if point {
                exp -= 1;
            }
            if digits.len() < KEEP {
                if !(digits.is_empty() && c == b'0') {
                    digits.push(c - b'0');
                }
            } else {
                dropped_nonzero |= c != b'0';
                exp += 1;
            }
        } else {
            break;
        }
        i += 1;
    }
    if !seen {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        let minus = b.get(i) == Some(&b'-');
        i += usize::from(matches!(b.get(i), Some(b'+' | b'-')));
        let start = i;
        let mut e: i64 = 0;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            // Far past the range of an f64 either way, so the cap changes nothing.
            e = (e * 10 + i64::from(c - b'0')).min(1 << 40);
            i += 1;
        }
        if i == start {
            return None;
        }
        exp += if minus { -e } else { e };
    }
    if i != b.len() {
        return None;
    }
    if dropped_nonzero {
        // A nonzero digit past the kept ones rounds as any nonzero digit there would.
        digits.push(1);
        exp -= 1;
    }
    let magnitude = if digits.is_empty() {
        0.0
    } else if digits.len() as i64 + exp > 310 {
        f64::INFINITY
    } else if digits.len() as i64 + exp < -324 {
        0.0
    } else {
        nearest(&digits, exp)
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// The `f64` nearest to `digits` × 10^`exp` (ties to even), for a value between 10^-325 and 10^311.
fn nearest(digits: &[u8], exp: i64) -> f64 {
    let mut num = Big::default();
    for &d in digits {
        num.mul_add(10, u32::from(d));
    }
    let mut den = Big::from(1);
    for _ in 0..exp.unsigned_abs() {
        if exp > 0 { &mut num } else { &mut den }.mul_add(10, 0);
    }
    // Scale by 2^shift so that the quotient has 55 or 56 bits: 53 for the significand, one to round
    // with and at least one more.
    let shift = 55 - num.bits() as i64 + den.bits() as i64;
    if shift > 0 {
        num.shl(shift as usize);
    } else {
        den.shl(shift.unsigned_abs() as usize);
    }
    let (mut q, exact) = num.div_small_quotient(&den);
    // The value is q × 2^-shift, q's top bit worth 2^top.
    let top = 63 - i64::from(q.leading_zeros()) - shift;
    // Keep 53 bits, or fewer where the value is subnormal (units of 2^-1074).
    let normal_cut = 63 - i64::from(q.leading_zeros()) - 52;
    let subnormal = shift - 1074 > normal_cut;
    let cut = normal_cut.max(shift - 1074) as u32;
    let (rest, half) = if cut >= 64 { (q, 1u64 << 63) } else { (q & ((1 << cut) - 1), 1 << (cut - 1)) };
    q = q.checked_shr(cut).unwrap_or(0);
    if rest > half || (rest == half && (!exact || q & 1 == 1)) {
        q += 1;
    }
    // The significand's hidden bit lands in the exponent field, so a carry out of 53 bits moves to the
    // next binade by itself; a subnormal value has an exponent field of 0.
    let field = if subnormal { 0 } else { (top + 1022) as u64 };
    let bits = (field << 52) + q;
    if bits >= f64::INFINITY.to_bits() {
        f64::INFINITY
    } else {
        f64::from_bits(bits)
    }
}

/// An unsigned integer of any size, in 32-bit limbs, least significant first.
#[derive(Default)]
struct Big {
    limbs: Vec<u32>,
}

impl From<u32> for Big {
    fn from(n: u32) -> Big {
        Big { limbs: vec![n] }
    }
}

impl Big {
    /// `self * m + a`.
    fn mul_add(&mut self, m: u32, a: u32) {
        let mut carry = u64::from(a);
        for limb in &mut self.limbs {
            let v = u64::from(*limb) * u64::from(m) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.limbs.push(carry as u32);
        }
    }

    fn bits(&self) -> usize {
        let top = self.limbs.iter().rposition(|&l| l != 0);
        top.map_or(0, |t| t * 32 + 32 - self.limbs[t].leading_zeros() as usize)
    }

    fn shl(&mut self, n: usize) {
        let (whole, part) = (n / 32, n % 32);
        if part > 0 {
            let mut carry = 0;
            for limb in &mut self.limbs {
                let v = (u64::from(*limb) << part) | carry;
                *limb = v as u32;
                carry = v >> 32;
            }
            if carry > 0 {
                self.limbs.push(carry as u32);
            }
        }
        self.limbs.splice(0..0, std::iter::repeat_n(0, whole));
    }

    fn cmp(&self, other: &Big) -> std::cmp::Ordering {
        let (a, b) = (self.bits(), other.bits());
        if a != b {
            return a.cmp(&b);
        }
        let n = a.div_ceil(32);
        self.limbs[..n].iter().rev().cmp(other.limbs[..n].iter().rev())
    }

    fn sub(&mut self, other: &Big) {
        let mut borrow = 0i64;
        for (i, limb) in self.limbs.iter_mut().enumerate() {
            let v = i64::from(*limb) - i64::from(other.limbs.get(i).copied().unwrap_or(0)) - borrow;
            *limb = v as u32;
            borrow = i64::from(v < 0);
        }
    }

    /// `self / den` for a quotient below 2^64, and whether it is exact (`self` is consumed as the
    /// remainder).
    fn div_small_quotient(&mut self, den: &Big) -> (u64, bool) {
        let mut q = 0u64;
        for bit in (0..64).rev() {
            let mut d = Big { limbs: den.limbs.clone() };
            d.shl(bit);
            if self.cmp(&d) != std::cmp::Ordering::Less {
                self.sub(&d);
                q |= 1 << bit;
            }
        }
        (q, self.bits() == 0)
    }
}

/// `v` with `places` decimals (at most 15), as `format!("{v:.places$}")` writes it: the exact binary
/// value rounded half to even.
pub fn fixed(v: f64, places: u32) -> String {
    let bits = v.to_bits();
    let mut out = String::new();
    if bits >> 63 == 1 {
        out.push('-');
    }
    let field = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    // |v| = m × 2^e
    let (m, e) = if field == 0 { (fraction, -1074) } else { (fraction | 1 << 52, field - 1075) };
    debug_assert!(places <= 15);
    let scale = 10u64.pow(places);
    if e >= 0 {
        // A whole number: its digits, doubled e times, then zeros.
        let mut digits: Vec<u8> = m.to_string().bytes().rev().map(|d| d - b'0').collect();
        for _ in 0..e {
            let mut carry = 0;
            for d in &mut digits {
                let v = *d * 2 + carry;
                *d = v % 10;
                carry = v / 10;
            }
            if carry > 0 {
                digits.push(carry);
            }
        }
        out.extend(digits.iter().rev().map(|&d| char::from(b'0' + d)));
        if places > 0 {
            out.push('.');
            out.extend(std::iter::repeat_n('0', places as usize));
        }
        return out;
    }
    // m × 10^places < 2^53 × 2^50, and the shift is at most 1074.
    let scaled = u128::from(m) * u128::from(scale);
    let cut = e.unsigned_abs();
    let (mut q, rest, half) =
        if cut >= 128 { (0, scaled, 1u128 << 127) } else { (scaled >> cut, scaled & ((1 << cut) - 1), 1 << (cut - 1)) };
    if rest > half || (rest == half && q & 1 == 1) {
        q += 1;
    }
    // Both parts fit in 64 bits: the whole part is below 2^53, the decimals below 10^15.
    let _ = write!(out, "{}", (q / u128::from(scale)) as u64);
    if places > 0 {
        let _ = write!(out, ".{:0width$}", (q % u128::from(scale)) as u64, width = places as usize);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The standard library's reading, restricted as [`parse`] is.
    fn std_parse(text: &str) -> Option<f64> {
        let word = text.trim_start_matches(['+', '-']).chars().next().is_some_and(|c| c.is_ascii_alphabetic());
        if word {
            return None;
        }
        text.parse().ok()
    }

    fn same(text: &str) {
        let (ours, std) = (parse(text), std_parse(text));
        assert_eq!(ours.map(f64::to_bits), std.map(f64::to_bits), "{text:?}: {ours:?} {std:?}");
    }

    /// A small pseudo-random generator, so that the tests need no crate and repeat exactly.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn reads_what_the_standard_library_reads_every_short_text() {
        let alphabet = b"0159.eE+-";
        let mut text = Vec::new();
        for len in 0..=6 {
            let total = alphabet.len().pow(len);
            for n in 0..total {
                text.clear();
                let mut k = n;
                for _ in 0..len {
                    text.push(alphabet[k % alphabet.len()]);
                    k /= alphabet.len();
                }
                same(std::str::from_utf8(&text).unwrap());
            }
        }
        for word in ["inf", "nan", "infinity", "-inf", "x", "1x", " 1", "1 ", "0x10", "1_0", "١"] {
            assert_eq!(parse(word), None, "{word}");
        }
    }

    #[test]
    fn reads_what_the_standard_library_reads_hard_cases() {
        for text in [
            "9007199254740993",
            "9007199254740992.5",
            "9007199254740993.0000000000000000000000001",
            "2.2250738585072011e-308",
            "2.2250738585072012e-308",
            "2.2250738585072014e-308",
            "4.9406564584124654e-324",
            "2.4703282292062327e-324",
            "2.4703282292062328e-324",
            "1e-324",
            "3e-324",
            "1.7976931348623157e308",
            "1.7976931348623158e308",
            "1.7976931348623159e308",
            "179769313486231580793728971405301e276",
            "1e309",
            "-1e400",
            "1e-400",
            "0.000000000000000000000000000000000000000000000000000000001e56",
            "0.1",
            "0.33333333349",
            "0.999999999999999999999999",
            "1e99999999999999999999999",
            "1e-99999999999999999999999",
            "-0",
            "-0.0e5",
            "123456789012345678901234567890",
        ] {
            same(text);
        }
        // A halfway case decided only by a digit past the 800 kept.
        let halfway = format!("9007199254740993{}", "0".repeat(900));
        same(&halfway);
        same(&format!("{halfway}1"));
        same(&format!("0.{}1e20", "0".repeat(5000)));
    }

    #[test]
    fn reads_what_the_standard_library_reads_random_texts() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let mut text = String::new();
            if rng.below(4) == 0 {
                text.push('-');
            }
            let int = rng.below(25);
            for _ in 0..int {
                text.push(char::from(b'0' + rng.below(10) as u8));
            }
            if rng.below(2) == 0 {
                text.push('.');
                for _ in 0..rng.below(25) {
                    text.push(char::from(b'0' + rng.below(10) as u8));
                }
            }
            if rng.below(2) == 0 {
                text.push('e');
                let e = rng.below(700) as i64 - 350;
                text.push_str(&e.to_string());
            }
            same(&text);
            // And the shortest text of a random f64, and its neighbours' midpoints.
            let v = f64::from_bits(rng.next() >> 1);
            if v.is_finite() {
                same(&format!("{v:e}"));
                let next = f64::from_bits(v.to_bits() + 1);
                if next.is_finite() {
                    let mid = (v / 2.0) + (next / 2.0);
                    same(&format!("{mid:.30e}"));
                }
            }
        }
    }

    #[test]
    fn prints_what_the_standard_library_prints() {
        let mut values =
            vec![0.0, -0.0, 0.5, 1.5, 2.5, 0.05, 0.25, 1e-7, 123.456, 1e15, 1e300, f64::MAX, f64::MIN_POSITIVE];
        values.push(f64::from_bits(1));
        for p in [0u32, 1, 2, 3, 0x4000_0000, 0x8000_0000, 0xffff_ffff, 524_288, 1_572_864] {
            values.push(f64::from(p) / 2_147_483_648.0);
        }
        let mut rng = Rng(42);
        for _ in 0..5_000 {
            values.push(f64::from(rng.next() as u32) / 2_147_483_648.0);
            values.push(f64::from(rng.next() as u32) / 1e6);
            values.push(f64::from(rng.next() as u32) / 1e3);
            values.push(f64::from(rng.below(100_000) as u32) * 0.05);
            values.push((rng.next() >> 11) as f64 / 1e6);
        }
        // Any bit pattern, big and tiny exponents included (the slow ones, so fewer).
        for _ in 0..1_000 {
            let v = f64::from_bits(rng.next());
            if v.is_finite() {
                values.push(v);
            }
        }
        for v in values {
            for places in [0, 1, 2, 11, 15] {
                assert_eq!(fixed(v, places), format!("{v:.prec$}", prec = places as usize), "{v:e} {places}");
            }
        }
    }
}
