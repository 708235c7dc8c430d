//! The packet a walk starts with, read from the two ways people write one: a line of the kernel's own
//! LOG/TRACE output (`IN=ppp0 OUT= SRC=... DST=... PROTO=TCP SPT=... DPT=... SYN`), which a user can paste
//! from their log, and a short form for typing by hand (`tcp 203.0.113.7:40000 -> 198.51.100.2:7788 in ppp0
//! syn`).
//!
//! Keys the kernel prints that chainwalk does not need (SEQ, WINDOW, the IP header's OPT, ...) are ignored;
//! the TCP header's `OPT (...)` is kept (`--tcp-option`, `-m tcpmss` and `-j TCPMSS` read it); a few keys
//! the kernel does not print describe what the walk cannot see in a single packet: `CTSTATE=`, `CTDIR=`,
//! `MARK=`, `UID=`/`GID=`. `PHYSIN=` (printed by the kernel for a packet that came in on a bridge port) names
//! that port; `PHYSOUT=`, which the kernel prints only once the bridge has chosen it, names the port the
//! packet's destination is behind.

use crate::diag::Diagnostic;
use crate::matches::tcp::{TcpFlags, FLAG_NAMES};
use crate::ruleset::addr::parse_uint;
use crate::ruleset::Family;
use crate::span::Span;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

/// A packet as netfilter sees it at the first hook it meets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Packet {
    /// The interface it arrived on; `None` for a packet this host sends (the OUTPUT path).
    pub in_iface: Option<String>,
    /// The interface given for it, if any (for a locally generated packet the routing decision picks one).
    pub out_iface: Option<String>,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Total length in bytes, as `LEN=` gives it.
    pub len: u16,
    /// Time to live (IPv4) or hop limit (IPv6).
    pub ttl: u8,
    /// The TOS byte (IPv4) or traffic class (IPv6).
    pub tos: u8,
    /// The IPv4 "don't fragment" flag.
    pub dont_fragment: bool,
    /// The IPv4 "more fragments" flag.
    pub more_fragments: bool,
    /// The fragment offset in 8-byte units; non-zero for second and later fragments.
    pub fragment_offset: u16,
    /// The transport layer.
    pub l4: L4,
    /// The connection tracking state rules see.
    pub ct_state: CtState,
    /// Which direction of its connection the packet travels.
    pub ct_dir: CtDir,
    /// The packet mark (`skb->mark`) on arrival.
    pub mark: u32,
    /// The owner of the sending socket, for a locally generated packet.
    pub uid: Option<u32>,
    /// The group of the sending socket, for a locally generated packet.
    pub gid: Option<u32>,
    /// The bridge port it came in on, when the input interface is a bridge.
    pub physin: Option<String>,
    /// The bridge port it goes out on.
    pub physout: Option<String>,
    /// The source MAC address, when the log line had `MAC=`.
    pub mac_src: Option<[u8; 6]>,
    /// The connection mark (`CTMARK=`), for a packet of a known connection.
    pub ct_mark: u32,
    /// For a reply-direction packet: the original direction's addresses and ports as the connection's
    /// first packet had them before any NAT (`ORIGSRC=`, `ORIGDST=`, `ORIGSPT=`, `ORIGDPT=`), where they
    /// differ from this packet's reversed.
    pub orig: Option<Original>,
    /// The MSS option of a TCP SYN once `-j TCPMSS` has lowered it in this walk; `None` while it is what
    /// the sender wrote (which the packet model does not carry: the usual one for the MTU is assumed).
    #[serde(default)]
    pub mss: Option<u16>,
    /// The TCP options, as the kernel's log prints them after the TCP header (`OPT (020405B4...)`), when
    /// known; `None` when the packet was described without them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_options: Option<Vec<u8>>,
    /// The Security Parameter Index of an ESP or AH packet (`SPI=` in the kernel's log), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spi: Option<u32>,
    /// For an ICMP error: the packet it quotes (the kernel's log prints it in brackets), whose connection
    /// a `CTSTATE=RELATED` error belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quoted: Option<Quoted>,
}

/// The header an ICMP error quotes: the packet it is about, as the error's sender got it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quoted {
    /// Its source address.
    pub src: IpAddr,
    /// Its destination address.
    pub dst: IpAddr,
    /// Its protocol number.
    pub proto: u8,
    /// Its ports, for a protocol with ports.
    pub ports: Option<(u16, u16)>,
}

/// The original direction of a connection, as its first packet had it (before NAT).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Original {
    /// Source address, if given.
    pub src: Option<IpAddr>,
    /// Destination address, if given.
    pub dst: Option<IpAddr>,
    /// Source port, if given.
    pub sport: Option<u16>,
    /// Destination port, if given.
    pub dport: Option<u16>,
}

/// The transport header of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "protocol", rename_all = "lowercase")]
pub enum L4 {
    /// TCP with ports and flags.
    Tcp {
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
        /// The flags of the segment.
        flags: TcpFlags,
    },
    /// UDP.
    Udp {
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
    },
    /// UDP-Lite.
    Udplite {
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
    },
    /// SCTP.
    Sctp {
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
    },
    /// DCCP.
    Dccp {
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
    },
    /// ICMP (IPv4).
    Icmp {
        /// Type.
        icmp_type: u8,
        /// Code.
        code: u8,
    },
    /// ICMPv6.
    Icmpv6 {
        /// Type.
        icmp_type: u8,
        /// Code.
        code: u8,
    },
    /// Any other protocol, by number.
    Other {
        /// The IP protocol number.
        proto: u8,
    },
}

impl L4 {
    /// The IP protocol number.
    pub fn proto(&self) -> u8 {
        match self {
            L4::Tcp { .. } => 6,
            L4::Udp { .. } => 17,
            L4::Udplite { .. } => 136,
            L4::Sctp { .. } => 132,
            L4::Dccp { .. } => 33,
            L4::Icmp { .. } => 1,
            L4::Icmpv6 { .. } => 58,
            L4::Other { proto } => *proto,
        }
    }

    /// Source and destination ports, for protocols that have them.
    pub fn ports(&self) -> Option<(u16, u16)> {
        match *self {
            L4::Tcp { sport, dport, .. }
            | L4::Udp { sport, dport }
            | L4::Udplite { sport, dport }
            | L4::Sctp { sport, dport }
            | L4::Dccp { sport, dport } => Some((sport, dport)),
            _ => None,
        }
    }

    /// A header of protocol `proto` with `ports` where it has ports (TCP with no flags); ICMP and ICMPv6
    /// (by `v6`) as an echo request.
    pub fn of_protocol(proto: u8, (sport, dport): (u16, u16), v6: bool) -> L4 {
        match proto {
            6 => L4::Tcp { sport, dport, flags: TcpFlags(0) },
            17 => L4::Udp { sport, dport },
            33 => L4::Dccp { sport, dport },
            132 => L4::Sctp { sport, dport },
            136 => L4::Udplite { sport, dport },
            1 if !v6 => L4::Icmp { icmp_type: 8, code: 0 },
            58 if v6 => L4::Icmpv6 { icmp_type: 128, code: 0 },
            proto => L4::Other { proto },
        }
    }

    /// The same header with other ports (for protocols that have ports).
    pub fn with_ports(self, sport: u16, dport: u16) -> L4 {
        match self {
            L4::Tcp { flags, .. } => L4::Tcp { sport, dport, flags },
            L4::Udp { .. } => L4::Udp { sport, dport },
            L4::Udplite { .. } => L4::Udplite { sport, dport },
            L4::Sctp { .. } => L4::Sctp { sport, dport },
            L4::Dccp { .. } => L4::Dccp { sport, dport },
            other => other,
        }
    }
}

/// The connection tracking state of a packet, as `-m conntrack --ctstate` sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CtState {
    /// The first packet of a connection.
    #[default]
    New,
    /// A packet of a connection that has seen traffic both ways.
    Established,
    /// A packet related to another connection (an ICMP error, an FTP data connection).
    Related,
    /// A packet conntrack could not make sense of.
    Invalid,
    /// A packet exempted from tracking (`-j NOTRACK`, `-j CT --notrack`).
    Untracked,
}

impl CtState {
    /// The state's name as `--ctstate` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            CtState::New => "NEW",
            CtState::Established => "ESTABLISHED",
            CtState::Related => "RELATED",
            CtState::Invalid => "INVALID",
            CtState::Untracked => "UNTRACKED",
        }
    }

    fn parse(text: &str) -> Option<CtState> {
        Some(match text.to_ascii_uppercase().as_str() {
            "NEW" => CtState::New,
            "ESTABLISHED" => CtState::Established,
            "RELATED" => CtState::Related,
            "INVALID" => CtState::Invalid,
            "UNTRACKED" => CtState::Untracked,
            _ => return None,
        })
    }
}

/// The direction of a packet in its connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CtDir {
    /// From the side that opened the connection.
    #[default]
    Original,
    /// From the side that answered.
    Reply,
}

impl Packet {
    /// The address family.
    pub fn family(&self) -> Family {
        if self.dst.is_ipv6() {
            Family::Ipv6
        } else {
            Family::Ipv4
        }
    }

    /// The TCP options as far as they are known: those the packet gives, or none at all when the
    /// segment's length leaves no room for any (40 bytes in IPv4, 60 in IPv6; the kernel's log then prints
    /// no `OPT`); `None` when they are not known (a packet given without a length has room for 20 bytes of
    /// them).
    pub fn known_tcp_options(&self) -> Option<&[u8]> {
        let headers = if self.dst.is_ipv4() { 40 } else { 60 };
        match &self.tcp_options {
            Some(o) => Some(o),
            None if matches!(self.l4, L4::Tcp { .. }) && self.len <= headers => Some(&[]),
            None => None,
        }
    }

    /// Whether this host sends the packet (it has no input interface).
    pub fn is_local_out(&self) -> bool {
        self.in_iface.is_none()
    }

    /// A packet from `src` to `dst` with everything else at its usual value.
    pub fn new(src: IpAddr, dst: IpAddr, l4: L4) -> Packet {
        Packet {
            in_iface: None,
            out_iface: None,
            src,
            dst,
            len: default_len(src),
            ttl: 64,
            tos: 0,
            dont_fragment: false,
            more_fragments: false,
            fragment_offset: 0,
            l4,
            ct_state: CtState::New,
            ct_dir: CtDir::Original,
            mark: 0,
            uid: None,
            gid: None,
            physin: None,
            physout: None,
            mac_src: None,
            ct_mark: 0,
            orig: None,
            mss: None,
            tcp_options: None,
            spi: None,
            quoted: None,
        }
    }
}

/// The packet an ICMP error quotes, from the fields the kernel's log prints in brackets after the error's
/// type and code; `None` when they do not say its addresses (a quote cut short).
fn quoted(fields: &[(&str, &str, Span)], v6: bool) -> Result<Option<Quoted>, Diagnostic> {
    let get = |key: &str| fields.iter().find(|(k, _, _)| *k == key).map(|&(_, v, s)| (v, s));
    let addr = |key: &str| -> Result<Option<IpAddr>, Diagnostic> {
        let Some((v, s)) = get(key) else { return Ok(None) };
        match v.parse::<IpAddr>() {
            Ok(a) if a.is_ipv6() == v6 => Ok(Some(a)),
            Ok(_) => Err(Diagnostic::error(s, format!("the quoted packet's `{key}={v}` is of the other family"))),
            Err(_) => Err(Diagnostic::error(s, format!("`{v}` is not an IP address"))),
        }
    };
    let (Some(src), Some(dst)) = (addr("SRC")?, addr("DST")?) else { return Ok(None) };
    let Some((proto_text, proto_span)) = get("PROTO") else { return Ok(None) };
    let proto = crate::ruleset::addr::Protocol::parse(proto_text)
        .map_err(|e| Diagnostic::error(proto_span, format!("in the quoted packet: {e}")))?
        .0;
    let port = |key: &str| get(key).and_then(|(v, _)| v.parse::<u16>().ok());
    let ports = match (port("SPT"), port("DPT")) {
        (Some(s), Some(d)) if matches!(proto, 6 | 17 | 33 | 132 | 136) => Some((s, d)),
        _ => None,
    };
    Ok(Some(Quoted { src, dst, proto, ports }))
}

/// Reads a packet in either form. The text may be a whole kernel log line: anything before its first
/// `KEY=` word (a syslog prefix, `TRACE: raw:PREROUTING:policy:2`) is skipped.
pub fn parse(text: &str) -> Result<Packet, Diagnostic> {
    let trimmed = text.trim();
    let words = words(trimmed);
    if words.iter().any(|(w, _)| w.contains('=')) {
        parse_log(trimmed, &words)
    } else {
        parse_short(trimmed, &words)
    }
}

/// The words of `text` with their byte ranges.
fn words(text: &str) -> Vec<(&str, (usize, usize))> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((&text[s..i], (s, i)));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    out
}

fn span_of(text: &str, range: (usize, usize)) -> Span {
    Span::within_line(1, 0, text, range.0, range.1)
}

fn parse_log(text: &str, words: &[(&str, (usize, usize))]) -> Result<Packet, Diagnostic> {
    let first = words.iter().position(|(w, _)| w.starts_with("IN=") || w.starts_with("OUT=")).unwrap_or(0);
    let mut fields: Vec<(&str, &str, Span)> = Vec::new();
    let mut flags = TcpFlags(0);
    let mut dont_fragment = false;
    let mut more_fragments = false;
    let mut fragment_offset = 0;
    let mut tcp_options = None;
    let mut after_proto = false;
    // The IPv6 log prints extension headers before `PROTO=`, each as `OPT ( NAME ... )`.
    let mut in_ext = false;
    let mut ext_headers: Vec<(&str, Span)> = Vec::new();
    // An ICMP error's quoted packet, in brackets: its own fields, kept apart.
    let mut quoted_fields: Vec<(&str, &str, Span)> = Vec::new();
    let mut in_quote = false;
    for (i, &(w, range)) in words.iter().enumerate().skip(first) {
        let span = span_of(text, range);
        if in_quote || (after_proto && w.starts_with('[')) {
            in_quote = !w.ends_with(']');
            let w = w.trim_start_matches('[').trim_end_matches(']');
            if let Some((k, v)) = w.split_once('=') {
                quoted_fields.push((k, v, span));
            }
            continue;
        }
        if w == "OPT" && !after_proto && words.get(i + 1).is_some_and(|(n, _)| *n == "(") {
            in_ext = true;
        } else if in_ext && w == ")" {
            in_ext = false;
        } else if in_ext && (w == "AH" || w == "ESP") {
            // (The only headers the log names; a fragment header's words are `FRAG:N INCOMPLETE ID:N`.)
            ext_headers.push((w, span));
        } else if w == "OPT" && after_proto {
            // The TCP options the kernel logs (`OPT (020405B4...)`); the IP header's come before `PROTO=`.
            let Some(&(hex, r)) = words.get(i + 1) else { continue };
            let hex = hex.strip_prefix('(').and_then(|h| h.strip_suffix(')')).unwrap_or("");
            tcp_options = Some(hex_bytes(hex).filter(|b| b.len() <= 40).ok_or_else(|| {
                Diagnostic::error(
                    span_of(text, r),
                    "the TCP options should be written as the kernel logs them: `OPT (` hex bytes `)`, at most 40",
                )
            })?);
        } else if let Some((k, v)) = w.split_once('=') {
            // After the protocol, `LEN=` is UDP's length (or UDP-Lite's checksum coverage), not the packet's.
            if after_proto && k == "LEN" {
                continue;
            }
            after_proto |= k == "PROTO";
            fields.push((k, v, span));
        } else if let Some(off) = w.strip_prefix("FRAG:") {
            fragment_offset =
                off.parse().map_err(|_| Diagnostic::error(span, format!("`{w}` is not a fragment offset")))?;
        } else if let Some(&(_, bit)) = FLAG_NAMES.iter().find(|(n, _)| *n == w) {
            flags.0 |= bit;
        } else if w == "DF" {
            dont_fragment = true;
        } else if w == "MF" {
            more_fragments = true;
        }
        // Other bare words (CE, INCOMPLETE, option dumps) do not matter to netfilter's rules here.
    }
    let get = |key: &str| fields.iter().find(|(k, _, _)| *k == key).map(|&(_, v, s)| (v, s));
    let whole = span_of(text, (0, text.len()));
    let addr = |key: &str| -> Result<IpAddr, Diagnostic> {
        let (v, s) = get(key).ok_or_else(|| Diagnostic::error(whole, format!("the packet needs `{key}=ADDRESS`")))?;
        v.parse().map_err(|_| Diagnostic::error(s, format!("`{v}` is not an IP address")))
    };
    let src = addr("SRC")?;
    let dst = addr("DST")?;
    if src.is_ipv6() != dst.is_ipv6() {
        return Err(Diagnostic::error(whole, "SRC and DST are of different families"));
    }
    let number = |key: &str, max: u64| -> Result<Option<u64>, Diagnostic> {
        match get(key) {
            None => Ok(None),
            Some((v, s)) => match parse_uint(v).or_else(|| v.parse().ok()) {
                Some(n) if n <= max => Ok(Some(n)),
                _ => Err(Diagnostic::error(s, format!("`{key}={v}` is not a number from 0 to {max}"))),
            },
        }
    };
    // A later fragment carries no transport header: the kernel's log prints no ports for it.
    let port = |key: &str| -> Result<u16, Diagnostic> {
        match number(key, u64::from(u16::MAX))? {
            Some(n) => Ok(n as u16),
            None if fragment_offset != 0 => Ok(0),
            None => Err(Diagnostic::error(whole, format!("the packet needs `{key}=PORT` for its protocol"))),
        }
    };
    // ESP ends the IPv6 log's extension headers (`OPT ( ESP SPI=0x64 )`, no `PROTO=`); an AH header comes
    // before the real protocol, which chainwalk's packets cannot put after one.
    if let Some(&(name, s)) = ext_headers.iter().find(|(n, _)| *n != "ESP") {
        return Err(Diagnostic::error(
            s,
            format!("chainwalk's packets have no IPv6 extension headers, and this one has {name}"),
        )
        .with_hint("leave `OPT ( ... )` out to describe the packet without it"));
    }
    let proto_text = match get("PROTO") {
        Some((v, _)) => v,
        None if !ext_headers.is_empty() => "ESP",
        None => "",
    };
    let l4 = match proto_text.to_ascii_uppercase().as_str() {
        "ESP" => L4::Other { proto: 50 },
        "AH" => L4::Other { proto: 51 },
        "TCP" => L4::Tcp { sport: port("SPT")?, dport: port("DPT")?, flags },
        "UDP" => L4::Udp { sport: port("SPT")?, dport: port("DPT")? },
        "UDPLITE" => L4::Udplite { sport: port("SPT")?, dport: port("DPT")? },
        "SCTP" => L4::Sctp { sport: port("SPT")?, dport: port("DPT")? },
        "DCCP" => L4::Dccp { sport: port("SPT")?, dport: port("DPT")? },
        "ICMP" | "ICMPV6" => {
            let icmp_type = number("TYPE", 255)?.unwrap_or(if src.is_ipv6() { 128 } else { 8 }) as u8;
            let code = number("CODE", 255)?.unwrap_or(0) as u8;
            if src.is_ipv6() {
                L4::Icmpv6 { icmp_type, code }
            } else {
                L4::Icmp { icmp_type, code }
            }
        }
        "" => {
            return Err(Diagnostic::error(
                whole,
                "the packet needs `PROTO=` (TCP, UDP, ICMP, ICMPv6, SCTP, ESP, AH or a number)",
            ))
        }
        other => match parse_uint(other) {
            // A protocol with ports given by number, with them (`PROTO=132 SPT=1 DPT=2`).
            Some(n @ (6 | 17 | 33 | 132 | 136)) if get("SPT").is_some() && get("DPT").is_some() => {
                match L4::of_protocol(n as u8, (port("SPT")?, port("DPT")?), false) {
                    L4::Tcp { sport, dport, .. } => L4::Tcp { sport, dport, flags },
                    other => other,
                }
            }
            Some(n) if n <= 255 => L4::Other { proto: n as u8 },
            _ => {
                let s = get("PROTO").map(|(_, s)| s).unwrap_or(whole);
                return Err(Diagnostic::error(s, format!("`{proto_text}` is not a protocol chainwalk knows")));
            }
        },
    };
    let iface = |key: &str| get(key).map(|(v, _)| v).filter(|v| !v.is_empty()).map(str::to_string);
    let mut p = Packet::new(src, dst, l4);
    p.in_iface = iface("IN");
    p.out_iface = iface("OUT");
    p.len = number("LEN", 65535)?.map_or(default_len(src), |n| n as u16);
    p.ttl = number(if src.is_ipv6() { "HOPLIMIT" } else { "TTL" }, 255)?.unwrap_or(64) as u8;
    // The kernel's log splits the IPv4 TOS byte: `TOS=` its bits 0x1e, `PREC=` the precedence, 0xe0.
    // xtables-monitor and people write the whole byte as `TOS=`; either way the byte is both together.
    p.tos = if src.is_ipv6() {
        number("TC", 255)?.unwrap_or(0) as u8
    } else {
        (number("TOS", 255)?.unwrap_or(0) | number("PREC", 255)?.unwrap_or(0)) as u8
    };
    p.dont_fragment = dont_fragment;
    p.more_fragments = more_fragments;
    p.fragment_offset = fragment_offset;
    if let Some((v, s)) = get("CTSTATE") {
        p.ct_state = CtState::parse(v).ok_or_else(|| {
            Diagnostic::error(
                s,
                format!("`{v}` is not a conntrack state (NEW, ESTABLISHED, RELATED, INVALID, UNTRACKED)"),
            )
        })?;
    }
    if let Some((v, s)) = get("CTDIR") {
        p.ct_dir = match v.to_ascii_uppercase().as_str() {
            "ORIGINAL" => CtDir::Original,
            "REPLY" => CtDir::Reply,
            _ => return Err(Diagnostic::error(s, format!("`{v}` is not a direction (ORIGINAL or REPLY)"))),
        };
    }
    p.mark = number("MARK", u64::from(u32::MAX))?.unwrap_or(0) as u32;
    p.uid = number("UID", u64::from(u32::MAX))?.map(|n| n as u32);
    p.gid = number("GID", u64::from(u32::MAX))?.map(|n| n as u32);
    p.ct_mark = number("CTMARK", u64::from(u32::MAX))?.unwrap_or(0) as u32;
    let orig_addr = |key: &str| -> Result<Option<IpAddr>, Diagnostic> {
        match get(key) {
            None => Ok(None),
            Some((v, s)) => {
                v.parse().map(Some).map_err(|_| Diagnostic::error(s, format!("`{v}` is not an IP address")))
            }
        }
    };
    let orig = Original {
        src: orig_addr("ORIGSRC")?,
        dst: orig_addr("ORIGDST")?,
        sport: number("ORIGSPT", 65535)?.map(|n| n as u16),
        dport: number("ORIGDPT", 65535)?.map(|n| n as u16),
    };
    if orig != Original::default() {
        p.orig = Some(orig);
    }
    if matches!(p.l4, L4::Icmp { .. } | L4::Icmpv6 { .. }) {
        p.quoted = quoted(&quoted_fields, src.is_ipv6())?;
        // An error about a packet of its connection goes back to that packet's sender: the reply way when
        // the packet went the original way, as it mostly did.
        if p.quoted.is_some() && p.ct_state == CtState::Related && get("CTDIR").is_none() {
            p.ct_dir = CtDir::Reply;
        }
    }
    p.physin = iface("PHYSIN");
    p.physout = iface("PHYSOUT");
    if matches!(p.l4, L4::Tcp { .. }) {
        p.tcp_options = tcp_options;
    }
    if is_ipsec(p.l4) {
        p.spi = number("SPI", u64::from(u32::MAX))?.map(|n| n as u32);
    }
    if let Some((v, _)) = get("MAC") {
        let bytes: Vec<u8> = v.split(':').filter_map(|b| u8::from_str_radix(b, 16).ok()).collect();
        if bytes.len() >= 12 {
            let mut mac = [0u8; 6];
            mac.copy_from_slice(&bytes[6..12]);
            p.mac_src = Some(mac);
        }
    }
    Ok(p)
}

/// A number of the short form (`mark 0x10`, `spi 100`): decimal, `0x` hex or `0` octal, at most `max`.
pub fn number_up_to(text: &str, max: u64) -> Option<u64> {
    parse_uint(text).filter(|&n| n <= max)
}

/// Whether the packet is SCTP or DCCP with no ports, as the kernel's log prints them (`PROTO=132`,
/// `PROTO=33`): a test of its ports cannot be answered.
pub fn ports_unknown(l4: L4) -> bool {
    matches!(l4, L4::Other { proto: 132 | 33 })
}

/// Whether the packet is ESP or AH, whose header has an SPI.
pub fn is_ipsec(l4: L4) -> bool {
    matches!(l4, L4::Other { proto: 50 | 51 })
}

/// The bytes of an even number of hex digits (`020405B4`); `None` for anything else.
fn hex_bytes(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok()).collect()
}

/// Reads `PROTO SRC[:PORT] -> DST[:PORT] [in IFACE | out IFACE] [FLAG...] [state STATE] [mark N] ...`.
fn parse_short(text: &str, words: &[(&str, (usize, usize))]) -> Result<Packet, Diagnostic> {
    let whole = span_of(text, (0, text.len()));
    let usage =
        "write a packet like `tcp 203.0.113.7:40000 -> 198.51.100.2:7788 in ppp0 syn`, or paste a kernel log line";
    let [(proto, proto_r), (src, src_r), (arrow, arrow_r), (dst, dst_r), rest @ ..] = words else {
        return Err(Diagnostic::error(whole, "this packet is incomplete").with_hint(usage));
    };
    if *arrow != "->" && *arrow != ">" {
        return Err(
            Diagnostic::error(span_of(text, *arrow_r), "expected `->` between source and destination").with_hint(usage)
        );
    }
    let endpoint = |w: &str, r: (usize, usize)| -> Result<(IpAddr, Option<u16>), Diagnostic> {
        let bad = || {
            Diagnostic::error(
                span_of(text, r),
                format!("`{w}` is not ADDRESS or ADDRESS:PORT ([ADDRESS]:PORT for IPv6)"),
            )
        };
        if let Ok(a) = w.parse::<IpAddr>() {
            return Ok((a, None));
        }
        let (a, p) = if let Some(rest) = w.strip_prefix('[') {
            rest.split_once("]:").ok_or_else(bad)?
        } else {
            w.rsplit_once(':').ok_or_else(bad)?
        };
        let addr = a.parse().map_err(|_| bad())?;
        let port = p.parse().map_err(|_| bad())?;
        Ok((addr, Some(port)))
    };
    let (src_ip, sport) = endpoint(src, *src_r)?;
    let (dst_ip, dport) = endpoint(dst, *dst_r)?;
    if src_ip.is_ipv6() != dst_ip.is_ipv6() {
        return Err(Diagnostic::error(whole, "source and destination are of different families"));
    }
    let need_ports = |name: &str| -> Result<(u16, u16), Diagnostic> {
        match (sport, dport) {
            (Some(s), Some(d)) => Ok((s, d)),
            _ => Err(Diagnostic::error(
                span_of(text, *proto_r),
                format!("a {name} packet needs ports: ADDRESS:PORT on both sides"),
            )),
        }
    };
    let mut l4 = match proto.to_ascii_lowercase().as_str() {
        "tcp" => {
            let (s, d) = need_ports("tcp")?;
            L4::Tcp { sport: s, dport: d, flags: TcpFlags(0) }
        }
        "udp" => {
            let (s, d) = need_ports("udp")?;
            L4::Udp { sport: s, dport: d }
        }
        "sctp" => {
            let (s, d) = need_ports("sctp")?;
            L4::Sctp { sport: s, dport: d }
        }
        "udplite" | "udp-lite" => {
            let (s, d) = need_ports("udplite")?;
            L4::Udplite { sport: s, dport: d }
        }
        "dccp" => {
            let (s, d) = need_ports("dccp")?;
            L4::Dccp { sport: s, dport: d }
        }
        "gre" => L4::Other { proto: 47 },
        "icmp" | "icmpv6" | "icmp6" | "ipv6-icmp" if src_ip.is_ipv6() => L4::Icmpv6 { icmp_type: 128, code: 0 },
        "icmp" => L4::Icmp { icmp_type: 8, code: 0 },
        "esp" => L4::Other { proto: 50 },
        "ah" => L4::Other { proto: 51 },
        other => match parse_uint(other) {
            Some(n) if n <= 255 => L4::Other { proto: n as u8 },
            _ => {
                return Err(Diagnostic::error(
                    span_of(text, *proto_r),
                    format!("`{proto}` is not a protocol chainwalk knows"),
                )
                .with_hint("use tcp, udp, udplite, sctp, dccp, icmp, icmpv6, esp, ah, gre or a protocol number"))
            }
        },
    };
    let mut p = Packet::new(src_ip, dst_ip, l4);
    let mut i = 0;
    while i < rest.len() {
        let (w, r) = rest[i];
        let span = span_of(text, r);
        let value = |i: usize| -> Result<(&str, Span), Diagnostic> {
            rest.get(i + 1)
                .map(|&(v, r)| (v, span_of(text, r)))
                .ok_or_else(|| Diagnostic::error(span, format!("`{w}` needs a value")))
        };
        let num = |v: &str, s: Span, max: u64| -> Result<u64, Diagnostic> {
            number_up_to(v, max).ok_or_else(|| Diagnostic::error(s, format!("`{v}` is not a number from 0 to {max}")))
        };
        let mut lower = w.to_ascii_lowercase();
        // `ctstate` as the conntrack match spells it.
        if lower == "ctstate" {
            lower = "state".into();
        }
        match lower.as_str() {
            "in" | "out" | "state" | "mark" | "uid" | "gid" | "ttl" | "len" | "type" | "code" | "dir" | "physin"
            | "physout" | "tos" | "spi" => {
                let (v, s) = value(i)?;
                match lower.as_str() {
                    "in" => p.in_iface = Some(v.to_string()),
                    "out" => p.out_iface = Some(v.to_string()),
                    "physin" => p.physin = Some(v.to_string()),
                    "physout" => p.physout = Some(v.to_string()),
                    "state" => {
                        p.ct_state = CtState::parse(v)
                            .ok_or_else(|| Diagnostic::error(s, format!("`{v}` is not a conntrack state")))?
                    }
                    "dir" => {
                        p.ct_dir = match v.to_ascii_lowercase().as_str() {
                            "original" => CtDir::Original,
                            "reply" => CtDir::Reply,
                            _ => {
                                return Err(Diagnostic::error(
                                    s,
                                    format!("`{v}` is not a direction (original or reply)"),
                                ))
                            }
                        }
                    }
                    "mark" => p.mark = num(v, s, u64::from(u32::MAX))? as u32,
                    "uid" => p.uid = Some(num(v, s, u64::from(u32::MAX))? as u32),
                    "gid" => p.gid = Some(num(v, s, u64::from(u32::MAX))? as u32),
                    "ttl" => p.ttl = num(v, s, 255)? as u8,
                    "tos" => p.tos = num(v, s, 255)? as u8,
                    "len" => p.len = num(v, s, 65535)? as u16,
                    "spi" if is_ipsec(p.l4) => p.spi = Some(num(v, s, u64::from(u32::MAX))? as u32),
                    "spi" => return Err(Diagnostic::error(span, "`spi` is for ESP and AH packets")),
                    "type" | "code" => {
                        let n = num(v, s, 255)? as u8;
                        match (&mut l4, lower.as_str()) {
                            (L4::Icmp { icmp_type, .. } | L4::Icmpv6 { icmp_type, .. }, "type") => *icmp_type = n,
                            (L4::Icmp { code, .. } | L4::Icmpv6 { code, .. }, "code") => *code = n,
                            _ => return Err(Diagnostic::error(span, format!("`{w}` is for ICMP packets"))),
                        }
                        p.l4 = l4;
                    }
                    _ => {}
                }
                i += 2;
            }
            "opt" if matches!(l4, L4::Tcp { .. }) => {
                let (v, s) = value(i)?;
                // `opt -`: a segment without options.
                let bytes = if v == "-" { Some(Vec::new()) } else { hex_bytes(v) };
                let bytes = bytes.filter(|b| b.len() <= 40).ok_or_else(|| {
                    Diagnostic::error(s, format!("`{v}` is not TCP options in hex (`020405b4`), at most 40 bytes"))
                })?;
                p.tcp_options = Some(bytes);
                i += 2;
            }
            "local" => {
                p.in_iface = None;
                i += 1;
            }
            "df" => {
                p.dont_fragment = true;
                i += 1;
            }
            "mf" => {
                p.more_fragments = true;
                i += 1;
            }
            _ if matches!(l4, L4::Icmp { .. } | L4::Icmpv6 { .. }) && icmp_type_named(&lower, &l4).is_some() => {
                // An ICMP type by the name iptables gives it (`echo-reply`, `port-unreachable`).
                if let (Some((t, c)), L4::Icmp { icmp_type, code } | L4::Icmpv6 { icmp_type, code }) =
                    (icmp_type_named(&lower, &l4), &mut l4)
                {
                    (*icmp_type, *code) = (t, c);
                }
                p.l4 = l4;
                i += 1;
            }
            _ => {
                let mut any = false;
                for flag in w.split([',', '+']) {
                    let upper = flag.to_ascii_uppercase();
                    if let Some(&(_, bit)) = FLAG_NAMES.iter().find(|(n, _)| *n == upper) {
                        if let L4::Tcp { flags, .. } = &mut l4 {
                            flags.0 |= bit;
                            any = true;
                        }
                    } else if let Some(state) = CtState::parse(flag) {
                        p.ct_state = state;
                        any = true;
                    }
                }
                if !any {
                    return Err(Diagnostic::error(span, format!("`{w}` is not something chainwalk understands in a packet"))
                        .with_hint("after the addresses: in IFACE, out IFACE, TCP flags (syn, ack, ...), an ICMP type (echo-reply, ...), state STATE, mark N, uid N, ttl N"));
                }
                p.l4 = l4;
                i += 1;
            }
        }
    }
    Ok(p)
}

/// The type and code an ICMP type name stands for (`echo-reply`, `host-unreachable`), as iptables names them
/// for the packet's family; a name for a whole type gives its code 0.
fn icmp_type_named(name: &str, l4: &L4) -> Option<(u8, u8)> {
    let names = match l4 {
        L4::Icmp { .. } => crate::matches::icmp::ICMP_NAMES,
        _ => crate::matches::icmp::ICMPV6_NAMES,
    };
    names
        .iter()
        .find(|n| n.name.eq_ignore_ascii_case(name) && n.test.icmp_type != 0xFF)
        .map(|n| (n.test.icmp_type, n.test.code_min))
}

/// An address as the kernel's log prints it: IPv6 in full, eight groups of four hex digits (`%pI6`).
struct LogAddr(IpAddr);

impl fmt::Display for LogAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}"),
            IpAddr::V6(a) => {
                let s = a.segments();
                write!(
                    f,
                    "{:04x}:{:04x}:{:04x}:{:04x}:{:04x}:{:04x}:{:04x}:{:04x}",
                    s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
                )
            }
        }
    }
}

impl Packet {
    /// The packet as `xtables-monitor --trace` prints it on a `PACKET:` line (`trace_print_packet` in
    /// iptables' `xtables-monitor.c`), less the fields the packet model does not carry (MAC, ID, FLOWLBL):
    /// `IN=ppp0 OUT=docker0 SRC=203.0.113.7 DST=172.17.0.2 LEN=64 TOS=0x0 TTL=40 DF SPORT=41001 DPORT=7788
    /// SYN MARK=0x1`. An absent interface is left out, addresses are in their short form, the TOS byte is
    /// whole, the TCP flags come in the tool's order, and ICMP shows no type. The tool's IPv6 `LEN=` is the
    /// payload's length and 20, the size of an IPv4 header (as it adds them).
    pub fn monitor_text(&self) -> String {
        let mut out = String::new();
        if let Some(i) = &self.in_iface {
            out += &format!("IN={i} ");
        }
        if let Some(o) = &self.out_iface {
            out += &format!("OUT={o} ");
        }
        out += &format!("SRC={} DST={}", self.src, self.dst);
        if self.src.is_ipv6() {
            out += &format!(" LEN={} TC={} HOPLIMIT={}", self.len.saturating_sub(20), self.tos, self.ttl);
        } else {
            out += &format!(" LEN={} TOS=0x{:x} TTL={}", self.len, self.tos, self.ttl);
            let _ = self.write_fragment_words(&mut out);
        }
        if let Some((sport, dport)) = self.l4.ports() {
            out += &format!(" SPORT={sport} DPORT={dport}");
        }
        if let L4::Tcp { flags, .. } = self.l4 {
            for (name, bit) in
                [("SYN", 0x02), ("ACK", 0x10), ("FIN", 0x01), ("RST", 0x04), ("PSH", 0x08), ("URG", 0x20)]
            {
                if flags.0 & bit != 0 {
                    out += &format!(" {name}");
                }
            }
        }
        if self.mark != 0 {
            out += &format!(" MARK=0x{:x}", self.mark);
        }
        out
    }
}

impl fmt::Display for Packet {
    /// The packet in the kernel's log syntax, as a TRACE line prints it after the rule name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IN={} OUT={}", self.in_iface.as_deref().unwrap_or(""), self.out_iface.as_deref().unwrap_or(""))?;
        // The bridge ports come right after the interfaces (`nf_log_dump_packet_common`).
        if let Some(port) = &self.physin {
            write!(f, " PHYSIN={port}")?;
        }
        if let Some(port) = &self.physout {
            write!(f, " PHYSOUT={port}")?;
        }
        write!(f, " SRC={} DST={}", LogAddr(self.src), LogAddr(self.dst))?;
        // The IP header's fields the packet model carries, as `dump_ipv4_packet` and `dump_ipv6_packet` print
        // them (less the ID and flow label, which it does not): IPv4's TOS byte split into its TOS bits and
        // its precedence, IPv6's traffic class whole and in decimal.
        if self.src.is_ipv6() {
            write!(f, " LEN={} TC={} HOPLIMIT={}", self.len, self.tos, self.ttl)?;
        } else {
            write!(
                f,
                " LEN={} TOS=0x{:02X} PREC=0x{:02X} TTL={}",
                self.len,
                self.tos & 0x1e,
                self.tos & 0xe0,
                self.ttl
            )?;
            self.write_fragment_words(f)?;
        }
        self.fmt_transport(f)?;
        // The mark ends the line (after the socket's owner, which the TRACE lines do not show); IPv6's log
        // stops at an ESP header (`dump_ipv6_packet` returns there).
        let v6_esp = self.src.is_ipv6() && self.l4 == L4::Other { proto: 50 };
        if self.mark != 0 && !v6_esp {
            write!(f, " MARK=0x{:x}", self.mark)?;
        }
        Ok(())
    }
}

impl Packet {
    /// IPv4's fragment flags and offset as both logs write them after the TTL: ` DF`, ` MF`, ` FRAG:N`.
    fn write_fragment_words(&self, out: &mut impl fmt::Write) -> fmt::Result {
        if self.dont_fragment {
            out.write_str(" DF")?;
        }
        if self.more_fragments {
            out.write_str(" MF")?;
        }
        if self.fragment_offset != 0 {
            write!(out, " FRAG:{}", self.fragment_offset)?;
        }
        Ok(())
    }

    /// The length of its IP header: IPv4's without options, IPv6's without extension headers.
    pub(crate) fn ip_header_len(&self) -> u16 {
        if self.src.is_ipv6() {
            40
        } else {
            20
        }
    }

    /// The transport part of the kernel's log line, from `PROTO=`.
    fn fmt_transport(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.l4 {
            L4::Tcp { .. } => "TCP",
            L4::Udp { .. } => "UDP",
            L4::Udplite { .. } => "UDPLITE",
            // The log knows SCTP and DCCP by number only, and prints no ports for them.
            L4::Sctp { .. } | L4::Dccp { .. } => return write!(f, " PROTO={}", self.l4.proto()),
            L4::Icmp { .. } => "ICMP",
            L4::Icmpv6 { .. } => "ICMPv6",
            // IPv4's log names ESP and AH (and goes on with `SPI=`); IPv6's shows ESP as an extension header,
            // `OPT ( ESP SPI=0x64 )`, with no `PROTO=` after it.
            L4::Other { proto: 50 } if self.src.is_ipv4() => "ESP",
            L4::Other { proto: 51 } if self.src.is_ipv4() => "AH",
            L4::Other { proto: 50 } => return Ok(()),
            L4::Other { proto } => return write!(f, " PROTO={proto}"),
        };
        write!(f, " PROTO={name}")?;
        if self.fragment_offset != 0 {
            // A later fragment: the log stops after the protocol (`nf_log_dump_tcp_header` and the others
            // return at a fragment offset).
            return Ok(());
        }
        match self.l4 {
            L4::Tcp { sport, dport, flags } => {
                write!(f, " SPT={sport} DPT={dport}")?;
                // The kernel prints the flags in the order CWR ECE URG ACK PSH RST SYN FIN.
                for (name, bit) in FLAG_NAMES.iter().rev() {
                    if flags.0 & bit != 0 {
                        write!(f, " {name}")?;
                    }
                }
                Ok(())
            }
            // UDP's length field: the datagram after the IP header.
            L4::Udp { sport, dport } => {
                write!(f, " SPT={sport} DPT={dport} LEN={}", self.len.saturating_sub(self.ip_header_len()))
            }
            L4::Udplite { sport, dport } => write!(f, " SPT={sport} DPT={dport}"),
            L4::Icmp { icmp_type, code } | L4::Icmpv6 { icmp_type, code } => {
                write!(f, " TYPE={icmp_type} CODE={code}")
            }
            L4::Sctp { .. } | L4::Dccp { .. } | L4::Other { .. } => Ok(()),
        }
    }
}

/// The length of a packet given without one: an IP header and 40 bytes (a TCP header with room for
/// options).
fn default_len(src: IpAddr) -> u16 {
    if src.is_ipv6() {
        80
    } else {
        60
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_fragment_has_no_ports_in_the_log() {
        // What the kernel logs for a fragment at offset 1480 of a UDP packet: the protocol and no more.
        let p = parse("IN=eth0 OUT= SRC=203.0.113.7 DST=192.0.2.10 LEN=548 TTL=64 ID=7 FRAG:185 PROTO=UDP").unwrap();
        assert_eq!((p.fragment_offset, p.l4), (185, L4::Udp { sport: 0, dport: 0 }));
        assert_eq!(
            p.to_string(),
            "IN=eth0 OUT= SRC=203.0.113.7 DST=192.0.2.10 LEN=548 TOS=0x00 PREC=0x00 TTL=64 FRAG:185 PROTO=UDP"
        );
        // A first fragment has its transport header: the ports are still needed.
        assert!(parse("IN=eth0 OUT= SRC=203.0.113.7 DST=192.0.2.10 MF PROTO=UDP").is_err());
    }

    #[test]
    fn prints_as_xtables_monitor_does() {
        let mut p = parse("IN=eth0 OUT=eth1 SRC=2001:db8::7 DST=2001:db8:1::10 PROTO=TCP SPT=40000 DPT=80 ACK PSH FIN")
            .unwrap();
        p.mark = 0x121;
        assert_eq!(
            p.monitor_text(),
            "IN=eth0 OUT=eth1 SRC=2001:db8::7 DST=2001:db8:1::10 LEN=60 TC=0 HOPLIMIT=64 SPORT=40000 DPORT=80 ACK FIN \
             PSH MARK=0x121"
        );
        let ping =
            parse("OUT=lo SRC=127.0.0.1 DST=127.0.0.1 LEN=84 TOS=0x10 PREC=0x20 PROTO=ICMP TYPE=8 CODE=0").unwrap();
        assert_eq!(ping.monitor_text(), "OUT=lo SRC=127.0.0.1 DST=127.0.0.1 LEN=84 TOS=0x30 TTL=64");
    }

    #[test]
    fn ipsec_sctp_and_dccp_as_the_kernel_logs_them() {
        // Lines the kernel logged (TRACE, iptables 1.8.9, Linux 6.18), with MAC, LEN, TTL and ID left out (so
        // printed back with the defaults).
        let esp =
            parse("IN=va OUT= SRC=198.51.100.7 DST=198.51.100.2 TOS=0x00 PREC=0x00 DF PROTO=ESP SPI=0x64").unwrap();
        assert_eq!((esp.l4, esp.spi), (L4::Other { proto: 50 }, Some(0x64)));
        assert_eq!(
            esp.to_string(),
            "IN=va OUT= SRC=198.51.100.7 DST=198.51.100.2 LEN=60 TOS=0x00 PREC=0x00 TTL=64 DF PROTO=ESP"
        );
        let ah = parse("IN=va OUT= SRC=198.51.100.7 DST=198.51.100.2 DF PROTO=AH SPI=0x65").unwrap();
        assert_eq!((ah.l4, ah.spi), (L4::Other { proto: 51 }, Some(0x65)));
        assert_eq!(
            ah.to_string(),
            "IN=va OUT= SRC=198.51.100.7 DST=198.51.100.2 LEN=60 TOS=0x00 PREC=0x00 TTL=64 DF PROTO=AH"
        );
        // IPv6 shows ESP as an extension header and no PROTO=.
        let esp6 = parse("IN=va OUT= SRC=2001:0db8:0001:0000:0000:0000:0000:0007 DST=2001:db8:1::2 LEN=64 TC=0 HOPLIMIT=64 FLOWLBL=1002726 OPT ( ESP SPI=0x64 )").unwrap();
        assert_eq!((esp6.l4, esp6.spi), (L4::Other { proto: 50 }, Some(0x64)));
        assert_eq!(
            esp6.to_string(),
            "IN=va OUT= SRC=2001:0db8:0001:0000:0000:0000:0000:0007 DST=2001:0db8:0001:0000:0000:0000:0000:0002 \
             LEN=64 TC=0 HOPLIMIT=64"
        );
        // Nor anything after it: not even a mark, which IPv4's ESP line ends with.
        let (mut esp6, mut esp) = (esp6, esp);
        (esp6.mark, esp.mark) = (2, 2);
        assert!(!esp6.to_string().contains("MARK"));
        assert!(esp.to_string().ends_with(" PROTO=ESP MARK=0x2"));
        let ah6 = parse(
            "IN=va OUT= SRC=2001:db8:1::7 DST=2001:db8:1::2 OPT ( AH SPI=0x66 ) PROTO=UDP SPT=1000 DPT=2000 LEN=8",
        );
        assert_eq!(ah6.unwrap_err().message, "chainwalk's packets have no IPv6 extension headers, and this one has AH");
        // A fragment header's words are not header names.
        let frag6 = parse("IN=va OUT= SRC=2001:db8:1::7 DST=2001:db8:1::2 OPT ( FRAG:0 INCOMPLETE ID:0000abcd ) PROTO=UDP SPT=1 DPT=2");
        assert_eq!(frag6.map(|p| p.l4), Ok(L4::Udp { sport: 1, dport: 2 }));
        // By number: with ports, the protocol's own header; without, a protocol chainwalk knows by number.
        let by_number = |line: &str| parse(line).map(|p| p.l4);
        assert_eq!(
            by_number("IN=va OUT= SRC=192.0.2.1 DST=192.0.2.2 PROTO=132 SPT=1 DPT=2"),
            Ok(L4::Sctp { sport: 1, dport: 2 })
        );
        assert_eq!(
            by_number("IN=va OUT= SRC=192.0.2.1 DST=192.0.2.2 PROTO=33 SPT=1 DPT=2"),
            Ok(L4::Dccp { sport: 1, dport: 2 })
        );
        assert_eq!(by_number("IN=va OUT= SRC=192.0.2.1 DST=192.0.2.2 PROTO=132"), Ok(L4::Other { proto: 132 }));
        // SCTP and DCCP by number, with no ports.
        let sctp = parse("IN=va OUT= SRC=198.51.100.7 DST=198.51.100.2 PROTO=SCTP SPT=4000 DPT=5000").unwrap();
        assert_eq!(
            sctp.to_string(),
            "IN=va OUT= SRC=198.51.100.7 DST=198.51.100.2 LEN=60 TOS=0x00 PREC=0x00 TTL=64 PROTO=132"
        );
        let dccp = parse("IN=va OUT= SRC=2001:db8::7 DST=2001:db8::2 PROTO=DCCP SPT=1111 DPT=5000").unwrap();
        assert_eq!(dccp.to_string(), "IN=va OUT= SRC=2001:0db8:0000:0000:0000:0000:0000:0007 DST=2001:0db8:0000:0000:0000:0000:0000:0002 LEN=80 TC=0 HOPLIMIT=64 PROTO=33");
        let lite = parse("IN=va OUT= SRC=198.51.100.7 DST=198.51.100.2 PROTO=UDPLITE SPT=1234 DPT=5678 LEN=8").unwrap();
        assert_eq!(lite.to_string(), "IN=va OUT= SRC=198.51.100.7 DST=198.51.100.2 LEN=60 TOS=0x00 PREC=0x00 TTL=64 PROTO=UDPLITE SPT=1234 DPT=5678");
    }

    #[test]
    fn reads_a_kernel_log_line() {
        let p = parse("Jan 13 11:03:16 host kernel: [1.2] TRACE: raw:PREROUTING:policy:2 IN=ppp0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 SRC=203.0.113.7 DST=198.51.100.2 LEN=64 TOS=0x00 PREC=0x00 TTL=41 ID=0 DF PROTO=TCP SPT=19327 DPT=7788 SEQ=3930627540 ACK=0 WINDOW=65535 RES=0x00 SYN URGP=0").unwrap();
        assert_eq!(p.in_iface.as_deref(), Some("ppp0"));
        assert_eq!(p.out_iface, None);
        assert_eq!(p.l4, L4::Tcp { sport: 19327, dport: 7788, flags: TcpFlags(0x02) });
        assert_eq!((p.ttl, p.len, p.dont_fragment), (41, 64, true));
        assert_eq!(p.mac_src, Some([0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb]));
        assert_eq!(
            p.to_string(),
            "IN=ppp0 OUT= SRC=203.0.113.7 DST=198.51.100.2 LEN=64 TOS=0x00 PREC=0x00 TTL=41 DF PROTO=TCP SPT=19327 DPT=7788 SYN"
        );
    }

    #[test]
    fn the_tos_byte_is_the_logs_tos_and_precedence_together() {
        // The kernel logs an EF packet (0xb8) as TOS=0x18 PREC=0xA0; xtables-monitor as TOS=0xb8.
        let line =
            |tos: &str| format!("IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 LEN=28 {tos} TTL=64 PROTO=UDP SPT=1 DPT=2");
        assert_eq!(parse(&line("TOS=0x18 PREC=0xA0")).unwrap().tos, 0xb8);
        assert_eq!(parse(&line("TOS=0xb8")).unwrap().tos, 0xb8);
        assert_eq!(parse(&line("PREC=0x20")).unwrap().tos, 0x20);
        let p = parse(&line("TOS=0x19 PREC=0xA0")).unwrap();
        let written = crate::packet_text::write(&p, crate::packet_text::Style::Log);
        assert!(written.contains(" TOS=0x19 PREC=0xA0 "), "{written}");
        assert_eq!(parse(&written).unwrap().tos, 0xb9);
    }

    #[test]
    fn tcp_options_are_read_where_the_kernel_logs_them() {
        // The IP header's options come before PROTO=, the TCP header's after the flags.
        let line = "TRACE: raw:PREROUTING:policy:1 IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 LEN=64 TOS=0x00 PREC=0x00 \
                    TTL=64 ID=1 DF OPT (94040000) PROTO=TCP SPT=1 DPT=2 SEQ=1 ACK=0 WINDOW=64240 RES=0x00 SYN URGP=0 \
                    OPT (020405B40402080A)";
        let p = parse(line).unwrap();
        assert_eq!(p.tcp_options, Some(vec![2, 4, 5, 0xb4, 4, 2, 8, 10]));
        let p = parse("IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 PROTO=TCP SPT=1 DPT=2 SYN").unwrap();
        assert_eq!(p.tcp_options, None);
        let p = parse("IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 PROTO=UDP SPT=1 DPT=2 OPT (0204)").unwrap();
        assert_eq!(p.tcp_options, None);
        let e = parse("IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 PROTO=TCP SPT=1 DPT=2 SYN OPT (02G4)").unwrap_err();
        assert_eq!((e.span.col, e.message.contains("OPT (")), (72, true));
        let e = parse("tcp 192.0.2.1:1 -> 192.0.2.2:2 syn opt 123").unwrap_err();
        assert!(e.message.contains("not TCP options in hex"), "{}", e.message);
    }

    #[test]
    fn an_icmp_errors_quoted_packet_is_read_apart_and_sets_its_direction() {
        let line = "IN=eth0 OUT= SRC=203.0.113.5 DST=198.51.100.2 LEN=66 TOS=0x00 PREC=0xC0 TTL=64 ID=7 PROTO=ICMP \
                    TYPE=3 CODE=3 [SRC=198.51.100.2 DST=203.0.113.5 LEN=38 TOS=0x00 PREC=0x00 TTL=63 ID=5 DF \
                    PROTO=UDP SPT=41234 DPT=33434 LEN=18 ] CTSTATE=RELATED";
        let p = parse(line).unwrap();
        let q = p.quoted.expect("the quoted packet");
        assert_eq!((q.src.to_string(), q.dst.to_string()), ("198.51.100.2".into(), "203.0.113.5".into()));
        assert_eq!((q.proto, q.ports), (17, Some((41234, 33434))));
        // The error's own fields are not the quote's: its length, TTL and DF flag.
        assert_eq!((p.len, p.ttl, p.dont_fragment), (66, 64, false));
        assert_eq!((p.ct_state, p.ct_dir), (CtState::Related, CtDir::Reply));
        // Said otherwise, the direction holds; without RELATED the quote changes nothing of it.
        assert_eq!(parse(&format!("{line} CTDIR=ORIGINAL")).unwrap().ct_dir, CtDir::Original);
        assert_eq!(parse(&line.replace(" CTSTATE=RELATED", "")).unwrap().ct_dir, CtDir::Original);
        // A quote cut short before its addresses is no quote; one of the other family is an error.
        assert_eq!(parse(&line.replace("[SRC=198.51.100.2 DST=203.0.113.5", "[LEN=9")).unwrap().quoted, None);
        let e = parse(&line.replace("[SRC=198.51.100.2", "[SRC=2001:db8::1")).unwrap_err();
        assert!(e.message.contains("other family"), "{}", e.message);
    }

    #[test]
    fn reads_the_short_form() {
        let p = parse("tcp 203.0.113.7:40000 -> 198.51.100.2:7788 in ppp0 syn").unwrap();
        assert_eq!(p.l4, L4::Tcp { sport: 40000, dport: 7788, flags: TcpFlags(0x02) });
        let p = parse("udp [2001:db8::1]:5353 -> [2001:db8::2]:53 out eth0 state established mark 0x10").unwrap();
        assert_eq!((p.ct_state, p.mark, p.in_iface.is_none()), (CtState::Established, 16, true));
        let p = parse("tcp 192.0.2.1:40000 -> 192.0.2.2:80 in eth0 ack ctstate RELATED").unwrap();
        assert_eq!(p.ct_state, CtState::Related);
        let p = parse("icmp 192.0.2.1 -> 192.0.2.2 in eth0 type 3 code 1").unwrap();
        assert_eq!(p.l4, L4::Icmp { icmp_type: 3, code: 1 });
        // ICMP types by their iptables names, per family.
        let p = parse("icmp 192.0.2.1 -> 192.0.2.2 in eth0 echo-reply state established").unwrap();
        assert_eq!((p.l4, p.ct_state), (L4::Icmp { icmp_type: 0, code: 0 }, CtState::Established));
        let p = parse("icmp 192.0.2.1 -> 192.0.2.2 in eth0 host-unreachable").unwrap();
        assert_eq!(p.l4, L4::Icmp { icmp_type: 3, code: 1 });
        let p = parse("icmpv6 2001:db8::1 -> 2001:db8::2 in eth0 neighbour-solicitation").unwrap();
        assert_eq!(p.l4, L4::Icmpv6 { icmp_type: 135, code: 0 });
        assert!(parse("tcp 192.0.2.1:1 -> 192.0.2.2:2 in eth0 echo-reply").is_err());
    }

    #[test]
    fn extra_keys_and_errors() {
        let p = parse(
            "IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 PROTO=UDP SPT=1 DPT=2 CTSTATE=ESTABLISHED CTDIR=REPLY UID=1000",
        )
        .unwrap();
        assert_eq!((p.ct_state, p.ct_dir, p.uid), (CtState::Established, CtDir::Reply, Some(1000)));
        let e = parse("IN=eth0 SRC=192.0.2.1 DST=nope PROTO=TCP").unwrap_err();
        assert_eq!(e.span.col, 23);
        let e = parse("tcp 192.0.2.1:1 -> 192.0.2.2:2 sideways").unwrap_err();
        assert_eq!(e.span.col, 32);
    }
}
