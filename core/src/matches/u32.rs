//! `-m u32 --u32 TESTS`: tests of 32-bit words read at computed offsets of the packet (`libxt_u32`, the
//! kernel's `xt_u32.c`). The expression is parsed into a typed tree here, with the grammar and the limits
//! of `u32_parse`, and printed back as `iptables-save` prints it (every number in hex).
//!
//! ```text
//! tests    := test | tests "&&" test
//! test     := location "=" value
//! value    := range | value "," range
//! range    := number | number ":" number
//! location := number | location operator number
//! operator := "&" | "<<" | ">>" | "@"
//! ```

use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::Negatable;
use crate::span::Span;
use serde::{Deserialize, Serialize};
use std::fmt::{self, Write};

/// The most tests, operands of one location and ranges of one value the kernel's `struct xt_u32` holds
/// (`XT_U32_MAXSIZE`).
pub const MAX_SIZE: usize = 10;

/// The options of `-m u32`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct U32 {
    /// `--u32`: the tests, all of which must hold (or, negated, not all of them).
    pub tests: Negatable<U32Tests>,
}

/// The tests of one `--u32`, joined by `&&`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct U32Tests(pub Vec<U32Test>);

/// One test: the word computed by `location` must be in one of `ranges`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct U32Test {
    /// How the word is found.
    pub location: Location,
    /// The ranges it may be in.
    pub ranges: Vec<U32Range>,
}

/// A location: a first offset, then operations applied in order. The kernel reads the 32-bit word at the
/// first offset from the start of the IP header, then applies each operation to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// The offset of the first word read.
    pub start: u32,
    /// The operations that follow, with their operands.
    pub ops: Vec<(U32Op, u32)>,
}

/// An operation of a location.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum U32Op {
    /// `&`: bitwise and with the operand.
    And,
    /// `<<`: shift left by the operand.
    Shl,
    /// `>>`: shift right by the operand.
    Shr,
    /// `@`: move the base forward by the current value, then read the word at the operand's offset from it.
    At,
}

impl U32Op {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            U32Op::And => "&",
            U32Op::Shl => "<<",
            U32Op::Shr => ">>",
            U32Op::At => "@",
        }
    }
}

/// An inclusive range of 32-bit values (`N` or `MIN:MAX`; the kernel does not require `MIN <= MAX`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct U32Range {
    /// The lowest value.
    pub min: u32,
    /// The highest value.
    pub max: u32,
}

impl fmt::Display for U32Tests {
    /// `iptables-save`'s form: no blanks, every number as `0x` hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("&&")?;
            }
            write!(f, "{:#x}", t.location.start)?;
            for (op, n) in &t.location.ops {
                write!(f, "{}{:#x}", op.as_str(), n)?;
            }
            f.write_char('=')?;
            for (j, r) in t.ranges.iter().enumerate() {
                if j > 0 {
                    f.write_char(',')?;
                }
                if r.min == r.max {
                    write!(f, "{:#x}", r.min)?;
                } else {
                    write!(f, "{:#x}:{:#x}", r.min, r.max)?;
                }
            }
        }
        Ok(())
    }
}

/// Reads a number the way C's `strtoul(text, &end, base)` does: blanks, an optional sign, then digits in
/// `base` (0 meaning decimal, `0x` hex or `0` octal by prefix). Returns the value (`None` if it overflows
/// 64 bits; a `-` negates it modulo 2^64 as C does) and how many bytes were used, or `None` when no digit
/// was found.
pub(crate) fn c_strtoul(text: &str, base: u32) -> Option<(Option<u64>, usize)> {
    let b = text.as_bytes();
    let mut i = 0;
    while b.get(i).is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)) {
        i += 1;
    }
    let negative = b.get(i) == Some(&b'-');
    if matches!(b.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    let mut radix = base;
    let hex_prefix = b.get(i) == Some(&b'0')
        && matches!(b.get(i + 1), Some(b'x' | b'X'))
        && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
    if (radix == 0 || radix == 16) && hex_prefix {
        i += 2;
        radix = 16;
    } else if radix == 0 {
        radix = if b.get(i) == Some(&b'0') { 8 } else { 10 };
    }
    let digits_start = i;
    let mut value = Some(0u64);
    while let Some(d) = b.get(i).and_then(|&c| char::from(c).to_digit(radix)) {
        value = value.and_then(|v| v.checked_mul(u64::from(radix))).and_then(|v| v.checked_add(u64::from(d)));
        i += 1;
    }
    if i == digits_start {
        return None;
    }
    Some((value.map(|v| if negative { v.wrapping_neg() } else { v }), i))
}

/// `xtables_strtoul`: [`c_strtoul`] without the minus sign that C's `strtoul` takes and iptables refuses.
pub(crate) fn xt_strtoul(text: &str, base: u32) -> Option<(Option<u64>, usize)> {
    if text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']).starts_with('-') {
        return None;
    }
    c_strtoul(text, base)
}

/// An error of the expression: the byte offset it is about, and what is wrong.
struct SyntaxError(usize, String);

/// `parse_number` of `libxt_u32`: a 32-bit number in C notation at byte `pos`.
fn number(s: &str, pos: usize) -> Result<(u32, usize), SyntaxError> {
    match xt_strtoul(&s[pos..], 0) {
        Some((Some(n), used)) if n <= u64::from(u32::MAX) => Ok((n as u32, pos + used)),
        _ => Err(SyntaxError(pos, "not a number or out of range".into())),
    }
}

/// Parses the expression with the state machine of `u32_parse` (state 0 reads a location, state 1 its
/// values), so that the same inputs are accepted and refused.
fn parse_tests(s: &str) -> Result<U32Tests, SyntaxError> {
    let b = s.as_bytes();
    let mut tests = Vec::new();
    let mut location: Option<Location> = None;
    let mut ranges: Vec<U32Range> = Vec::new();
    let mut reading_values = false;
    let mut i = 0;
    loop {
        while b.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        let Some(&c) = b.get(i) else {
            if !reading_values {
                return Err(SyntaxError(i, "the input ends inside a location; a test is `LOCATION=VALUE`".into()));
            }
            if ranges.is_empty() {
                return Err(SyntaxError(i, "the last test has no value after `=`".into()));
            }
            tests.push(U32Test { location: location.take().unwrap_or(Location { start: 0, ops: Vec::new() }), ranges });
            if tests.len() > MAX_SIZE {
                return Err(SyntaxError(i, format!("more than {MAX_SIZE} tests joined by `&&`")));
            }
            return Ok(U32Tests(tests));
        };
        if !reading_values {
            if c == b'=' {
                if location.is_none() {
                    return Err(SyntaxError(i, "a location is missing before `=`".into()));
                }
                i += 1;
                reading_values = true;
                continue;
            }
            let op = if let Some(loc) = &location {
                let op = match c {
                    b'&' => U32Op::And,
                    b'<' | b'>' => {
                        if b.get(i + 1) != Some(&c) {
                            let twice = if c == b'<' { "<<" } else { ">>" };
                            return Err(SyntaxError(i + 1, format!("`{twice}` was expected")));
                        }
                        i += 1;
                        if c == b'<' {
                            U32Op::Shl
                        } else {
                            U32Op::Shr
                        }
                    }
                    b'@' => U32Op::At,
                    _ => return Err(SyntaxError(i, "an operator (`&`, `<<`, `>>`, `@`) or `=` was expected".into())),
                };
                i += 1;
                if loc.ops.len() + 1 >= MAX_SIZE {
                    return Err(SyntaxError(i, format!("a location may have at most {MAX_SIZE} numbers")));
                }
                Some(op)
            } else {
                None
            };
            let (n, next) = number(s, i)?;
            i = next;
            match (&mut location, op) {
                (Some(loc), Some(op)) => loc.ops.push((op, n)),
                _ => location = Some(Location { start: n, ops: Vec::new() }),
            }
        } else if c == b'&' {
            if b.get(i + 1) != Some(&b'&') {
                return Err(SyntaxError(i + 1, "`&&` was expected".into()));
            }
            i += 1;
            if ranges.is_empty() {
                return Err(SyntaxError(i, "a value is missing after `=`".into()));
            }
            let loc = location.take().unwrap_or(Location { start: 0, ops: Vec::new() });
            tests.push(U32Test { location: loc, ranges: std::mem::take(&mut ranges) });
            if tests.len() >= MAX_SIZE {
                return Err(SyntaxError(i, format!("more than {MAX_SIZE} tests joined by `&&`")));
            }
            i += 1;
            reading_values = false;
        } else {
            if !ranges.is_empty() {
                if c != b',' {
                    return Err(SyntaxError(i, "`,` or `&&` was expected".into()));
                }
                i += 1;
            }
            let (min, next) = number(s, i)?;
            i = next;
            while b.get(i).is_some_and(u8::is_ascii_whitespace) {
                i += 1;
            }
            let max = if b.get(i) == Some(&b':') {
                let (max, next) = number(s, i + 1)?;
                i = next;
                max
            } else {
                min
            };
            ranges.push(U32Range { min, max });
            if ranges.len() > MAX_SIZE {
                return Err(SyntaxError(i, format!("a value may have at most {MAX_SIZE} ranges")));
            }
        }
    }
}

/// The span of byte `pos` of the option's argument, when the argument was written so that its bytes can
/// be found in the line (plain, or in quotes without escapes); otherwise the whole argument.
fn span_at(o: &Opt<'_>, pos: usize) -> Span {
    let Some(t) = o.args.first() else { return o.span };
    let quote = usize::from(t.quoted);
    if t.span.range().len() != t.text.len() + 2 * quote || pos > t.text.len() {
        return t.span;
    }
    let start = t.span.start as usize + quote + pos;
    let end = (start + 1).min(t.span.end as usize - quote).max(start);
    let col = t.span.col + quote as u32 + t.text[..pos].chars().count() as u32;
    Span { start: start as u32, end: end as u32, line: t.span.line, col }
}

impl Extension for U32 {
    const OPTIONS: &'static [OptSpec] = &[opt("u32", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<U32, Diagnostic> {
        let o = find(opts, "u32")?.ok_or_else(|| ctx.error("the u32 match needs `--u32 TESTS`"))?;
        let tests = parse_tests(o.arg()).map_err(|SyntaxError(pos, msg)| {
            Diagnostic::error(span_at(o, pos), format!("`--u32`: {msg} (at character {} of the expression)", pos + 1))
        })?;
        Ok(U32 { tests: Negatable { value: tests, negated: o.negated, span: o.span } })
    }

    fn save(&self, out: &mut String) {
        save_opt(out, self.tests.negated, "u32");
        let _ = write!(out, " \"{}\"", self.tests.value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ruleset::Family;

    fn parsed(line: &str) -> crate::Parsed {
        crate::parse(&format!("*filter\n{line}\nCOMMIT\n"), Some(Family::Ipv4))
    }

    /// The rule as chainwalk prints it back, after checking that it loaded without errors.
    fn saved(line: &str) -> String {
        let p = parsed(line);
        assert!(!p.has_errors(), "{line}: {:?}", p.diagnostics);
        let mut out = String::from("-A INPUT");
        crate::render::save::rule_spec(&p.ruleset.tables[0].chain("INPUT").unwrap().rules[0], &mut out);
        out
    }

    /// The first error's column (on line 2) and message.
    fn error(line: &str) -> (u32, String) {
        let p = parsed(line);
        let d = p.errors().next().unwrap_or_else(|| panic!("no error for {line}"));
        assert_eq!(d.span.line, 2);
        (d.span.col, d.message.clone())
    }

    #[test]
    fn prints_back_as_iptables_save() {
        // Inputs and what iptables-save 1.8.9 printed for them.
        for (input, out) in [
            ("\"0>>22&0x3C@12>>26&0x3F=0x10\"", "\"0x0>>0x16&0x3c@0xc>>0x1a&0x3f=0x10\""),
            ("\"0 >> 22 & 0x3C @ 12 >> 26 & 0x3F = 0x10\"", "\"0x0>>0x16&0x3c@0xc>>0x1a&0x3f=0x10\""),
            ("\"6&0xFF=1\"", "\"0x6&0xff=0x1\""),
            ("\"6 & 255 = 1\"", "\"0x6&0xff=0x1\""),
            ("\"6&0xFF=1:3\"", "\"0x6&0xff=0x1:0x3\""),
            ("\"6&0xFF=1,6,17\"", "\"0x6&0xff=0x1,0x6,0x11\""),
            ("\"6&0xFF=1&&0>>22&0x3C@0>>16=80\"", "\"0x6&0xff=0x1&&0x0>>0x16&0x3c@0x0>>0x10=0x50\""),
            ("6&0xFF=1", "\"0x6&0xff=0x1\""),
        ] {
            assert_eq!(
                saved(&format!("-A INPUT -m u32 --u32 {input} -j DROP")),
                format!("-A INPUT -m u32 --u32 {out} -j DROP")
            );
        }
        assert_eq!(
            saved("-A INPUT -m u32 ! --u32 \"6&0xFF=1\" -j DROP"),
            "-A INPUT -m u32 ! --u32 \"0x6&0xff=0x1\" -j DROP"
        );
    }

    #[test]
    fn the_tree() {
        let t = parse_tests("0>>22&0x3C@12>>26&0x3F=0x10,5:7").ok().expect("parses");
        assert_eq!(t.0.len(), 1);
        let loc = &t.0[0].location;
        assert_eq!(loc.start, 0);
        assert_eq!(
            loc.ops,
            [(U32Op::Shr, 22), (U32Op::And, 0x3c), (U32Op::At, 12), (U32Op::Shr, 26), (U32Op::And, 0x3f)]
        );
        assert_eq!(t.0[0].ranges, [U32Range { min: 0x10, max: 0x10 }, U32Range { min: 5, max: 7 }]);
    }

    #[test]
    fn errors() {
        assert_eq!(
            error("-A INPUT -m u32 --u32 \"6&0xFF=\" -j DROP"),
            (31, "`--u32`: the last test has no value after `=` (at character 8 of the expression)".into())
        );
        assert_eq!(
            error("-A INPUT -m u32 --u32 bogus -j DROP"),
            (23, "`--u32`: not a number or out of range (at character 1 of the expression)".into())
        );
        assert_eq!(
            error("-A INPUT -m u32 --u32 \"\" -j DROP").1,
            "`--u32`: the input ends inside a location; a test is `LOCATION=VALUE` (at character 1 of the expression)"
        );
        assert_eq!(error("-A INPUT -m u32 -j DROP"), (10, "the u32 match needs `--u32 TESTS`".into()));
        assert_eq!(error("-A INPUT -m u32 --u32 6<1=1").0, 25);
        assert_eq!(
            error("-A INPUT -m u32 --u32 6=1&2=3").1,
            "`--u32`: `&&` was expected (at character 5 of the expression)"
        );
        assert_eq!(
            error("-A INPUT -m u32 --u32 =1").1,
            "`--u32`: a location is missing before `=` (at character 1 of the expression)"
        );
        assert_eq!(
            error("-A INPUT -m u32 --u32 1=2;3").1,
            "`--u32`: `,` or `&&` was expected (at character 4 of the expression)"
        );
        assert_eq!(
            error("-A INPUT -m u32 --u32 1=0x100000000").1,
            "`--u32`: not a number or out of range (at character 3 of the expression)"
        );
        let eleven = ["1=1"; 11].join("&&");
        assert!(error(&format!("-A INPUT -m u32 --u32 {eleven}")).1.contains("more than 10 tests"));
        let ten = ["1=1"; 10].join("&&");
        assert_eq!(saved(&format!("-A INPUT -m u32 --u32 {ten}")).matches("&&").count(), 9);
        assert!(error("-A INPUT -m u32 --u32 1=1,2,3,4,5,6,7,8,9,10,11").1.contains("at most 10 ranges"));
        assert!(error("-A INPUT -m u32 --u32 1&1&1&1&1&1&1&1&1&1&1=1").1.contains("at most 10 numbers"));
    }

    #[test]
    fn reads_c_numbers() {
        assert_eq!(c_strtoul("0x1fz", 0), Some((Some(31), 4)));
        assert_eq!(c_strtoul(" 010", 0), Some((Some(8), 4)));
        assert_eq!(c_strtoul("08", 0), Some((Some(0), 1)));
        assert_eq!(c_strtoul("0x", 0), Some((Some(0), 1)));
        assert_eq!(c_strtoul("-1", 10), Some((Some(u64::MAX), 2)));
        assert_eq!(c_strtoul("99999999999999999999", 10), Some((None, 20)));
        assert_eq!(c_strtoul("x", 0), None);
        assert_eq!(xt_strtoul(" -0", 0), None);
    }
}
