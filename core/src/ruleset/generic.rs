//! The generic part of a rule as rules keep it: packed into a few bytes.
//!
//! A dump can hold hundreds of thousands of rules and most give two or three of the six generic options,
//! each with an address, an interface or a protocol and the span it was written at. Kept as
//! [`GenericParts`] that would be over 200 bytes a rule, and as a list of the options given still over 50
//! bytes an option, most of it spans and IPv6-sized room for IPv4 addresses. Packed, an IPv4 `-s` with its
//! span takes about 16 bytes. Reading an option back decodes it; the walk reads each rule's generic part
//! once per packet ([`Generic::parts`]).
//!
//! The layout, one record per option given, in the order of [`GenericParts`]' fields: a header byte (the
//! option in the low bits, `!` in bit 3), the length of the rest of the record, the span as four LEB128
//! numbers (start, length, line, column), then the value:
//! - an address: a flags byte (bit 0: the address is IPv6, bit 1: the mask is, bit 2: the mask is written
//!   as a prefix length), the address, then the prefix length (one byte) or the mask;
//! - an interface: its name's bytes (the record's length says how many);
//! - a protocol: its number; a fragment: nothing.

use super::{GenericParts, Interface, Negatable, Network, Protocol};
use crate::span::Span;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The generic part of a rule (`-s -d -i -o -p -f`), holding only the options the rule gives, packed
/// (see the module documentation). Read it with the accessors or [`Generic::parts`]; build it from
/// [`GenericParts`].
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "GenericParts", into = "GenericParts")]
pub struct Generic {
    bytes: Box<[u8]>,
}

const SOURCE: u8 = 0;
const DESTINATION: u8 = 1;
const IN_INTERFACE: u8 = 2;
const OUT_INTERFACE: u8 = 3;
const PROTOCOL: u8 = 4;
const FRAGMENT: u8 = 5;
const KIND: u8 = 0b111;
const NEGATED: u8 = 0b1000;

const ADDR_V6: u8 = 1;
const MASK_V6: u8 = 2;
const MASK_PREFIX: u8 = 4;

/// Where a generic part is packed before it gets its one allocation of the exact size: six records of at
/// most 55 bytes each fit.
struct Out {
    bytes: [u8; 6 * 55],
    len: usize,
}

impl Out {
    fn push(&mut self, b: u8) {
        self.bytes[self.len] = b;
        self.len += 1;
    }

    fn extend_from_slice(&mut self, b: &[u8]) {
        self.bytes[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
    }

    fn len(&self) -> usize {
        self.len
    }
}

fn put_number(out: &mut Out, mut n: u32) {
    while n >= 0x80 {
        out.push(n as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn get_number(bytes: &[u8], at: &mut usize) -> u32 {
    let mut n = 0u32;
    let mut shift = 0;
    while let Some(&b) = bytes.get(*at) {
        *at += 1;
        n |= u32::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 || shift >= 32 {
            break;
        }
    }
    n
}

fn put_ip(out: &mut Out, ip: IpAddr) {
    match ip {
        IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
        IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
    }
}

fn get_ip(bytes: &[u8], at: &mut usize, v6: bool) -> IpAddr {
    let len = if v6 { 16 } else { 4 };
    let mut octets = [0u8; 16];
    if let Some(b) = bytes.get(*at..*at + len) {
        octets[..len].copy_from_slice(b);
    }
    *at += len;
    if v6 {
        IpAddr::V6(Ipv6Addr::from(octets))
    } else {
        IpAddr::V4(Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3]))
    }
}

fn put_network(out: &mut Out, n: &Network) {
    let prefix = n.prefix_len();
    let mut flags = 0;
    if n.addr.is_ipv6() {
        flags |= ADDR_V6;
    }
    if n.mask.is_ipv6() {
        flags |= MASK_V6;
    }
    if prefix.is_some() {
        flags |= MASK_PREFIX;
    }
    out.push(flags);
    put_ip(out, n.addr);
    match prefix {
        Some(len) => out.push(len),
        None => put_ip(out, n.mask),
    }
}

fn get_network(bytes: &[u8], at: &mut usize) -> Network {
    let flags = bytes.get(*at).copied().unwrap_or_default();
    *at += 1;
    let addr = get_ip(bytes, at, flags & ADDR_V6 != 0);
    let mask = if flags & MASK_PREFIX != 0 {
        let len = u32::from(bytes.get(*at).copied().unwrap_or_default());
        *at += 1;
        if flags & MASK_V6 != 0 {
            IpAddr::V6(Ipv6Addr::from(super::addr::prefix_mask_v6(len)))
        } else {
            IpAddr::V4(Ipv4Addr::from(super::addr::prefix_mask_v4(len)))
        }
    } else {
        get_ip(bytes, at, flags & MASK_V6 != 0)
    };
    Network { addr, mask }
}

/// Appends one record: header, length, span, then what `value` writes.
fn put_record(out: &mut Out, kind: u8, negated: bool, span: Span, value: impl FnOnce(&mut Out)) {
    out.push(kind | if negated { NEGATED } else { 0 });
    let len_at = out.len();
    out.push(0);
    put_number(out, span.start);
    put_number(out, span.end.wrapping_sub(span.start));
    put_number(out, span.line);
    put_number(out, span.col);
    value(out);
    // A record is at most 2 + 4 * 5 + 33 bytes, so its length fits a byte.
    out.bytes[len_at] = (out.len() - len_at - 1) as u8;
}

/// One record, read: which option, `!`, the span, and the bytes of its value.
struct Record<'g> {
    kind: u8,
    negated: bool,
    span: Span,
    value: &'g [u8],
}

impl<'g> Record<'g> {
    fn negatable<T>(&self, value: T) -> Negatable<T> {
        Negatable { value, negated: self.negated, span: self.span }
    }

    fn network(&self) -> Negatable<Network> {
        self.negatable(get_network(self.value, &mut 0))
    }

    fn interface(&self) -> Negatable<Interface> {
        self.negatable(Interface::from_stored(self.value))
    }

    fn protocol(&self) -> Negatable<Protocol> {
        self.negatable(Protocol(self.value.first().copied().unwrap_or_default()))
    }
}

/// The records of a packed generic part, in order.
struct Records<'g> {
    bytes: &'g [u8],
    at: usize,
}

impl<'g> Iterator for Records<'g> {
    type Item = Record<'g>;

    fn next(&mut self) -> Option<Record<'g>> {
        let header = *self.bytes.get(self.at)?;
        let len = usize::from(*self.bytes.get(self.at + 1)?);
        let body = self.bytes.get(self.at + 2..self.at + 2 + len)?;
        self.at += 2 + len;
        let mut at = 0;
        let start = get_number(body, &mut at);
        let end = start.wrapping_add(get_number(body, &mut at));
        let line = get_number(body, &mut at);
        let col = get_number(body, &mut at);
        Some(Record {
            kind: header & KIND,
            negated: header & NEGATED != 0,
            span: Span { start, end, line, col },
            value: body.get(at..).unwrap_or_default(),
        })
    }
}

impl From<GenericParts> for Generic {
    fn from(p: GenericParts) -> Generic {
        Generic::from(&p)
    }
}

impl From<&GenericParts> for Generic {
    fn from(p: &GenericParts) -> Generic {
        let mut out = Out { bytes: [0; 6 * 55], len: 0 };
        if let Some(s) = &p.source {
            put_record(&mut out, SOURCE, s.negated, s.span, |o| put_network(o, &s.value));
        }
        if let Some(d) = &p.destination {
            put_record(&mut out, DESTINATION, d.negated, d.span, |o| put_network(o, &d.value));
        }
        for (kind, iface) in [(IN_INTERFACE, &p.in_interface), (OUT_INTERFACE, &p.out_interface)] {
            if let Some(i) = iface {
                put_record(&mut out, kind, i.negated, i.span, |o| o.extend_from_slice(i.value.name().as_bytes()));
            }
        }
        if let Some(pr) = &p.protocol {
            put_record(&mut out, PROTOCOL, pr.negated, pr.span, |o| o.push(pr.value.0));
        }
        if let Some(f) = &p.fragment {
            put_record(&mut out, FRAGMENT, f.negated, f.span, |_| {});
        }
        Generic { bytes: out.bytes[..out.len].into() }
    }
}

impl From<Generic> for GenericParts {
    fn from(g: Generic) -> GenericParts {
        g.parts()
    }
}

impl std::fmt::Debug for Generic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.parts().fmt(f)
    }
}

impl Generic {
    fn records(&self) -> Records<'_> {
        Records { bytes: &self.bytes, at: 0 }
    }

    fn find(&self, kind: u8) -> Option<Record<'_>> {
        self.records().find(|r| r.kind == kind)
    }

    /// `-s`.
    pub fn source(&self) -> Option<Negatable<Network>> {
        self.find(SOURCE).map(|r| r.network())
    }

    /// `-d`.
    pub fn destination(&self) -> Option<Negatable<Network>> {
        self.find(DESTINATION).map(|r| r.network())
    }

    /// `-i`.
    pub fn in_interface(&self) -> Option<Negatable<Interface>> {
        self.find(IN_INTERFACE).map(|r| r.interface())
    }

    /// `-o`.
    pub fn out_interface(&self) -> Option<Negatable<Interface>> {
        self.find(OUT_INTERFACE).map(|r| r.interface())
    }

    /// `-p`.
    pub fn protocol(&self) -> Option<Negatable<Protocol>> {
        self.find(PROTOCOL).map(|r| r.protocol())
    }

    /// `-f`.
    pub fn fragment(&self) -> Option<Negatable<()>> {
        self.find(FRAGMENT).map(|r| r.negatable(()))
    }

    /// Whether the rule gives `-f` or `! -f`: [`Generic::fragment`] without decoding any record (the
    /// dump-wide checks ask it of every rule).
    pub fn has_fragment(&self) -> bool {
        let mut at = 0;
        while let (Some(&header), Some(&len)) = (self.bytes.get(at), self.bytes.get(at + 1)) {
            if header & KIND == FRAGMENT {
                return true;
            }
            at += 2 + usize::from(len);
        }
        false
    }

    /// Whether every packet meets the generic part: it gives no option, or only ones that hold for any
    /// packet (`-s 0.0.0.0/0`, `-i +`, `-p all`).
    pub fn matches_everything(&self) -> bool {
        let any_addr = |n: Option<Negatable<Network>>| n.is_none_or(|n| !n.negated && n.value.is_any());
        let any_iface = |i: Option<Negatable<Interface>>| i.is_none_or(|i| !i.negated && i.value.name() == "+");
        self.is_empty()
            || (any_addr(self.source())
                && any_addr(self.destination())
                && any_iface(self.in_interface())
                && any_iface(self.out_interface())
                && self.protocol().is_none_or(|p| !p.negated && p.value.is_all())
                && self.fragment().is_none())
    }

    /// Whether the rule gives none of the generic options.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The options one field each, decoded in one pass.
    pub fn parts(&self) -> GenericParts {
        let mut p = GenericParts::default();
        for r in self.records() {
            match r.kind {
                SOURCE => p.source = Some(r.network()),
                DESTINATION => p.destination = Some(r.network()),
                IN_INTERFACE => p.in_interface = Some(r.interface()),
                OUT_INTERFACE => p.out_interface = Some(r.interface()),
                PROTOCOL => p.protocol = Some(r.protocol()),
                _ => p.fragment = Some(r.negatable(())),
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ruleset::Family;

    fn span(start: u32, end: u32, line: u32, col: u32) -> Span {
        Span { start, end, line, col }
    }

    #[test]
    fn packs_and_unpacks_every_option() {
        let parts = GenericParts {
            source: Some(Negatable {
                value: Network::parse("10.1.0.0/255.0.255.0", Family::Ipv4).unwrap(),
                negated: true,
                span: span(70_000, 70_020, 1_000_000, 3),
            }),
            destination: Some(Negatable {
                value: Network::parse("2001:db8::/64", Family::Ipv6).unwrap(),
                negated: false,
                span: span(7, 3, 2, u32::MAX),
            }),
            in_interface: Some(Negatable {
                value: Interface::parse("eth+").unwrap(),
                negated: false,
                span: span(1, 2, 3, 4),
            }),
            out_interface: Some(Negatable {
                value: Interface::parse("abcdefghijklmno").unwrap(),
                negated: true,
                span: span(5, 6, 7, 8),
            }),
            protocol: Some(Negatable { value: Protocol::TCP, negated: true, span: span(9, 10, 11, 12) }),
            fragment: Some(Negatable { value: (), negated: false, span: span(0, 0, 0, 0) }),
        };
        let g = Generic::from(parts.clone());
        assert_eq!(g.parts(), parts);
        assert_eq!(g.source(), parts.source);
        assert_eq!(g.out_interface(), parts.out_interface);
        assert_eq!(g.fragment(), parts.fragment);
        assert!(!g.is_empty());
    }

    #[test]
    fn keeps_only_what_is_given() {
        let dst = Negatable {
            value: Network::parse("192.0.2.7", Family::Ipv4).unwrap(),
            negated: false,
            span: span(10, 22, 2, 8),
        };
        let g = Generic::from(GenericParts { destination: Some(dst.clone()), ..GenericParts::default() });
        assert_eq!(g.destination(), Some(dst));
        assert_eq!(g.source(), None);
        assert_eq!(g.protocol(), None);
        assert!(Generic::from(GenericParts::default()).is_empty());
    }
}
