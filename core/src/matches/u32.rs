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
use crate::packet::{Packet, L4};
use crate::ruleset::Negatable;
use crate::span::Span;
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt::{self, Write};
use std::net::IpAddr;

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
    if text.trim_start_matches(crate::values::C_SPACE).starts_with('-') {
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

/// The bytes of a packet as far as chainwalk knows them, from the IP header on: each byte's value and which of
/// its bits are known. The packet model has addresses, lengths, TOS, TTL, fragment fields, ports, TCP flags and
/// ICMP type and code; the IPv4 identification, checksums, TCP sequence numbers, options and the payload are
/// unknown.
struct KnownBytes {
    value: Vec<u8>,
    known: Vec<u8>,
}

impl KnownBytes {
    /// The packet's bytes (`pkt.len` of them), with an IPv4 header without options or an IPv6 header without
    /// extension headers, and the transport header when this is not a later fragment.
    fn of(pkt: &Packet) -> KnownBytes {
        let len = usize::from(pkt.len);
        let mut b = KnownBytes { value: vec![0; len], known: vec![0; len] };
        let (transport, proto_known) = match (pkt.src, pkt.dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                b.set(0, &[0x45, pkt.tos]);
                b.set(2, &pkt.len.to_be_bytes());
                let flags = u16::from(pkt.dont_fragment) << 14 | u16::from(pkt.more_fragments) << 13;
                b.set(6, &(flags | (pkt.fragment_offset & 0x1fff)).to_be_bytes());
                b.set(8, &[pkt.ttl, pkt.l4.proto()]);
                b.set(12, &src.octets());
                b.set(16, &dst.octets());
                (20, true)
            }
            (src, dst) => {
                let fragment = pkt.fragment_offset != 0 || pkt.more_fragments;
                b.set(0, &[0x60 | pkt.tos >> 4]);
                b.set_bits(1, pkt.tos << 4, 0xf0);
                b.set(4, &pkt.len.saturating_sub(40).to_be_bytes());
                if !fragment {
                    b.set(6, &[pkt.l4.proto()]);
                }
                b.set(7, &[pkt.ttl]);
                for (at, ip) in [(8, src), (24, dst)] {
                    if let IpAddr::V6(a) = ip {
                        b.set(at, &a.octets());
                    }
                }
                (40, !fragment)
            }
        };
        if pkt.fragment_offset != 0 || !proto_known {
            return b;
        }
        if let Some((sport, dport)) = pkt.l4.ports() {
            b.set(transport, &sport.to_be_bytes());
            b.set(transport + 2, &dport.to_be_bytes());
        }
        match pkt.l4 {
            L4::Tcp { flags, .. } => b.set(transport + 13, &[flags.0]),
            L4::Udp { .. } if !pkt.more_fragments => {
                b.set(transport + 4, &pkt.len.saturating_sub(transport as u16).to_be_bytes())
            }
            L4::Icmp { icmp_type, code } | L4::Icmpv6 { icmp_type, code } => b.set(transport, &[icmp_type, code]),
            _ => {}
        }
        b
    }

    /// Makes `bytes` at `at` known (those within the packet).
    fn set(&mut self, at: usize, bytes: &[u8]) {
        for (i, &v) in bytes.iter().enumerate() {
            self.set_bits(at + i, v, 0xff);
        }
    }

    /// Makes the bits `mask` of the byte at `at` known, as those of `v`.
    fn set_bits(&mut self, at: usize, v: u8, mask: u8) {
        if let (Some(value), Some(known)) = (self.value.get_mut(at), self.known.get_mut(at)) {
            *value = (*value & !mask) | (v & mask);
            *known |= mask;
        }
    }

    /// The big-endian word at `at` (which must be within the packet) and which of its bits are known.
    fn word(&self, at: usize) -> Word {
        let mut w = Word { value: 0, known: 0 };
        for i in at..at + 4 {
            w.value = w.value << 8 | u32::from(self.value[i]);
            w.known = w.known << 8 | u32::from(self.known[i]);
        }
        w
    }
}

/// A 32-bit value of which only the bits in `known` are known (the others are 0 in `value`).
#[derive(Clone, Copy)]
struct Word {
    value: u32,
    known: u32,
}

/// What one test found in the packet.
enum Reading {
    /// The word was read and is this.
    Value(u32),
    /// The location points past the end of the packet, which the kernel takes as a failed test.
    PastEnd,
    /// The word depends on bits chainwalk does not know; `surely_not` when the known bits already rule out
    /// every value of the test.
    Unknown { surely_not: bool },
}

/// `u32_match_it` in `xt_u32.c` for one test: read the word at the first offset, apply the operations
/// (`@` moves the base forward by the value and reads at the operand from there), checking each read against
/// the packet's length as the kernel does.
fn read(test: &U32Test, bytes: &KnownBytes) -> Reading {
    let len = bytes.value.len() as u64;
    let fits = |at: u64, pos: u64| len >= 4 && at + pos <= len - 4;
    let loc = &test.location;
    if !fits(0, u64::from(loc.start)) {
        return Reading::PastEnd;
    }
    let mut w = bytes.word(loc.start as usize);
    let mut at = 0u64;
    for &(op, n) in &loc.ops {
        let shift = n % 32;
        match op {
            U32Op::And => w = Word { value: w.value & n, known: w.known | !n },
            U32Op::Shl => w = Word { value: w.value << shift, known: w.known << shift | ((1u64 << shift) - 1) as u32 },
            U32Op::Shr => w = Word { value: w.value >> shift, known: w.known >> shift | !(u32::MAX >> shift) },
            U32Op::At => {
                if w.known != u32::MAX {
                    return Reading::Unknown { surely_not: false };
                }
                at += u64::from(w.value);
                if at > u64::from(u32::MAX) || !fits(at, u64::from(n)) {
                    return Reading::PastEnd;
                }
                w = bytes.word((at + u64::from(n)) as usize);
            }
        }
    }
    if w.known == u32::MAX {
        return Reading::Value(w.value);
    }
    let may_be = |r: &U32Range| r.min != r.max || (w.value ^ r.min) & w.known == 0;
    Reading::Unknown { surely_not: !test.ranges.iter().any(may_be) }
}

impl Evaluate for U32 {
    /// `u32_mt` in `xt_u32.c`: every test must find its word in one of its ranges (a test whose location
    /// points past the packet's end fails); `!` inverts the whole. Tests are evaluated on the bytes chainwalk
    /// knows ([`KnownBytes`]); a test that needs unknown bits is assumed to fail.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        let bytes = KnownBytes::of(ctx.pkt);
        let len = bytes.value.len();
        let mut facts = Vec::new();
        let mut unknown = Vec::new();
        for test in &self.tests.value.0 {
            let text = U32Tests(vec![test.clone()]).to_string();
            let (loc, values) = text.split_once('=').unwrap_or((&text, ""));
            match read(test, &bytes) {
                Reading::Value(v) => {
                    let inside = test.ranges.iter().any(|r| r.min <= v && v <= r.max);
                    let fact =
                        format!("{loc} is {v:#x} in this packet, {} {values}", if inside { "in" } else { "not in" });
                    if !inside {
                        return conclude(false, self.tests.negated, fact);
                    }
                    facts.push(fact);
                }
                Reading::PastEnd => {
                    return conclude(
                        false,
                        self.tests.negated,
                        format!("{loc} reads past the end of this {len}-byte packet"),
                    );
                }
                Reading::Unknown { surely_not: true } => {
                    let fact = format!("{loc} cannot be {values} in this packet, whatever its unknown bits are");
                    return conclude(false, self.tests.negated, fact);
                }
                Reading::Unknown { surely_not: false } => unknown.push(loc.to_string()),
            }
        }
        if unknown.is_empty() {
            return conclude(true, self.tests.negated, facts.join(", and "));
        }
        let o = conclude(
            false,
            self.tests.negated,
            format!(
                "{} reads bits the packet model does not have (the IPv4 identification, checksums, TCP sequence \
                 numbers, options and the payload), and chainwalk assumes the test fails (set it by hand if it holds)",
                unknown.join(" and ")
            ),
        );
        Outcome::assumed(o.holds, o.why)
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

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(scene: &Scene, tests: &str) -> Outcome {
            match first_match(scene.pkt.family(), &format!("-m u32 {tests}")) {
                MatchKind::U32(m) => m.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        const SYN: &str = "tcp 203.0.113.7:40000 -> 192.0.2.2:80 in eth0 syn df len 60";

        #[test]
        fn header_fields_are_known() {
            let s = Scene::new(SYN);
            let o = eval(&s, "--u32 \"6&0xFF=6\"");
            assert!(o.holds && !o.assumed);
            assert_eq!(o.why, "0x6&0xff is 0x6 in this packet, in 0x6, so this holds");
            let o = eval(&s, "--u32 \"0>>22&0x3C@0&0xFFFF=80 && 0>>22&0x3C@12>>16&0x3F=0x02\"");
            assert!(o.holds && !o.assumed, "{}", o.why);
            assert_eq!(
                o.why,
                "0x0>>0x16&0x3c@0x0&0xffff is 0x50 in this packet, in 0x50, and 0x0>>0x16&0x3c@0xc>>0x10&0x3f is 0x2 \
                 in this packet, in 0x2, so this holds"
            );
            let o = eval(&s, "--u32 \"0>>22&0x3C@0&0xFFFF=22,443\"");
            assert!(!o.holds && !o.assumed);
            assert_eq!(
                o.why,
                "0x0>>0x16&0x3c@0x0&0xffff is 0x50 in this packet, not in 0x16,0x1bb, so this does not hold"
            );
            assert!(eval(&s, "! --u32 \"0>>22&0x3C@0&0xFFFF=22\"").holds);
            let o = eval(&s, "--u32 \"4&0xFFFF=0x4000 && 8>>24=64 && 12=0xcb007107 && 0&0xFFFF=60\"");
            assert!(o.holds, "DF, TTL, source address and total length: {}", o.why);
        }

        #[test]
        fn ipv6_header() {
            let s = Scene::new("udp [2001:db8::1]:5353 -> [2001:db8::2]:53 in eth0 len 100");
            let o = eval(&s, "--u32 \"4>>8&0xFF=17 && 40&0xFFFF=53 && 44>>16=60\"");
            assert!(o.holds && !o.assumed, "{}", o.why);
        }

        #[test]
        fn past_the_end_fails() {
            let o = eval(&Scene::new(SYN), "--u32 \"60=0\"");
            assert!(!o.holds && !o.assumed);
            assert_eq!(o.why, "0x3c reads past the end of this 60-byte packet, so this does not hold");
            assert!(eval(&Scene::new(SYN), "! --u32 \"0>>22&0x3C@40=0\"").holds);
        }

        #[test]
        fn unknown_bits_are_assumed_to_fail() {
            let s = Scene::new(SYN);
            let o = eval(&s, "--u32 \"4>>16=0x1234\"");
            assert!(!o.holds && o.assumed);
            assert_eq!(
                o.why,
                "0x4>>0x10 reads bits the packet model does not have (the IPv4 identification, checksums, TCP \
                 sequence numbers, options and the payload), and chainwalk assumes the test fails (set it by hand if \
                 it holds), so this does not hold"
            );
            let o = eval(&s, "! --u32 \"0>>22&0x3C@12>>26&0x3C@0=0x47455420\"");
            assert!(o.holds && o.assumed, "{}", o.why);
            let o = eval(&s, "--u32 \"4&0x1FFFF=0x12345\"");
            assert!(!o.holds && !o.assumed);
            assert_eq!(
                o.why,
                "0x4&0x1ffff cannot be 0x12345 in this packet, whatever its unknown bits are, so this does not hold"
            );
        }
    }
}
