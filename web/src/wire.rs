//! How a [`Request`](crate::protocol::Request) and a [`Response`](crate::protocol::Response) travel between
//! the page and its worker: as bytes, in an encoding of their own.
//!
//! Both ends are this same binary, so the encoding needs no field names, versions or self-description:
//! each value is written field after field in declaration order and read back in the same order. Numbers
//! are LEB128 varints (an `f64` is its 8 bytes), a string or a list is its length and then its bytes or
//! items, an `Option` a 0/1 byte and then the value, an enum its variant's index and then its fields.
//!
//! Written by hand instead of with `serde-wasm-bindgen` because the derived readers and writers of every
//! type in a walk, and the JavaScript calls they make, were some 65 KB of the download; these are a few.
//! Each `put` takes its value apart with an exhaustive pattern and each `take` builds it with a struct
//! literal, so a field added to a type that crosses is a compile error here until it is encoded.

use crate::protocol::{DumpReading, Entry, HostReading, LogEntry, Outcome, Request, Response, Run, Timing, Walk};
use chainwalk_core::diag::Severity;
use chainwalk_core::ruleset::{Hook, TableName};
use chainwalk_core::trace::{
    Assumption, Change, Condition, Fate, FateVerdict, Insight, Path, Stage, StageKind, StageStatus, Step, StepKind,
};
use chainwalk_core::{Diagnostic, Family, Span};
use std::sync::Arc;

/// A value that can cross between the page and the worker.
pub trait Wire: Sized {
    /// Appends the value to `w`.
    fn put(&self, w: &mut Writer);
    /// Reads a value off the front of `r`; `None` if the bytes are not one.
    fn take(r: &mut Reader<'_>) -> Option<Self>;
}

/// The bytes of `value`.
pub fn encode<T: Wire>(value: &T) -> Vec<u8> {
    let mut w = Writer { bytes: Vec::new() };
    value.put(&mut w);
    w.bytes
}

/// The value `bytes` encode, if they encode exactly one.
pub fn decode<T: Wire>(bytes: &[u8]) -> Option<T> {
    let mut r = Reader { bytes };
    let value = T::take(&mut r)?;
    r.bytes.is_empty().then_some(value)
}

/// Collects the bytes of values.
pub struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    fn byte(&mut self, b: u8) {
        self.bytes.push(b);
    }

    /// `n` as a LEB128 varint: seven bits a byte, the high bit set on all but the last.
    fn uint(&mut self, mut n: u64) {
        while n >= 0x80 {
            self.bytes.push(n as u8 | 0x80);
            n >>= 7;
        }
        self.bytes.push(n as u8);
    }

    fn str(&mut self, s: &str) {
        self.uint(s.len() as u64);
        self.bytes.extend_from_slice(s.as_bytes());
    }
}

/// Reads values off the front of bytes.
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        Some(b)
    }

    fn uint(&mut self) -> Option<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(n);
            }
        }
        None
    }

    fn str(&mut self) -> Option<&'a str> {
        let len = usize::try_from(self.uint()?).ok()?;
        if len > self.bytes.len() {
            return None;
        }
        let (s, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        std::str::from_utf8(s).ok()
    }
}

impl Wire for bool {
    fn put(&self, w: &mut Writer) {
        w.byte(u8::from(*self));
    }
    fn take(r: &mut Reader<'_>) -> Option<bool> {
        match r.byte()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
}

macro_rules! wire_uint {
    ($($ty:ty),*) => {$(
        impl Wire for $ty {
            fn put(&self, w: &mut Writer) {
                w.uint(*self as u64);
            }
            fn take(r: &mut Reader<'_>) -> Option<$ty> {
                <$ty>::try_from(r.uint()?).ok()
            }
        }
    )*};
}
wire_uint!(u16, u32, u64, usize);

impl Wire for f64 {
    fn put(&self, w: &mut Writer) {
        w.uint(self.to_bits());
    }
    fn take(r: &mut Reader<'_>) -> Option<f64> {
        Some(f64::from_bits(r.uint()?))
    }
}

impl Wire for String {
    fn put(&self, w: &mut Writer) {
        w.str(self);
    }
    fn take(r: &mut Reader<'_>) -> Option<String> {
        r.str().map(str::to_owned)
    }
}

impl Wire for Arc<str> {
    fn put(&self, w: &mut Writer) {
        w.str(self);
    }
    fn take(r: &mut Reader<'_>) -> Option<Arc<str>> {
        r.str().map(Arc::from)
    }
}

impl<T: Wire> Wire for Option<T> {
    fn put(&self, w: &mut Writer) {
        match self {
            None => w.byte(0),
            Some(v) => {
                w.byte(1);
                v.put(w);
            }
        }
    }
    fn take(r: &mut Reader<'_>) -> Option<Option<T>> {
        match r.byte()? {
            0 => Some(None),
            1 => T::take(r).map(Some),
            _ => None,
        }
    }
}

impl<T: Wire> Wire for Vec<T> {
    fn put(&self, w: &mut Writer) {
        w.uint(self.len() as u64);
        for v in self {
            v.put(w);
        }
    }
    fn take(r: &mut Reader<'_>) -> Option<Vec<T>> {
        let len = usize::try_from(r.uint()?).ok()?;
        // Every value takes at least one byte: a length beyond the bytes left is a lie, not an allocation.
        if len > r.bytes.len() {
            return None;
        }
        (0..len).map(|_| T::take(r)).collect()
    }
}

impl<A: Wire, B: Wire> Wire for (A, B) {
    fn put(&self, w: &mut Writer) {
        self.0.put(w);
        self.1.put(w);
    }
    fn take(r: &mut Reader<'_>) -> Option<(A, B)> {
        Some((A::take(r)?, B::take(r)?))
    }
}

/// `Wire` for structs, field by field: `wire_struct!(Span { start, end, line, col })`.
macro_rules! wire_struct {
    ($($ty:ident { $($field:ident),* $(,)? })*) => {$(
        impl Wire for $ty {
            fn put(&self, w: &mut Writer) {
                let $ty { $($field),* } = self;
                $($field.put(w);)*
            }
            fn take(r: &mut Reader<'_>) -> Option<$ty> {
                Some($ty { $($field: Wire::take(r)?),* })
            }
        }
    )*};
}

/// `Wire` for enums without fields, as the variant's index in the list (which must be the declaration
/// order, as a test checks): `wire_unit_enum!(Family { Ipv4, Ipv6 })`.
macro_rules! wire_unit_enum {
    ($($ty:ident { $($variant:ident),* $(,)? })*) => {$(
        #[cfg(test)]
        impl tests::Variants for $ty {
            const ALL: &'static [$ty] = &[$($ty::$variant),*];
        }
        impl Wire for $ty {
            fn put(&self, w: &mut Writer) {
                // Exhaustive, so that a new variant is a compile error here.
                match self {
                    $($ty::$variant)|* => w.byte(*self as u8),
                }
            }
            fn take(r: &mut Reader<'_>) -> Option<$ty> {
                [$($ty::$variant),*].get(usize::from(r.byte()?)).copied()
            }
        }
    )*};
}

wire_unit_enum! {
    Family { Ipv4, Ipv6 }
    Severity { Error, Warning }
    TableName { Raw, Mangle, Nat, Filter, Security }
    Hook { Prerouting, Input, Forward, Output, Postrouting }
    StageStatus { Passed, Skipped, Stopped, Absent }
    StepKind { Rule, Policy, Return }
    FateVerdict { Accept, Drop, Reject, Queue, Undecided }
    Path { Input, Forward, Output }
}

impl Wire for StageKind {
    fn put(&self, w: &mut Writer) {
        match self {
            StageKind::Table { table } => {
                w.byte(0);
                table.put(w);
            }
            StageKind::Conntrack => w.byte(1),
            StageKind::Routing => w.byte(2),
            StageKind::Deliver => w.byte(3),
            StageKind::Egress => w.byte(4),
            StageKind::Bridge => w.byte(5),
            StageKind::Arrival => w.byte(6),
        }
    }
    fn take(r: &mut Reader<'_>) -> Option<StageKind> {
        Some(match r.byte()? {
            0 => StageKind::Table { table: TableName::take(r)? },
            1 => StageKind::Conntrack,
            2 => StageKind::Routing,
            3 => StageKind::Deliver,
            4 => StageKind::Egress,
            5 => StageKind::Bridge,
            6 => StageKind::Arrival,
            _ => return None,
        })
    }
}

impl Wire for Entry {
    fn put(&self, w: &mut Writer) {
        match self {
            Entry::Step { index, step } => {
                w.byte(0);
                index.put(w);
                step.put(w);
            }
            Entry::Run(run) => {
                w.byte(1);
                run.put(w);
            }
        }
    }
    fn take(r: &mut Reader<'_>) -> Option<Entry> {
        Some(match r.byte()? {
            0 => Entry::Step { index: Wire::take(r)?, step: Wire::take(r)? },
            1 => Entry::Run(Wire::take(r)?),
            _ => return None,
        })
    }
}

wire_struct! {
    Request { seq, host, packet, overrides, expand }
    Response { seq, outcome }
    Outcome { dump, host, packet_error, walk, timing, failure }
    Timing { receive_ms, parse_ms, index_ms, walk_ms, shape_ms }
    DumpReading { family, tables, chains, rules, errors, warnings, diagnostics }
    HostReading { given, errors, interfaces, routes, forwarding }
    Walk {
        stages, entries, steps, deciding, fate, changes, assumptions, insights, log, nft, marked, in_iface,
        explained,
    }
    Run { first, last, stage, table, chain, depth, numbers, lines, span }
    LogEntry { step, text, copy }
    Span { start, end, line, col }
    Diagnostic { severity, span, message, hint }
    Stage { hook, kind, status, note }
    Step { stage, table, chain, number, kind, matched, conditions, target, effect, depth, span, log }
    Condition { text, holds, why, assumed, span }
    Change { step, what, from, to, note }
    Assumption { step, key, text, matched, question }
    Insight { step, text }
    Fate { verdict, path, out, src, dst, reject_with, queue, summary, physout }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{self, Inputs};
    use crate::examples::EXAMPLES;

    #[test]
    fn every_example_crosses_unchanged() {
        for example in EXAMPLES {
            let parsed = chainwalk_core::parse(example.rules, None);
            let inputs = Inputs { host: example.host, packet: example.packet, overrides: &[], expand: &[] };
            let outcome = analysis::run(&parsed, inputs);
            assert!(outcome.walk.is_some(), "{}", example.id);
            let response = Response { seq: 7, outcome };
            assert_eq!(decode::<Response>(&encode(&response)).as_ref(), Some(&response), "{}", example.id);
        }
    }

    #[test]
    fn a_bridged_walk_crosses_unchanged() {
        // A kernel-recorded case whose packet a bridge forwards (a bridge stage, the port it leaves by).
        let case = |file| std::fs::read_to_string(format!("../tests/cases/bridge-forward-accepted/{file}")).unwrap();
        let (rules, host, packet) = (case("rules"), case("host"), case("packet"));
        let parsed = chainwalk_core::parse(&rules, None);
        let inputs = Inputs { host: &host, packet: packet.trim_end(), overrides: &[], expand: &[] };
        let outcome = analysis::run(&parsed, inputs);
        let walk = outcome.walk.as_ref().expect("a walk");
        assert!(walk.stages.iter().any(|s| s.kind == StageKind::Bridge), "{:?}", walk.stages);
        assert!(walk.fate.physout.is_some(), "{:?}", walk.fate);
        let response = Response { seq: 1, outcome };
        assert_eq!(decode::<Response>(&encode(&response)).as_ref(), Some(&response));
    }

    #[test]
    fn requests_and_failures_cross_unchanged() {
        let request = Request {
            seq: u64::MAX,
            host: "eth0 UP 192.0.2.1/24 é🔥".into(),
            packet: String::new(),
            overrides: vec![("filter:INPUT:3".into(), true), ("nat:DOCKER:1".into(), false)],
            expand: vec![0, 127, 128, 300_000],
        };
        assert_eq!(decode::<Request>(&encode(&request)), Some(request));
        let failure = Response {
            seq: 0,
            outcome: Outcome {
                failure: Some("stopped".into()),
                timing: Timing { receive_ms: 0.1, parse_ms: -0.0, index_ms: 1e300, walk_ms: 2.5, shape_ms: 0.0 },
                ..Outcome::default()
            },
        };
        assert_eq!(decode::<Response>(&encode(&failure)), Some(failure));
    }

    /// The variants of an enum `wire_unit_enum!` encodes, as its list names them.
    pub(super) trait Variants: Sized + 'static {
        const ALL: &'static [Self];
    }

    #[test]
    fn unit_enums_are_listed_in_declaration_order() {
        fn check<T: Variants + Wire + Copy + PartialEq + std::fmt::Debug>(index: impl Fn(T) -> u8) {
            for (i, v) in T::ALL.iter().enumerate() {
                assert_eq!(usize::from(index(*v)), i, "{v:?}");
                assert_eq!(decode::<T>(&encode(v)), Some(*v));
            }
        }
        check(|v: Family| v as u8);
        check(|v: Severity| v as u8);
        check(|v: TableName| v as u8);
        check(|v: Hook| v as u8);
        check(|v: StageStatus| v as u8);
        check(|v: StepKind| v as u8);
        check(|v: FateVerdict| v as u8);
        check(|v: Path| v as u8);
    }

    #[test]
    fn bytes_that_are_not_a_value_are_refused() {
        let bytes = encode(&Request { seq: 1, packet: "tcp".into(), ..Request::default() });
        for cut in 0..bytes.len() {
            assert_eq!(decode::<Request>(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode::<Request>(&longer), None);
        // A string that is not UTF-8; a length far beyond the bytes.
        assert_eq!(decode::<String>(&[2, 0xff, 0xfe]), None);
        assert_eq!(decode::<Vec<u32>>(&[0xff, 0xff, 0xff, 0xff, 0x0f]), None);
        assert_eq!(decode::<bool>(&[2]), None);
    }
}
